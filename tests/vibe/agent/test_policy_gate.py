"""The policy gate in the real graph: real policy files and ed25519 keys, the real SQLite checkpointer,
approvals store and ledger, the real `vibe approvals` CLI. No training runs here: the policies stop each
thread before the train step executes."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from policies import PolicyGate, load_policies
from vibe.agent import (
    Agent,
    AgentDeps,
    AgentSettings,
    GoalDraft,
    PlanSettings,
    Recorder,
    continue_thread,
    describe_step,
    gate_node,
    goal_from_draft,
    make_plan,
)
from vibe.approvals import ApprovalStore, generate_key
from vibe.cli import approvals_app as approvals_cli
from vibe.core.errors import UserError
from vibe.core.identity import process_user
from vibe.ledger import Record, SqliteLedger

REQUESTER = process_user()  # asks for the work (the OS user running the tests); not an approver

POLICY = """\
version: 1
name: org
default: allow
{sections}
approvers:
  leads:
    members: {{alice: "{alice}", bob: "{bob}"}}
    may_approve: ["data.*", train.run, eval.run]
"""
INGEST_SIGNOFF = """\
rules:
  - id: new-data-signoff
    kinds: [data.ingest]
    effect: require_approval
    approvers: [leads]
    reason: a lead signs off every ingest of new data
"""
TRAIN_SIGNOFF = """\
compute:
  approval_above: {cpu_hours: 0}
  approvers: [leads]
"""


@pytest.fixture
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """alice and bob's keys, made by the real keygen under a private VIBE_CACHE; name -> public key."""
    monkeypatch.setenv("VIBE_CACHE", str(tmp_path / "cache"))
    return {name: generate_key(name)[1] for name in ("alice", "bob")}


def _policy(tmp_path: Path, keys: dict[str, str], *sections: str) -> Path:
    path = tmp_path / "org.yaml"
    path.write_text(POLICY.format(sections="".join(sections), **keys), encoding="utf-8")
    return path


def _settings(tmp_path: Path, policy: Path | None, **extra: Any) -> AgentSettings:
    return AgentSettings(
        workdir=str(tmp_path / "runs"),
        policies=[str(policy)] if policy else [],
        approvals=str(tmp_path / "approvals.sqlite"),
        requester=REQUESTER,
        measure_local_flops=False,
        **extra,
    )


def _records(tmp_path: Path, thread: str) -> list[Record]:
    with SqliteLedger(tmp_path / "runs" / "ledger.sqlite") as ledger:
        return [e.record for e in ledger.entries(thread_id=thread)]


def _approve(tmp_path: Path, policy: Path, request_id: str, *more: str) -> str:
    args = ["approve", request_id, "--as", "alice", "--policy", str(policy)]
    args += [
        "--store",
        str(tmp_path / "approvals.sqlite"),
        "--ledger",
        str(tmp_path / "runs" / "ledger.sqlite"),
    ]
    with pytest.MonkeyPatch.context() as patch:  # alice signs from her own OS account (one account here)
        patch.setattr("vibe.core.identity.process_user", lambda: "alice")
        result = CliRunner().invoke(approvals_cli, [*args, *more])
    assert result.exit_code == 0, result.output
    return result.output


def _plan(corpus: Path, size: str = "125M") -> dict[str, Any]:
    goal = goal_from_draft(
        f"train a {size} on {corpus}", GoalDraft(objective="train", model_size=size, data_paths=[str(corpus)])
    )
    plan = make_plan(goal, tokens_available=2_000_000, settings=PlanSettings(workdir="/tmp/w"), thread_id="t")
    return plan.model_dump(mode="json")


def _deps(tmp_path: Path, policy: Path, ledger: SqliteLedger, **extra: Any) -> AgentDeps:
    gate = PolicyGate(load_policies([policy]), requester=REQUESTER)
    return AgentDeps(record=Recorder(ledger), gate=gate, **extra)


