"""A synth run's gate checks and ledger records (into the ledger it was given; none: nothing recorded)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from policies import Gate
from vibe.core.errors import UserError
from vibe.ledger import Ledger, Record, digest

__all__ = ["Recorder", "check_gate", "ledger_record"]


def check_gate(
    gate: Gate | None, ledger: Ledger | None, thread_id: str, kind: str, attributes: dict[str, Any]
) -> None:
    if gate is None:
        return
    decision = gate.check(kind=kind, attributes=attributes)
    outcome, rules, reason = decision.outcome, decision.rule_ids, decision.reason
    ledger_record(
        ledger,
        thread_id,
        actor="policy",
        kind="gate",
        action=kind,
        inputs=attributes,
        outcome=outcome,
        reason=reason,
        rule_ids=rules,
        policy_hashes=dict(decision.policy_hashes),
    )
    if outcome == "allow":
        return
    named = ", ".join(rules) or "the policy"
    if outcome == "require_approval":
        raise UserError(f"{kind} needs approval ({named}): {reason}; ask an approver, or lower the request")
    raise UserError(f"{kind} denied by {named}: {reason}")


def ledger_record(
    ledger: Ledger | None,
    thread_id: str,
    *,
    actor: str,
    kind: str,
    action: str,
    inputs: Any,
    outcome: str,
    reason: str,
    outputs: Any = None,
    rule_ids: list[str] | None = None,
    policy_hashes: dict[str, str] | None = None,
) -> None:
    if ledger is None:
        return
    ledger.append(
        Record(
            thread_id=thread_id,
            actor=actor,
            kind=kind,
            action=action,
            inputs_hash=digest(inputs),  # type: ignore[arg-type]
            outputs=outputs,
            outcome=outcome,
            reason=reason,
            rule_ids=rule_ids or [],
            policy_hashes=policy_hashes or {},
        )
    )


@dataclass
class Recorder:
    """The run's own records (actor ``tool``, action ``synth.generate``) into the ledger it was given."""

    ledger: Ledger | None
    thread_id: str

    def __call__(self, *, kind: str, inputs: Any, reason: str, outputs: Any = None) -> None:
        ledger_record(self.ledger, self.thread_id, actor="tool", kind=kind, action="synth.generate",
                inputs=inputs, outcome="ok", reason=reason, outputs=outputs)  # fmt: skip
