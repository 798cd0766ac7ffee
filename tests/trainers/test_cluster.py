"""A run submitted with ``RAY_ADDRESS`` to a Ray head started separately, as a cluster user would."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from trainers import read_metrics

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_head() -> Iterator[str]:
    """``ray start --head --block`` in its own temp dir; stopped by signalling that process only.

    (``ray stop`` would kill every Ray process on the machine, the session's embedded Ray included.)
    """
    port = _free_port()
    temp = Path(tempfile.mkdtemp(prefix="vibe-ray-", dir="/tmp"))  # short: Ray's unix sockets live here
    ray_cli = Path(sys.executable).parent / "ray"
    head = subprocess.Popen(
        [
            str(ray_cli),
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--num-cpus=2",
            "--include-dashboard=false",
            f"--temp-dir={temp}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while not (temp / "ray_current_cluster").is_file():
        assert head.poll() is None and time.monotonic() < deadline, "ray start --head did not come up"
        time.sleep(0.2)
    yield address
    os.killpg(head.pid, signal.SIGTERM)  # the head and every Ray process it started at once, not one by one
    try:
        head.wait(timeout=5)  # after a job the head never finished within 30 s: it was always SIGKILLed below
    except subprocess.TimeoutExpired:
        os.killpg(head.pid, signal.SIGKILL)
        head.wait()
    shutil.rmtree(temp, ignore_errors=True)


def test_vibe_train_runs_on_the_cluster_named_by_ray_address(
    ray_head: str, tiny_data: Path, tmp_path: Path
) -> None:
    run = tmp_path / "cluster-run"
    env = {**os.environ, "RAY_ADDRESS": ray_head, "VIBE_NO_PROGRESS": "1", "VIBE_CACHE": str(tmp_path / "cache"),
           "RAY_AUTH_MODE": "token"}  # `ray start` clusters use token auth; its clients must opt in  # fmt: skip
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "vibe",
            "train",
            "--data",
            str(tiny_data),
            "--out",
            str(run),
            "--model",
            "tiny",
            "--max-steps",
            "12",
            "--dp",
            "2",
            "--micro-batch",
            "4",
            "--global-batch",
            "8",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "step 12: loss" in done.stdout
    assert [r["step"] for r in read_metrics(run / "metrics.jsonl")] == list(range(1, 13))
    port = ray_head.rsplit(":", 1)[1]  # Ray reports the node's own IP for 127.0.0.1
    for rank in (0, 1):
        assert re.search(rf"ray [\d.]+:{port}\n", (run / "logs" / f"worker_{rank}.log").read_text())
