"""The GPU check (issue #19): bf16 Megatron on nccl on one GPU without Ray, the run exported to HF format and
loaded with ``transformers`` on the GPU, greedy parity between the two, and one RL step when post-training
exists. Results: ``results.json`` and ``results.md`` (a table for BENCHMARKS.md, the device named).

    bash bench/gpu_check.sh                       # on the GPU machine (its header gives the device call)
    python bench/gpu_check.py --cpu-rehearsal     # here: the same orchestration on gloo, fp32, tiny models

Ray's wheel does not fit in what a device call may carry (bench/gpu_check_prepare.sh measures it), so each
training phase is one process that creates its own ``torch.distributed`` group (nccl on CUDA, gloo on CPU)
and calls the trainer's worker loop directly (``trainers.run_worker``); vLLM does not travel either, so
serving is checked with ``transformers`` generation. MFU is against the bf16 matmul peak measured in the same
phase (an 8192^3 product on the GPU; fp32 1024^3 on CPU), with the trainer's own FLOPs per token.

Every phase runs in a Python process of its own (``--phase NAME``), so an out-of-memory error or a hung
collective in one is recorded and the next phase still runs. The orchestrator gives each phase a time limit
out of one overall budget (``--budget-s``), skips a phase (saying so) when too little is left, and rewrites
the results after every phase, so a run killed from outside still leaves what it measured.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gc
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import traceback
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / ".gpu_data" / "stdlib"  # written by bench/gpu_check_prepare.sh

# What did not travel to the GPU machine, and what the check does instead (sizes: gpu_check_prepare.sh).
NOT_CARRIED = {
    "ray": "ray 2.60.0 (cp312 manylinux wheel 79.3 MB) exceeds the 64 MiB a device call carries: "
    "the worker loop runs without Ray, one process on its own torch.distributed group",
    "vllm": "the CUDA vLLM wheel exceeds the 64 MiB a device call carries: serving is checked with "
    "transformers generate() on the GPU",
}

# ---------------------------------------------------------------------------------------- configurations
# The GPU runs. Dense: the "large" preset, 24 layers x 2048 hidden, 16 heads (head dim 128), seq 2048, SwiGLU
# (FFN 5504): ~1.21B weights + 2 x 8192 x 2048 embeddings. MoE: 8 experts top-2 on 12 x 1024.
GPU_RUNS: dict[str, dict[str, Any]] = {
    "dense": {
        "model": {"preset": "large"},
        "training": {"micro_batch_size": 4, "global_batch_size": 16, "max_steps": 30},
        "optimizer": {"lr": 3e-4, "min_lr": 3e-5, "warmup_steps": 5},
    },
    "moe": {
        "model": {
            "preset": None,
            "num_layers": 12,
            "hidden_size": 1024,
            "num_attention_heads": 8,
            "seq_length": 2048,
            "num_experts": 8,
            "moe_router_topk": 2,
        },
        "training": {"micro_batch_size": 4, "global_batch_size": 16, "max_steps": 20},
        "optimizer": {"lr": 3e-4, "min_lr": 3e-5, "warmup_steps": 5},
    },
}
# The CPU rehearsal: the same phases on tiny models (2 layers x 64 hidden, seq 256), a few steps. The final
# evaluation is a full pass over the valid split (~135k tokens): micro batches of 8 x 256 keep it short.
CPU_RUNS: dict[str, dict[str, Any]] = {
    "dense": {
        "model": {"preset": "tiny", "seq_length": 256},
        "training": {"micro_batch_size": 8, "global_batch_size": 16, "max_steps": 6},
        "optimizer": {"lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 2},
    },
    "moe": {
        "model": {"preset": "tiny", "seq_length": 256, "num_experts": 4, "moe_router_topk": 2},
        "training": {"micro_batch_size": 8, "global_batch_size": 16, "max_steps": 4},
        "optimizer": {"lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 2},
    },
}
_TRAINING_COMMON = {"log_interval": 1, "eval_interval": 0, "eval_iters": 4, "checkpoint_interval": 0}

PHASES = ("env", "dense", "export", "moe", "rl")
# Seconds: (limit, least worth starting with). The GPU budget leaves a rerun inside the 15 device minutes.
LIMITS = {
    "gpu": {"env": (60, 10), "dense": (240, 90), "export": (300, 60), "moe": (150, 60), "rl": (180, 30)},
    "cpu": {"env": (120, 10), "dense": (400, 60), "export": (400, 60), "moe": (400, 60), "rl": (200, 30)},
}
BUDGET_S = {"gpu": 420, "cpu": 1500}
WARMUP_STEPS = 5  # steady state: tokens/s and MFU are medians over the steps after these (half, if fewer)
PROMPT_TOKENS, NEW_TOKENS, PROMPTS = {"gpu": 32, "cpu": 16}, {"gpu": 32, "cpu": 16}, 4


class Unavailable(Exception):
    """A phase whose prerequisite is absent (not on this branch, or an earlier phase failed): not a failure."""


# ------------------------------------------------------------------------------------------- orchestration
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cpu-rehearsal", action="store_true", help="gloo, fp32, tiny models, on CPU")
    parser.add_argument(
        "--out", type=Path, help="results.json / results.md here (default $OUT, else WORK/report)"
    )
    parser.add_argument(
        "--work", type=Path, help="run directories and exports (default /tmp/vibe-gpu-check[-cpu])"
    )
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="a `vibe data ingest` dataset directory"
    )
    parser.add_argument("--budget-s", type=float, help="overall time limit (default 420 on GPU, 1500 on CPU)")
    parser.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated subset of {PHASES}")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="RUN.SECTION.FIELD=VALUE",
        help="change a run's config, e.g. dense.training.micro_batch_size=8 (VALUE as JSON; repeatable)",
    )
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)  # internal: run one phase here
    parser.add_argument("--hf-export", nargs=3, type=Path, help=argparse.SUPPRESS)  # internal: RUN OUT RESULT
    args = parser.parse_args(argv)
    if args.hf_export:
        run_dir, hf_dir, result = args.hf_export
        result.write_text(json.dumps(hf_export(run_dir, hf_dir), default=str))
        return 0
    mode = "cpu" if args.cpu_rehearsal else "gpu"
    work = (args.work or Path(f"/tmp/vibe-gpu-check{'-cpu' if mode == 'cpu' else ''}")).resolve()
    if args.phase:
        return _run_phase(args.phase, mode=mode, work=work, data=args.data.resolve())
    out = (args.out or (Path(os.environ["OUT"]) if os.environ.get("OUT") else work / "report")).resolve()
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = sorted(set(phases) - set(PHASES))
    if unknown:
        parser.error(f"--phases: unknown {unknown}; choose from {', '.join(PHASES)}")
    try:
        overrides = parse_overrides(args.set)
    except ValueError as error:
        parser.error(str(error))
    return orchestrate(
        mode=mode, out=out, work=work, data=args.data.resolve(), budget_s=args.budget_s or BUDGET_S[mode],
        phases=phases, overrides=overrides,
    )  # fmt: skip


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["dense.training.micro_batch_size=8"]`` -> ``{"dense": {"training": {"micro_batch_size": 8}}}``."""
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        parts = key.split(".")
        if not sep or len(parts) < 3 or parts[0] not in GPU_RUNS:
            raise ValueError(
                f"--set {item!r}: expected RUN.SECTION.FIELD=VALUE with RUN in {sorted(GPU_RUNS)}"
            )
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = overrides
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return overrides


