"""The approvals store accepts a valid signed approval and refuses forged, self-, wrong-group and expired ones."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policies import Action, PolicySet
from vibe.approvals import ApprovalError, ApprovalRequest, ApprovalStore, sign_decision, verify_signature
from vibe.core.errors import UserError
from vibe.ledger import SqliteLedger

Keys = dict[str, Ed25519PrivateKey]
MakeRequest = Callable[..., ApprovalRequest]
NOW = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)  # the time conftest's requests are made at
LATER = NOW + timedelta(minutes=30)


def _sign(
    request: ApprovalRequest, keys: Keys, who: str, *, decision: str = "approve", key_of: str | None = None
):
    return sign_decision(
        request=request,
        decision=decision,  # type: ignore[arg-type]
        approver=who,
        key=keys[key_of or who],
        reason="looks fine" if decision == "approve" else "too big",
        time=LATER,
    )


def test_request_holds_what_a_lead_needs(make_request: MakeRequest, store: ApprovalStore) -> None:
    request = make_request()
    stored = store.get(request.id, now=LATER)
    assert stored == request
    assert (stored.status, stored.requester, stored.thread_id) == ("pending", "bob", "thread-nlp")
    assert stored.cost.gpu_hours == 8
    assert [(r.rule, r.groups) for r in stored.rules] == [("org:compute.approval_above", ("leads",))]
    assert stored.expires - stored.created == timedelta(hours=24)
    assert stored.request_hash == stored.compute_hash()


def test_valid_approval_is_accepted_and_recorded(
    make_request: MakeRequest, store: ApprovalStore, policies: PolicySet, keys: Keys, tmp_path: Path
) -> None:
    request = make_request()
    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        decided = store.decide(_sign(request, keys, "alice"), policies=policies, now=LATER, ledger=ledger)
        assert decided.status == "approved"
        assert store.get(request.id, now=LATER).status == "approved"
        (entry,) = list(ledger.entries())
        assert ledger.verify().ok
    record = entry.record
    assert (record.kind, record.actor, record.outcome, record.thread_id) == (
        "approval",
        "approver",
        "approved",
        "thread-nlp",
    )
    assert record.signature is not None and record.signature["approver"] == "alice"
    # an auditor can check the signature in the ledger against the key in the policy
    signed = decided.decisions[0].signed
    assert verify_signature(
        policies.public_key("alice") or "", signed.payload(), str(record.signature["signature"])
    )


def test_forged_signature_is_refused(
    make_request: MakeRequest, store: ApprovalStore, policies: PolicySet, keys: Keys
) -> None:
    request = make_request()
    forged = _sign(request, keys, "alice", key_of="dave")  # signed with a key that is not alice's
    with pytest.raises(ApprovalError, match="signature of alice does not verify against their key") as error:
        store.decide(forged, policies=policies, now=LATER)
    assert error.value.code == "forged"
    assert store.get(request.id, now=LATER).status == "pending"


def test_altered_signed_decision_is_refused(
    make_request: MakeRequest, store: ApprovalStore, policies: PolicySet, keys: Keys
) -> None:
    request = make_request()
    rejected = _sign(request, keys, "alice", decision="reject")
    flipped = rejected.model_copy(update={"decision": "approve"})
    with pytest.raises(ApprovalError) as error:
        store.decide(flipped, policies=policies, now=LATER)
    assert error.value.code == "forged"


def test_requester_may_not_approve_their_own_request(
    make_request: MakeRequest, store: ApprovalStore, policies: PolicySet, keys: Keys
) -> None:
    request = make_request(requester="bob")  # bob is a lead too
    with pytest.raises(
        ApprovalError, match=r"bob asked for \w+ and may not approve their own request"
    ) as error:
        store.decide(_sign(request, keys, "bob"), policies=policies, now=LATER)
    assert error.value.code == "self"


def test_approver_outside_the_named_groups_is_refused(
    make_request: MakeRequest, store: ApprovalStore, policies: PolicySet, keys: Keys
) -> None:
    request = (
        make_request()
    )  # the compute rule names leads; carol is in security (which may approve anything)
    with pytest.raises(ApprovalError, match=r"carol is in no group that may approve train\.run") as error:
        store.decide(_sign(request, keys, "carol"), policies=policies, now=LATER)
    assert error.value.code == "not_eligible"


def test_person_not_in_the_policy_is_refused(
    make_request: MakeRequest, store: ApprovalStore, policies: PolicySet, keys: Keys
) -> None:
    request = make_request()
    with pytest.raises(ApprovalError, match="dave is not an approver in the policy in force") as error:
        store.decide(_sign(request, keys, "dave"), policies=policies, now=LATER)
    assert error.value.code == "unknown_approver"


def test_expired_request_cannot_be_approved(
    make_request: MakeRequest, store: ApprovalStore, policies: PolicySet, keys: Keys
) -> None:
    request = make_request(ttl_h=1)
    signed = _sign(request, keys, "alice")
    with pytest.raises(ApprovalError, match="expired at") as error:
        store.decide(signed, policies=policies, now=NOW + timedelta(hours=2))
    assert error.value.code == "expired"
    assert store.get(request.id, now=NOW + timedelta(hours=2)).status == "expired"
    assert store.pending(now=NOW + timedelta(hours=2)) == []


def test_signature_dated_after_expiry_is_refused(
    make_request: MakeRequest, store: ApprovalStore, policies: PolicySet, keys: Keys
) -> None:
    request = make_request(ttl_h=1)
    late = sign_decision(
        request=request,
        decision="approve",
        approver="alice",
        key=keys["alice"],
        time=NOW + timedelta(hours=1),
    )
    with pytest.raises(ApprovalError, match="outside the request's lifetime") as error:
        store.decide(late, policies=policies, now=NOW + timedelta(minutes=59))
    assert error.value.code == "expired"


def test_signature_for_another_request_is_refused(
    make_request: MakeRequest, store: ApprovalStore, policies: PolicySet, keys: Keys
) -> None:
    first, second = make_request(), make_request(gpu_hours=9)
    signed = _sign(first, keys, "alice").model_copy(update={"request_hash": second.request_hash})
    with pytest.raises(ApprovalError) as error:
        store.decide(signed, policies=policies, now=LATER)
    assert error.value.code == "wrong_request"


def test_request_edited_in_the_database_is_refused(
    make_request: MakeRequest, store: ApprovalStore, policies: PolicySet, keys: Keys
) -> None:
    request = make_request()
    signed = _sign(request, keys, "alice")
    conn = sqlite3.connect(store.path, isolation_level=None)
    body = json.loads(conn.execute("SELECT body FROM requests WHERE id = ?", (request.id,)).fetchone()[0])
    body["action"]["gpu_hours"] = 80.0
    conn.execute("UPDATE requests SET body = ? WHERE id = ?", (json.dumps(body), request.id))
    conn.close()
    with pytest.raises(ApprovalError, match="was modified after it was made") as error:
        store.decide(signed, policies=policies, now=LATER)
    assert error.value.code == "tampered"


def test_rejection_is_final(
    make_request: MakeRequest, store: ApprovalStore, policies: PolicySet, keys: Keys
) -> None:
    request = make_request(requester="dave")
    assert (
        store.decide(_sign(request, keys, "alice", decision="reject"), policies=policies, now=LATER).status
        == "rejected"
    )
    with pytest.raises(ApprovalError, match="already rejected") as error:
        store.decide(_sign(request, keys, "bob"), policies=policies, now=LATER)
    assert error.value.code == "not_pending"


def test_each_fired_rule_needs_its_own_group(
    make_request: MakeRequest, store: ApprovalStore, policies: PolicySet, keys: Keys
) -> None:
    request = make_request(team="secret")  # compute threshold (leads) and the secret-team rule (security)
    assert {r.rule for r in request.rules} == {"org:compute.approval_above", "org:secret-team-runs"}
    partial = store.decide(_sign(request, keys, "alice"), policies=policies, now=LATER)
    assert (partial.status, partial.covered()) == ("pending", {"org:compute.approval_above"})
    with pytest.raises(ApprovalError) as error:
        store.decide(_sign(request, keys, "alice"), policies=policies, now=LATER)
    assert error.value.code == "duplicate"
    done = store.decide(_sign(request, keys, "carol"), policies=policies, now=LATER)
    assert done.status == "approved"
    assert [d.signed.approver for d in done.decisions] == ["alice", "carol"]


def test_pending_lists_oldest_first_and_get_accepts_a_prefix(
    make_request: MakeRequest, store: ApprovalStore
) -> None:
    first, second = make_request(), make_request(gpu_hours=9)
    assert [r.id for r in store.pending(now=LATER)] == [first.id, second.id]
    assert store.get(first.id[:6], now=LATER).id == first.id
    with pytest.raises(ApprovalError, match="no request with id 'zzzz'"):
        store.get("zzzz")


def test_store_survives_reopening(make_request: MakeRequest, store: ApprovalStore) -> None:
    request = make_request()
    with ApprovalStore(store.path) as again:
        assert again.get(request.id, now=LATER) == request


def test_request_is_recorded_in_the_ledger(store: ApprovalStore, policies: PolicySet, tmp_path: Path) -> None:
    action = Action(kind="train.run", team="nlp", requester="bob", gpu_hours=8, parameters="350M")
    with SqliteLedger(tmp_path / "l.sqlite") as ledger:
        request = store.request(
            action=action,
            decision=policies.evaluate(action),
            thread_id="t",
            summary="s",
            now=NOW,
            ledger=ledger,
        )
        (entry,) = list(ledger.entries())
    assert (entry.record.kind, entry.record.outcome, entry.record.inputs_hash) == (
        "approval_requested",
        "pending",
        request.request_hash,
    )


def test_only_require_approval_decisions_make_requests(store: ApprovalStore, policies: PolicySet) -> None:
    small = Action(kind="train.run", team="nlp", requester="bob", gpu_hours=1, parameters="350M")
    with pytest.raises(ValueError, match="this one is allow"):
        store.request(action=small, decision=policies.evaluate(small), thread_id="t", summary="s")
    anonymous = Action(kind="train.run", team="nlp", gpu_hours=8, parameters="350M")
    with pytest.raises(UserError, match="names no requester"):
        store.request(action=anonymous, decision=policies.evaluate(anonymous), thread_id="t", summary="s")
