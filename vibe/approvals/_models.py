"""What the approvals store holds: a request for approval, and the signed decisions on it."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ConfigDict, Field, field_validator

from policies import Action
from vibe.core.config import VibeConfig
from vibe.ledger import canonical_json, digest

__all__ = [
    "ApprovalRequest",
    "Cost",
    "RecordedDecision",
    "RuleNeed",
    "SignedDecision",
    "Status",
    "sign_decision",
]

Status = Literal["pending", "approved", "rejected", "expired"]
Verdict = Literal["approve", "reject"]


def _utc(time: datetime) -> datetime:
    if time.tzinfo is None:
        raise ValueError("must be timezone-aware")
    return time.astimezone(UTC)


class Frozen(VibeConfig):
    model_config = ConfigDict(frozen=True)


class RuleNeed(Frozen):
    """One rule that asked for approval, and the groups whose members may give it."""

    rule: str
    groups: tuple[str, ...]
    reason: str


class Cost(Frozen):
    """What the action costs, for the lead deciding."""

    gpu_hours: float | None = None
    cpu_hours: float | None = None
    note: str = ""


class SignedDecision(Frozen):
    """An approval or rejection, signed by the approver over the canonical JSON of every field but ``signature``."""

    request_id: str
    request_hash: str
    decision: Verdict
    approver: str
    time: datetime
    reason: str = ""
    signature: str = Field(description="base64 ed25519 signature of payload()")

    @field_validator("time")
    @classmethod
    def _utc_time(cls, time: datetime) -> datetime:
        return _utc(time)

    def payload(self) -> bytes:
        """The exact bytes signed: canonical JSON of (request id, request hash, decision, approver, time, reason)."""
        return canonical_json(self.model_dump(mode="json", exclude={"signature"})).encode("utf-8")


class RecordedDecision(Frozen):
    """A signed decision as accepted by the store, with the rules the approver was eligible for."""

    signed: SignedDecision
    covers: tuple[str, ...]


def sign_decision(
    *,
    request: ApprovalRequest,
    decision: Verdict,
    approver: str,
    key: Ed25519PrivateKey,
    reason: str = "",
    time: datetime | None = None,
) -> SignedDecision:
    """Sign ``decision`` on ``request`` as ``approver`` with their private ``key``."""
    unsigned = SignedDecision(
        request_id=request.id,
        request_hash=request.request_hash,
        decision=decision,
        approver=approver,
        time=time or datetime.now(UTC),
        reason=reason,
        signature="",
    )
    signature = base64.b64encode(key.sign(unsigned.payload())).decode("ascii")
    return unsigned.model_copy(update={"signature": signature})


class ApprovalRequest(Frozen):
    """A paused action waiting for a lead: what, why, for how long, and what was decided."""

    id: str
    created: datetime
    expires: datetime
    requester: str
    thread_id: str = Field(description="the LangGraph thread to resume once decided")
    action: Action
    rules: tuple[RuleNeed, ...] = Field(min_length=1)
    summary: str = Field(description="the plan, in a few lines a lead can judge")
    cost: Cost = Cost()
    data_touched: tuple[str, ...] = ()
    policy_hashes: dict[str, str] = Field(default_factory=dict)
    arguments_hash: str = Field("", description="sha256 of the exact step the action stands for")
    request_hash: str = ""
    status: Status = "pending"
    decisions: tuple[RecordedDecision, ...] = ()

    @field_validator("created", "expires")
    @classmethod
    def _utc_times(cls, time: datetime) -> datetime:
        return _utc(time)

    def content(self) -> dict[str, Any]:
        """The fields the request hash covers (everything fixed when the request was made)."""
        return self.model_dump(mode="json", exclude={"request_hash", "status", "decisions"})

    def compute_hash(self) -> str:
        return digest(self.content())

    def covered(self) -> set[str]:
        """Ids of the rules that approvals so far cover."""
        return {rule for d in self.decisions if d.signed.decision == "approve" for rule in d.covers}
