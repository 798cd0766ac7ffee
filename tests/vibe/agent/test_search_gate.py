"""The search step at the gate: shrunk to fit a compute limit, and the checks a running search makes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from policies import PolicyGate, load_policies
from vibe.agent import (
    AgentDeps,
    ClearedSearchGate,
    PlanSettings,
    Recorder,
    SearchSettings,
    describe_step,
    gate_node,
    make_plan,
    parse_request,
)
from vibe.approvals import generate_key
from vibe.ledger import SqliteLedger


def _plan(trials: int) -> dict[str, Any]:
    settings = PlanSettings(workdir="/tmp/w", local_vocab_size=512, search=SearchSettings(max_trials=trials))
    goal = parse_request("tune a 20M on /data/code")
    return make_plan(goal, tokens_available=2_000_000, settings=settings, thread_id="t").model_dump(
        mode="json"
    )


def _gate(tmp_path: Path, compute: str) -> PolicyGate:
    policy = tmp_path / "org.yaml"
    policy.write_text(f"version: 1\nname: org\ndefault: allow\ncompute:\n{compute}", encoding="utf-8")
    return PolicyGate(load_policies([policy]), requester="erin")


def test_a_search_over_the_compute_limit_is_planned_again_with_fewer_trials(tmp_path: Path) -> None:
    plan = _plan(trials=8)
    asked = describe_step(plan["steps"][1], plan=plan, local_flops_per_second=20e9)["cpu_hours"]
    gate = _gate(tmp_path, f"  per_run: {{cpu_hours: {asked / 3}}}\n")
    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        update = gate_node(
            {"thread_id": "s", "plan": plan, "cursor": 0, "results": {}},
            AgentDeps(record=Recorder(ledger), gate=gate),
        )
        records = [e.record for e in ledger.entries()]
    assert update["cursor"] == 0 and "status" not in update  # the ingest goes ahead
    search = update["plan"]["steps"][1]
    assert search["args"]["config"]["budget"]["max_trials"] == 2  # 8 -> 4 -> 2: a quarter of the hours
    assert describe_step(search, plan=update["plan"], local_flops_per_second=20e9)["cpu_hours"] <= asked / 3
    assert "shrunk to fit the policy: 2 trial(s)" in search["why"]
    replanned = [r for r in records if r.kind == "plan_chosen" and r.action == "hpo"]
    assert len(replanned) == 1 and "denied (org:compute.per_run)" in replanned[0].reason


def test_a_running_search_is_not_asked_again_to_approve_what_was_cleared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIBE_CACHE", str(tmp_path / "cache"))
    leads = f'approvers:\n  leads:\n    members: {{alice: "{generate_key("alice")[1]}"}}\n    may_approve: [hpo.search]\n'
    gate = ClearedSearchGate(
        _gate(tmp_path, "  approval_above: {cpu_hours: 0.001}\n  approvers: [leads]\n" + leads),
        cleared={"cpu_hours": 0.01, "parameters": 1_000_000, "paths": ["/data/code"]},
        workdir=str(tmp_path / "runs"),
    )
    within = {"cpu_hours": 0.005, "parameters": 500_000, "architecture": "dense", "paths": ["/data/code"]}
    assert gate.check(kind="hpo.search", attributes=within).outcome == "allow"
    more = {**within, "cpu_hours": 0.02}
    assert gate.check(kind="hpo.search", attributes=more).outcome == "require_approval"
    assert gate.check(kind="train.run", attributes=within).outcome == "require_approval"


def test_a_running_search_is_judged_on_the_sources_not_the_agents_own_dataset(tmp_path: Path) -> None:
    gate = ClearedSearchGate(
        _gate(tmp_path, "  per_run: {cpu_hours: 1}\ndata:\n  roots: [/data]\n"),
        cleared={"cpu_hours": 0.01, "parameters": 1_000_000, "paths": ["/data/code"]},
        workdir=str(tmp_path / "runs"),
    )
    ingested = str(tmp_path / "runs" / "data" / "abc123")
    attributes = {"cpu_hours": 0.005, "parameters": 1000, "architecture": "dense"}
    assert (
        gate.check(kind="hpo.search", attributes={**attributes, "paths": [ingested, "/data/code"]}).outcome
        == "allow"
    )
    assert gate.check(kind="hpo.search", attributes={**attributes, "paths": ["/etc"]}).outcome == "deny"
