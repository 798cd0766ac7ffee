"""A throwaway PostgreSQL server for the tests that need one (the agent's checkpointer, the HPO storage).

Used as a fixture: ``postgres_url`` (registered by ``tests/conftest.py``).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tool(name: str) -> str:
    """A PostgreSQL server program: on PATH, or where Debian's postgresql package puts it."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)
    assert found, f"{name} not found: install Debian's postgresql (scripts/setup.sh does)"
    return found


def _as_postgres(*command: str) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the postgres user when we are root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server on a free loopback port (initdb + pg_ctl), stopped and removed afterwards.

    Its directory is directly under /tmp: pytest's own temporary directories are private to root, and the
    server runs as the postgres user.
    """
    initdb, pg_ctl = _tool("initdb"), _tool("pg_ctl")
    root = Path(tempfile.mkdtemp(prefix="vibe-pg-"))
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    port = _free_port()
    subprocess.run(_as_postgres(initdb, "-D", str(data), "-A", "trust", "-U", "postgres"), check=True,
                   capture_output=True)  # fmt: skip
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    subprocess.run(_as_postgres(pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"),
                   check=True, capture_output=True)  # fmt: skip
    yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    subprocess.run(_as_postgres(pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"), capture_output=True)
    shutil.rmtree(root, ignore_errors=True)
