"""Intents that run: continue an earlier run (resumed from its checkpoint, or branched from it with a new
learning rate) and evaluate it, under Ray."""

from __future__ import annotations

from pathlib import Path

import pytest

from vibe.agent import Agent, AgentSettings, PlanSettings

pytestmark = pytest.mark.slow


def test_continue_resumes_the_last_run_and_eval_evaluates_it(tmp_path: Path, corpus: Path) -> None:
    settings = AgentSettings(
        workdir=str(tmp_path),
        plan=PlanSettings(proxy_time_budget_s=60, proxy_max_steps=8, local_vocab_size=512),
        measure_local_flops=False,
    )
    with Agent.open(settings, yes=True) as agent:
        first = agent.run(f"train a small model on {corpus}, no search", thread_id="a")
        assert first.status == "done", first.reason
        more = agent.run("continue the last run for 4 more steps", thread_id="b")
        assert more.status == "done", more.reason
        ev = agent.run("evaluate the last run", thread_id="c")
        assert ev.status == "done", ev.reason
        branch = agent.run(
            "continue the last run with half the learning rate for 4 more steps", thread_id="d"
        )
        assert branch.status == "done", branch.reason
    trained = more.values["results"]["train"]
    assert trained["resumed"] and trained["final_step"] == 12
    assert trained["run_dir"] == first.values["results"]["train"]["run_dir"]
    assert ev.values["results"]["eval"]["run_dir"] == trained["run_dir"]
    assert ev.values["results"]["eval"]["val_bpb"] > 0
    # a new learning rate: a new run started from the earlier run's latest checkpoint, weights only
    branched = branch.values["results"]["train"]
    assert branched["run_dir"] != trained["run_dir"] and not branched["resumed"]
    assert branched["final_step"] == 4  # its own schedule: the 4 steps asked for
    config = next(s for s in branch.values["plan"]["steps"] if s["tool"] == "train")["args"]["config"]
    assert config["init_from"] == trained["run_dir"]
