"""``run_loop``: rounds of (search -> transferred full-size run -> evaluation) until the deadline or budget."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from vibe.loop._config import LoopConfig, utcnow
from vibe.loop._report import write_report
from vibe.loop._state import (
    LoopState,
    RoundRecord,
    StoppedBy,
    best_run_of,
    best_trial_of,
    clock,
    pending_approvals,
    save_state,
)

__all__ = ["LoopResult", "run_loop", "why_stop"]

log = logging.getLogger(__name__)


class LoopResult(BaseModel):
    loop_dir: Path
    report: Path
    state: LoopState
    best_trial: dict[str, Any] | None  # {"round", "number", "value", "params", "objective"}
    best_run: dict[str, Any] | None  # {"round", "run_dir", "val_bpb", "val_loss"}
    pending: list[dict[str, Any]]  # the approval requests still waiting, as data


def _open_state(config: LoopConfig, say: Callable[[str], None]) -> tuple[Path, LoopState]:
    """The unfinished loop of this goal in the workdir (continued), or a new one. An unfinished loop whose
    deadline has passed is closed (with its report) first."""
    workdir = Path(config.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for path in sorted(workdir.glob("loop-*/loop.json"), reverse=True):
        try:
            state = LoopState.model_validate_json(path.read_text())
        except ValueError:
            continue
        if state.goal == config.goal and state.status == "running" and state.deadline <= utcnow():
            # its deadline passed while nothing ran it: close it with its report, and start anew
            state.status, state.stopped_by = "done", "deadline"
            state.note = "its deadline passed while the loop was not running"
            save_state(path.parent, state)
            say(
                f"{state.name} ended at its deadline while not running; report: {write_report(path.parent, state, config)}"
            )
            continue
        if state.goal == config.goal and state.status == "running":
            say(
                f"continuing {state.name}: {len(state.rounds)} round(s) so far, deadline {clock(state.deadline)}"
            )
            return path.parent, state
    started = utcnow()
    deadline = config.deadline(started).astimezone(UTC)
    total = (deadline - started).total_seconds()
    rounds = config.rounds
    name = f"loop-{started.strftime('%Y%m%d-%H%M%S')}"
    state = LoopState(
        goal=config.goal,
        name=name,
        started=started,
        deadline=deadline,
        full_run_s=max(1.0, min(rounds.full_run_max_s, rounds.full_run_share * total)),
    )
    loop_dir = workdir / name
    loop_dir.mkdir(parents=True)
    save_state(loop_dir, state)
    say(f"{name}: '{config.goal}' until {clock(deadline)} ({total / 3600:.2f} h)")
    return loop_dir, state


# ------------------------------------------------------------------------------------------------- rounds
def _space_for(state: LoopState, factor: float) -> dict[str, Any] | None:
    """Refinement: the space of the round that found the best trial, narrowed around it (None: default)."""
    best = best_trial_of(state)
    if best is None or not best.get("space"):
        return None
    from tools.hpo import SearchSpace

    space = SearchSpace.model_validate(best["space"])
    return space.narrowed(best["params"], factor=factor).model_dump(mode="json")


def _plan_settings(config: LoopConfig, state: LoopState, *, search_until: datetime, space: dict[str, Any] | None,
                   number: int, now: datetime) -> Any:  # fmt: skip
    settings = config.agent_settings()
    plan = settings.plan
    search = plan.search.model_copy(
        update={
            "max_trials": config.rounds.max_trials,
            "hours": max(1e-3, (search_until - now).total_seconds() / 3600),
            "deadline": search_until,
            "space": space if space is not None else plan.search.space,
            "trial_fraction": config.rounds.trial_fraction,
            "seed": plan.search.seed + number - 1,
            # a refinement round trains only what beats the best so far
            "beat": (best_trial_of(state) or {}).get("value") if number > 1 else None,
        }
    )
    plan = plan.model_copy(update={"proxy_time_budget_s": state.full_run_s, "search": search})
    return settings.model_copy(update={"plan": plan})


def _collect(record: RoundRecord, values: dict[str, Any], store: Any) -> None:
    """Fill ``record`` from the round's finished (or stopped) thread."""
    results = values.get("results", {})
    steps = (values.get("plan") or {}).get("steps", [])
    record.status, record.reason, record.report = (
        values.get("status", "new"),
        values.get("reason", ""),
        values.get("report"),
    )
    for step in steps:
        if step["tool"] == "hpo":
            record.space = step["args"]["config"]["space"]
            record.objective = step["args"]["config"]["objective"]
            record.search = results.get(step["id"])
        elif step["tool"] == "train":
            record.full_config = step["args"]["config"]
            record.full_run = results.get(step["id"])
        elif step["tool"] == "eval":
            record.evaluation = results.get(step["id"])
    if store is not None:
        record.pending = [r.id for r in store.pending() if r.thread_id == record.thread_id]
    record.finished = utcnow()
    record.wall_s = (record.finished - record.started).total_seconds()
    search = record.search or {}
    run_hours = (record.full_run or {}).get("wall_s", 0.0) / 3600
    gpu_run = bool(record.full_config and record.full_config.get("device") == "cuda")
    record.cpu_hours = search.get("cpu_hours", 0.0) + (0.0 if gpu_run else run_hours * (os.cpu_count() or 1))
    record.gpu_hours = search.get("gpu_hours", 0.0) + (run_hours if gpu_run else 0.0)


