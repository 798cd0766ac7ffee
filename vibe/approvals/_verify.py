"""The one check of a signed decision against a request and the policy in force.

:meth:`ApprovalStore.decide` refuses a decision with it when the decision is made, and the agent re-checks
every decision of an approved request with :func:`verify_approval` before the step runs: the same code
either way, so what the store accepted and what the agent trusts can never drift apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from vibe.approvals._keys import verify_signature
from vibe.approvals._models import ApprovalRequest, SignedDecision

if TYPE_CHECKING:
    from policies import PolicySet

__all__ = ["Refusal", "check_signed", "verify_approval"]

Refusal = Literal[
    "not_found",
    "not_pending",
    "expired",
    "tampered",
    "wrong_request",
    "self",
    "unknown_approver",
    "forged",
    "not_eligible",
    "duplicate",
    "policy_changed",
    "used",
]


def check_signed(
    request: ApprovalRequest, signed: SignedDecision, *, policies: PolicySet
) -> tuple[Refusal, str] | None:
    """Why ``signed`` does not hold for ``request`` under ``policies`` ((code, message)), or None if it does.

    The request's content must still match its hash and its requester its action's; the policy in force
    must be the one the request was made under (same files, same sha256); the decision must be for this
    request and hash, signed by an approver of that policy with their listed key, who is not the requester.
    """
    rid = request.id
    if request.compute_hash() != request.request_hash or request.requester != request.action.requester:
        return "tampered", f"request {rid} was modified after it was made; refusing to decide it"
    if dict(policies.policy_hashes) != dict(request.policy_hashes):
        expected = ", ".join(f"{p} (sha256 {h[:12]})" for p, h in request.policy_hashes.items()) or "none"
        return (
            "policy_changed",
            f"request {rid} was made under the policy files {expected}; decide it under exactly those",
        )
    if signed.request_id != rid or signed.request_hash != request.request_hash:
        return "wrong_request", f"the signed decision is for another request than {rid}"
    key = policies.public_key(signed.approver)
    if key is None:
        return "unknown_approver", f"{signed.approver} is not an approver in the policy in force"
    if not verify_signature(key, signed.payload(), signed.signature):
        return "forged", f"the signature of {signed.approver} does not verify against their key in the policy"
    if signed.approver == request.requester:
        return "self", f"{signed.approver} asked for {rid} and may not approve their own request"
    return None


def verify_approval(request: ApprovalRequest, policies: PolicySet) -> str | None:
    """Why ``request``'s approval does not hold up (None if it does): every decision passes
    :func:`check_signed`, and every rule is covered by an approval from an eligible group."""
    covered: set[str] = set()
    if request.compute_hash() != request.request_hash:
        return "its content no longer matches its hash (edited in the store)"
    for recorded in request.decisions:
        problem = check_signed(request, recorded.signed, policies=policies)
        if problem is not None:
            return problem[1]
        signed = recorded.signed
        if signed.decision == "approve":
            covered.update(
                r.rule
                for r in request.rules
                if policies.eligible_groups(person=signed.approver, groups=r.groups, kind=request.action.kind)
            )
    missing = {r.rule for r in request.rules} - covered
    if missing:
        return f"no eligible signed approval covers {', '.join(sorted(missing))}"
    return None
