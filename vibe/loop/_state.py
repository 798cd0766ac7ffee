"""The loop's state: what ``loop.json`` holds (the loop and its rounds), and the queries over it."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from vibe.loop._config import LoopConfig

__all__ = [
    "LoopState",
    "RoundRecord",
    "StoppedBy",
    "best_run_of",
    "best_trial_of",
    "clock",
    "pending_approvals",
    "save_state",
]

StoppedBy = Literal["deadline", "max_rounds", "budget", "policy", "failed", "approval"]


class RoundRecord(BaseModel):
    """One round: an agent thread (search, transferred full-size run, evaluation) and what it produced."""

    number: int
    thread_id: str
    kind: Literal["search", "refine"]
    started: datetime
    finished: datetime | None = None
    search_until: datetime | None = None
    status: str = "running"  # the thread's status when the round ended
    reason: str = ""
    search: dict[str, Any] | None = None  # the SearchResult as data
    space: dict[str, Any] | None = None  # the SearchSpace searched
    objective: str = "val_bpb"  # what the search minimised
    full_run: dict[str, Any] | None = None  # the train step's result
    full_config: dict[str, Any] | None = None  # the train step's run config as it was run (or queued)
    evaluation: dict[str, Any] | None = None  # the eval step's result
    pending: list[str] = Field(default_factory=list)  # approval request ids this round waits on
    report: str | None = None  # the thread's own report
    wall_s: float = 0.0
    cpu_hours: float = 0.0
    gpu_hours: float = 0.0


class LoopState(BaseModel):
    """What ``loop.json`` holds: enough to continue after a restart and to write the report."""

    goal: str
    name: str
    started: datetime
    deadline: datetime
    full_run_s: float  # the full-size run's training time budget, fixed for the whole loop
    status: Literal["running", "done"] = "running"
    stopped_by: StoppedBy | None = None
    note: str = ""
    rounds: list[RoundRecord] = Field(default_factory=list)


def save_state(loop_dir: Path, state: LoopState) -> None:
    tmp = loop_dir / "loop.json.tmp"
    tmp.write_text(state.model_dump_json(indent=2))
    tmp.replace(loop_dir / "loop.json")


def clock(at: datetime) -> str:
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def best_trial_of(state: LoopState) -> dict[str, Any] | None:
    best: dict[str, Any] | None = None
    for r in state.rounds:
        trial = (r.search or {}).get("best")
        if trial and trial.get("value") is not None and (best is None or trial["value"] < best["value"]):
            space = (r.search or {}).get("space") or r.space  # as the policy bounded it, if it did
            best = {"round": r.number, "space": space, "objective": r.objective, **trial}
    return best


def best_run_of(state: LoopState) -> dict[str, Any] | None:
    best: dict[str, Any] | None = None
    for r in state.rounds:
        ev = r.evaluation
        if ev and ev.get("val_bpb") is not None and (best is None or ev["val_bpb"] < best["val_bpb"]):
            best = {"round": r.number, "thread_id": r.thread_id, "config": r.full_config, **ev}
    return best


def pending_approvals(config: LoopConfig, state: LoopState) -> list[dict[str, Any]]:
    """The loop's approval requests still pending, as data, straight from the store."""
    from vibe.approvals import ApprovalStore, default_store_path

    if not config.policies:
        return []  # no policy, no gate that files requests
    threads = {r.thread_id for r in state.rounds}
    with ApprovalStore(Path(config.approvals) if config.approvals else default_store_path()) as store:
        return [json.loads(r.model_dump_json()) for r in store.pending() if r.thread_id in threads]
