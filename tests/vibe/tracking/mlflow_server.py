"""A real `mlflow server` on a free loopback port, for the tracking, eval and release tests.

``MlflowServer(root).start()`` runs ``mlflow server`` (SQLite backend store and artifact store under ``root``)
in its own process group and waits for ``/health``; ``stop()`` kills that group; ``start()`` again brings the
same store back on the same port (the "server went away mid-run" tests). ``api(path, **params)`` reads the
REST API.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

MLFLOW = str(Path(sys.executable).parent / "mlflow")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MlflowServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout_s: float = 400.0) -> MlflowServer:
        self.root.mkdir(parents=True, exist_ok=True)
        log = (self.root / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [MLFLOW, "server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
             "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
             "--artifacts-destination", str(self.root / "artifacts")],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mlflow server did not start:\n{(self.root / 'server.log').read_text()}")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group this server's Popen created
        self.proc.wait(timeout=30)
        self.proc = None

    def api(self, endpoint: str, /, **params: Any) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/api/2.0/mlflow/{endpoint}", params=params, timeout=60)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def runs(self, experiment: str) -> list[dict[str, Any]]:
        exp = self.api("experiments/get-by-name", experiment_name=experiment)["experiment"]
        response = httpx.post(
            f"{self.url}/api/2.0/mlflow/runs/search",
            json={"experiment_ids": [exp["experiment_id"]], "max_results": 1000},
            timeout=60,  # a loaded machine: the server answers slowly, not wrongly
        )
        response.raise_for_status()
        return response.json().get("runs", [])  # type: ignore[no-any-return]

    def history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        got = self.api("metrics/get-history", run_id=run_id, metric_key=key).get("metrics", [])
        return sorted((int(m.get("step", 0)), float(m["value"])) for m in got)

    def artifacts(self, run_id: str, path: str = "") -> list[str]:
        got = self.api("artifacts/list", run_id=run_id, path=path).get("files", [])
        return sorted(f["path"] for f in got)


_SHARED: list[MlflowServer] = []


def shared_server(root: Path) -> MlflowServer:
    """One server for the whole test session (started on first use, stopped at exit): tests that only read
    what they logged share it; tests that stop a server start their own."""
    import atexit

    if not _SHARED:
        server = MlflowServer(root).start()
        atexit.register(server.stop)
        _SHARED.append(server)
    return _SHARED[0]


def run_tags(run: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


def run_params(run: dict[str, Any]) -> dict[str, str]:
    return {p["key"]: p["value"] for p in run["data"].get("params", [])}
