"""The overnight loop for real, on a short deadline: the agent graph per round, real Optuna studies of real
Megatron trials under Ray, the real policy gate, approvals store and ledger. The policy makes every
full-size run need approval (so none trains here); the loop is killed once mid-round and started again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import optuna
import pytest

from vibe.agent import AgentSettings, PlanSettings, SearchSettings
from vibe.approvals import generate_key
from vibe.core.identity import process_user
from vibe.ledger import SqliteLedger
from vibe.loop import LoopConfig, LoopResult, RoundSettings, run_loop

pytestmark = pytest.mark.slow

# The search gets at most 45 s a round, declared as at most 2 trials' worth of core-hours (~0.017 h); the
# full-size run is sized to 40% of the 180 s window: 72 s on 2 cores, ~0.04 h. The limit sits between.
POLICY = """\
version: 1
name: org
default: allow
compute:
  approval_above: {{cpu_hours: 0.025}}
  approvers: [leads]
approvers:
  leads:
    members: {{alice: "{alice}"}}
    may_approve: [train.run, hpo.search, eval.run]
"""
SPACE = {
    "params": [
        {"name": "optimizer.lr", "kind": "float", "low": 3e-4, "high": 3e-3, "log": True},
        {"name": "optimizer.weight_decay", "kind": "float", "low": 0.0, "high": 0.2},
    ]
}
MARGIN = timedelta(seconds=30)  # the loop plans to end before its deadline; this bounds how late it may be


class Killed(Exception):
    """Stands for the process dying at that moment."""


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("loop")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIBE_CACHE", str(tmp / "cache"))
        policy = tmp / "org.yaml"
        policy.write_text(POLICY.format(alice=generate_key("alice")[1]), encoding="utf-8")
        config = LoopConfig(
            goal=f"lowest validation bits per byte for a 20M code model on {corpus}",
            hours=0.05,
            workdir=str(tmp / "runs"),
            policies=[str(policy)],
            approvals=str(tmp / "approvals.sqlite"),
            requester=process_user(),
            rounds=RoundSettings(
                max_trials=2,
                full_run_share=0.4,
                run_overhead_s=10,
                report_reserve_s=5,
                min_round_s=15,
                search_max_s=45,
            ),
            agent=AgentSettings(
                measure_local_flops=False,
                plan=PlanSettings(local_vocab_size=512, search=SearchSettings(pruner="none", space=SPACE)),
            ),
        )
        lines: list[str] = []

        def die_once_transferring(line: str) -> None:
            lines.append(line)
            if "takes its settings" in line and not any(x == "(killed)" for x in lines):
                lines.append("(killed)")
                raise Killed

        with pytest.raises(Killed):
            run_loop(config, on_event=die_once_transferring)
        killed_at = len(lines)
        result = run_loop(config, on_event=lines.append)
        ended = datetime.now(UTC)
    return {"config": config, "result": result, "ended": ended, "lines": lines, "killed_at": killed_at}


def test_the_loop_finishes_by_its_deadline_and_says_why(night: dict[str, Any]) -> None:
    result: LoopResult = night["result"]
    assert result.state.status == "done" and result.state.stopped_by == "deadline"
    assert night["ended"] <= result.state.deadline + MARGIN
    assert all(r.finished is not None and r.finished <= result.state.deadline for r in result.state.rounds)


def test_the_report_shows_the_best_settings_with_plots(night: dict[str, Any]) -> None:
    result: LoopResult = night["result"]
    report = result.report.read_text()
    assert result.best_trial is not None
    assert f"trial {result.best_trial['number']}, val_bpb = {result.best_trial['value']:.4f}" in report
    for png in ("history.png", "importances.png", "loss.png"):
        assert f"]({png})" in report
        assert (result.loop_dir / png).stat().st_size > 5000
    assert (result.loop_dir / "report.html").read_text().count("<img") == 3
    assert "## Costs" in report and "CPU core-hours" in report


def test_full_runs_that_need_approval_are_queued_and_listed(night: dict[str, Any]) -> None:
    result: LoopResult = night["result"]
    assert result.pending and all(r["action"]["kind"] == "train.run" for r in result.pending)
    report = result.report.read_text()
    pending = report.split("## Pending approvals", 1)[1]
    assert all(f"vibe approvals approve {r['id']}" in pending for r in result.pending)
    assert "| require_approval | org:compute.approval_above |" in report
    assert all(r.evaluation is None for r in result.state.rounds)  # nothing trained without approval


def test_a_restart_continues_the_round_it_cut_off(night: dict[str, Any]) -> None:
    result: LoopResult = night["result"]
    lines = night["lines"][night["killed_at"] :]
    assert lines[0].startswith(f"continuing {result.state.name}: 1 round(s) so far")
    assert f"round 1: resuming thread {result.state.name}-r1" in lines
    first = result.state.rounds[0]
    study = optuna.load_study(study_name=first.search["study_name"], storage=first.search["storage"])
    assert len(study.trials) == 2  # the search was not run again
    with SqliteLedger(Path(night["config"].workdir) / "ledger.sqlite") as ledger:
        records = [e.record for e in ledger.entries(thread_id=first.thread_id)]
    assert [r.action for r in records if r.kind == "tool_called"] == ["ingest", "hpo"]
    assert len([r for r in records if r.kind == "plan_chosen" and r.outcome == "transferred"]) == 1
    assert first.pending


def test_later_rounds_refine_around_the_best_so_far(night: dict[str, Any]) -> None:
    rounds = night["result"].state.rounds
    assert len(rounds) >= 2
    lr = [next(p for p in r.space["params"] if p["name"] == "optimizer.lr") for r in rounds[:2]]
    assert lr[1]["high"] / lr[1]["low"] < lr[0]["high"] / lr[0]["low"]  # narrowed (log range)
    assert rounds[1].kind == "refine"
