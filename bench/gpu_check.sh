#!/usr/bin/env bash
# The GPU check of issue #19 in one command, on the GPU machine (one NVIDIA H200; Python 3.12 with a CUDA
# torch, transformers and safetensors; no megatron-core, pydantic, Ray or vLLM): bf16 Megatron pre-training
# on nccl without Ray (a ~1.2B dense model, then MoE), its checkpoint exported to HF and loaded with
# transformers on the GPU, greedy parity, one RL step where post-training exists. Expected (not yet measured)
# to take 4-6 minutes; the script's own budget stops it at 7 (bench/gpu_check.py --budget-s 420).
#
# 1. Here, in the checkout the session was started in (the device call sends that one):
#        bash bench/gpu_check_prepare.sh            # .whl/ (megatron-core, pydantic, ...) and .gpu_data/
# 2. The device call (tool `run`), once:
#        command:   bash bench/gpu_check.sh
#        carry:     [".whl", ".gpu_data"]
#        timeout_s: 480
#    then give_back, unless rerunning at once: the machine stays warm 30 s after a call, so a failed phase
#    can be redone right away, e.g. `bash bench/gpu_check.sh --phases env,dense --budget-s 200
#    --set dense.training.micro_batch_size=2` (15 device minutes in all, a machine's start included).
# 3. What comes back under $OUT (7 files; a call returns at most 8): results.json, results.md (the table for
#    BENCHMARKS.md), log.txt (everything printed), nvidia-smi.txt, dense_worker.log, moe_worker.log,
#    rl_worker.log. To change a run without editing anything: --set dense.training.micro_batch_size=8.
#
# Elsewhere: `bash bench/gpu_check.sh --out DIR` on any CUDA machine; `bash bench/gpu_check.sh --cpu-rehearsal`
# here (no wheels installed: the project's venv has everything; PYTHON=/path/to/venv/python).
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
out=${OUT:-/tmp/vibe-gpu-check-report}
rehearsal=0
for arg in "$@"; do
  [[ $arg == --cpu-rehearsal ]] && rehearsal=1
done
mkdir -p "$out"

if ((rehearsal == 0)); then
  if ! ls .whl/*.whl >/dev/null 2>&1; then
    echo ".whl/: no wheels; run bash bench/gpu_check_prepare.sh first and carry .whl" | tee "$out/log.txt"
    exit 2
  fi
  "$PYTHON" -m pip install -q --root-user-action=ignore --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .whl/*.whl || exit 3
  export PYTHONPATH=/tmp/site:$PWD
  nvidia-smi >"$out/nvidia-smi.txt" 2>&1 || echo "nvidia-smi failed" >>"$out/nvidia-smi.txt"
else
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1

"$PYTHON" bench/gpu_check.py --out "$out" "$@" 2>&1 | tee "$out/log.txt"
exit "${PIPESTATUS[0]}"
