"""The decision record: the one call the nodes use to append a decision to the ledger.

It hashes the inputs, stamps the thread and actor, and appends a :class:`vibe.ledger.Record`; the ledger
chains the entries so an auditor can verify them (``vibe audit verify``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from vibe.ledger import Ledger, Record, digest

__all__ = ["Recorder"]


def _plain(value: Any) -> Any:
    """A typed value (a plan step, say) as the JSON data the ledger hashes and stores; data as it is."""
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


class Recorder:
    """Appends the agent's decisions to ``ledger``."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def once(self, thread: str, **record: Any) -> bool:
        """Append a decision unless this thread's ledger already holds the same one (same kind, action,
        inputs, outcome, reason, rules and policy files): a node re-run after a pause repeats its checks,
        and the ledger keeps each distinct decision once. Returns whether it was appended."""
        key = (
            record["kind"],
            record.get("action"),
            digest(_plain(record["inputs"])),
            record.get("outcome") or "ok",
            record["reason"],
            list(record.get("rule_ids", ())),
            record.get("policy_hashes") or {},
        )
        for entry in self.ledger.entries(thread_id=thread):
            r = entry.record
            if (r.kind, r.action, r.inputs_hash, r.outcome, r.reason, r.rule_ids, r.policy_hashes) == key:
                return False
        self(thread, **record)
        return True

    def __call__(
        self,
        thread: str,
        *,
        kind: str,
        actor: str,
        inputs: Any,
        outputs: Any,
        reason: str,
        action: str | None = None,
        outcome: str | None = None,
        rule_ids: list[str] | tuple[str, ...] = (),
        policy_hashes: dict[str, str] | None = None,
        usage: dict[str, Any] | None = None,
        signature: dict[str, Any] | None = None,
    ) -> None:
        self.ledger.append(
            Record(
                thread_id=thread,
                kind=kind,  # type: ignore[arg-type]
                actor=actor,  # type: ignore[arg-type]
                action=action,
                inputs_hash=digest(_plain(inputs)),
                outputs={"value": _plain(outputs), "usage": usage} if usage else _plain(outputs),
                reason=reason,
                outcome=outcome or "ok",
                rule_ids=list(rule_ids),
                policy_hashes=policy_hashes or {},
                signature=signature,
            )
        )
