"""Vibe's search (TPE + Hyperband) against random search at the same compute, on a fixed tiny task.

The task: a tiny Megatron GPT trained for a fixed number of steps on a fixed slice of the standard-library
corpus (the modules in ``FILES`` through the real ``vibe data ingest`` pipeline, byte-level BPE of 768 tokens),
objective the final validation bits per byte. The space: lr (1e-4 to 0.3, log), warmup (0 to a quarter of the steps),
weight decay (0 to 0.3), width (32, 64, 128) and depth (1 to 4): what ``default_space`` varies for a dense
proxy, with ranges wide enough that some settings are bad, as in a real search.

Per seed:

1. Random search, no pruning, ``--random-trials`` trials (two at a time). Its compute F is the training FLOPs
   of all its trials (``flops_per_token`` x tokens, as every trial records); its result is its final best.
2. Vibe's default search (TPE, Hyperband) with ``Budget(flops=F)``, one trial at a time so that "compute
   spent so far" is exact at every trial boundary.
3. The compute Vibe needed = training FLOPs of all its trials (pruned ones included) up to the end of the
   first complete trial whose value is at least as good as random's final best; ratio = that / F
   (``inf`` when Vibe never got there within F).

Compute is counted in FLOPs, not seconds, so other work on the machine does not bias the result. Training is
deterministic given the params (fixed data order and init seed), so the seeds vary only the samplers.

    python bench/hpo_efficiency.py                     # 5 seeds, 24 random trials each
    python bench/hpo_efficiency.py --random-trials 16 --steps 32 --vibe-fraction 0.5   # the cheaper proxy
    python bench/hpo_efficiency.py --seeds 0 --random-trials 8 --steps 24   # a quick look
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import sysconfig
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
FILES = [
    "abc.py", "bisect.py", "calendar.py", "colorsys.py", "contextlib.py", "copy.py", "csv.py",
    "dataclasses.py", "difflib.py", "enum.py", "fnmatch.py", "fractions.py", "functools.py",
    "genericpath.py", "glob.py", "heapq.py", "hmac.py", "keyword.py", "linecache.py", "numbers.py",
    "operator.py", "posixpath.py", "queue.py", "random.py", "shlex.py", "string.py", "textwrap.py",
    "this.py", "tokenize.py", "weakref.py", "sched.py", "stat.py",
]  # fmt: skip


def build_dataset(root: Path) -> Path:
    from tools.data import IngestConfig, ingest

    out = root / "data"
    if (out / "manifest.json").is_file():
        return out
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    source = root / "source"
    source.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copy(stdlib / name, source / name)
    ingest(IngestConfig(inputs=[source], out=out, valid_fraction=0.125, tokenizer={"vocab_size": 768}),
           progress=False)  # fmt: skip
    return out


def space(*, ordered: bool | None = None) -> Any:
    from tools.hpo import ParamSpec, SearchSpace

    return SearchSpace(
        params=[
            ParamSpec(name="optimizer.lr", kind="float", low=1e-4, high=0.3, log=True),
            ParamSpec(name="optimizer.warmup_steps", kind="int", low=0, high=12),
            ParamSpec(name="optimizer.weight_decay", kind="float", low=0.0, high=0.3),
            ParamSpec(name="model.hidden_size", kind="categorical", choices=[32, 64, 128], ordered=ordered),
            ParamSpec(name="model.num_layers", kind="int", low=1, high=4),
        ]
    )


def base_run(data: Path, *, steps: int) -> Any:
    from trainers import RunConfig

    return RunConfig.model_validate(
        {
            "model": {"preset": "tiny"},
            "training": {"micro_batch_size": 8, "global_batch_size": 8, "max_steps": steps,
                         "eval_interval": max(1, steps // 8), "eval_iters": 2, "checkpoint_interval": 0},
            "optimizer": {"lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 4},
            "data": {"sources": [{"path": str(data)}]},
        }
    )  # fmt: skip


def one_seed(
    seed: int,
    *,
    data: Path,
    root: Path,
    steps: int,
    random_trials: int,
    fraction: float,
    start: str,
    random_fraction: float,
    settings: dict[str, Any],
) -> dict[str, Any]:
    from tools.hpo import Budget, HPOConfig, run_search

    base = base_run(data, steps=steps)
    common = {"base": base, "space": space(ordered=False), "seed": seed, "objective": "val_bpb"}  # random:
    # uniform over the widths either way; unordered keeps the draws (and the reused studies) of before
    t0 = time.time()  # a random study already complete under root is continued (its trials are reused)
    rnd = run_search(
        HPOConfig(out=root / f"seed{seed}" / "random", study_name="random", sampler="random", pruner="none",
                  budget=Budget(max_trials=random_trials), max_concurrent=2, **common)
    )  # fmt: skip
    random_s = time.time() - t0
    assert rnd.best is not None and rnd.best.value is not None
    target, budget = rnd.best.value, rnd.flops
    t0 = time.time()
    shutil.rmtree(root / f"seed{seed}" / "vibe", ignore_errors=True)
    vibe = run_search(
        HPOConfig(out=root / f"seed{seed}" / "vibe", study_name="vibe", sampler="tpe",
                  start=start, random_fraction=random_fraction, max_concurrent=1,
                  budget=Budget(max_trials=None, flops=budget * fraction),
                  **{**common, **settings})
    )  # fmt: skip
    vibe_s = time.time() - t0
    spent, best = 0.0, math.inf
    curve = []
    for trial in sorted(vibe.trials, key=lambda t: float(t.user_attrs.get("ended_at", math.inf))):
        spent += trial.flops
        if trial.state == "COMPLETE" and trial.value is not None:
            best = min(best, trial.value)
        curve.append({"flops": spent, "best": best if math.isfinite(best) else None, "state": trial.state})
    vibe_best = vibe.best.value if vibe.best else None
    return analyse(
        {
            "seed": seed,
            "random": {"trials": len(rnd.trials), "best": target, "flops": budget, "wall_s": random_s},
            "vibe": {
                "start": start,
                "random_fraction": random_fraction,
                "pruner": settings["pruner"],
                "reduction_factor": settings["reduction_factor"],
                "ordered_width": settings["space"].get("model.hidden_size").is_ordered,
                "budget_fraction": fraction,
                "trials": len(vibe.trials),
                "complete": vibe.n_complete,
                "pruned": vibe.n_pruned,
                "best": vibe_best,
                "flops": vibe.flops,
                "wall_s": vibe_s,
                "stopped_by": vibe.stopped_by,
                "curve": curve,
            },
        }
    )


def flops_to_reach(curve: list[dict[str, Any]], target: float) -> float:
    """Training FLOPs Vibe had spent when its best complete trial first reached ``target`` (inf: never)."""
    return next((p["flops"] for p in curve if p["best"] is not None and p["best"] <= target), math.inf)


def analyse(run: dict[str, Any]) -> dict[str, Any]:
    """The ratios of one seed: compute to reach random's final best (the aim), and, as a softer view, to get
    within 0.5% of it, and random's best at each fraction of the budget against Vibe's."""
    target, budget, curve = run["random"]["best"], run["random"]["flops"], run["vibe"]["curve"]
    run["flops_to_reach_random_best"] = flops_to_reach(curve, target)
    run["ratio"] = run["flops_to_reach_random_best"] / budget
    run["ratio_within_0.5pct"] = flops_to_reach(curve, target * 1.005) / budget
    third = [p["best"] for p in curve if p["flops"] <= budget / 3 and p["best"] is not None]
    run["vibe_best_at_one_third"] = min(third) if third else None
    return run


def finite(value: Any) -> Any:
    """JSON without Infinity: a target never reached is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def write_summary(
    args: argparse.Namespace, runs: list[dict[str, Any]], started: float, load_start: Any
) -> dict[str, Any]:
    ratios = [r["ratio"] for r in runs]
    soft = [r["ratio_within_0.5pct"] for r in runs]
    summary = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "command": "python bench/hpo_efficiency.py "
        + f"--seeds {' '.join(map(str, args.seeds))} --random-trials {args.random_trials} --steps {args.steps}"
        + f" --vibe-fraction {args.vibe_fraction} --start {args.start}"
        + f" --random-fraction {args.random_fraction:g} --pruner {args.pruner}"
        + f" --reduction-factor {args.reduction_factor}"
        + ("" if args.ordered else " --no-ordered"),
        "load_avg_start": load_start,
        "load_avg_end": os.getloadavg(),
        "task": {
            "files": len(FILES),
            "vocab_size": 768,
            "steps": args.steps,
            "global_batch_size": 8,
            "seq_length": 64,
            "objective": "val_bpb",
        },
        "median_ratio": statistics.median(ratios),
        "median_ratio_within_0.5pct": statistics.median(soft),
        "wall_s": time.time() - started,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(finite(summary), indent=2) + "\n")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--random-trials", type=int, default=24)
    parser.add_argument("--steps", type=int, default=48)
    parser.add_argument(
        "--vibe-fraction",
        type=float,
        default=1.0,
        help="Vibe's budget as a fraction of random's compute F (0.5: half the cost; a ratio "
        "above it reads 'not reached')",
    )
    parser.add_argument("--start", choices=["sobol", "random"], default="sobol", help="TPE's start")
    parser.add_argument(
        "--random-fraction", type=float, default=1 / 3, help="share of TPE's trials drawn at random"
    )
    parser.add_argument("--pruner", default="hyperband", help="Vibe's pruner (HPOConfig.pruner)")
    parser.add_argument("--reduction-factor", type=int, default=3, help="HPOConfig.reduction_factor")
    parser.add_argument(
        "--ordered",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="search the widths as an ordered index (--no-ordered: TPE's categorical kernel)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="run random search again (default: reuse "
        "a complete random study under --root; it depends on the seed and settings only)",
    )
    parser.add_argument("--root", type=Path, default=Path("/tmp/vibe-bench-hpo"))
    parser.add_argument("--out", type=Path, default=RESULTS / "hpo_efficiency.json")
    args = parser.parse_args()
    os.environ.setdefault("VIBE_NO_PROGRESS", "1")
    import ray

    tag = f"t{args.random_trials}-s{args.steps}"  # random studies are reused per settings
    for seed in args.seeds:
        if args.fresh:
            shutil.rmtree(args.root / tag / f"seed{seed}", ignore_errors=True)
    data = build_dataset(args.root)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    started, load_start = time.time(), os.getloadavg()
    runs = []
    for seed in args.seeds:
        run = one_seed(seed, data=data, root=args.root / tag, steps=args.steps, random_trials=args.random_trials,
                       fraction=args.vibe_fraction, start=args.start,
                       random_fraction=args.random_fraction,
                       settings={"space": space(ordered=None if args.ordered else False), "pruner": args.pruner,
                             "reduction_factor": args.reduction_factor})  # fmt: skip
        runs.append(run)
        summary = write_summary(
            args, runs, started, load_start
        )  # after every seed: a cut-short run keeps its seeds
        print(
            f"seed {seed}: random best {run['random']['best']:.4f} with {run['random']['flops']:.3g} FLOPs; "
            f"vibe best {run['vibe']['best']}, reached random's best after {run['flops_to_reach_random_best']:.3g}"
            f" FLOPs (ratio {run['ratio']:.3f}); {run['vibe']['complete']} complete, {run['vibe']['pruned']} pruned",
            flush=True,
        )
    print(f"median ratio {summary['median_ratio']:.3f} (aim <= 0.333); wrote {args.out}")


if __name__ == "__main__":
    main()
