"""Real MLflow servers for the tracking tests: the session's shared one for tests that only log and read back,
and one of this module's own for the outage tests (they stop and restart it)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from mlflow_server import MlflowServer, shared_server


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server")).start()
    yield server
    server.stop()


@pytest.fixture
def shared_mlflow(tmp_path_factory: pytest.TempPathFactory) -> MlflowServer:
    return shared_server(tmp_path_factory.mktemp("mlflow"))
