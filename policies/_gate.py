"""The gate: every plan and every tool call passes :meth:`Gate.check` before it runs.

:class:`PolicyGate` asks the policy engine (:class:`PolicySet`); :class:`AllowAll` stands in where no policy
is loaded and says so in the decision it returns, so the record shows that nothing was checked. Tools get
the gate that judged their call in ``tools.ToolContext.gate`` and ask it again while they spend (a search
starting trials, a generator sending batches). Turning a plan step into an action is the agent's job
(``vibe.agent.describe_step``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from policies._action import Action, Usage
from policies._engine import Decision, Finding, PolicySet
from policies._load import load_policies
from vibe.core.config import load_yaml

__all__ = ["AllowAll", "ApprovalNeed", "ApprovedGate", "Gate", "GateDecision", "PolicyGate"]


class ApprovalNeed(BaseModel):
    """One rule that asked for approval, and the approver groups it names."""

    rule: str
    groups: list[str]
    reason: str


class GateDecision(BaseModel):
    """The gate's verdict on one action. ``action`` (the judged :class:`Action` as JSON) and ``approvals``
    are set by :class:`PolicyGate`; an approval request is filed from them."""

    outcome: Literal["allow", "deny", "require_approval"]
    rule_ids: list[str] = Field(default_factory=list)
    reason: str
    policy_hashes: dict[str, str] = Field(default_factory=dict)
    action: dict[str, Any] | None = None
    approvals: list[ApprovalNeed] = Field(default_factory=list)
    obligations: dict[str, str] = Field(default_factory=dict)
    labels: list[str] = Field(default_factory=list)

    def policy_decision(self) -> Decision:
        """This verdict as the engine's :class:`Decision` (what the approvals store files a request from)."""
        return Decision(
            effect=self.outcome,
            rules=tuple(self.rule_ids),
            reason=self.reason,
            findings=tuple(
                Finding(rule=n.rule, effect="require_approval", reason=n.reason, approvers=tuple(n.groups))
                for n in self.approvals
            ),
            obligations=MappingProxyType(dict(self.obligations)),
            labels=tuple(self.labels),
            policy_hashes=MappingProxyType(dict(self.policy_hashes)),
        )


class Gate(ABC):
    @abstractmethod
    def check(self, *, kind: str, attributes: dict[str, Any]) -> GateDecision:
        """Decide on one proposed action (``kind`` such as ``train.run``, with its attributes)."""


class AllowAll(Gate):
    def check(self, *, kind: str, attributes: dict[str, Any]) -> GateDecision:
        return GateDecision(outcome="allow", reason="no policy loaded: every action is allowed")


class PolicyGate(Gate):
    """Judges actions with the policy files in force, against a usage snapshot taken at each check.

    ``usage`` returns today's usage by team (per-day limits are checked against it); ``team`` and
    ``requester`` are stamped on every action (the requester may not approve their own request).
    """

    def __init__(
        self,
        policies: PolicySet,
        *,
        usage: Callable[[], Usage] | None = None,
        team: str | None = None,
        requester: str | None = None,
    ) -> None:
        self.policies = policies
        self.usage = usage or Usage
        self.team = team
        self.requester = requester

    @classmethod
    def from_files(
        cls,
        paths: Sequence[str | Path],
        *,
        usage_file: str | Path | None = None,
        team: str | None = None,
        requester: str | None = None,
    ) -> PolicyGate:
        """Load the policy files (organisation first, then team files); ``usage_file`` is re-read per check."""
        if not paths:
            raise ValueError("a PolicyGate needs at least one policy file")
        usage = _usage_reader(Path(usage_file)) if usage_file is not None else None
        return cls(load_policies([Path(p) for p in paths]), usage=usage, team=team, requester=requester)

    def action(self, *, kind: str, attributes: dict[str, Any]) -> Action:
        """The :class:`Action` for ``kind``: the attributes it knows, plus this gate's team and requester."""
        fields = {k: v for k, v in attributes.items() if k in Action.model_fields and v is not None}
        fields.update(kind=kind, team=self.team, requester=self.requester)
        return Action.model_validate(fields)

    def check(self, *, kind: str, attributes: dict[str, Any]) -> GateDecision:
        try:
            action = self.action(kind=kind, attributes=attributes)
        except (ValidationError, ValueError) as error:
            return GateDecision(
                outcome="deny",
                rule_ids=["gate:invalid-action"],
                reason=f"{kind} cannot be described as a policy action ({_first_error(error)}); denied",
                policy_hashes=dict(self.policies.policy_hashes),
            )
        try:
            usage = self.usage()
        except Exception as error:  # a bad snapshot must fail closed, and say why
            return GateDecision(
                outcome="deny",
                rule_ids=["gate:usage"],
                reason=f"today's usage cannot be read ({error}); denied until it can",
                policy_hashes=dict(self.policies.policy_hashes),
                action=action.model_dump(mode="json"),
            )
        decision = self.policies.evaluate(action, usage=usage)
        return GateDecision(
            outcome=decision.effect,
            rule_ids=list(decision.rules),
            reason=decision.reason,
            policy_hashes=dict(decision.policy_hashes),
            action=action.model_dump(mode="json"),
            approvals=[
                ApprovalNeed(rule=f.rule, groups=list(f.approvers), reason=f.reason)
                for f in decision.approvals
            ],
            obligations=dict(decision.obligations),
            labels=list(decision.labels),
        )


class ApprovedGate(Gate):
    """``gate``, with one action's approval already given (request ``request_id``, its signatures verified by
    whoever holds the approvals store): a ``require_approval`` for exactly ``action`` (the judged action as
    JSON, ``GateDecision.action``) is ``allow``, naming the request; every deny, and any other action, stands."""

    def __init__(self, gate: Gate, *, action: dict[str, Any], request_id: str) -> None:
        self.gate, self.approved, self.request_id = gate, action, request_id

    def check(self, *, kind: str, attributes: dict[str, Any]) -> GateDecision:
        decision = self.gate.check(kind=kind, attributes=attributes)
        if decision.outcome == "require_approval" and decision.action == self.approved:
            return decision.model_copy(
                update={
                    "outcome": "allow",
                    "reason": f"approved (request {self.request_id}): {decision.reason}",
                }
            )
        return decision


def _usage_reader(path: Path) -> Callable[[], Usage]:
    def read() -> Usage:
        return load_yaml(path, Usage)

    return read


def _first_error(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(error)
