#!/usr/bin/env bash
# Prepare what bench/gpu_check.sh carries to the GPU machine. Run it HERE (a developer machine with the
# project's venv and PyPI), in the checkout the device call will send, before that call:
#
#   .whl/               Python 3.12 manylinux wheels of what the trainer's import chain needs and the GPU
#                       machine lacks: megatron-core and pydantic (+ pydantic-core, annotated-types,
#                       typing-inspection, and typing-extensions at the version pydantic needs). The machine
#                       has torch, numpy, packaging, pyyaml, rich, tokenizers, transformers and safetensors.
#   .gpu_data/stdlib/   a small tokenized dataset: `vibe data ingest` over a slice of the Python stdlib
#                       (vocab 8192; the model is trained on the spot, nothing comes from a hub).
#
# Both are git-ignored (.gitignore) and named in the device call's `carry`. The script then checks that the
# working tree + wheels + data fit in the 64 MiB a device call may carry, and, where a Python 3.12 is found
# ($PY312, python3.12, or pyenv's), that pip installs the wheels for it into a throwaway --target directory
# (pip refuses wheels whose tags do not fit the interpreter) and that pydantic imports and validates there.
#
#   bash bench/gpu_check_prepare.sh                # wheels + data + checks
#   bash bench/gpu_check_prepare.sh --measure-ray  # also download Ray's wheel once to report its size
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-}
if [[ -z $PY ]]; then
  if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
fi
limit_mib=64
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64
           --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64
           --platform any)
download() {  # download DIR NAME==VERSION...: cp312 manylinux wheels, no dependencies resolved
  local dir=$1; shift
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d "$dir" "$@" 2>&1 | grep -v "^WARNING: Location" || true
}

echo "== wheels (.whl/), at the versions installed here"
pins=$("$PY" - <<'EOF'
from importlib.metadata import version
names = ["megatron-core", "pydantic", "pydantic-core", "annotated-types", "typing-inspection", "typing-extensions"]
print(" ".join(f"{n}=={version(n)}" for n in names))
EOF
)
rm -rf .whl && mkdir -p .whl
# shellcheck disable=SC2086
download .whl $pins
for pin in $pins; do  # each pinned package must have arrived (exactly one version of each)
  stem=$(echo "${pin%%==*}" | tr - _)
  ls .whl/"$stem"-"${pin##*==}"-*.whl >/dev/null 2>&1 || { echo "missing wheel for $pin" >&2; exit 1; }
done
du -b .whl/*.whl | awk '{printf "  %8.2f MiB  %s\n", $1 / 1048576, $2}'

if [[ ${1:-} == --measure-ray ]]; then
  tmp=$(mktemp -d)
  download "$tmp" "ray==$("$PY" -c 'from importlib.metadata import version; print(version("ray"))')"
  du -b "$tmp"/*.whl | awk '{printf "  Ray, not carried: %.1f MB (%.1f MiB)  %s\n", $1 / 1e6, $1 / 1048576, $2}'
  rm -rf "$tmp"
fi

echo "== dataset (.gpu_data/stdlib): vibe data ingest over a slice of the stdlib"
stdlib=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
inputs=("$stdlib"/*.py)
for sub in asyncio collections concurrent email http importlib json logging multiprocessing unittest urllib xml; do
  inputs+=("$stdlib/$sub")
done
rm -rf .gpu_data/stdlib && mkdir -p .gpu_data
PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} "$PY" -m vibe data ingest "${inputs[@]}" --out .gpu_data/stdlib \
  --vocab-size 8192 --no-documents --no-progress
"$PY" - <<'EOF'
import json
m = json.load(open(".gpu_data/stdlib/manifest.json"))
print("  splits:", {k: {"tokens": v["tokens"], "bytes": v["bytes"]} for k, v in m["splits"].items()})
EOF

echo "== what a device call carries (working tree + .whl + .gpu_data; limit $limit_mib MiB)"
tree=$(git ls-files -z -co --exclude-standard | xargs -0 -r stat -c %s -- 2>/dev/null | awk '{s += $1} END {print s + 0}')
whl=$(du -sb .whl | cut -f1)
data=$(du -sb .gpu_data | cut -f1)
total=$((tree + whl + data))
awk -v t="$tree" -v w="$whl" -v d="$data" -v s="$total" 'BEGIN {
  printf "  tree %.2f MiB + wheels %.2f MiB + data %.2f MiB = %.2f MiB\n", t / 1048576, w / 1048576, d / 1048576, s / 1048576 }'
if ((total > limit_mib * 1048576)); then
  echo "over the $limit_mib MiB a device call carries: carry less" >&2
  exit 1
fi

echo "== Python 3.12 check of the wheels (throwaway --target; the project's venv is not touched)"
py312=${PY312:-$(command -v python3.12 || true)}
if [[ -z $py312 || ! -x $py312 ]] || ! "$py312" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
  py312=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12 2>/dev/null | tail -1 || true)
fi
if [[ -n $py312 && -x $py312 ]]; then
  target=$(mktemp -d)
  "$py312" -m pip install -q --root-user-action=ignore --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$target" .whl/*.whl
  PYTHONPATH=$target "$py312" - "$target" <<'EOF'
import pathlib, sys
import pydantic
from pydantic import BaseModel, Field

class Probe(BaseModel):
    steps: int = Field(ge=1)

assert Probe.model_validate({"steps": "3"}).steps == 3
so = list(pathlib.Path(sys.argv[1]).glob("megatron/core/datasets/helpers_cpp.cpython-312-*.so"))
assert so, "megatron-core's compiled dataset helpers for cp312 are missing"
print(f"  Python {sys.version.split()[0]}: all wheels installed; pydantic {pydantic.VERSION} validates; {so[0].name}")
EOF
  rm -rf "$target"
else
  echo "  no Python 3.12 here: wheel tags not checked (the GPU machine's pip checks them at install)"
fi
echo "== ready: the device call is in bench/gpu_check.sh's header"