def why_stop(config: LoopConfig, state: LoopState, now: datetime) -> tuple[StoppedBy | None, str]:
    """Whether the loop ends before the next round, and why."""
    rounds = config.rounds
    if rounds.max_rounds is not None and len([r for r in state.rounds if r.finished]) >= rounds.max_rounds:
        return "max_rounds", f"{rounds.max_rounds} round(s) done"
    cpu = sum(r.cpu_hours for r in state.rounds)
    gpu = sum(r.gpu_hours for r in state.rounds)
    if config.cpu_hours is not None and cpu >= config.cpu_hours:
        return "budget", f"{cpu:.3g} of {config.cpu_hours:g} CPU core-hours used"
    if config.gpu_hours is not None and gpu >= config.gpu_hours:
        return "budget", f"{gpu:.3g} of {config.gpu_hours:g} GPU-hours used"
    last = state.rounds[-1] if state.rounds else None
    if last is not None and last.finished and not (last.search or {}).get("n_complete"):
        if last.pending and last.search is None:
            return "approval", f"round {last.number}'s search waits for approval ({', '.join(last.pending)})"
        if last.status == "stopped":
            return "policy", f"round {last.number} stopped before its search finished a trial: {last.reason}"
        search = last.search or {}
        if search:
            why = (
                f"round {last.number}'s search finished no trial ({search.get('n_failed', 0)} failed; stopped by "
                f"{search.get('stopped_by')}: {search.get('stop_reason') or '-'})"
            )
        else:
            why = f"round {last.number} ran no search ({last.status}{': ' + last.reason if last.reason else ''})"
        return "failed", why + "; give the loop a longer window (--hours / --until) or shorter trials"
    left = _search_seconds(config, state, now)
    if left < rounds.min_round_s:
        return (
            "deadline",
            f"{max(0.0, left):.0f} s of search time left before the deadline, under the {rounds.min_round_s:.0f} s a round needs",
        )
    return None, ""


def _search_seconds(config: LoopConfig, state: LoopState, now: datetime) -> float:
    """Seconds a round starting ``now`` may search: the time left less the full run, its start-up and
    evaluation, and the report."""
    rounds = config.rounds
    left = (state.deadline - now).total_seconds()
    return left - rounds.report_reserve_s - rounds.run_overhead_s - state.full_run_s


def run_loop(
    config: LoopConfig, *, llm: Any = None, on_event: Callable[[str], None] | None = None
) -> LoopResult:
    """Pursue ``config.goal`` in rounds until the deadline or the budget, unattended; write the report.

    Restarting with the same workdir and goal continues the unfinished loop (its ``loop.json`` and the
    agent's checkpointed threads): finished rounds are not run again, a round cut off is resumed.
    """
    from vibe.tracking import start_run

    say = on_event or (lambda line: None)
    loop_dir, state = _open_state(config, say)
    tracker = start_run(
        None,
        experiment="vibe-loop",
        name=state.name,
        params={"goal": config.goal, "deadline": state.deadline.isoformat()},
        tags={"vibe.kind": "loop", "vibe.loop_dir": str(loop_dir)},
    )
    while True:
        now = utcnow()
        current = state.rounds[-1] if state.rounds and state.rounds[-1].finished is None else None
        if current is None:
            current = _start_round(config, state, loop_dir, say, now=now)
            if current is None:
                break
        elif not _resumable(config, state, loop_dir, say, current, now=now):
            continue
        _run_round(config, state, loop_dir, current, llm=llm, say=say, tracker=tracker, now=now)
    return _stop_loop(config, state, loop_dir, say, tracker=tracker)


def _start_round(
    config: LoopConfig, state: LoopState, loop_dir: Path, say: Callable[[str], None], *, now: datetime
) -> RoundRecord | None:
    """The next round, saved and told; None: the loop stops (its state saved done, and why)."""
    stopped_by, why = why_stop(config, state, now)
    if stopped_by is not None:
        state.status, state.stopped_by, state.note = "done", stopped_by, why
        save_state(loop_dir, state)
        say(f"loop ends: {why}")
        return None
    number = len(state.rounds) + 1
    seconds = _search_seconds(config, state, now)
    if config.rounds.search_max_s is not None:
        seconds = min(seconds, config.rounds.search_max_s)
    search_until = now + timedelta(seconds=seconds)
    current = RoundRecord(
        number=number,
        thread_id=f"{state.name}-r{number}",
        kind="search" if number == 1 else "refine",
        started=now,
        search_until=search_until,
    )
    space = None if number == 1 else _space_for(state, config.rounds.narrow_factor)
    current.space = space
    state.rounds.append(current)
    save_state(loop_dir, state)
    what = "search the default space" if space is None else "refine: search around the best so far"
    say(
        f"round {number}: {what}, up to {config.rounds.max_trials} trials until {clock(search_until)}, "
        f"then the transferred full-size run (~{state.full_run_s:.0f} s) and its evaluation"
    )
    return current