def _merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        merged[key] = _merged(base.get(key, {}), value) if isinstance(value, dict) else value
    return merged


def orchestrate(
    *,
    mode: str,
    out: Path,
    work: Path,
    data: Path,
    budget_s: float,
    phases: list[str],
    overrides: dict[str, Any] | None = None,
) -> int:
    """Run each phase in a child process under its time limit; results after every phase. Exit 0 if no
    phase failed (skipped and "not available" phases are not failures)."""
    if not (data / "manifest.json").is_file():
        print(f"{data}: no dataset; run `bash bench/gpu_check_prepare.sh` first", file=sys.stderr)
        return 2
    shutil.rmtree(work, ignore_errors=True)
    (work / "phases").mkdir(parents=True)
    (work / "settings.json").write_text(json.dumps({"overrides": overrides or {}}))
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    deadline = time.monotonic() + budget_s
    results: dict[str, Any] = {
        "check": "bench/gpu_check.py",
        "mode": "gpu" if mode == "gpu" else "cpu-rehearsal",
        "started": _iso(started),
        "budget_s": budget_s,
        "data": str(data),
        "not_carried": NOT_CARRIED if mode == "gpu" else {},
        "blocked_imports": [] if mode == "gpu" else list(ABSENT_ON_DEVICE),  # as absent as on the device
        "overrides": overrides or {},
        "phases": {},
    }
    for phase in phases:
        limit, least = LIMITS[mode][phase]
        left = deadline - time.monotonic()
        if left < least:
            results["phases"][phase] = {
                "status": "skipped",
                "reason": f"{left:.0f} s of the {budget_s:.0f} s budget left; this phase needs at least {least} s",
            }
            _write_results(results, out, started)
            continue
        limit = min(limit, left)
        print(
            f"\n=== gpu_check: phase {phase} (limit {limit:.0f} s, {left:.0f} s of the budget left)",
            flush=True,
        )
        results["phases"][phase] = _spawn(phase, mode=mode, work=work, data=data, limit_s=limit)
        print(f"=== gpu_check: phase {phase}: {_one_line(results['phases'][phase])}", flush=True)
        if phase == "env":
            results["environment"] = results["phases"].pop("env")
        _copy_worker_log(phase, work, out)
        _free_disk(phase, work)
        _write_results(results, out, started)
    failed = [p for p, r in results["phases"].items() if r.get("status") == "failed"]
    if results.get("environment", {}).get("status") == "failed":
        failed.insert(0, "env")
    print(f"\n=== gpu_check: results in {out}/results.json and results.md; failed: {failed or 'none'}")
    return 1 if failed else 0


