"""Kill a training worker with SIGKILL mid-run, then ``vibe train --resume``: every step exactly once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from tiny_dataset import tiny_config

from trainers import launch, read_metrics
from vibe.core.config import dump_yaml

pytestmark = pytest.mark.slow

STEPS = {"training": {"max_steps": 30, "checkpoint_interval": 10, "eval_interval": 0}}


def _vibe(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "vibe", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for_step(run: Path, step: int, proc: subprocess.Popen[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = read_metrics(run / "metrics.jsonl")
        if records and records[-1]["step"] >= step:
            return
        assert proc.poll() is None, proc.communicate()[0]
        time.sleep(0.05)
    raise AssertionError(f"run did not reach step {step}")


def test_sigkill_worker_then_resume_records_each_step_once_and_matches_uninterrupted(
    local_ray: str, tiny_data: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "RAY_ADDRESS": local_ray, "VIBE_NO_PROGRESS": "1"}
    run = tmp_path / "killed"
    run.mkdir()
    dump_yaml(tiny_config(tiny_data, run, parallel={"dp": 2}, **STEPS), tmp_path / "run.yaml")
    proc = _vibe("train", "--config", str(tmp_path / "run.yaml"), env=env)
    _wait_for_step(run, 13, proc)  # past the step-10 checkpoint, before the step-20 one
    pid = int(re.search(r"rank 1/2 pid (\d+)", (run / "logs" / "worker_1.log").read_text()).group(1))
    os.kill(pid, signal.SIGKILL)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2, output
    last_ckpt = max(int(p.name.split("_")[1]) for p in (run / "checkpoints").glob("step_*"))
    assert f"--resume to continue from step {last_ckpt}" in output

    resumed = _vibe("train", "--out", str(run), "--resume", env=env)
    output, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, output

    records = read_metrics(run / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(1, 31))
    discarded = read_metrics(run / "metrics.discarded.jsonl")
    assert discarded and all(r["step"] > last_ckpt for r in discarded)

    reference = launch(tiny_config(tiny_data, tmp_path / "reference", parallel={"dp": 2}, **STEPS))
    expected = read_metrics(reference.run_dir / "metrics.jsonl")
    assert [r["loss"] for r in records] == [r["loss"] for r in expected]  # bit-identical on CPU


def test_resume_refuses_a_changed_model(local_ray: str, tiny_data: Path, tmp_path: Path) -> None:
    from vibe.core.errors import UserError

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    dump_yaml(tiny_config(tiny_data, run), run / "config.yaml")
    changed = tiny_config(tiny_data, run, model={"preset": "tiny", "num_layers": 3})
    with pytest.raises(UserError, match=r"model\.num_layers differs"):
        launch(changed, resume=True)
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["num_layers"] == 2  # untouched


def test_new_run_into_used_directory_is_refused(local_ray: str, tiny_data: Path, tmp_path: Path) -> None:
    from vibe.core.errors import UserError

    run = tmp_path / "run"
    (run / "checkpoints" / "step_0000010").mkdir(parents=True)
    (run / "checkpoints" / "step_0000010" / "meta.json").write_text('{"step": 10}')
    with pytest.raises(UserError, match="--resume to continue from step 10"):
        launch(tiny_config(tiny_data, run))
