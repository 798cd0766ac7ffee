"""Each limit stops what it is meant to stop, by cgroup and by rlimits alone, and the host is unaffected."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator

import pytest

from sandbox import Limits, run, run_python

MECHANISMS = ["cgroup", "rlimits"]  # on a host without a usable cgroup both run the rlimit path


@pytest.fixture(params=MECHANISMS)
def mechanism(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "rlimits":
        monkeypatch.setenv("VIBE_SANDBOX_CGROUP", "0")
    yield request.param


def _processes_with(marker: str) -> list[int]:
    found = []
    for e in os.scandir("/proc"):
        if e.name.isdigit():
            try:
                with open(f"/proc/{e.name}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(e.name))
            except OSError:
                pass
    return found


def test_fork_bomb_is_stopped_and_the_host_is_unaffected(mechanism: str) -> None:
    marker = f"forkbomb-{secrets.token_hex(6)}"
    # A shell fork bomb that keeps retrying: nothing ends it but the sandbox.
    bomb = "b(){ b | b & }; b; while :; do sleep 1 & done"
    r = run(["/bin/bash", "-c", bomb, marker], limits=Limits(processes=32, wall_seconds=20))
    assert r.stopped == "processes", r
    assert "processes=32" in r.reason
    assert _processes_with(marker) == []
    assert subprocess.run(["/bin/true"], check=False).returncode == 0  # the host can still fork


def test_python_fork_bomb_is_stopped(mechanism: str) -> None:
    r = run_python(
        "import os\nwhile True:\n    os.fork()",
        limits=Limits(processes=16, wall_seconds=20, output_bytes=2**20),
    )
    assert r.stopped == "processes", r


def test_memory_hog_is_stopped(mechanism: str) -> None:
    hog = "chunks = []\nwhile True:\n    chunks.append(b'x' * 2**20)"
    r = run_python(hog, limits=Limits(memory_mb=128, wall_seconds=20))
    assert r.stopped == "memory", r
    assert "memory_mb=128" in r.reason
    assert r.max_rss_mb < 256


def test_endless_loop_is_stopped_by_cpu(mechanism: str) -> None:
    r = run_python("while True:\n    pass", limits=Limits(cpu_seconds=1, wall_seconds=20))
    assert r.stopped == "cpu", r
    assert r.exit_code is None and r.signal is not None
    assert r.cpu_s >= 0.5


def test_sleeping_tree_is_killed_by_wall_clock() -> None:
    marker = f"sleeper-{secrets.token_hex(6)}"
    tree = "sleep 1000 & sleep 1001 & (sleep 1002 &) ; sleep 1003"
    r = run(["/bin/sh", "-c", tree, marker], limits=Limits(wall_seconds=1))
    assert r.stopped == "timeout", r
    assert r.exit_code is None and r.signal is not None
    assert "wall_seconds=1" in r.reason
    assert _processes_with(marker) == []


def test_big_output_is_truncated_and_the_run_stopped() -> None:
    r = run(["/usr/bin/yes", "0123456789"], limits=Limits(output_bytes=10_000, wall_seconds=20))
    assert r.stopped == "output", r
    assert r.stdout_truncated and not r.stderr_truncated
    assert len(r.stdout.encode()) == 10_000
    assert r.stdout.startswith("0123456789\n")


def test_big_stderr_is_truncated() -> None:
    r = run_python("import sys\nsys.stderr.write('e' * 50_000)", limits=Limits(output_bytes=1000))
    assert r.stderr_truncated and r.stopped == "output"
    assert r.stderr == "e" * 1000


def test_output_under_the_cap_is_complete() -> None:
    r = run_python("print('y' * 9_000)", limits=Limits(output_bytes=10_000))
    assert r.ok and not r.stdout_truncated and r.stdout == "y" * 9_000 + "\n"


@pytest.mark.parametrize("writer", ["shell", "python"])
def test_file_size_limit_stops_a_big_write(writer: str) -> None:
    limits = Limits(file_size_mb=1, scratch_mb=8)
    if writer == "shell":
        r = run(["/bin/sh", "-c", "head -c 3000000 /dev/zero > /scratch/big"], limits=limits)
    else:
        r = run_python("open('big', 'wb').write(b'x' * 3_000_000)", limits=limits)
    assert r.stopped == "file_size", r
    assert "file_size_mb=1" in r.reason
