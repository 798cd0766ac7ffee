"""Training started ahead of its step (tools/_ahead.py): a real ``python -m trainers --wait-for`` child."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from tools import ToolContext, ToolError, registered, start_training_ahead, stop_training_ahead

sys.path.insert(0, str(Path(__file__).parents[1] / "trainers"))  # tiny_dataset lives with the trainer tests
from tiny_dataset import build_tiny_dataset, tiny_config


def _config(data: Path, out: Path, **sections: object) -> dict[str, object]:
    run = tiny_config(data, out, training={"max_steps": 2, "eval_interval": 2, "eval_iters": 1,
                                           "checkpoint_interval": 0}, **sections)  # fmt: skip
    return run.model_dump(mode="json")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for_line(log: Path, text: str, *, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lines = [ln for ln in log.read_text().splitlines() if text in ln] if log.is_file() else []
        if lines:
            return lines[0]
        time.sleep(0.2)
    raise AssertionError(f"{log}: no line with {text!r} in {timeout_s} s: {log.read_text()[-2000:]}")


def test_a_child_started_ahead_is_started_once_and_stopped_when_its_step_will_not_run(
    tmp_path: Path,
) -> None:
    context = ToolContext(workdir=tmp_path / "thread", show_progress=False)
    config = _config(tmp_path / "no-data-needed", tmp_path / "thread" / "train")
    assert start_training_ahead(config, context) is True
    assert start_training_ahead(config, context) is False  # one child per run: the waiting one is kept
    assert stop_training_ahead(tmp_path / "elsewhere") == []  # another thread's children are left alone
    [pid] = stop_training_ahead(context.workdir)
    assert not _alive(pid)
    assert not (tmp_path / "thread" / "train" / "config.yaml").exists()  # nothing was written for the run


def test_a_failure_in_the_early_start_is_reported_by_the_train_step(tmp_path: Path) -> None:
    context = ToolContext(workdir=tmp_path / "thread", show_progress=False)
    # a Ray address that cannot be joined: the child's start ahead fails while "ingest" runs
    config = _config(tmp_path / "data", tmp_path / "thread" / "train", ray={"address": "127.0.0.1:noport"})
    assert start_training_ahead(config, context)
    log = context.workdir / "steps" / "train.run.ahead.log"
    _wait_for_line(log, "error:", timeout_s=120)
    with pytest.raises(
        ToolError, match=r"started ahead of this step failed.*exit status 2.*noport"
    ) as caught:
        registered()["train"]({"config": config}, context)
    assert caught.value.retryable
    assert stop_training_ahead(context.workdir) == []  # handed to the step, which reported it


@pytest.mark.slow
def test_a_child_started_ahead_waits_on_loopback_ray_then_trains_when_its_step_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)  # its own embedded Ray, whatever a test left
    data = build_tiny_dataset(tmp_path / "data")
    context = ToolContext(workdir=tmp_path / "thread", show_progress=False)
    run_dir = tmp_path / "thread" / "train"
    config = _config(data, run_dir)
    assert start_training_ahead(config, context)
    ready = _wait_for_line(context.workdir / "steps" / "train.run.ahead.log", "ready: Ray at", timeout_s=240)
    assert "ready: Ray at 127.0.0.1:" in ready  # embedded Ray listens on loopback only
    pid = ready.rsplit("(pid ", 1)[1].rstrip(")")
    assert not (run_dir / "metrics.jsonl").exists() and not (run_dir / "config.yaml").exists()
    result = registered()["train"]({"config": config}, context)
    assert result.final_step == 2 and result.val_loss is not None
    assert stop_training_ahead(context.workdir) == []  # the step took the waiting child, started no other
    assert f"(driver pid {pid})" in (run_dir / "logs" / "driver.log").read_text()