def _resumable(
    config: LoopConfig,
    state: LoopState,
    loop_dir: Path,
    say: Callable[[str], None],
    current: RoundRecord,
    *,
    now: datetime,
) -> bool:
    """Whether the round a restart cut off is resumed; if it would run past the deadline it is left
    unfinished (saved, told) instead."""
    left = (state.deadline - now).total_seconds() - config.rounds.report_reserve_s
    if left < state.full_run_s + config.rounds.run_overhead_s:  # resuming it would run past the deadline
        current.status, current.reason = "interrupted", "cut off by a restart too close to the deadline"
        current.finished = now
        save_state(loop_dir, state)
        say(f"round {current.number} left unfinished: {current.reason}")
        return False
    say(f"round {current.number}: resuming thread {current.thread_id}")
    return True


def _run_round(
    config: LoopConfig,
    state: LoopState,
    loop_dir: Path,
    current: RoundRecord,
    *,
    llm: Any,
    say: Callable[[str], None],
    tracker: Any,
    now: datetime,
) -> None:
    """Run (or resume) the round's agent thread, collect what it did into the round, save, track and tell."""
    from vibe.agent import Agent

    search_until = current.search_until or now
    settings = _plan_settings(
        config,
        state,
        search_until=search_until,
        space=current.space,
        number=current.number,
        now=current.started,
    )
    prefix = f"[r{current.number}] "
    with Agent.open(settings, llm=llm, yes=True, on_event=lambda line, p=prefix: say(p + line)) as agent:
        thread = {"configurable": {"thread_id": current.thread_id}}
        if agent.graph.get_state(thread).values:
            outcome = agent.resume(current.thread_id)
        else:
            outcome = agent.run(config.goal, thread_id=current.thread_id)
        _collect(current, outcome.values, agent.deps.approvals)
    save_state(loop_dir, state)
    _track_round(current, parent=tracker)
    best = (current.search or {}).get("best")
    say(
        f"round {current.number} {current.status}: "
        + (
            f"best trial {best['number']} = {best['value']:.4f}"
            if best and best.get("value") is not None
            else "no best trial"
        )
        + (f", full run val_bpb {current.evaluation['val_bpb']:.4f}" if current.evaluation else "")
        + (f", waiting for approval: {', '.join(current.pending)}" if current.pending else "")
    )


def _stop_loop(
    config: LoopConfig, state: LoopState, loop_dir: Path, say: Callable[[str], None], *, tracker: Any
) -> LoopResult:
    """The morning report, tracked with the loop's run, and the loop's result."""
    report = write_report(loop_dir, state, config)
    say(f"report: {report}")
    tracker.set_tags({"vibe.stopped_by": state.stopped_by, "vibe.note": state.note})
    for path in [report, *sorted(Path(report).parent.glob("*.png"))]:
        tracker.log_artifact(path)
    tracker.finish()
    return LoopResult(
        loop_dir=loop_dir,
        report=report,
        state=state,
        best_trial=best_trial_of(state),
        best_run=best_run_of(state),
        pending=pending_approvals(config, state),
    )


def _track_round(record: RoundRecord, *, parent: Any) -> None:
    """The round as an MLflow run nested under the loop's: what it searched, found, trained and scored."""
    from vibe.tracking import start_run

    best = (record.search or {}).get("best") or {}
    tracker = start_run(
        None,
        experiment="vibe-loop",
        name=record.thread_id,
        params={
            "number": record.number,
            "kind": record.kind,
            "objective": record.objective,
            "space": record.space,
        },
        tags={"vibe.kind": "loop.round", "vibe.status": record.status, "vibe.reason": record.reason[:500]},
        parent=parent,
    )
    tracker.log_metrics(
        {
            "best_trial_value": best.get("value"),
            "val_bpb": (record.evaluation or {}).get("val_bpb"),
            "val_loss": (record.evaluation or {}).get("val_loss"),
            "wall_s": record.wall_s,
            "cpu_hours": record.cpu_hours,
            "gpu_hours": record.gpu_hours,
        },
        step=record.number,
    )
    if record.report and len(record.report) < 4096 and Path(record.report).is_file():
        tracker.log_artifact(Path(record.report))
    elif record.report:
        tracker.log_text(record.report, artifact_file="report.md")
    tracker.finish(timeout_s=10)
