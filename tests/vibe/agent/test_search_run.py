"""A thread with a search: the real graph, a real Optuna study of real Megatron trials under Ray, the real
policy gate and approvals store. The policy makes the transferred run need approval, so nothing but the
ingest and the (small) search trains here."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import profile
from vibe.agent import (
    Agent,
    AgentSettings,
    PlanSettings,
    SearchSettings,
    describe_step,
    make_plan,
    parse_request,
)
from vibe.approvals import ApprovalStore, generate_key
from vibe.core.identity import process_user
from vibe.ledger import SqliteLedger, digest

pytestmark = pytest.mark.slow

# Only the learning rate and weight decay: the transferred run keeps the planned batch, so its hours are known.
SPACE = {
    "params": [
        {"name": "optimizer.lr", "kind": "float", "low": 3e-4, "high": 3e-3, "log": True},
        {"name": "optimizer.weight_decay", "kind": "float", "low": 0.0, "high": 0.2},
    ]
}
POLICY = """\
version: 1
name: org
default: allow
compute:
  approval_above: {{cpu_hours: {limit}}}
  approvers: [leads]
approvers:
  leads:
    members: {{alice: "{alice}"}}
    may_approve: [train.run, hpo.search, eval.run]
"""


def test_the_transferred_run_is_what_the_gate_judges_and_it_is_queued_for_approval(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIBE_CACHE", str(tmp_path / "cache"))
    plan_settings = PlanSettings(
        proxy_time_budget_s=20_000,  # a large local run (never trained here: it waits for approval) ...
        proxy_max_steps=200,
        local_vocab_size=512,
        # ... searched on a tiny proxy: an eighth of its width, 4 steps a trial
        search=SearchSettings(
            max_trials=2, space=SPACE, proxy_width=0.125, trial_fraction=0.02, pruner="none"
        ),
    )
    request = f"tune a 1M model on {corpus}"  # a named size: "small" would be sized for this small corpus
    # The hours the gate will see, from the same planner and the same data estimate as the agent's: the
    # search is under the limit, the run over it.
    tokens = profile([str(corpus)]).estimated_tokens
    plan = make_plan(
        parse_request(request), tokens_available=tokens, settings=plan_settings, thread_id="t"
    ).model_dump(mode="json")
    search_h, train_h, eval_h = (
        describe_step(s, plan=plan, local_flops_per_second=20e9)["cpu_hours"] for s in plan["steps"][1:]
    )
    assert 10 * max(search_h, eval_h) < train_h
    limit = (max(search_h, eval_h) * train_h) ** 0.5
    policy = tmp_path / "org.yaml"
    policy.write_text(POLICY.format(limit=limit, alice=generate_key("alice")[1]), encoding="utf-8")
    settings = AgentSettings(
        workdir=str(tmp_path / "runs"),
        plan=plan_settings,
        measure_local_flops=False,
        policies=[str(policy)],
        approvals=str(tmp_path / "approvals.sqlite"),
        requester=process_user(),
        unattended=True,
    )
    with Agent.open(settings, yes=True) as agent:
        outcome = agent.run(request, thread_id="s")

    assert outcome.status == "stopped" and "waiting for approval" in outcome.reason
    results = outcome.values["results"]
    assert results["hpo"]["n_complete"] >= 1 and "train" not in results and "eval" not in results
    best = results["hpo"]["best"]
    train = outcome.values["plan"]["steps"][2]
    assert f"search trial {best['number']}" in train["why"]
    with ApprovalStore(tmp_path / "approvals.sqlite") as store:
        pending = store.pending()
    assert len(pending) == 1 and pending[0].action.kind == "train.run" and pending[0].thread_id == "s"
    assert f"search trial {best['number']}" in pending[0].summary
    with SqliteLedger(tmp_path / "runs" / "ledger.sqlite") as ledger:
        records = [e.record for e in ledger.entries(thread_id="s")]
    transferred = [r for r in records if r.kind == "plan_chosen" and r.outcome == "transferred"]
    assert len(transferred) == 1
    assert f"proposed from search trial {best['number']}" in transferred[0].reason
    assert "transferred by rule" in transferred[0].reason
    judged = [
        r for r in records if r.kind == "gate" and r.action == "train.run" and r.inputs_hash == digest(train)
    ]
    assert [r.outcome for r in judged] == ["require_approval"]
    assert judged[0].rule_ids == ["org:compute.approval_above"]
    search_gate = [r for r in records if r.kind == "gate" and r.action == "hpo.search"]
    assert search_gate and all(r.outcome == "allow" for r in search_gate)
    assert "## Search" in Path(outcome.report or "").read_text()
