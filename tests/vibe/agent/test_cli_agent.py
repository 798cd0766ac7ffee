"""The agent's commands as a user runs them: `vibe chat` on a terminal's standard input, `vibe run`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vibe.cli import app
from vibe.ledger import SqliteLedger


def _vibe(*args: str, stdin: str = "", cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIBE_NO_PROGRESS": "1", "COLUMNS": "200"}
    env.pop("VIBE_LEDGER", None)
    return subprocess.run([sys.executable, "-m", "vibe", *args], input=stdin, capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)  # fmt: skip


def test_chat_answers_a_cost_question_then_exits_and_audit_finds_its_ledger(
    tmp_path: Path, corpus: Path
) -> None:
    done = _vibe("chat", "--no-llm", stdin=f"how much would a 7B on {corpus} cost?\nexit\n", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout + done.stderr
    assert "GPU-hours" in out and "status: estimated" in out
    # one default ledger for every command: `vibe audit` looks where `vibe chat` / `vibe run` recorded
    shown = _vibe("audit", "show", cwd=tmp_path)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert (
        "no ledger there" not in shown.stdout + shown.stderr
        and (tmp_path / "runs" / "ledger.sqlite").is_file()
    )


def test_chat_shows_the_plan_and_cancel_runs_nothing(tmp_path: Path, corpus: Path) -> None:
    done = _vibe(
        "chat", "--no-llm", "--workdir", "w", stdin=f"train a 7B on {corpus}\nn\nexit\n", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout + done.stderr
    assert "layout: TP=" in out and "proxy of the same family" in out  # the plan, before anything runs
    assert "cancelled" in out
    assert not list((tmp_path / "w").glob("*/steps"))


def test_run_without_yes_pauses_and_resume_no_cancels(tmp_path: Path, corpus: Path) -> None:
    paused = _vibe(
        "run", f"train a 7B on {corpus}", "--no-llm", "--thread", "c", "--workdir", "w", cwd=tmp_path
    )
    assert paused.returncode == 0, paused.stderr
    assert "vibe resume c --yes" in paused.stdout + paused.stderr
    cancelled = _vibe("resume", "c", "--no", "--workdir", "w", cwd=tmp_path)
    assert "cancelled" in cancelled.stdout + cancelled.stderr


def test_unknown_thread_is_a_clear_error(tmp_path: Path) -> None:
    done = _vibe("resume", "nope", "--workdir", "w", cwd=tmp_path)
    assert done.returncode == 2
    assert "no thread nope" in done.stdout + done.stderr


def test_a_binary_request_exits_2_and_starts_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "VIBE_NO_PROGRESS": "1", "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "vibe", "run", b"train \xff\xfe on /data".decode("utf-8", "surrogateescape"),
         "--no-llm", "--workdir", "w"],
        capture_output=True, cwd=tmp_path, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert b"the request is not UTF-8 text" in done.stdout + done.stderr
    assert not (tmp_path / "w").exists()


def test_binary_input_to_chat_is_said_and_asked_again_then_it_exits_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    stdin = b"train \xff\xfe on /data\n\x00\x01\x02binary\x00\nexit\n"
    done = CliRunner().invoke(app, ["chat", "--no-llm", "--workdir", "w"], input=stdin)
    assert done.exit_code == 0 and done.exception is None, done.output
    assert "error: the request is not UTF-8 text (it holds undecodable bytes); type it again" in done.output
    assert "error: the request holds control characters or binary data; type it as plain text" in done.output
    assert "status:" not in done.output  # nothing was started
    with SqliteLedger(tmp_path / "w" / "ledger.sqlite") as ledger:
        assert list(ledger.entries()) == []


def test_chat_prompt_shows_its_keys_and_a_bad_edit_is_asked_again(tmp_path: Path, corpus: Path) -> None:
    done = _vibe(
        "chat", "--no-llm", "--workdir", "w", stdin=f"train a 7B on {corpus}\nedit lr=abc\nn\nexit\n",
        cwd=tmp_path,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "[y]es / [n]o / edit" in out
    assert "edit lr='abc': lr must be a number like 3e-4" in out
    assert "cancelled" in out
