"""An endpoint named by VIBE_LLM_URL: honoured by serve / status / stop, reported (never started) when silent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vibe.llm import LLMUnavailable, configured_port, ensure_server


def test_a_configured_endpoint_that_does_not_answer_is_reported_not_started(
    tmp_cache: Path, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIBE_LLM_URL", f"http://127.0.0.1:{closed_port}/v1")
    with pytest.raises(LLMUnavailable, match="the configured endpoint does not answer"):
        ensure_server()
    assert not list((tmp_cache / "vllm").glob("server-*.pid")) if (tmp_cache / "vllm").exists() else True


def test_serve_status_and_stop_take_the_port_of_vibe_llm_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIBE_LLM_URL", "http://127.0.0.1:9/v1")
    assert configured_port() == 9
    monkeypatch.setenv("VIBE_LLM_URL", "https://llm.example.org/v1")  # not this machine: the default
    assert configured_port() == 8000
    monkeypatch.delenv("VIBE_LLM_URL")
    assert configured_port() == 8000


def test_vibe_llm_status_asks_the_configured_endpoint(stub: Any, tmp_cache: Path) -> None:
    env = {**os.environ, "VIBE_LLM_URL": stub.url, "VIBE_CACHE": str(tmp_cache)}
    done = subprocess.run([sys.executable, "-m", "vibe", "llm", "status"], capture_output=True, text=True,
                          env=env, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{stub.url}: answering" in done.stdout and "stub-model" in done.stdout


def test_vibe_run_falls_back_to_rules_when_the_configured_endpoint_is_silent(
    tmp_path: Path, closed_port: int, tmp_cache: Path
) -> None:
    env = {**os.environ, "VIBE_LLM_URL": f"http://127.0.0.1:{closed_port}/v1", "VIBE_CACHE": str(tmp_cache),
           "VIBE_NO_PROGRESS": "1", "COLUMNS": "200"}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "vibe", "run", "how much would a 1B cost?", "--yes"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "configured endpoint does not answer" in out and "status: estimated" in out
    assert not list((tmp_cache / "vllm").glob("server-*.pid")) if (tmp_cache / "vllm").exists() else True
    # one default ledger for every command: `vibe audit` finds what `vibe run` recorded
    audit = subprocess.run([sys.executable, "-m", "vibe", "audit", "verify"], capture_output=True, text=True,
                           env={k: v for k, v in env.items() if k != "VIBE_LEDGER"}, cwd=tmp_path, timeout=120)  # fmt: skip
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert (tmp_path / "runs" / "ledger.sqlite").is_file()
