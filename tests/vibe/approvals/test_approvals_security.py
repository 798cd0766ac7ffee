"""Regression tests for the approvals holes of issue #10 (high 5, bad input): a decision under another policy
or on a rewritten request is refused when it is made, an approval is spent once, a hand-edited store and an
absurd login token give a clear error instead of a traceback."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policies import PolicySet, load_policies
from vibe.approvals import ApprovalError, ApprovalRequest, ApprovalStore, sign_decision
from vibe.approvals.web import parse_login_token
from vibe.core.errors import UserError

NOW = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)  # when the fixtures make their requests


def _signed(request: ApprovalRequest, keys: dict[str, Ed25519PrivateKey], who: str = "alice"):
    return sign_decision(request=request, decision="approve", approver=who, key=keys[who], time=NOW)


def test_a_decision_under_another_policy_is_refused(
    store: ApprovalStore,
    make_request: Callable[..., ApprovalRequest],
    keys: dict[str, Ed25519PrivateKey],
    policy_file: Path,
) -> None:
    request = make_request()
    edited = policy_file.with_name("edited.yaml")
    edited.write_text(policy_file.read_text(encoding="utf-8") + "# a comment changes the hash\n")
    with pytest.raises(ApprovalError, match="was made under the policy files") as error:
        store.decide(_signed(request, keys), policies=load_policies([edited]), now=NOW)
    assert error.value.code == "policy_changed"


def test_a_rewritten_and_rehashed_request_is_refused(
    store: ApprovalStore,
    make_request: Callable[..., ApprovalRequest],
    keys: dict[str, Ed25519PrivateKey],
    policies: PolicySet,
    tmp_path: Path,
) -> None:
    request = make_request(requester="bob")
    forged = request.model_copy(update={"requester": "mallory"})  # so bob could "approve" it
    with sqlite3.connect(tmp_path / "approvals.sqlite") as conn:
        conn.execute(
            "UPDATE requests SET body = ?, request_hash = ? WHERE id = ?",
            (
                forged.model_dump_json(exclude={"request_hash", "status", "decisions"}),
                forged.compute_hash(),
                request.id,
            ),
        )
    rewritten = store.get(request.id, now=NOW)
    with pytest.raises(ApprovalError, match="was modified after it was made") as error:
        store.decide(_signed(rewritten, keys, "bob"), policies=policies, now=NOW)
    assert error.value.code == "tampered"


def test_an_approval_is_spent_by_one_run_only(
    store: ApprovalStore,
    make_request: Callable[..., ApprovalRequest],
    keys: dict[str, Ed25519PrivateKey],
    policies: PolicySet,
) -> None:
    request = make_request()
    assert store.decide(_signed(request, keys), policies=policies, now=NOW).status == "approved"
    store.use(request.id, by="run-1")
    store.use(request.id, by="run-1")  # the same run, after a crash: fine
    with pytest.raises(ApprovalError, match="already used by another run") as error:
        store.use(request.id, by="run-2")
    assert error.value.code == "used" and store.used_by(request.id) == "run-1"


def test_a_malformed_date_in_the_store_names_the_file_and_request(
    store: ApprovalStore, make_request: Callable[..., ApprovalRequest], tmp_path: Path
) -> None:
    request = make_request()
    with sqlite3.connect(tmp_path / "approvals.sqlite") as conn:
        conn.execute("UPDATE requests SET expires = 'next tuesday' WHERE id = ?", (request.id,))
    with pytest.raises(UserError, match=rf"approvals\.sqlite: request {request.id}: expires 'next tuesday'"):
        store.pending()


def test_a_deeply_nested_login_token_is_refused_as_damaged() -> None:
    body = base64.urlsafe_b64encode(b"[" * 100_000 + b"]" * 100_000).decode().rstrip("=")
    with pytest.raises(UserError, match="the login token is damaged"):
        parse_login_token("vl1." + body)
