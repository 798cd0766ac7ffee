"""Tracking against a real `mlflow server` on loopback, read back through its REST API; the server stopped
mid-run (the run goes on, what was kept arrives when it is back, or is listed when it never comes back)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mlflow_server import MlflowServer, run_params, run_tags

from vibe.tracking import TrackingConfig, flatten_params, start_run, tracking_uri


def _config(server: MlflowServer, **extra: object) -> TrackingConfig:
    return TrackingConfig(uri=server.url, finish_timeout_s=60, **extra)


def test_params_step_metrics_artifacts_and_nesting_reach_the_server(
    shared_mlflow: MlflowServer, tmp_path: Path
) -> None:
    mlflow_server = shared_mlflow
    parent = start_run(_config(mlflow_server), experiment="t-basic", name="study")
    child = start_run(
        _config(mlflow_server), experiment="t-basic", name="trial-0", parent=parent,
        params={"model": {"hidden": 64, "layers": 2}, "lr": 3e-3},
    )  # fmt: skip
    for step in (1, 2, 3):
        child.log_metrics({"loss": 3.0 / step, "skipped": None}, step=step)
    (tmp_path / "report.md").write_text("# report\n")
    child.log_artifact(tmp_path / "report.md")
    child.log_text("a: 1\n", artifact_file="config.yaml")
    assert child.finish() == [] and parent.finish() == []

    runs = {r["info"]["run_name"]: r for r in mlflow_server.runs("t-basic")}
    trial = runs["trial-0"]
    assert trial["info"]["status"] == "FINISHED"
    assert run_params(trial) == {"model.hidden": "64", "model.layers": "2", "lr": "0.003"}
    assert run_tags(trial)["mlflow.parentRunId"] == runs["study"]["info"]["run_id"]
    assert mlflow_server.history(child.run_id or "", "loss") == [(1, 3.0), (2, 1.5), (3, 1.0)]
    assert mlflow_server.artifacts(child.run_id or "") == ["config.yaml", "report.md"]


def test_server_stopped_mid_run_the_run_goes_on_and_kept_logs_arrive_when_it_is_back(
    mlflow_server: MlflowServer,
) -> None:
    tracker = start_run(_config(mlflow_server), experiment="t-outage", name="run")
    tracker.log_metrics({"loss": 4.0}, step=1)
    assert tracker.wait_created(60) is not None
    deadline = time.monotonic() + 30
    while not mlflow_server.history(tracker.run_id or "", "loss") and time.monotonic() < deadline:
        time.sleep(0.2)
    mlflow_server.stop()
    started = time.perf_counter()
    for step in (2, 3, 4):
        tracker.log_metrics({"loss": 4.0 / step}, step=step)  # the training loop is never held up
    assert time.perf_counter() - started < 0.5
    time.sleep(1.0)
    mlflow_server.start()
    assert tracker.finish() == []
    assert tracker.outages == 1
    assert [s for s, _ in mlflow_server.history(tracker.run_id or "", "loss")] == [1, 2, 3, 4]
    assert mlflow_server.runs("t-outage")[0]["info"]["status"] == "FINISHED"


def test_server_that_never_comes_back_lists_what_was_not_logged(mlflow_server: MlflowServer) -> None:
    tracker = start_run(_config(mlflow_server), experiment="t-gone", name="run")
    assert tracker.wait_created(60) is not None
    mlflow_server.stop()  # for good: this module's server, and no later test of it needs one
    tracker.log_metrics({"loss": 2.0}, step=7)
    unlogged = tracker.finish(timeout_s=3)
    assert "metrics loss at step 7" in unlogged and "end of run (FINISHED)" in unlogged
    lines = "\n".join(tracker.report_lines())
    assert "not logged to MLflow: metrics loss at step 7" in lines
    assert "unreachable 1 time(s)" in lines


def test_embedded_default_is_sqlite_in_the_cache_and_env_url_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIBE_CACHE", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri() == f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    tracker = start_run(None, experiment="t-embedded", name="run", params={"a": 1})
    tracker.log_metrics({"loss": 1.0}, step=1)
    assert tracker.finish(timeout_s=120) == []
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri())
    run = client.get_run(tracker.run_id or "")
    assert run.data.params == {"a": "1"} and run.data.metrics == {"loss": 1.0}
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    assert tracking_uri() == "http://127.0.0.1:9" and tracking_uri("http://x:5000") == "http://x:5000"


def test_off_switch_and_flattening() -> None:
    tracker = start_run(TrackingConfig(enabled=False), experiment="x", name="y", params={"a": 1})
    tracker.log_metrics({"loss": 1.0}, step=1)
    assert tracker.finish() == [] and tracker.run_id is None
    assert tracker.report_lines() == ["- tracking: off"]
    assert flatten_params({"a": {"b": [1, 2], "c": None}, "d": True}) == {"a.b": "[1, 2]", "d": "True"}
