"""The observe node: divergence lowers the learning rate, a failure resumes, retries are bounded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vibe.agent import (
    MAX_ATTEMPTS,
    AgentDeps,
    PlanSettings,
    Recorder,
    diagnose,
    make_plan,
    observe,
    parse_request,
)
from vibe.ledger import SqliteLedger


def _state(tmp_path: Path, *, tries: int = 1, error: str | None = None) -> dict[str, Any]:
    config = {"out": str(tmp_path / "train"), "optimizer": {"lr": 1e-3, "min_lr": 1e-4}, "training": {}}
    steps = [
        {"id": "train", "tool": "train", "args": {"config": config, "stall_timeout_s": 60}, "why": "w"},
        {"id": "eval", "tool": "eval", "args": {"run_dir": config["out"]}, "why": "w"},
    ]
    return {"thread_id": "t", "plan": _plan(steps), "cursor": 0, "attempts": {"train": tries},
            "results": {}, "last_error": error}  # fmt: skip


def _plan(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """A whole plan (the state holds a serialised ``Plan``) with these steps."""
    base = make_plan(parse_request("train a 1M model on /data/x"), tokens_available=1_000_000,
                     settings=PlanSettings(workdir="/tmp/w"), thread_id="t")  # fmt: skip
    return {**base.model_dump(mode="json"), "steps": steps}


def _metrics(tmp_path: Path, losses: list[float]) -> None:
    run = tmp_path / "train"
    run.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"step": i + 1, "loss": loss}) for i, loss in enumerate(losses)]
    (run / "metrics.jsonl").write_text("\n".join(lines).replace("Infinity", "NaN") + "\n")


def _observe(tmp_path: Path, state: dict[str, Any]) -> dict[str, Any]:
    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        return observe(
            state, AgentDeps(record=Recorder(ledger), settings=PlanSettings(workdir=str(tmp_path)))
        )


def test_nan_loss_is_divergence() -> None:
    assert diagnose([{"loss": 5.0}, {"loss": float("nan")}]) is not None


def test_a_late_spike_is_divergence_but_noise_is_not() -> None:
    steady = [{"loss": 5.0 - 0.1 * i} for i in range(12)]
    assert diagnose(steady) is None
    assert diagnose([*steady, {"loss": 20.0}]) is not None


def test_divergence_halves_the_lr_in_a_fresh_run_dir_and_points_eval_at_it(tmp_path: Path) -> None:
    _metrics(tmp_path, [5.0, 4.0, float("inf")])
    update = _observe(tmp_path, _state(tmp_path))
    train, evaluation = update["plan"]["steps"]
    assert train["args"]["config"]["optimizer"]["lr"] == 5e-4
    assert train["args"]["stall_timeout_s"] == 60
    assert train["args"]["config"]["out"] != str(tmp_path / "train")
    assert evaluation["args"]["run_dir"] == train["args"]["config"]["out"]


def test_a_failed_step_is_resumed(tmp_path: Path) -> None:
    update = _observe(tmp_path, _state(tmp_path, error="training stalled: no step logged in 60 s"))
    assert update["last_error"] is None and "resuming train" in update["events"][0]
    assert "plan" not in update  # same step, same run dir: the tool resumes from its checkpoint


def test_retries_are_bounded(tmp_path: Path) -> None:
    update = _observe(tmp_path, _state(tmp_path, tries=MAX_ATTEMPTS, error="training exited with status 1"))
    assert update["status"] == "failed" and "no retry left" in update["reason"]


def test_success_moves_to_the_next_step(tmp_path: Path) -> None:
    _metrics(tmp_path, [5.0, 4.0, 3.5])
    assert _observe(tmp_path, _state(tmp_path)) == {"cursor": 1}
