#!/usr/bin/env bash
# Install vLLM into its own virtual environment under the Vibe cache ($VIBE_CACHE, default ~/.cache/vibe/vllm)
# and convert the default model (SmolLM2-135M-Instruct). Idempotent: once done, a run only reads the stamp files.
# CI runs this before the llm test tier. Arguments go to `vibe llm install` (e.g. --force).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-.venv/bin/python}"
[ -x "$python" ] || python="$(command -v python3)"
exec "$python" -m vibe llm install "$@"
