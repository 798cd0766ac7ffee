"""`vibe approvals keygen|list|show|approve|reject` end to end: real keys, policy, store and ledger files."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from policies import Action, load_policies
from vibe.approvals import ApprovalRequest, ApprovalStore
from vibe.cli import approvals_app as app
from vibe.ledger import SqliteLedger

POLICY = """\
version: 1
name: org
compute:
  approval_above: {{gpu_hours: 4}}
  approvers: [leads]
approvers:
  leads:
    members: {{{members}}}
    may_approve: [train.run]
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Keys made by `keygen` under a private VIBE_CACHE, a policy listing them, a store and a ledger."""
    monkeypatch.setenv("VIBE_CACHE", str(tmp_path / "cache"))
    members = []
    for name in ("alice", "bob"):
        result = CliRunner().invoke(app, ["keygen", name])
        assert result.exit_code == 0, result.output
        members.append(result.stdout.strip())  # 'alice: "ed25519:..."'
    policy = tmp_path / "org.yaml"
    policy.write_text(POLICY.format(members=", ".join(members)), encoding="utf-8")
    return {"policy": policy, "store": tmp_path / "approvals.sqlite", "ledger": tmp_path / "ledger.sqlite"}


@pytest.fixture
def pending(env: dict[str, Path]) -> Callable[..., ApprovalRequest]:
    def _make(requester: str = "bob") -> ApprovalRequest:
        action = Action(kind="train.run", requester=requester, gpu_hours=6, paths=("/data/code",))
        decision = load_policies([env["policy"]]).evaluate(action)
        with ApprovalStore(env["store"]) as store:
            return store.request(action=action, decision=decision, thread_id="t-9", summary="6 GPU-h run")

    return _make


def _args(env: dict[str, Path]) -> list[str]:
    return ["--policy", str(env["policy"]), "--store", str(env["store"]), "--ledger", str(env["ledger"])]


def test_keygen_writes_under_the_cache(env: dict[str, Path], tmp_path: Path) -> None:
    key = tmp_path / "cache" / "keys" / "alice.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert load_policies([env["policy"]]).public_key("alice") is not None


def test_list_and_show(env: dict[str, Path], pending: Callable[..., ApprovalRequest]) -> None:
    request = pending()
    listed = CliRunner().invoke(app, ["list", "--store", str(env["store"])])
    assert listed.exit_code == 0, listed.output
    assert request.id in listed.output and "6 GPU-h run" in listed.output
    shown = CliRunner().invoke(app, ["show", request.id[:8], "--store", str(env["store"])])
    assert shown.exit_code == 0, shown.output
    assert f"request {request.id}  status pending" in shown.output
    assert "requester bob, thread t-9" in shown.output
    assert "cost      gpu_hours 6.0" in shown.output
    assert "data      /data/code" in shown.output
    assert "rule      org:compute.approval_above (approvers: leads)" in shown.output


def test_approve_signs_and_records(env: dict[str, Path], pending: Callable[..., ApprovalRequest]) -> None:
    request = pending()
    result = CliRunner().invoke(
        app, ["approve", request.id, "--as", "alice", "--reason", "fine", *_args(env)]
    )
    assert result.exit_code == 0, result.output
    assert f"approved request {request.id} as alice: status approved" in result.output
    with ApprovalStore(env["store"]) as store:
        assert store.get(request.id).decisions[0].signed.reason == "fine"
    with SqliteLedger(env["ledger"]) as ledger:
        (entry,) = list(ledger.entries())
        assert ledger.verify().ok
    assert (entry.record.kind, entry.record.outcome, entry.record.thread_id) == (
        "approval",
        "approved",
        "t-9",
    )
    listed = CliRunner().invoke(app, ["list", "--store", str(env["store"])])
    assert request.id not in listed.output
    assert request.id in CliRunner().invoke(app, ["list", "--all", "--store", str(env["store"])]).output


def test_reject_needs_a_reason_and_records_it(
    env: dict[str, Path], pending: Callable[..., ApprovalRequest]
) -> None:
    request = pending()
    missing = CliRunner().invoke(app, ["reject", request.id, "--as", "alice", *_args(env)])
    assert missing.exit_code == 2 and "--reason" in missing.output
    result = CliRunner().invoke(
        app, ["reject", request.id, "--as", "alice", "--reason", "too big", *_args(env)]
    )
    assert result.exit_code == 0, result.output
    assert "status rejected" in result.output


def test_self_approval_is_refused(env: dict[str, Path], pending: Callable[..., ApprovalRequest]) -> None:
    request = pending(requester="bob")
    result = CliRunner().invoke(app, ["approve", request.id, "--as", "bob", *_args(env)])
    assert result.exit_code == 2
    assert f"bob asked for {request.id} and may not approve their own request" in result.output
    assert not env["ledger"].exists() or not list(SqliteLedger(env["ledger"]).entries())


def test_key_that_does_not_match_the_policy_is_refused(
    env: dict[str, Path], pending: Callable[..., ApprovalRequest], tmp_path: Path
) -> None:
    request = pending()
    result = CliRunner().invoke(
        app,
        [
            "approve",
            request.id,
            "--as",
            "alice",
            "--key",
            str(tmp_path / "cache" / "keys" / "bob.key"),
            *_args(env),
        ],
    )
    assert result.exit_code == 2
    assert "the key for alice does not match the public key the policy lists for alice" in result.output


def test_approver_unknown_to_the_policy(
    env: dict[str, Path], pending: Callable[..., ApprovalRequest]
) -> None:
    request = pending()
    assert CliRunner().invoke(app, ["keygen", "mallory"]).exit_code == 0
    result = CliRunner().invoke(app, ["approve", request.id, "--as", "mallory", *_args(env)])
    assert result.exit_code == 2
    assert "mallory is not listed in any approvers group of the policy" in result.output


def test_expired_request_via_cli(env: dict[str, Path]) -> None:
    action = Action(kind="train.run", requester="bob", gpu_hours=6)
    decision = load_policies([env["policy"]]).evaluate(action)
    with ApprovalStore(env["store"]) as store:
        request = store.request(
            action=action, decision=decision, thread_id="t", summary="s", ttl=timedelta(microseconds=1)
        )
    result = CliRunner().invoke(app, ["approve", request.id, "--as", "alice", *_args(env)])
    assert result.exit_code == 2
    assert f"request {request.id} expired at" in result.output


def test_serve_refuses_a_port_out_of_range(env: dict[str, Path]) -> None:
    result = CliRunner().invoke(app, ["serve", "--port", "70000", "--policy", str(env["policy"])])
    assert result.exit_code == 2
    assert "less than or equal to 65535" in result.output  # typer names the range; nothing started
