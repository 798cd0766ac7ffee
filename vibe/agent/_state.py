"""The agent's state: what flows through the graph, checkpointed after every node.

Values are plain JSON data (the typed models are dumped with ``model_dump(mode="json")``), so any
LangGraph checkpointer (SQLite here, PostgreSQL in production) stores and restores them exactly. This is the
one boundary where a plan is serialised: a node reads it typed with ``vibe.agent._plan.plan_of`` (a private
copy it may edit) and returns ``plan.model_dump(mode="json")``.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

__all__ = ["AgentState", "Status"]

Status = Literal[
    "new", "planned", "running", "done", "estimated", "stopped", "failed",
    "answered",  # a question about runs answered, or a feature not yet available named: nothing ran
    "question",  # the request could not be read: a question back
    "refused",  # it asked to send data or models out of the network
]  # fmt: skip


class AgentState(TypedDict, total=False):
    request: str
    thread_id: str
    reading: dict[str, Any]  # Reading: the typed intent and what was refused or noted beside it
    run_id: str  # a nonce of this run of the thread: the approvals it spends are bound to it
    requester: str | None  # the OS user who started the thread (its actions are theirs on every resume)
    policy_hashes: dict[str, str]  # the policy files (path -> sha256) the thread started under; {}: none
    goal: dict[str, Any]  # TrainingGoal
    plan: dict[str, Any]  # Plan
    cursor: int  # index of the next plan step to run
    results: dict[str, dict[str, Any]]  # step id -> tool result
    attempts: dict[str, int]  # step id -> tries so far
    last_error: str | None
    status: Status
    reason: str  # why the thread stopped or failed, in words
    events: Annotated[list[str], operator.add]  # user-facing status lines, in order
    report: str  # path of report.md
    ledger_head: str  # SEQ:HASH of the ledger when the thread finished (an anchor a rewrite cannot reach)
