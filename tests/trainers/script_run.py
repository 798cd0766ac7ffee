"""Run a Megatron script in a fresh interpreter (its own process group, on a free loopback port)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from typing import Any


def run_script(script: str, *, timeout: float = 300) -> dict[str, Any]:
    """Run ``script`` with ``PORT`` set to a free port; returns the JSON of its last stdout line."""
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PORT": str(port)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
