#!/usr/bin/env bash
# Create or reuse the project's virtual environment (.venv) and install Vibe with what it needs.
# Idempotent: a stamp of pyproject.toml skips the install when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: Vibe needs Python >= 3.11 ($PYTHON is $("$PYTHON" -V 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 2
fi

# Debian packages: bubblewrap for the sandbox; postgresql (below); chromium, the browser the approvals-page tests drive through
# Playwright (never `playwright install`: it downloads its own browsers). Installed only when missing and when
# we may (root).
need_apt=()
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# Tesseract and its English data: OCR of scanned PDFs and images in `vibe data ingest` (tools.data.documents).
command -v tesseract >/dev/null 2>&1 || need_apt+=(tesseract-ocr)
ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata >/dev/null 2>&1 || need_apt+=(tesseract-ocr-eng)
# PostgreSQL: the agent's production checkpointer; the tests start a throwaway server to prove it.
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "==> installing Debian packages: ${need_apt[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "warning: missing Debian packages (${need_apt[*]}); install them with sudo apt-get install" >&2
  fi
fi

[ -x .venv/bin/python ] || { echo "==> creating .venv"; "$PYTHON" -m venv .venv; }
stamp=.venv/.vibe-installed
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing Vibe into .venv (first time: a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first and pinned: an unpinned torch would pull a multi-GB CUDA build.
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[dev]"
  echo "$want" >"$stamp"
fi
