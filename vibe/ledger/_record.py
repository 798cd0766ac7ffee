"""The one record type of the ledger, and what a stored entry adds to it (position and hashes).

The agent appends a :class:`Record` for every decision it makes; the store wraps it in an :class:`Entry`
whose ``hash`` covers the record, its ``seq`` and the previous entry's hash. An :class:`Anchor` is a head
(``seq:hash``) written down elsewhere, so that cutting off the tail can be detected later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import ConfigDict, Field, JsonValue, field_validator

from vibe.core.config import VibeConfig

__all__ = ["Actor", "Anchor", "Entry", "Record", "RecordKind"]

Actor = Literal["llm", "planner", "user", "policy", "approver", "tool"]
RecordKind = Literal[
    "goal_parsed",  # the user's request became a typed goal
    "plan_proposed",  # a candidate plan (from the LLM or the planner)
    "plan_chosen",
    "confirmation",  # the user confirmed, edited or cancelled a plan
    "proposal_rejected",  # a proposal failed validation or a gate
    "gate",  # the policy engine's decision on an action
    "approval_requested",
    "approval",  # a signed approval or rejection
    "tool_called",
    "tool_result",
    "observed",  # the agent read a step's outcome (e.g. a loss spike) and decided what comes next
    "retry",
    "fallback",  # e.g. the deterministic parser replaced the LLM
    "error",
    "run_started",
    "run_finished",
    "report",
    "note",
]
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _now() -> datetime:
    return datetime.now(UTC)


class Record(VibeConfig):
    """One decision: who (actor) did what (kind, action), on what (inputs_hash), why (reason, rules), with what result."""

    model_config = ConfigDict(frozen=True)

    time: datetime = Field(default_factory=_now, description="when, timezone-aware (stored as UTC)")
    thread_id: str = Field(min_length=1, description="the agent thread (conversation) it belongs to")
    actor: Actor
    kind: RecordKind
    action: str | None = Field(None, description="the action kind or tool name concerned")
    inputs_hash: str | None = Field(None, description="sha256 hex of the canonical JSON of the inputs")
    outputs: JsonValue = Field(None, description="the result, as JSON")
    reason: str = ""
    policy_hashes: dict[str, str] = Field(default_factory=dict, description="policy file -> sha256 in force")
    rule_ids: list[str] = Field(default_factory=list)
    outcome: str | None = Field(
        None, description="allow / deny / require_approval / ok / failed / approved ..."
    )
    signature: dict[str, JsonValue] | None = Field(None, description="the approver's signed decision, if any")

    @field_validator("time")
    @classmethod
    def _utc(cls, time: datetime) -> datetime:
        if time.tzinfo is None:
            raise ValueError("time must be timezone-aware (use datetime.now(UTC))")
        return time.astimezone(UTC)

    @field_validator("inputs_hash")
    @classmethod
    def _hex(cls, value: str | None) -> str | None:
        if value is not None and not _HEX64.match(value):
            raise ValueError("must be 64 lowercase hex characters (vibe.ledger.digest(inputs))")
        return value


@dataclass(frozen=True, slots=True)
class Entry:
    """A stored record: its 1-based position, the previous entry's hash and its own."""

    seq: int
    prev_hash: str
    hash: str
    record: Record


@dataclass(frozen=True, slots=True)
class Anchor:
    """A ledger head, ``seq:hash``: record it somewhere else and verify against it later."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Anchor:
        seq, _, digest = text.strip().partition(":")
        if not seq.isdigit() or int(seq) < 1 or not _HEX64.match(digest):
            raise ValueError(f"anchor {text!r} must be SEQ:HASH as printed by `vibe audit head`")
        return cls(seq=int(seq), hash=digest)
