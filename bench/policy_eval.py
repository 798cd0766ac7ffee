"""Benchmark: how long the policy engine takes to judge one action (target: well under 1 ms).

Loads the strict example (``regulated-bank.yaml`` plus its fraud-team file: 8 classification globs, 3 gates,
3 approver groups, 4 free rules), then times ``PolicySet.evaluate`` on a realistic mix of actions, each
many times, and reports the median and 99th percentile per action. Building the ``Action`` (pydantic
validation, paid once by the agent per proposal) and loading the files are timed separately.

    python bench/policy_eval.py [--repeat 20000] [--out bench/results/policy_eval.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from policies import Action, Usage, load_policies
from vibe.core.log import progress

EXAMPLES = Path(__file__).resolve().parents[1] / "policies" / "examples"
FILES = [EXAMPLES / "regulated-bank.yaml", EXAMPLES / "regulated-bank-team-fraud.yaml"]
ACTIONS: dict[str, dict[str, Any]] = {
    "train.run (3 paths, within limits)": {
        "kind": "train.run",
        "team": "fraud",
        "requester": "ines.duarte",
        "gpu_hours": 12,
        "parameters": "350M",
        "architecture": "dense",
        "paths": [f"/srv/data/approved/code/repo{i}" for i in range(3)],
    },
    "train.run (customer data: deny)": {
        "kind": "train.run",
        "team": "risk",
        "requester": "kai.tanaka",
        "gpu_hours": 40,
        "parameters": "2B",
        "architecture": "dense",
        "paths": ["/srv/data/approved/crm/customers.parquet"],
    },
    "data.ingest (50 paths)": {
        "kind": "data.ingest",
        "team": "risk",
        "requester": "kai.tanaka",
        "paths": [f"/srv/data/approved/docs/handbook/chapter{i}.md" for i in range(50)],
    },
    "llm.call (allowed endpoint)": {"kind": "llm.call", "url": "http://127.0.0.1:8000/v1/chat/completions"},
    "model.release (3 gates)": {
        "kind": "model.release",
        "metrics": {"val_bpb": 1.02, "pii_leak_rate": 0.0, "toxicity": 0.001},
    },
    "synth.generate (approval)": {
        "kind": "synth.generate",
        "team": "risk",
        "requester": "kai.tanaka",
        "generator": "template",
        "volume": "200K",
    },
}
USAGE = Usage(teams={"fraud": {"gpu_hours": 30}, "risk": {"gpu_hours": 12, "synthetic_volume": 50_000}})


def _time_ns(fn: Any, repeat: int) -> list[int]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    return samples


def _summary(samples: list[int]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_us": statistics.median(ordered) / 1000,
        "p99_us": ordered[int(len(ordered) * 0.99) - 1] / 1000,
        "mean_us": statistics.fmean(ordered) / 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20_000, help="evaluations per action")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "policy_eval.json")
    args = parser.parse_args()

    load = _summary(_time_ns(lambda: load_policies(FILES), 50))
    policies = load_policies(FILES)
    results: dict[str, Any] = {}
    with progress() as bar:
        task = bar.add_task("evaluating", total=len(ACTIONS))
        for name, data in ACTIONS.items():
            action = Action.model_validate(data)
            decision = policies.evaluate(action, usage=USAGE)
            for _ in range(200):  # warm-up
                policies.evaluate(action, usage=USAGE)
            evaluate = _summary(_time_ns(lambda a=action: policies.evaluate(a, usage=USAGE), args.repeat))
            build = _summary(_time_ns(lambda d=data: Action.model_validate(d), max(args.repeat // 10, 100)))
            results[name] = {"effect": decision.effect, "evaluate": evaluate, "build_action": build}
            bar.advance(task)

    report = {
        "machine": f"{platform.processor() or platform.machine()}, Python {platform.python_version()}",
        "files": [str(f.relative_to(EXAMPLES.parents[1])) for f in FILES],
        "repeat": args.repeat,
        "load_ms": {k: v / 1000 for k, v in load.items()},
        "actions": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    print(
        f"Policy set: {', '.join(report['files'])}; {args.repeat} evaluations per action; {report['machine']}.\n"
    )
    print("| action | decision | evaluate median (µs) | evaluate p99 (µs) | build Action median (µs) |")
    print("|---|---|---:|---:|---:|")
    for name, r in results.items():
        e, b = r["evaluate"], r["build_action"]
        print(f"| {name} | {r['effect']} | {e['median_us']:.1f} | {e['p99_us']:.1f} | {b['median_us']:.1f} |")
    print(f"\nLoading and checking both files: median {report['load_ms']['median_us']:.2f} ms.")
    print(f"Results written to {args.out}.")


if __name__ == "__main__":
    main()
