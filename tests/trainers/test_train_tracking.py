"""A training run logged to a real MLflow server: params, step metrics, report, plot and config artifacts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "vibe" / "tracking"))
from mlflow_server import run_params, run_tags, shared_server
from tiny_dataset import tiny_config

pytestmark = pytest.mark.slow


def test_a_training_run_is_tracked_with_params_step_metrics_and_artifacts(
    tiny_data: Path, local_ray: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from trainers import launch

    server = shared_server(tmp_path_factory.mktemp("mlflow"))
    config = tiny_config(
        tiny_data,
        tmp_path / "run",
        training={"max_steps": 6, "eval_interval": 3, "checkpoint_interval": 0},
        tracking={"uri": server.url, "finish_timeout_s": 120},
    )
    result = launch(config)
    (run,) = [r for r in server.runs("vibe-train") if run_tags(r)["vibe.run_dir"] == str(result.run_dir)]
    run_id = run["info"]["run_id"]
    assert run["info"]["status"] == "FINISHED" and run["info"]["run_name"] == "run"
    params = run_params(run)
    assert params["model.preset"] == "tiny" and params["optimizer.lr"] == "0.003"
    assert [s for s, _ in server.history(run_id, "loss")] == list(range(1, 7))
    assert [s for s, _ in server.history(run_id, "val_loss")] == [3, 6]
    assert {"report.md", "loss.png", "config.yaml", "metrics.jsonl"} <= set(server.artifacts(run_id))
    report = result.report.read_text()
    assert f"run `{run_id}`" in report and "not logged" not in report
