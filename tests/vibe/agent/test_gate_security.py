"""Regression tests for the agent's side of issue #10: a resume cannot drop or change the policy (critical 2),
the requester is the OS user (high 3), an approval is spent once by one run (high 5)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from vibe.agent import Agent, AgentSettings
from vibe.approvals import ApprovalStore, generate_key
from vibe.cli import approvals_app as approvals_cli
from vibe.core.errors import UserError
from vibe.core.identity import process_user
from vibe.ledger import Record, SqliteLedger

POLICY = """\
version: 1
name: org
default: allow
rules:
  - {{id: new-data-signoff, kinds: [data.ingest], effect: require_approval, approvers: [leads], reason: sign-off}}
approvers:
  leads:
    members: {{alice: "{alice}", bob: "{bob}"}}
    may_approve: ["data.*", train.run, eval.run]
"""


@pytest.fixture
def policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VIBE_CACHE", str(tmp_path / "cache"))
    keys = {name: generate_key(name)[1] for name in ("alice", "bob")}
    path = tmp_path / "org.yaml"
    path.write_text(POLICY.format(**keys), encoding="utf-8")
    return path


def _settings(tmp_path: Path, policy: Path | None, *, workdir: str = "runs", **extra: Any) -> AgentSettings:
    return AgentSettings(
        workdir=str(tmp_path / workdir),
        policies=[str(policy)] if policy else [],
        approvals=str(tmp_path / "approvals.sqlite"),
        measure_local_flops=False,
        **extra,
    )


def _called(tmp_path: Path, thread: str, workdir: str = "runs") -> list[Record]:
    with SqliteLedger(tmp_path / workdir / "ledger.sqlite") as ledger:
        return [e.record for e in ledger.entries(thread_id=thread) if e.record.kind == "tool_called"]


def _approve(tmp_path: Path, policy: Path, request_id: str, workdir: str = "runs") -> None:
    args = ["approve", request_id, "--as", "alice", "--policy", str(policy)]
    args += [
        "--store",
        str(tmp_path / "approvals.sqlite"),
        "--ledger",
        str(tmp_path / workdir / "ledger.sqlite"),
    ]
    with pytest.MonkeyPatch.context() as patch:  # alice signs from her own OS account (one account here)
        patch.setattr("vibe.core.identity.process_user", lambda: "alice")
        result = CliRunner().invoke(approvals_cli, args)
    assert result.exit_code == 0, result.output


def test_resume_without_the_policy_after_the_confirmation_pause_is_refused(
    tmp_path: Path, policy: Path, corpus: Path
) -> None:
    with Agent.open(_settings(tmp_path, policy)) as agent:  # no --yes: pauses for confirmation
        outcome = agent.run(f"train a 125M on {corpus}", thread_id="c")
    assert outcome.waiting_for is not None and outcome.waiting_for["kind"] == "confirm"
    (tmp_path / "runs" / "ledger.sqlite").unlink()  # not even the ledger is needed to know the policy
    with Agent.open(_settings(tmp_path, None), yes=True) as agent, pytest.raises(UserError) as refused:
        agent.resume("c", answer="yes")
    assert f"was started under the policy files {policy}" in str(refused.value)
    other = tmp_path / "other.yaml"
    other.write_text("version: 1\nname: other\ndefault: allow\n", encoding="utf-8")
    with Agent.open(_settings(tmp_path, other), yes=True) as agent, pytest.raises(UserError) as changed:
        agent.resume("c", answer="yes")
    assert f"it cannot go on under {other}" in str(changed.value)
    with Agent.open(_settings(tmp_path, None)) as agent:
        assert agent.graph.get_state({"configurable": {"thread_id": "c"}}).next == ("confirm",)  # unmoved


def test_the_requester_is_the_os_user_not_the_environment(
    tmp_path: Path, policy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGNAME", "intern")
    monkeypatch.setenv("USER", "intern")
    with Agent.open(_settings(tmp_path, policy)) as agent:
        assert agent.deps.gate.requester == process_user() != "intern"  # type: ignore[attr-defined]
    refused = pytest.raises(UserError, match="requester: 'intern' is not the user running this process")
    with refused, Agent.open(_settings(tmp_path, policy, requester="intern")):
        pass


def test_a_requester_cannot_approve_their_own_request_under_another_name(
    tmp_path: Path, policy: Path, corpus: Path
) -> None:
    with Agent.open(_settings(tmp_path, policy), yes=True) as agent:
        request_id = agent.run(f"train a 125M on {corpus}", thread_id="s").waiting_for["request_id"]  # type: ignore[index]
    args = ["approve", request_id, "--as", "alice", "--policy", str(policy)]
    args += [
        "--store",
        str(tmp_path / "approvals.sqlite"),
        "--ledger",
        str(tmp_path / "runs" / "ledger.sqlite"),
    ]
    result = CliRunner().invoke(approvals_cli, args)  # the requester's own account, holding alice's key
    assert result.exit_code == 2
    assert f"was filed by the OS user {process_user()}, who runs this command" in result.output


def test_an_approval_is_spent_once_a_new_run_with_the_same_thread_asks_again(
    tmp_path: Path, policy: Path, corpus: Path
) -> None:
    request = f"train a 125M on {corpus}"
    with Agent.open(_settings(tmp_path, policy), yes=True) as agent:
        first = agent.run(request, thread_id="t").waiting_for["request_id"]  # type: ignore[index]
    _approve(tmp_path, policy, first)
    # the same --thread in another work directory: the old signature must not run its ingest
    with Agent.open(_settings(tmp_path, policy, workdir="elsewhere", unattended=True), yes=True) as agent:
        agent.run(request, thread_id="t")
    assert _called(tmp_path, "t", "elsewhere") == []
    with ApprovalStore(tmp_path / "approvals.sqlite") as store:
        assert len(store.pending()) == 1 and store.pending()[0].id != first  # asked again


def test_a_decision_under_another_policy_or_on_a_rewritten_request_is_refused(
    tmp_path: Path, policy: Path, corpus: Path
) -> None:
    with Agent.open(_settings(tmp_path, policy), yes=True) as agent:
        request_id = agent.run(f"train a 125M on {corpus}", thread_id="p").waiting_for["request_id"]  # type: ignore[index]
    changed = tmp_path / "changed.yaml"
    changed.write_text(policy.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    args = ["approve", request_id, "--as", "alice", "--store", str(tmp_path / "approvals.sqlite")]
    args += ["--ledger", str(tmp_path / "runs" / "ledger.sqlite")]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("vibe.core.identity.process_user", lambda: "alice")
        result = CliRunner().invoke(approvals_cli, [*args, "--policy", str(changed)])
        assert result.exit_code == 2 and "was made under the policy files" in result.output
        with sqlite3.connect(tmp_path / "approvals.sqlite") as conn:  # rewrite the requester, rehash
            from vibe.approvals import ApprovalRequest

            (body,) = conn.execute("SELECT body FROM requests WHERE id = ?", (request_id,)).fetchone()
            forged = ApprovalRequest.model_validate_json(body).model_copy(update={"requester": "alice-not"})
            conn.execute(
                "UPDATE requests SET body = ?, request_hash = ? WHERE id = ?",
                (
                    forged.model_dump_json(exclude={"request_hash", "status", "decisions"}),
                    forged.compute_hash(),
                    request_id,
                ),
            )
        result = CliRunner().invoke(approvals_cli, [*args, "--policy", str(policy)])
    assert result.exit_code == 2 and "was modified after it was made" in result.output


def test_resume_after_the_ledger_is_deleted_still_waits_for_the_pending_approval(
    tmp_path: Path, policy: Path, corpus: Path
) -> None:
    with Agent.open(_settings(tmp_path, policy), yes=True) as agent:  # confirmed: pauses for the approval
        waiting = agent.run(f"train a 125M on {corpus}", thread_id="w").waiting_for
    assert waiting is not None and waiting["kind"] == "approval"
    (tmp_path / "runs" / "ledger.sqlite").unlink()  # the store, not the ledger, says it is still pending
    with Agent.open(_settings(tmp_path, policy), yes=True) as agent:
        again = agent.resume("w", answer="yes").waiting_for
    assert again is not None and again["kind"] == "approval"
    assert again["request_id"] == waiting["request_id"]  # the same request, still unanswered
    assert _called(tmp_path, "w") == []  # its ingest did not run
    with Agent.open(_settings(tmp_path, None), yes=True) as agent, pytest.raises(UserError) as refused:
        agent.resume("w", answer="yes")  # without the policy: refused before anything runs
    assert f"was started under the policy files {policy}" in str(refused.value)
    assert _called(tmp_path, "w") == []
    with ApprovalStore(tmp_path / "approvals.sqlite") as store:
        assert [r.id for r in store.pending()] == [waiting["request_id"]]
    with Agent.open(_settings(tmp_path, None)) as agent:
        assert agent.graph.get_state({"configurable": {"thread_id": "w"}}).next == ("gate",)  # unmoved