def _spawn(phase: str, *, mode: str, work: Path, data: Path, limit_s: float) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--phase",
        phase,
        "--work",
        str(work),
        "--data",
        str(data),
    ]
    if mode == "cpu":
        cmd.append("--cpu-rehearsal")
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=_child_env(), start_new_session=True)  # a kill takes all
    try:
        code = proc.wait(timeout=limit_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        code = None
    wall = round(time.perf_counter() - started, 1)
    path = work / "phases" / f"{phase}.json"
    result: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    if code is None:
        result = {
            **result,
            "status": "failed",
            "reason": f"ran past its {limit_s:.0f} s limit and was killed",
        }
    elif not result:
        result = {"status": "failed", "reason": f"the phase process exited {code} without writing results"}
    result["wall_s"] = wall
    return result


def _free_disk(phase: str, work: Path) -> None:
    """What later phases do not read (a 1.2B run's AdamW state alone is ~10 GB): the dense run's optimizer
    state and its export after the export phase (RL starts from its weights), MoE's and RL's checkpoints."""
    if phase == "export":
        for state in (work / "dense" / "checkpoints").glob("step_*/rank_*.pt"):
            state.unlink()
        shutil.rmtree(work / "hf_dense", ignore_errors=True)
    elif phase in ("moe", "rl"):
        shutil.rmtree(work / phase / "checkpoints", ignore_errors=True)
        shutil.rmtree(work / phase / "run" / "checkpoints", ignore_errors=True)


def _child_env() -> dict[str, str]:
    """This environment, with the repository on PYTHONPATH (the phases import trainers from it)."""
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(REPO) not in paths:
        paths.append(str(REPO))
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _copy_worker_log(phase: str, work: Path, out: Path) -> None:
    """The trainer's own worker log of a training phase, next to the results (its last 4 MB)."""
    log = work / phase / "logs" / "worker_0.log"
    log = log if log.is_file() else work / phase / "run" / "logs" / "worker_0.log"
    if log.is_file():
        data = log.read_bytes()[-4_000_000:]
        (out / f"{phase}_worker.log").write_bytes(data)


def _one_line(result: dict[str, Any]) -> str:
    keys = ("tokens_per_s", "mfu", "peak_flops", "ok", "reason", "error")
    shown = {k: result[k] for k in keys if k in result}
    return f"{result.get('status')} {json.dumps(shown)[:400]}"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_results(results: dict[str, Any], out: Path, started: float) -> None:
    results["finished"] = _iso(time.time())
    results["wall_s"] = round(time.time() - started, 1)
    tmp = out / "results.json.tmp"
    tmp.write_text(json.dumps(results, indent=2, default=str))
    os.replace(tmp, out / "results.json")
    (out / "results.md").write_text(markdown(results))


# ----------------------------------------------------------------------------------------------- the table
def markdown(results: dict[str, Any]) -> str:
    """The results as a Markdown table (for BENCHMARKS.md), the device named above it."""
    env = results.get("environment", {})
    device = env.get("device", {})
    name = device.get("name", "unknown device")
    lines = [
        f"GPU check ({results['mode']}), {results['started']}: {name}"
        + (f", {device['memory_gib']} GiB" if "memory_gib" in device else "")
        + f"; torch {env.get('torch', '?')}"
        + (f", CUDA {env['cuda']}" if env.get("cuda") else "")
        + (f", NCCL {env['nccl']}" if env.get("nccl") else "")
        + f", megatron-core {env.get('packages', {}).get('megatron-core', '?')}"
        + f", transformers {env.get('packages', {}).get('transformers', '?')}.",
        "",
        "| check | status | result |",
        "|---|---|---|",
    ]
    if env.get("status") == "failed":
        lines.append(f"| environment (torch, CUDA, packages) | failed | {_reason(env)} |")
    phases = results.get("phases", {})
    for key, title in (("dense", "dense pre-training"), ("moe", "MoE pre-training")):
        r = phases.get(key)
        if r is None:
            continue
        if r.get("status") == "ok":
            peak = _flops(r["peak_flops"])
            params = r.get("params_total_active")
            size = f", {_count(params[0])} weights ({_count(params[1])} active)" if params else ""
            lines.append(
                f"| {title}: {r['model']}{size}, {r['precision']}, {r['backend']}, 1 process | ok | "
                f"{r['tokens_per_s']:,.0f} tokens/s, MFU {100 * r['mfu']:.1f}% of the measured "
                f"{peak} {r['peak_kind']} (median of steps {r['steady_steps']}); "
                f"loss {r['loss_first']:.2f} -> {r['loss_last']:.2f}, val {r['val_loss']:.3f}; "
                f"peak memory {r.get('max_memory_gib', '-')} GiB; outside the steps (build, data, final eval, "
                f"checkpoint) {r['outside_steps_s']:.0f} s |"
            )
        else:
            lines.append(f"| {title} | {r.get('status')} | {_reason(r)} |")
    r = phases.get("export")
    if r is not None:
        if "parity" in r:
            where = "; ".join(
                f"on {t['device']}: {t['status']}" + (f" ({t['error'][:120]})" if t.get("error") else "")
                for t in r.get("export_attempts", [])
            )
            lines.append(
                f"| HF export of the dense run ({r.get('architecture', '?')}), loaded with transformers on "
                f"{r.get('device', '?')} | ok | {r['export_s']:.0f} s{', export ' + where if where else ''}; "
                "the export's own "
                f"verification: {r.get('export_verification', '-')} |"
            )
            for p in r["parity"]:
                verdict = "ok" if p["ok"] else "FAILED"
                lines.append(
                    f"| greedy parity Megatron vs transformers generate(), {p['dtype']} | {verdict} | "
                    f"{p['greedy_identical']}/{p['prompts']} greedy continuations of {p['new_tokens']} tokens "
                    f"identical (first divergence: {_divergence(p)}); teacher-forced top-1 "
                    f"{100 * p['top1_agreement']:.2f}%, cosine {p['cosine_min']:.5f} (min), "
                    f"max abs logit diff {p['max_abs_diff']:.2e} |"
                )
        else:
            lines.append(
                f"| HF export + transformers load + greedy parity | {r.get('status')} | {_reason(r)} |"
            )
    r = phases.get("rl")
    if r is not None:
        if r.get("status") == "ok":
            t, rec = r.get("timings_s", {}), r.get("record", {})
            names = (
                ("generate_s", "generation"),
                ("reward_s", "reward"),
                ("train_s", "train"),
                ("sync_s", "weight sync"),
            )
            detail = ", ".join(f"{label} {t[k]:.2f} s" for k, label in names if k in t)
            detail += (
                f" (sync: {rec.get('sync', '?')}); reward mean {rec.get('reward_mean', float('nan')):.3f}, "
            )
            detail += f"violation rate {rec.get('violation_rate', float('nan')):.2f}; {r.get('generator')}"
        else:
            detail = _reason(r)
        lines.append(f"| one RL post-training step from the dense run | {r.get('status')} | {detail} |")
    if results.get("blocked_imports"):
        lines += [
            "",
            f"Imports blocked in every phase, as on the GPU machine: {', '.join(results['blocked_imports'])}.",
        ]
    if results.get("not_carried"):
        lines += [
            "",
            "Not carried to the device: " + "; ".join(f"{k}: {v}" for k, v in results["not_carried"].items()),
        ]
    return "\n".join(lines) + "\n"


def _divergence(p: dict[str, Any]) -> str:
    return "none" if all(d >= p["new_tokens"] for d in p["first_divergence"]) else str(p["first_divergence"])


def _count(n: float) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M"


def _flops(value: float) -> str:
    return f"{value / 1e12:,.0f} TFLOP/s" if value >= 1e12 else f"{value / 1e9:,.1f} GFLOP/s"


def _reason(r: dict[str, Any]) -> str:
    return str(r.get("reason") or r.get("error") or "").replace("|", "/").replace("\n", " ")[:300]


# ------------------------------------------------------------------------------------------ one phase here
# Not on the GPU machine: the rehearsal blocks their import in every phase, so it proves no phase needs them.
ABSENT_ON_DEVICE = ("ray", "vllm")


def _run_phase(phase: str, *, mode: str, work: Path, data: Path) -> int:
    warnings.filterwarnings("ignore", message="Transformer Engine and Apex are not installed")  # expected
    if mode == "cpu":
        for name in ABSENT_ON_DEVICE:
            sys.modules[name] = None  # type: ignore[assignment]  # `import ray` raises ImportError
    settings = work / "settings.json"
    ctx = {
        "mode": mode,
        "work": work,
        "data": data,
        "results": _phase_results(work),
        "overrides": json.loads(settings.read_text())["overrides"] if settings.is_file() else {},
    }
    result: dict[str, Any]
    try:
        result = {"status": "ok", **_PHASES[phase](ctx)}  # a phase may set its own status
    except Unavailable as why:
        result = {"status": "not available", "reason": str(why)}
    except BaseException as error:  # recorded, and the next phase still runs
        result = {
            "status": "failed",
            "error": f"{type(error).__name__}: {error}"[:2000],
            "traceback": traceback.format_exc()[-6000:],
        }
    path = work / "phases" / f"{phase}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    return 0 if result["status"] != "failed" else 1


def _phase_results(work: Path) -> dict[str, Any]:
    return {p.stem: json.loads(p.read_text()) for p in (work / "phases").glob("*.json")}


def _distributed(mode: str) -> Any:
    """This process's world of one: nccl on the GPU, gloo on CPU. Returns the torch device."""
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return torch.device("cuda", 0) if mode == "gpu" else torch.device("cpu")
    if mode == "gpu":
        if not torch.cuda.is_available():
            raise RuntimeError(
                "no CUDA device visible to torch; use --cpu-rehearsal on a machine without one"
            )
        device = torch.device("cuda", 0)
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", store=dist.HashStore(), rank=0, world_size=1, device_id=device)
        return device
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    return torch.device("cpu")


def measure_peak(mode: str) -> tuple[float, str, list[float]]:
    """(best FLOP/s, what was measured, each round's FLOP/s): bf16 8192^3 on the GPU (3 warm-ups, then 3
    rounds of 10 timed products with CUDA events), fp32 1024^3 on CPU."""
    import torch

    if mode == "gpu":
        n, dtype, reps, kind = 8192, torch.bfloat16, 10, "bf16 matmul 8192^3"
        a = torch.randn(n, n, device="cuda", dtype=dtype)
        b = torch.randn(n, n, device="cuda", dtype=dtype)
        for _ in range(3):
            a @ b
        torch.cuda.synchronize()
        rounds = []
        for _ in range(3):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(reps):
                a @ b
            end.record()
            end.synchronize()
            rounds.append(2 * n**3 * reps / (start.elapsed_time(end) / 1e3))
        del a, b
        torch.cuda.empty_cache()
        return max(rounds), kind, rounds
    n, reps, kind = 1024, 5, "fp32 matmul 1024^3"
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        a @ b
    rounds = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        rounds.append(2 * n**3 * reps / (time.perf_counter() - start))
    return max(rounds), kind, rounds


def phase_env(ctx: dict[str, Any]) -> dict[str, Any]:
    """Versions, the device, and which packages are (not) there."""
    import torch

    names = ("megatron-core", "pydantic", "pydantic-core", "transformers", "safetensors", "tokenizers",
             "numpy", "pyyaml", "rich", "ray", "vllm", "transformer-engine", "apex", "flash-attn")  # fmt: skip
    packages = {}
    for name in names:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            packages[name] = None
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "packages": packages,
        "cpu_count": os.cpu_count(),
        "work_disk_free_gib": round(shutil.disk_usage(ctx["work"]).free / 2**30, 1),
        "ray_importable": importlib.util.find_spec("ray") is not None,
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env["cuda"] = torch.version.cuda
        env["nccl"] = ".".join(map(str, torch.cuda.nccl.version()))
        env["device"] = {
            "name": props.name,
            "memory_gib": round(props.total_memory / 2**30, 1),
            "capability": f"{props.major}.{props.minor}",
            "multiprocessors": props.multi_processor_count,
        }
        smi = shutil.which("nvidia-smi")
        if smi:
            query = "--query-gpu=driver_version,clocks.max.sm,power.limit"
            done = subprocess.run([smi, query, "--format=csv,noheader"], capture_output=True, text=True)
            env["device"]["nvidia_smi"] = done.stdout.strip()
    else:
        env["device"] = {"name": f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"}
    return env


def _run_config(ctx: dict[str, Any], name: str) -> Any:
    from trainers import RunConfig

    spec = _merged((GPU_RUNS if ctx["mode"] == "gpu" else CPU_RUNS)[name], ctx["overrides"].get(name, {}))
    return RunConfig.model_validate(
        {
            **spec,
            "training": {**_TRAINING_COMMON, **spec["training"]},
            "out": str(ctx["work"] / name),
            "data": {"sources": [{"path": str(ctx["data"])}]},
            "device": "cuda" if ctx["mode"] == "gpu" else "cpu",
            "precision": "bf16" if ctx["mode"] == "gpu" else "fp32",
        }
    )


class _Tail(threading.Thread):
    """Prints each new metrics.jsonl record of the run (progress on the console; a daemon thread)."""

    def __init__(self, path: Path, tag: str) -> None:
        super().__init__(daemon=True)
        self.path, self.tag, self.done = path, tag, threading.Event()

    def run(self) -> None:
        seen = 0
        while True:
            stopping = self.done.wait(2.0)
            lines = self.path.read_text().splitlines() if self.path.is_file() else []
            for line in lines[seen:]:
                with contextlib.suppress(json.JSONDecodeError, KeyError, TypeError):
                    r = json.loads(line)
                    mfu = f" MFU {100 * r['mfu']:.1f}%" if r.get("mfu") else ""
                    print(f"[{self.tag}] step {r['step']} loss {r['loss']:.3f} {r['tokens_per_s']:,.0f} tok/s{mfu}",
                          flush=True)  # fmt: skip
            seen = len(lines)
            if stopping:
                return


def _train(ctx: dict[str, Any], name: str) -> dict[str, Any]:
    """Train one configuration with ``trainers.run_worker`` in this process; tokens/s and MFU."""
    import torch

    from trainers import read_dataset_dir, run_worker
    from vibe.core.config import dump_yaml

    mode = ctx["mode"]
    device = _distributed(mode)
    peak, peak_kind, rounds = measure_peak(mode)
    config = _run_config(ctx, name).model_copy(update={"peak_flops": peak})
    run_dir = Path(config.out)
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "logs").mkdir(parents=True)
    dump_yaml(config, run_dir / "config.yaml")  # what open_run and the HF export read
    payload = {
        "precision": config.precision,
        "threads": os.cpu_count() if mode == "cpu" else None,
        "peak_flops_per_worker": peak,
    }
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    tail = _Tail(run_dir / "metrics.jsonl", name)
    tail.start()
    started = time.perf_counter()
    try:
        run_worker(config, payload)
    finally:
        tail.done.set()
        tail.join(timeout=5)
    wall = time.perf_counter() - started
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steady = records[min(WARMUP_STEPS, len(records) // 2) :]
    tokens_per_s = statistics.median(r["tokens_per_s"] for r in steady)
    mfu = statistics.median(r["mfu"] for r in steady)
    m = config.model
    experts = f", {m.num_experts} experts top-{m.moe_router_topk}" if m.num_experts else ""
    tokens_per_step = config.training.global_batch_size * m.seq_length
    result: dict[str, Any] = {
        "run_dir": str(run_dir),
        "model": f"{m.num_layers} layers x {m.hidden_size} hidden, {m.num_attention_heads} heads, "
        f"seq {m.seq_length}{experts}",
        "precision": config.precision,
        "backend": "nccl" if device.type == "cuda" else "gloo",
        "steps": len(records),
        "tokens_per_step": tokens_per_step,
        "micro_batch_size": config.training.micro_batch_size,
        "steady_steps": f"{steady[0]['step']}-{steady[-1]['step']}",
        "tokens_per_s": tokens_per_s,
        "mfu": mfu,
        "flops_per_token": mfu * peak / tokens_per_s,  # the trainer's own count (6N + 12·L·h·s)
        "params_total_active": m.param_counts(vocab_size=read_dataset_dir(ctx["data"]).vocab_size),
        "peak_flops": peak,
        "peak_kind": peak_kind,
        "peak_rounds": rounds,
        "step1_s": records[0]["train_s"],
        "train_s": records[-1]["train_s"],
        "worker_wall_s": wall,
        # the worker's time outside its optimizer steps: model, data, final full eval, checkpoint
        "outside_steps_s": wall - sum(tokens_per_step / r["tokens_per_s"] for r in records),
        "loss_first": records[0]["loss"],
        "loss_last": records[-1]["loss"],
        "val_loss": records[-1].get("val_loss"),
        "val_bpb": records[-1].get("val_bpb"),
        "aux_loss_last": records[-1].get("aux_loss"),
        "finite": all(math.isfinite(r["loss"]) for r in records),
    }
    if device.type == "cuda":
        result["max_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 1)
    if not result["finite"]:
        raise RuntimeError(f"non-finite loss in {run_dir}/metrics.jsonl")
    return result


def phase_dense(ctx: dict[str, Any]) -> dict[str, Any]:
    return _train(ctx, "dense")


def phase_moe(ctx: dict[str, Any]) -> dict[str, Any]:
    return _train(ctx, "moe")


# ------------------------------------------------------------------------- HF export (MODEL's trainers.hf)
def hf_export(run_dir: Path, out: Path) -> dict[str, Any]:
    """The one adapter to the HF export of issue #12: write ``run_dir``'s latest checkpoint as an HF directory
    ``out``. Returns what the export recorded; raises :class:`Unavailable` where this branch has no export."""
    try:
        import trainers.hf as hf  # type: ignore[import-not-found]
    except ImportError as error:
        raise Unavailable(
            f"HF export (issue #12, trainers.hf) is not on this branch ({error}); export and parity skipped"
        ) from None
    if not hasattr(hf, "export_run"):
        raise Unavailable("trainers.hf has no export_run on this branch; export and parity skipped")
    done = hf.export_run(run_dir, out)
    record = getattr(done, "record", {}) or {}
    return {"architecture": record.get("architecture"), "record": record}


def phase_export(ctx: dict[str, Any]) -> dict[str, Any]:
    """The dense run's checkpoint as HF, loaded with transformers on the device; greedy parity."""
    dense = ctx["results"].get("dense", {})
    if dense.get("status") != "ok":
        raise Unavailable(
            f"the dense run did not finish ({dense.get('status', 'not run')}): nothing to export"
        )
    run_dir = Path(dense["run_dir"])
    hf_dir = ctx["work"] / "hf_dense"
    shutil.rmtree(hf_dir, ignore_errors=True)
    import torch

    device = _distributed(ctx["mode"])
    started = time.perf_counter()
    attempts: list[dict[str, Any]] = []
    try:
        exported = hf_export(run_dir, hf_dir)
        attempts.append({"device": str(device), "status": "ok"})
    except Unavailable:
        raise
    except Exception as error:
        attempts.append(
            {"device": str(device), "status": "failed", "error": f"{type(error).__name__}: {error}"[:800]}
        )
        if device.type != "cuda":
            raise
        gc.collect()  # the failed attempt's model
        torch.cuda.empty_cache()
        # The export itself need not run on the GPU: run it again in a process that sees no CUDA device,
        # so that loading the result with transformers on the GPU and the parity below still get checked.
        shutil.rmtree(hf_dir, ignore_errors=True)
        exported = _hf_export_without_cuda(run_dir, hf_dir, ctx["work"] / "phases" / "export_cpu.json")
        attempts.append({"device": "cpu (CUDA_VISIBLE_DEVICES empty)", "status": "ok"})
    export_s = time.perf_counter() - started
    verification = exported["record"].get("verification", {})
    parity = greedy_parity(run_dir, hf_dir, device=device, dtypes=["float32", "bfloat16"], mode=ctx["mode"])
    return {
        "status": "ok" if all(p["ok"] for p in parity) else "failed",
        "hf_dir": str(hf_dir),
        "architecture": exported["architecture"],
        "export_s": export_s,
        "export_attempts": attempts,
        "export_verification": "ok" if verification.get("ok") else json.dumps(verification)[:300],
        "device": str(device),
        "parity": parity,
    }


def _hf_export_without_cuda(run_dir: Path, hf_dir: Path, result: Path) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--hf-export",
        str(run_dir),
        str(hf_dir),
        str(result),
    ]
    done = subprocess.run(cmd, cwd=REPO, env={**_child_env(), "CUDA_VISIBLE_DEVICES": ""}, timeout=600)
    if done.returncode != 0 or not result.is_file():
        raise RuntimeError(f"the HF export without CUDA failed too (exit {done.returncode}); see log.txt")
    return json.loads(result.read_text())


def greedy_parity(
    run_dir: Path, hf_dir: Path, *, device: Any, dtypes: list[str], mode: str
) -> list[dict[str, Any]]:
    """Megatron (the run's checkpoint through ``trainers.open_run``) vs ``transformers`` loading ``hf_dir``,
    on ``device``, per dtype: greedy continuations of prompts from the valid split (transformers through
    ``generate()``), then both models teacher-forced on transformers' sequences (top-1 agreement, cosine and
    largest absolute difference of the logits). bf16 means Megatron as the trainer runs it (fp32 weights under
    bf16 autocast) against transformers with bf16 weights.

    Pass: float32: max |diff| <= 1e-3 and top-1 agreement >= 99.9%; bfloat16 (Megatron-Bridge's criterion):
    cosine >= 0.99 at every position and the same first greedy token for every prompt.
    """
    import torch
    from transformers import AutoModelForCausalLM

    from trainers import open_run

    results = []
    with open_run(run_dir) as run:
        megatron = run.model.to(device).eval()
        p, n = PROMPT_TOKENS[mode], NEW_TOKENS[mode]
        stride = max(1, len(run.valid) // PROMPTS)
        prompts = torch.stack([run.valid[i * stride]["tokens"][:p] for i in range(PROMPTS)]).long().to(device)
        for dtype_name in dtypes:
            dtype = getattr(torch, dtype_name)
            hf = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=dtype).to(device).eval()
            vocab = hf.config.vocab_size
            autocast = dtype_name == "bfloat16"
            greedy = copy.deepcopy(hf.generation_config)  # greedy, exactly n tokens (no stop at eos)
            greedy.update(do_sample=False, max_new_tokens=n, min_new_tokens=None, eos_token_id=None)
            greedy.pad_token_id = greedy.pad_token_id if greedy.pad_token_id is not None else 0
            with torch.no_grad():
                hf_seq = hf.generate(
                    prompts, attention_mask=torch.ones_like(prompts), generation_config=greedy
                )
                meg_seq = _megatron_greedy(megatron, prompts, n, vocab=vocab, autocast=autocast)
                length = min(hf_seq.size(1), meg_seq.size(1))
                hf_logits = hf(input_ids=hf_seq).logits.float()  # [b, s, V]
                meg_logits = _megatron_logits(megatron, hf_seq, vocab=vocab, autocast=autocast)
            new_hf, new_meg = hf_seq[:, p:length], meg_seq[:, p:length]
            same = new_hf == new_meg
            first = [
                int(row.logical_not().nonzero()[0]) if not row.all() else int(row.numel()) for row in same
            ]
            gen = slice(p - 1, hf_seq.size(1) - 1)  # the positions that predicted the generated tokens
            a, b = meg_logits[:, gen], hf_logits[:, gen]
            cosine = torch.nn.functional.cosine_similarity(a, b, dim=-1)
            result = {
                "dtype": dtype_name,
                "prompts": PROMPTS,
                "prompt_tokens": p,
                "new_tokens": n,
                "generated_by_transformers": int(hf_seq.size(1) - p),
                "greedy_identical": int(sum(bool(row.all()) for row in same)),
                "first_divergence": first,
                "first_token_match": bool(same[:, 0].all()) if same.numel() else False,
                "top1_agreement": (a.argmax(-1) == b.argmax(-1)).float().mean().item(),
                "cosine_min": cosine.min().item(),
                "cosine_mean": cosine.mean().item(),
                "max_abs_diff": (a - b).abs().max().item(),
                "transformers_class": type(hf).__name__,
            }
            if dtype_name == "float32":
                result["ok"] = result["max_abs_diff"] <= 1e-3 and result["top1_agreement"] >= 0.999
            else:
                result["ok"] = result["cosine_min"] >= 0.99 and result["first_token_match"]
            results.append(result)
            del hf
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return results


def _megatron_logits(model: Any, ids: Any, *, vocab: int, autocast: bool) -> Any:
    """[b, s, vocab] float32 logits of the Megatron GPT for token ids [b, s] (a padded vocab trimmed)."""
    import torch

    s = ids.size(1)
    positions = torch.arange(s, device=ids.device).expand_as(ids)
    mask = torch.triu(torch.ones(s, s, dtype=torch.bool, device=ids.device), diagonal=1)[None, None]
    context = torch.autocast(ids.device.type, dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
    with context:
        logits = model(ids, positions, mask)  # [b, s, V]: no labels, so logits
    return logits[..., :vocab].float()


def _megatron_greedy(model: Any, prompts: Any, n: int, *, vocab: int, autocast: bool) -> Any:
    """Greedy decoding without a KV cache: the whole sequence again for every new token."""
    import torch

    ids = prompts
    for _ in range(n):
        nxt = _megatron_logits(model, ids, vocab=vocab, autocast=autocast)[:, -1].argmax(-1, keepdim=True)
        ids = torch.cat([ids, nxt], dim=1)
    return ids


# ------------------------------------------------------------------------------ RL (POST's post-training)
# The reward: alignment rules that need no sandbox (the GPU machine has no bubblewrap).
RL_POLICY = """\
version: 1
name: gpu-check
default: allow
alignment:
  rules:
    - {id: valid-python, type: must_parse, language: python, weight: 2}
    - {id: no-secrets, type: no_secrets}
    - {id: no-emails, type: no_personal_data}
"""
RL_MODULES = ("textwrap", "bisect", "colorsys", "fnmatch", "shlex", "calendar")  # documented functions


def rl_step(base: Path, out: Path) -> dict[str, Any]:
    """The one adapter to the post-training RL of issue #14: one RL step from the run ``base`` into ``out``
    (in this process: no Ray, the in-process Megatron generator since vLLM does not travel). Returns the
    step's record. Raises :class:`Unavailable` where this branch has no post-training."""
    if importlib.util.find_spec("trainers.posttrain") is None:
        raise Unavailable(
            "post-training RL (issue #14, trainers.posttrain) is not on this branch: not available"
        )
    try:
        from tools.posttrain import run_posttrain
        from trainers.posttrain import PostTrainConfig
    except ImportError as error:  # on the branch, but its import chain needs what this machine lacks
        raise RuntimeError(f"post-training is on this branch but does not import here: {error}") from None
    out.mkdir(parents=True, exist_ok=True)
    (out.parent / "rl_policy.yaml").write_text(RL_POLICY)
    prompts = [{"prompt": text, "tests": None} for text in _rl_prompts()]
    (out.parent / "rl_prompts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in prompts))
    config = PostTrainConfig.model_validate(
        {
            "method": "rl",
            "base": str(base),
            "data": str(out.parent / "rl_prompts.jsonl"),
            "out": str(out),
            "in_process": True,
            "training": {
                "max_steps": 1,
                "global_batch_size": 4,  # prompts; x group_size 4 = 16 sequences of at most 512 tokens
                "micro_batch_size": 16,
                "seq_length": 512,
                "checkpoint_interval": 0,
            },
            "optimizer": {"lr": 1e-5, "min_lr": 1e-6, "warmup_steps": 0},
            "rl": {"policies": [str(out.parent / "rl_policy.yaml")], "group_size": 4, "max_new_tokens": 32},
        }
    )
    run_posttrain(config)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return records[-1]


def _rl_prompts(count: int = 8) -> list[str]:
    """ "Complete this function" prompts: signature + docstring of documented stdlib functions."""
    import ast
    import sysconfig

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    found: list[str] = []
    for name in RL_MODULES:
        text = (stdlib / f"{name}.py").read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef) and ast.get_docstring(node) and len(found) < count:
                head = "\n".join(lines[node.lineno - 1 : node.body[0].end_lineno])
                if len(head) > 600:  # ~200 tokens: prompt + 32 new tokens well inside seq_length 512
                    continue
                found.append(
                    f"Complete this Python function. Answer with one ```python code block.\n\n```python\n{head}\n```"
                )
    return found


def phase_rl(ctx: dict[str, Any]) -> dict[str, Any]:
    """One RL step (generation, reward, train, weight sync) from the dense run, where post-training exists."""
    dense = ctx["results"].get("dense", {})
    if importlib.util.find_spec("trainers.posttrain") is not None and dense.get("status") != "ok":
        raise Unavailable(f"the dense run did not finish ({dense.get('status', 'not run')}): no base for RL")
    base = Path(dense.get("run_dir", ctx["work"] / "dense"))
    _distributed(ctx["mode"])
    started = time.perf_counter()
    record = rl_step(base, ctx["work"] / "rl" / "run")
    timings = {k: record[k] for k in ("generate_s", "reward_s", "train_s", "sync_s") if k in record}
    return {
        "base": str(base),
        "wall_s_in_phase": time.perf_counter() - started,
        "timings_s": timings,
        "record": record,
        "generator": "in-process Megatron (vLLM does not travel)",
    }


_PHASES = {"env": phase_env, "dense": phase_dense, "export": phase_export, "moe": phase_moe, "rl": phase_rl}

if __name__ == "__main__":
    sys.exit(main())
