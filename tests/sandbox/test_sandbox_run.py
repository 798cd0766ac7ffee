"""Running commands and Python in the sandbox: status, output, input, files, environment."""

from __future__ import annotations

import pydantic
import pytest

from sandbox import Limits, run, run_python


def test_exit_code_stdout_and_stderr_are_reported() -> None:
    r = run(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (r.exit_code, r.signal, r.stdout, r.stderr) == (3, None, "out\n", "err\n")
    assert r.stopped is None and r.reason == "" and not r.ok


def test_a_clean_exit_is_ok() -> None:
    r = run(["/bin/true"])
    assert r.ok and r.exit_code == 0 and r.wall_s > 0


def test_stdin_reaches_the_command() -> None:
    r = run(["/bin/cat"], stdin=b"hello sandbox\n" * 4000)
    assert r.ok and r.stdout == "hello sandbox\n" * 4000


def test_files_are_placed_in_scratch_and_cwd_is_scratch() -> None:
    files = {"a.txt": "text", "sub/dir/b.bin": b"\x00\x01", "c.txt": "mutable\n"}
    r = run(
        ["/bin/sh", "-c", "pwd; cat a.txt; echo; od -An -tx1 sub/dir/b.bin; echo more >> c.txt && cat c.txt"],
        files=files,
    )
    assert r.ok, r.stderr
    assert r.stdout.split("\n")[:3] == ["/scratch", "text", " 00 01"]
    assert r.stdout.endswith("mutable\nmore\n")


def test_files_outside_scratch_are_refused() -> None:
    with pytest.raises(ValueError, match="files"):
        run(["/bin/true"], files={"../etc/x": "no"})


def test_run_python_imports_numpy_from_the_venv_and_gets_args() -> None:
    r = run_python("import sys, numpy\nprint(numpy.arange(4).sum(), sys.argv[1:])", args=["a", "b"])
    assert r.ok, r.stderr
    assert r.stdout == "6 ['a', 'b']\n"


def test_run_python_imports_modules_placed_in_scratch() -> None:
    r = run_python("import helper\nprint(helper.VALUE)", files={"helper.py": "VALUE = 42\n"})
    assert r.ok, r.stderr
    assert r.stdout == "42\n"


def test_environment_is_clean_and_home_is_scratch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIBE_TEST_SECRET", "s3cr3t-token")
    r = run(["/usr/bin/env"], env={"EXTRA": "1"})
    assert r.ok
    env = dict(line.split("=", 1) for line in r.stdout.splitlines())
    assert "s3cr3t-token" not in r.stdout
    assert env["HOME"] == "/scratch" and env["EXTRA"] == "1" and env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert set(env) <= {"PATH", "LANG", "HOME", "PYTHONDONTWRITEBYTECODE", "EXTRA", "PWD", "_", "SHLVL"}


def test_limits_must_be_positive() -> None:
    with pytest.raises(pydantic.ValidationError, match="cpu_seconds"):
        Limits(cpu_seconds=0)
    with pytest.raises(pydantic.ValidationError, match="extra"):
        Limits(cpus=1)  # type: ignore[call-arg]


def test_a_command_that_closes_its_output_runs_to_its_end() -> None:
    r = run(["/bin/sh", "-c", "exec >&- 2>&-; sleep 0.5; exit 4"])
    assert r.exit_code == 4 and r.stopped is None
    assert r.wall_s >= 0.5
