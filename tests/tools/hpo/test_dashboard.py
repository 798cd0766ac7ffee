"""A study written by the search opens in optuna-dashboard (a real dashboard server on loopback)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from hpo_helpers import lr_space, proxy_run

from tools.hpo import Budget, HPOConfig, run_search


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_the_study_opens_in_optuna_dashboard(hpo_data: Path, hpo_ray: str, tmp_path: Path) -> None:
    config = HPOConfig(out=tmp_path / "study", study_name="dash", pruner="none", space=lr_space(1e-3, 3e-2),
                       base=proxy_run(hpo_data, tmp_path / "base", max_steps=8), budget=Budget(max_trials=2))  # fmt: skip
    result = run_search(config)
    port = _free_port()
    server = subprocess.Popen(
        [
            Path(sys.executable).with_name("optuna-dashboard"),
            result.storage,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=(tmp_path / "dashboard.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        studies, deadline = None, time.monotonic() + 120  # it imports Optuna and SQLAlchemy first
        while studies is None and time.monotonic() < deadline:
            try:
                studies = httpx.get(f"http://127.0.0.1:{port}/api/studies", timeout=5).json()[
                    "study_summaries"
                ]
            except httpx.TransportError:
                time.sleep(0.5)
        assert studies is not None, (tmp_path / "dashboard.log").read_text()
        (study,) = [s for s in studies if s["study_name"] == "dash"]
        detail = httpx.get(f"http://127.0.0.1:{port}/api/studies/{study['study_id']}", timeout=10).json()
        assert [t["state"] for t in detail["trials"]] == ["Complete", "Complete"]
        assert all(t["user_attrs"] for t in detail["trials"])  # the search's accounting shows there too
    finally:
        server.terminate()
        server.wait(timeout=10)
