"""Approvals: requests that wait for a team lead, and the lead's signed decision.

When the policy engine says ``require_approval``, the agent calls :meth:`ApprovalStore.request` (with the
LangGraph thread id to resume later) and pauses. A lead signs an approval or rejection with their ed25519
key (:func:`sign_decision`, or ``vibe approvals approve ID --as NAME``); :meth:`ApprovalStore.decide`
verifies it against the public key the policy lists for them and refuses forged, self-, wrong-group and
expired approvals. ``get``, ``pending`` and ``decide`` are what a web handler calls.

    store = ApprovalStore(default_store_path())
    req = store.request(action=action, decision=decision, thread_id="t1", summary="350M dense, 6 GPU-h")
    signed = sign_decision(request=req, decision="approve", approver="alice", key=load_private_key("alice"))
    store.decide(signed, policies=policies, ledger=ledger).status  # 'approved'
"""

from vibe.approvals._keys import (
    default_key_dir,
    generate_key,
    load_private_key,
    public_key_text,
    verify_signature,
)
from vibe.approvals._models import (
    ApprovalRequest,
    Cost,
    RecordedDecision,
    RuleNeed,
    SignedDecision,
    Status,
    sign_decision,
)
from vibe.approvals._store import ApprovalError, ApprovalStore, approval_record, default_store_path
from vibe.approvals._verify import Refusal, check_signed, verify_approval

__all__ = [
    "ApprovalError",
    "ApprovalRequest",
    "ApprovalStore",
    "Cost",
    "RecordedDecision",
    "Refusal",
    "RuleNeed",
    "SignedDecision",
    "Status",
    "approval_record",
    "check_signed",
    "default_key_dir",
    "default_store_path",
    "generate_key",
    "load_private_key",
    "public_key_text",
    "sign_decision",
    "verify_approval",
    "verify_signature",
]
