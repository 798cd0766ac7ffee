"""Agent latency and LLM cost: request -> first training step, and LLM tokens and calls per decision.

Runs the demo request through the whole agent (intake with the LLM, planner, gate, ingest, Megatron under
Ray) in a fresh work directory, watches for the first line of the run's metrics.jsonl, and reads the ledger
afterwards. With the local vLLM server (started if none answers) and rules-only (--no-llm) for comparison.

Phases (seconds from the request), from what the run leaves behind: the ledger's record times (plan chosen,
each step's tool_called / tool_result), the training child's ``logs/driver.log`` (its first line: the child
is up and has imported the trainer; "run ...: N workers": Ray is up), the worker's ``logs/worker_0.log`` (its
first line: Ray Train's worker is up) and the first metrics record.

    python bench/agent_latency.py            # both modes
    python bench/agent_latency.py --no-llm   # rules-only
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
REQUEST = "train a small GPT on the Python standard library"


def _first_step_watcher(workdir: Path, thread: str, started: float, out: dict[str, float]) -> threading.Event:
    stop = threading.Event()

    def watch() -> None:
        metrics = workdir / thread / "train" / "metrics.jsonl"
        while not stop.is_set():
            if metrics.is_file() and metrics.stat().st_size > 0:
                out["first_step_s"] = time.perf_counter() - started
                return
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()
    return stop


def _log_times(path: Path) -> list[tuple[float, str]]:
    """(epoch seconds, message) of every line of a Vibe log file (``%(asctime)s LEVEL name: message``)."""
    out = []
    for line in path.read_text(errors="replace").splitlines() if path.is_file() else []:
        m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) \S+ \S+: (.*)", line)
        if m:
            t = time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")) + int(m.group(2)) / 1000
            out.append((t, m.group(3)))
    return out


def phases(workdir: Path, thread: str, records: list, started_at: float) -> dict[str, float]:
    """Seconds from the request to each milestone (see the module docstring); missing ones are left out."""
    out: dict[str, float] = {}

    def mark(name: str, at: float) -> None:
        out.setdefault(name, round(at - started_at, 2))

    for r in records:
        at = r.time.timestamp()
        if r.kind == "plan_chosen":
            mark("plan_chosen", at)
        elif r.kind == "tool_called" and r.action:
            mark(f"{r.action}_called", at)
        elif r.kind == "tool_result" and r.action:
            mark(f"{r.action}_done", at)
    run = workdir / thread / "train"
    driver = _log_times(run / "logs" / "driver.log")
    if driver:
        mark("trainer_child_up", driver[0][0])
    for at, message in driver:
        if re.match(r"run .*: \d+ workers", message):
            mark("ray_up", at)
    worker = _log_times(run / "logs" / "worker_0.log")
    if worker:
        mark("worker_up", worker[0][0])
    metrics = run / "metrics.jsonl"
    if metrics.is_file() and metrics.stat().st_size:
        first = json.loads(metrics.read_text().splitlines()[0])
        mark("first_step", float(first["time"]))
    return dict(sorted(out.items(), key=lambda kv: kv[1]))


def run_once(*, use_llm: bool, steps: int, train_ahead: bool = True) -> dict[str, object]:
    from vibe.agent import Agent, AgentSettings, PlanSettings
    from vibe.ledger import SqliteLedger

    workdir = Path(tempfile.mkdtemp(prefix="vibe-bench-"))
    llm = None
    if use_llm:
        from vibe.llm import LLMConfig, OpenAIChatModel, ensure_server

        endpoint = ensure_server()
        llm = OpenAIChatModel(LLMConfig(url=endpoint.url, model=endpoint.model, max_tokens=200))
    settings = AgentSettings(
        workdir=str(workdir),
        plan=PlanSettings(proxy_max_steps=steps),
        llm_proposals=use_llm,
        train_ahead=train_ahead,
    )
    timings: dict[str, float] = {}
    started, started_at, load = time.perf_counter(), time.time(), os.getloadavg()
    stop = _first_step_watcher(workdir, "bench", started, timings)
    with Agent.open(settings, llm=llm, yes=True) as agent:
        outcome = agent.run(REQUEST, thread_id="bench")
    stop.set()
    total = time.perf_counter() - started
    with SqliteLedger(workdir / "ledger.sqlite") as ledger:
        records = [e.record for e in ledger.entries(thread_id="bench")]
    llm_decisions = [
        r for r in records if r.actor == "llm" or r.kind in ("plan_proposed", "proposal_rejected")
    ]
    usage = llm.usage if llm else None
    return {
        "mode": ("llm" if use_llm else "rules-only") + ("" if train_ahead else ", no train-ahead"),
        "train_ahead": train_ahead,
        "status": outcome.status,
        "request_to_first_step_s": timings.get("first_step_s"),
        "total_s": total,
        "decisions": len(records),
        "llm_decisions": len(llm_decisions),
        "llm_calls": usage.calls if usage else 0,
        "llm_prompt_tokens": usage.prompt_tokens if usage else 0,
        "llm_completion_tokens": usage.completion_tokens if usage else 0,
        "llm_latency_s": usage.latency_s if usage else 0.0,
        "llm_tokens_per_decision": (usage.total_tokens / max(1, len(llm_decisions))) if usage else 0.0,
        "phases_s": phases(workdir, "bench", records, started_at),
        "load_avg": load,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started_at)),
        "workdir": str(workdir),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-llm", action="store_true", help="only the rules-only mode")
    parser.add_argument("--steps", type=int, default=20, help="training steps of the local run")
    parser.add_argument("--out", type=Path, default=RESULTS / "agent_latency.json")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each mode, interleaved")
    parser.add_argument(
        "--compare-ahead", action="store_true",
        help="also run each mode with the train step's child started only at its turn (train_ahead off)",
    )  # fmt: skip
    args = parser.parse_args()
    modes = [(False, True)] + ([] if args.no_llm else [(True, True)])
    if args.compare_ahead:
        modes += [(llm, False) for llm, _ in modes]
    runs = []
    for k in range(args.repeats):  # interleaved, the order rotating, so a burst of load hits every mode
        for use_llm, ahead in modes[k % len(modes) :] + modes[: k % len(modes)]:
            runs.append(run_once(use_llm=use_llm, steps=args.steps, train_ahead=ahead))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(runs, indent=2))
    for r in runs:
        print(
            f"{r['mode']:>10}: request -> first step {r['request_to_first_step_s']:.1f} s, total {r['total_s']:.1f} s, "
            f"{r['decisions']} decisions, LLM {r['llm_calls']} calls / {r['llm_prompt_tokens']}+"
            f"{r['llm_completion_tokens']} tokens ({r['llm_tokens_per_decision']:.0f} per LLM decision)"
        )
        print(
            "            phases (s from the request): "
            + ", ".join(f"{k} {v:.1f}" for k, v in r["phases_s"].items())
        )  # type: ignore[attr-defined]
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
