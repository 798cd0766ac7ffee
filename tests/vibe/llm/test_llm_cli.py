"""``vibe llm`` commands that need no vLLM (the serve/status/stop lifecycle is in test_llm_vllm.py)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from vibe.cli import llm_app as app


def test_status_of_an_empty_port_says_not_answering_and_exits_1(tmp_cache: Path, closed_port: int) -> None:
    result = CliRunner().invoke(app, ["status", "--port", str(closed_port)])
    assert result.exit_code == 1
    assert f"http://127.0.0.1:{closed_port}/v1: not answering" in result.output


def test_stop_with_nothing_running_says_so(tmp_cache: Path, closed_port: int) -> None:
    result = CliRunner().invoke(app, ["stop", "--port", str(closed_port)])
    assert result.exit_code == 0
    assert f"no vLLM server of Vibe's runs on port {closed_port}" in result.output


def test_serve_with_a_bad_port_names_the_field_and_exits_2(tmp_cache: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--port", "0"])
    assert result.exit_code == 2
    assert "vibe llm serve: port: got 0" in result.output
    assert not (tmp_cache / "vllm" / "venv").exists()
