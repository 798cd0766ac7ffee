"""Whole threads that train: the real graph, SQLite checkpointer, ledger, ingest, Megatron under Ray, eval."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tools.estimate import ModelShape
from vibe.agent import Agent, AgentSettings, PlanSettings
from vibe.ledger import SqliteLedger

pytestmark = pytest.mark.slow


def _settings(workdir: Path, steps: int) -> AgentSettings:
    return AgentSettings(
        workdir=str(workdir),
        plan=PlanSettings(proxy_time_budget_s=60, proxy_max_steps=steps, local_vocab_size=512),
        measure_local_flops=False,
    )


def _steps(run_dir: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]


def test_a_request_becomes_a_trained_evaluated_reported_model(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a relative work directory, as `vibe run` uses by default
    with Agent.open(_settings(Path("."), steps=12), yes=True) as agent:
        outcome = agent.run(f"train a small model on {corpus}", thread_id="r")
    assert outcome.status == "done", outcome.reason
    results = outcome.values["results"]
    assert results["ingest"]["files_kept"] > 10
    assert results["train"]["final_step"] == 12
    # what the planner estimated for the run is what the trainer reports for it
    shape = ModelShape.model_validate(outcome.values["plan"]["proxy"]["shape"])
    assert results["train"]["flops_per_token"] == shape.flops_per_token()
    assert results["train"]["parameters"] == shape.total_params
    assert results["eval"]["val_bpb"] > 0
    report = Path(outcome.report).read_text()
    assert "![loss curves](loss.png)" in report and (tmp_path / "r" / "loss.png").stat().st_size > 1000
    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        kinds = [e.record.kind for e in ledger.entries(thread_id="r")]
        assert ledger.verify().ok
    assert kinds.count("tool_called") == 3 and kinds.count("tool_result") == 3
    # the train step took the child started ahead while ingest ran: Ray on loopback, its pid drove the run
    ready = re.search(
        r"ready: Ray at (\S+) \(pid (\d+)\)", (tmp_path / "r" / "steps" / "train.run.ahead.log").read_text()
    )
    assert ready is not None and ready.group(1).startswith("127.0.0.1:")
    assert f"(driver pid {ready.group(2)})" in (tmp_path / "r" / "train" / "logs" / "driver.log").read_text()


def test_agent_killed_during_training_resumes_and_trains_each_step_once(tmp_path: Path, corpus: Path) -> None:
    steps = 40
    config = tmp_path / "agent.yaml"
    config.write_text(yaml.safe_dump(_settings(tmp_path, steps=steps).model_dump(mode="json")))
    run = [sys.executable, "-m", "vibe", "run", f"train a small model on {corpus}", "--yes", "--no-llm",
           "--thread", "k", "--workdir", str(tmp_path), "--config", str(config)]  # fmt: skip
    env = {**os.environ, "VIBE_NO_PROGRESS": "1"}
    proc = subprocess.Popen(run, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    run_dir = tmp_path / "k" / "train"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if (
            (run_dir / "checkpoints").is_dir()
            and (run_dir / "metrics.jsonl").is_file()
            and len(_steps(run_dir)) >= 12
        ):
            break
        assert proc.poll() is None, "the agent exited before it could be killed"
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # the agent, its Ray and its workers, mid-run
    proc.wait()
    assert len(_steps(run_dir)) < steps

    resumed = subprocess.run([sys.executable, "-m", "vibe", "resume", "k", "--workdir", str(tmp_path), "--config", str(config)],
                             env=env, capture_output=True, text=True, timeout=900)  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert _steps(run_dir) == list(range(1, steps + 1))  # no step repeated or skipped
    result = json.loads((tmp_path / "k" / "steps" / "train.json").read_text())
    assert result["resumed"] is True and result["final_step"] == steps
    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        records = [e.record for e in ledger.entries(thread_id="k")]
    assert [r.kind for r in records if r.action == "ingest"].count("tool_called") == 1  # ingest ran once
    assert sum(1 for r in records if r.kind == "tool_result" and r.action == "train") == 1
