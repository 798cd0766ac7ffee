"""Kill the driver (``vibe hpo``) with SIGKILL while trials run, start it again: the same study continues,
interrupted trials are failed and retried once, and no trial is lost or counted twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hpo_helpers import lr_space, proxy_run

from tools.hpo import STOP_PREFIX, Budget, HPOConfig
from vibe.core.config import dump_yaml

pytestmark = pytest.mark.slow

TRIALS = 5


def _driver(config: Path, result: Path, ray_address: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "RAY_ADDRESS": ray_address, "VIBE_NO_PROGRESS": "1"}
    command = [sys.executable, "-m", "vibe", "hpo", "--config", str(config), "--result-json", str(result)]
    return subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip


def test_a_killed_driver_resumes_with_consistent_counts(hpo_data: Path, hpo_ray: str, tmp_path: Path) -> None:
    import optuna

    out = tmp_path / "study"
    config = HPOConfig(
        out=out,
        study_name="resume",
        base=proxy_run(hpo_data, out / "base", max_steps=40, eval_interval=10),
        space=lr_space(1e-3, 3e-2),
        pruner="none",
        budget=Budget(max_trials=TRIALS),
        max_concurrent=2,
    )
    spec = tmp_path / "hpo.yaml"
    dump_yaml(config, spec)
    first = _driver(spec, tmp_path / "first.json", hpo_ray)
    deadline = time.monotonic() + 240
    while not (out / "trials" / "trial_0002" / "metrics.jsonl").is_file():  # trial 2 starts after one ended
        assert first.poll() is None and time.monotonic() < deadline, "the first driver ended too early"
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()

    second = _driver(spec, tmp_path / "second.json", hpo_ray)
    assert second.wait(timeout=300) == 0
    result = json.loads((tmp_path / "second.json").read_text())

    study = optuna.load_study(study_name="resume", storage=f"sqlite:///{out}/study.sqlite")
    trials = study.get_trials()
    states = [t.state.name for t in trials]
    assert states.count("COMPLETE") + states.count("PRUNED") == TRIALS  # exactly: none lost, none twice
    assert result["n_complete"] + result["n_pruned"] == TRIALS
    assert not {"RUNNING", "WAITING"} & set(states)  # every trial has one terminal state
    interrupted = [t for t in trials if "interrupted" in t.user_attrs]
    assert interrupted and all(t.state.name == "FAIL" for t in interrupted)
    ran = [t for t in interrupted if "started_at" in t.user_attrs]  # not those killed between ask and start
    assert ran, "the kill came while a trial was training"
    retries = [t.user_attrs["retry_of"] for t in trials if "retry_of" in t.user_attrs]
    assert sorted(retries) == sorted(t.number for t in ran)  # each retried exactly once
    for t in interrupted:
        assert (out / "trials" / f"trial_{t.number:04d}" / "attempt").read_text().startswith(STOP_PREFIX)
    for t in ran:
        retry = next(r for r in trials if r.user_attrs.get("retry_of") == t.number)
        assert retry.params == t.params and retry.state.name == "COMPLETE"
    dirs = sorted(p.name for p in (out / "trials").iterdir())
    assert dirs == [f"trial_{t.number:04d}" for t in trials]  # one run directory per trial number
