"""``vibe model release``'s release: the ``tools.release`` tool under a policy gate, with the approval the
policy reserves filed in (and read back from) the approvals store.

:func:`release_model` judges and registers through :func:`tools.release.release_run`. Where the policy asks
for approval it files a request for exactly the judged action (or finds the one filed before) and returns
``status="pending"``; run it again once approved (its signatures verified against the policy), and the
release goes on with that approval recorded in the lineage; a rejected request is a :class:`ReleaseDenied`.
The agent's release step goes through its gate node instead (the same store, the same tool).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from policies import ApprovedGate, PolicyGate
from tools.release import ReleaseDenied, ReleaseNeedsApproval, ReleaseResult, release_run
from vibe.approvals import ApprovalStore, default_store_path, verify_approval
from vibe.tracking import TrackingConfig

__all__ = ["release_model"]

log = logging.getLogger(__name__)


def release_model(
    run_dir: str | Path,
    *,
    name: str,
    policy_files: Sequence[str | Path] = (),
    requester: str,
    team: str | None = None,
    aliases: Sequence[str] = ("staging",),
    export_dir: str | Path | None = None,
    approvals_path: str | Path | None = None,
    ledger_path: str | Path | None = None,
    tracking: TrackingConfig | None = None,
) -> ReleaseResult:
    """Judge, (approve,) register; see the module docstring."""
    from policies import Action
    from vibe.ledger import SqliteLedger, default_ledger_path

    run_dir = Path(run_dir).resolve()
    thread = f"release-{name}"
    gate = PolicyGate.from_files(list(policy_files), team=team, requester=requester) if policy_files else None
    release = {"name": name, "ledger": None, "thread_id": thread, "aliases": aliases, "export_dir": export_dir,
               "tracking": tracking}  # fmt: skip
    with SqliteLedger(Path(ledger_path) if ledger_path else default_ledger_path()) as ledger:
        release["ledger"] = ledger
        try:
            return release_run(run_dir, gate=gate, **release)  # type: ignore[arg-type]
        except ReleaseNeedsApproval as needed:
            decision = needed.decision
        assert gate is not None and decision.action is not None
        action = Action.model_validate(decision.action)
        with ApprovalStore(Path(approvals_path) if approvals_path else default_store_path()) as store:
            same = [r for r in store.list() if r.action == action]
            approved = next((r for r in same if r.status == "approved"), None)
            if approved is None:
                rejected = next((r for r in same if r.status == "rejected"), None)
                if rejected is not None:
                    raise ReleaseDenied(
                        f"release of {run_dir} as {name}: approval request {rejected.id} was rejected; "
                        "nothing was registered",
                        [f"approval {rejected.id} rejected"],
                    )
                metrics = ", ".join(f"{k} {v:.4g}" for k, v in sorted(action.metrics.items()))
                pending = next((r for r in same if r.status == "pending"), None) or store.request(
                    action=action,
                    decision=decision.policy_decision(),
                    thread_id=thread,
                    summary=f"release {run_dir.name} as {name} ({', '.join(aliases)}): {metrics}",
                    ledger=ledger,
                )
                log.info("release %s waits for approval %s", name, pending.id)
                return ReleaseResult("pending", decision.action, request_id=pending.id)
            problem = verify_approval(approved, gate.policies)
            if problem:
                raise ReleaseDenied(
                    f"release of {run_dir} as {name}: request {approved.id} {problem}", [problem]
                )
        cleared = ApprovedGate(gate, action=decision.action, request_id=approved.id)
        return release_run(run_dir, gate=cleared, approval=approved.id, **release)  # type: ignore[arg-type]