# ------------------------------------------------------------------------------------ steps become actions
def test_each_step_becomes_the_action_the_policy_reads(corpus: Path) -> None:
    plan = _plan(corpus)
    ingest, train, evaluation = plan["steps"]
    assert describe_step(ingest, plan=plan, local_flops_per_second=20e9) == {"paths": [str(corpus.resolve())]}
    action = describe_step(train, plan=plan, local_flops_per_second=20e9)
    assert action["paths"] == [str(corpus.resolve())]  # the sources, so their labels apply to training
    assert action["architecture"] == "dense"
    assert 1e5 < action["parameters"] < 1e8  # the local proxy, not the 125M full-size model
    assert action["cpu_hours"] > 0 and "gpu_hours" not in action
    fewer = {**train, "args": {"config": {**train["args"]["config"], "training": {
        **train["args"]["config"]["training"], "max_steps": train["args"]["config"]["training"]["max_steps"] // 2}}}}  # fmt: skip
    assert describe_step(fewer, plan=plan, local_flops_per_second=20e9)["cpu_hours"] == pytest.approx(
        action["cpu_hours"] / 2, rel=0.05
    )
    assert describe_step(evaluation, plan=plan, local_flops_per_second=20e9)["cpu_hours"] > 0


# ------------------------------------------------------------------------------------------------ denials
def test_denied_data_stops_before_anything_runs_with_the_rule_on_record(
    tmp_path: Path, keys: dict[str, str], corpus: Path
) -> None:
    policy = _policy(tmp_path, keys, "data:\n  roots: [/srv/approved-data]\n")
    with Agent.open(_settings(tmp_path, policy), yes=True) as agent:
        outcome = agent.run(f"train a 125M on {corpus}", thread_id="d")
    assert outcome.status == "stopped"
    assert outcome.reason.startswith("the plan cannot run within policy: ingest denied by policy:")
    assert "outside the data roots" in outcome.reason and "(org:data.roots)" in outcome.reason
    records = _records(tmp_path, "d")
    denied = [r for r in records if r.kind == "gate" and r.outcome == "deny" and r.action == "data.ingest"]
    assert len(denied) == 1 and denied[0].rule_ids == ["org:data.roots"] and denied[0].policy_hashes
    assert not any(r.kind == "tool_called" for r in records)
    assert "outside the data roots" in Path(outcome.report or "").read_text()


def test_train_over_the_compute_limit_is_planned_again_within_it(
    tmp_path: Path, keys: dict[str, str], corpus: Path
) -> None:
    plan = _plan(corpus)
    asked = describe_step(plan["steps"][1], plan=plan, local_flops_per_second=20e9)["cpu_hours"]
    limit = asked / 5
    policy = _policy(tmp_path, keys, f"compute:\n  per_run: {{cpu_hours: {limit}}}\n")
    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        update = gate_node(
            {"thread_id": "s", "plan": plan, "cursor": 0, "results": {}}, _deps(tmp_path, policy, ledger)
        )
        records = [e.record for e in ledger.entries()]
    assert update["cursor"] == 0 and "status" not in update  # the ingest goes ahead
    train = update["plan"]["steps"][1]
    shrunk = describe_step(train, plan=update["plan"], local_flops_per_second=20e9)
    assert shrunk["cpu_hours"] <= limit < asked
    assert "shrunk to fit the policy" in train["why"]
    assert update["plan"]["steps"][2]["args"]["run_dir"] == train["args"]["config"]["out"]
    replanned = [r for r in records if r.kind == "plan_chosen"]
    assert len(replanned) == 1 and "denied (org:compute.per_run)" in replanned[0].reason
    assert any("planned again within policy" in e for e in update["events"])


def test_train_that_no_smaller_run_fits_stops_and_says_why(
    tmp_path: Path, keys: dict[str, str], corpus: Path
) -> None:
    policy = _policy(tmp_path, keys, "models:\n  max_parameters: 10K\n")
    plan = _plan(corpus)
    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        update = gate_node(
            {"thread_id": "n", "plan": plan, "cursor": 0, "results": {}}, _deps(tmp_path, policy, ledger)
        )
    assert update["status"] == "stopped"
    assert "train denied by policy:" in update["reason"] and "(org:models.max_parameters)" in update["reason"]
    assert "exceed the limit 10K" in update["reason"]


def test_usage_snapshot_is_read_at_every_check(tmp_path: Path, keys: dict[str, str], corpus: Path) -> None:
    policy = _policy(tmp_path, keys, "compute:\n  per_team_per_day: {nlp: {cpu_hours: 10}}\n")
    usage = tmp_path / "usage.yaml"
    gate = PolicyGate.from_files([policy], usage_file=usage, team="nlp", requester=REQUESTER)
    plan = _plan(corpus)
    attributes = describe_step(plan["steps"][1], plan=plan, local_flops_per_second=20e9)
    usage.write_text("teams: {nlp: {cpu_hours: 1}}\n", encoding="utf-8")
    assert gate.check(kind="train.run", attributes=attributes).outcome == "allow"
    usage.write_text("teams: {nlp: {cpu_hours: 9.99}}\n", encoding="utf-8")  # the accounting job moved on
    denied = gate.check(kind="train.run", attributes=attributes)
    assert (denied.outcome, denied.rule_ids) == ("deny", ["org:compute.per_team_per_day"])
    usage.write_text("teams: {nlp: {cpu_hours: lots}}\n", encoding="utf-8")
    broken = gate.check(kind="train.run", attributes=attributes)
    assert broken.outcome == "deny" and "today's usage cannot be read" in broken.reason
    assert "usage.yaml" in broken.reason


# ---------------------------------------------------------------------------------------------- approvals
def test_approval_pauses_the_thread_and_cli_approval_resumes_it_after_a_restart(
    tmp_path: Path, keys: dict[str, str], corpus: Path
) -> None:
    policy = _policy(tmp_path, keys, INGEST_SIGNOFF, TRAIN_SIGNOFF)
    with Agent.open(_settings(tmp_path, policy), yes=True) as agent:
        outcome = agent.run(f"train a 125M on {corpus}", thread_id="a")
    waiting = outcome.waiting_for
    assert waiting is not None and waiting["kind"] == "approval" and waiting["step"]["id"] == "ingest"
    with ApprovalStore(tmp_path / "approvals.sqlite") as store:
        (request,) = store.pending()
    assert request.id == waiting["request_id"] and request.thread_id == "a" and request.requester == REQUESTER
    assert [r.rule for r in request.rules] == ["org:new-data-signoff"]
    assert request.data_touched == (str(corpus.resolve()),)
    assert request.summary.startswith("step ingest:") and "GPU-hours" in request.summary
    assert "GPU-hours" in request.cost.note

    with Agent.open(_settings(tmp_path, policy)) as agent:  # a new process; still pending: stays paused
        again = agent.resume("a", answer="yes")
    assert again.waiting_for is not None and again.waiting_for["request_id"] == request.id
    with ApprovalStore(tmp_path / "approvals.sqlite") as store:
        assert [r.id for r in store.list()] == [request.id]  # filed once, though the node ran twice

    printed = _approve(tmp_path, policy, request.id)
    assert f"vibe approvals resume {request.id}" in printed

    with Agent.open(_settings(tmp_path, policy)) as agent:  # another new process picks the thread up
        resumed = agent.resume("a", answer="yes")
    records = _records(tmp_path, "a")
    kinds = [r.kind for r in records]
    approvals = [r for r in records if r.kind == "approval"]
    assert len(approvals) == 1  # the CLI recorded it in this ledger; the gate did not add it twice
    assert approvals[0].signature is not None and approvals[0].signature["approver"] == "alice"
    assert kinds.index("approval") < kinds.index("tool_called")  # the ingest ran only after the approval
    called = [r for r in records if r.kind == "tool_called"]
    assert called[0].action == "ingest"
    # the train step needs its own approval: the thread is paused on it, nothing was trained
    assert resumed.waiting_for is not None and resumed.waiting_for["step"]["id"] == "train"
    assert not any(r.action == "train" for r in called)
    # and no training child was started ahead of a step the gate would not allow as planned
    assert not list((tmp_path / "runs" / "a" / "steps").glob("*.ahead.log"))
    with SqliteLedger(tmp_path / "runs" / "ledger.sqlite") as ledger:
        assert ledger.verify().ok


def test_rejection_stops_the_thread_with_the_approvers_reason(
    tmp_path: Path, keys: dict[str, str], corpus: Path
) -> None:
    policy = _policy(tmp_path, keys, INGEST_SIGNOFF)
    with Agent.open(_settings(tmp_path, policy), yes=True) as agent:
        request_id = agent.run(f"train a 125M on {corpus}", thread_id="r").waiting_for["request_id"]  # type: ignore[index]
    args = ["reject", request_id, "--reason", "that archive holds customer code", "--as", "bob"]
    args += ["--policy", str(policy), "--store", str(tmp_path / "approvals.sqlite")]
    args += ["--ledger", str(tmp_path / "runs" / "ledger.sqlite")]
    result = CliRunner().invoke(approvals_cli, args)
    assert result.exit_code == 0, result.output
    agent_config = tmp_path / "agent.yaml"  # the settings the agent ran with, so the CLI continues alike
    agent_config.write_text(f"requester: {REQUESTER}\nmeasure_local_flops: false\n", encoding="utf-8")
    args = ["resume", request_id, "--workdir", str(tmp_path / "runs"), "--agent-config", str(agent_config)]
    args += ["--policy", str(policy), "--store", str(tmp_path / "approvals.sqlite")]
    result = CliRunner().invoke(approvals_cli, args)  # what `vibe approvals reject` told the lead to run
    assert result.exit_code == 0, result.output
    assert "thread r: stopped" in result.output
    assert (
        f"ingest was rejected (request {request_id}) by bob: that archive holds customer code"
        in result.output
    )
    assert not any(r.kind == "tool_called" for r in _records(tmp_path, "r"))


def test_forged_approval_in_the_store_does_not_run_the_step(
    tmp_path: Path, keys: dict[str, str], corpus: Path
) -> None:
    policy = _policy(tmp_path, keys, INGEST_SIGNOFF)
    with Agent.open(_settings(tmp_path, policy), yes=True) as agent:
        request_id = agent.run(f"train a 125M on {corpus}", thread_id="f").waiting_for["request_id"]  # type: ignore[index]
    _approve(tmp_path, policy, request_id)
    with sqlite3.connect(tmp_path / "approvals.sqlite") as conn:  # someone with write access edits the store
        (signed,) = conn.execute(
            "SELECT signed FROM decisions WHERE request_id = ?", (request_id,)
        ).fetchone()
        conn.execute(
            "UPDATE decisions SET signed = ?", (signed.replace('"approver":"alice"', '"approver":"bob"'),)
        )
    with Agent.open(_settings(tmp_path, policy)) as agent:
        outcome = agent.resume("f", answer="yes")
    assert outcome.status == "stopped"
    assert "is marked approved but the signature of bob does not verify" in outcome.reason
    assert not any(r.kind == "tool_called" for r in _records(tmp_path, "f"))


def test_resuming_without_the_policy_is_refused_and_loses_nothing(
    tmp_path: Path, keys: dict[str, str], corpus: Path
) -> None:
    policy = _policy(tmp_path, keys, INGEST_SIGNOFF, TRAIN_SIGNOFF)
    with Agent.open(_settings(tmp_path, policy), yes=True) as agent:
        request_id = agent.run(f"train a 125M on {corpus}", thread_id="p").waiting_for["request_id"]  # type: ignore[index]
    _approve(tmp_path, policy, request_id)
    with Agent.open(_settings(tmp_path, None)) as agent, pytest.raises(UserError) as refused:
        agent.resume("p", answer="yes")
    assert "resume it with the same policy" in str(refused.value) and str(policy) in str(refused.value)
    assert not any(r.kind == "tool_called" for r in _records(tmp_path, "p"))
    with Agent.open(_settings(tmp_path, policy)) as agent:  # with the policy, it goes on from the same place
        agent.resume("p", answer="yes")
    assert [r.action for r in _records(tmp_path, "p") if r.kind == "tool_called"][:1] == ["ingest"]


# --------------------------------------------------------------------------------------------- unattended
def test_unattended_never_waits_reports_the_request_and_continues_once_approved(
    tmp_path: Path, keys: dict[str, str], corpus: Path
) -> None:
    policy = _policy(tmp_path, keys, INGEST_SIGNOFF, TRAIN_SIGNOFF)
    with Agent.open(_settings(tmp_path, policy, unattended=True), yes=True) as agent:
        outcome = agent.run(f"train a 125M on {corpus}", thread_id="u")
    assert outcome.waiting_for is None and outcome.status == "stopped"
    with ApprovalStore(tmp_path / "approvals.sqlite") as store:
        (request,) = store.pending()  # only the ingest's: the steps after it were skipped, not filed
    assert outcome.reason.startswith(f"waiting for approval: request {request.id} for ingest")
    report = Path(outcome.report or "").read_text()
    assert request.id in report and "train skipped: it needs ingest" in report
    assert "eval skipped: it needs" in report
    records = _records(tmp_path, "u")
    assert not any(r.kind == "tool_called" for r in records)
    assert [r.action for r in records if r.outcome == "skipped"] == ["ingest", "train", "eval"]

    printed = _approve(tmp_path, policy, request.id, "--resume", "--workdir", str(tmp_path / "runs"))
    # continued in the CLI's process: the ingest ran, then the thread paused on the train step's approval
    assert "thread u is paused again, waiting for approval" in printed
    called = [r.action for r in _records(tmp_path, "u") if r.kind == "tool_called"]
    assert called[:1] == ["ingest"] and "train" not in called
    with Agent.open(_settings(tmp_path, policy)) as agent:
        assert continue_thread(agent, "u").waiting_for["step"]["id"] == "train"  # type: ignore[index]
