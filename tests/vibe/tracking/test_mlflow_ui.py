"""The MLflow UI shows a tracked run: headless Debian Chromium (Playwright) on the real server's page.

Set ``VIBE_SCREENSHOT_DIR`` to keep the screenshot (``mlflow-run.png``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from mlflow_server import MlflowServer

from vibe.tracking import TrackingConfig, start_run

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
]


def test_the_mlflow_ui_shows_a_tracked_run(shared_mlflow: MlflowServer, tmp_path: Path) -> None:
    mlflow_server = shared_mlflow
    from playwright.sync_api import sync_playwright

    tracker = start_run(
        TrackingConfig(uri=mlflow_server.url, finish_timeout_s=120),
        experiment="vibe-train",
        name="ui-tiny-run",
        params={"model": {"preset": "tiny", "hidden_size": 64}, "optimizer": {"lr": 0.003}},
    )
    for step in range(1, 11):
        tracker.log_metrics({"loss": 6.0 / step, "val_bpb": 3.0 / step**0.5}, step=step)
    assert tracker.finish() == []
    experiment = mlflow_server.api("experiments/get-by-name", experiment_name="vibe-train")["experiment"]
    url = f"{mlflow_server.url}/#/experiments/{experiment['experiment_id']}/runs/{tracker.run_id}"
    shot = tmp_path / "mlflow-run.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url, timeout=120_000)
        page.get_by_text("ui-tiny-run").first.wait_for(timeout=120_000)
        page.get_by_text("model.hidden_size").first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000
    if os.environ.get("VIBE_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["VIBE_SCREENSHOT_DIR"]) / shot.name)
