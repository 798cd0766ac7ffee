"""The agent's model: a tuned one registered, served when no --model is given, named by `vibe llm status`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from vibe.cli import llm_app as app
from vibe.llm import (
    AGENT_MODEL_NAME,
    ServerConfig,
    agent_model_file,
    register_agent_model,
    registered_agent_model,
    unregister_agent_model,
    with_agent_model,
)


def _model_dir(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    (path / "model.safetensors").write_bytes(b"weights")
    return path


def test_no_registration_keeps_the_base_model(tmp_cache: Path) -> None:
    assert registered_agent_model() is None
    assert with_agent_model(ServerConfig(port=8123)).model is None  # serve() then converts SmolLM2


def test_a_registered_model_is_what_serve_starts_unless_told_otherwise(
    tmp_cache: Path, tmp_path: Path
) -> None:
    tuned = register_agent_model(
        _model_dir(tmp_path / "export"), base="/models/smollm2", details={"rl_steps": 2}
    )
    assert json.loads(agent_model_file().read_text())["sha256"] == tuned.sha256
    config = with_agent_model(ServerConfig(port=8123))
    assert config.model == tuned.path and config.name == AGENT_MODEL_NAME
    explicit = with_agent_model(ServerConfig(port=8123, model=tmp_path))
    assert explicit.model == tmp_path  # --model wins
    assert unregister_agent_model() and registered_agent_model() is None


def test_a_registration_whose_directory_is_gone_falls_back_to_the_base(
    tmp_cache: Path, tmp_path: Path
) -> None:
    register_agent_model(_model_dir(tmp_path / "export"), base="b")
    (tmp_path / "export" / "config.json").unlink()
    assert registered_agent_model() is None


def test_status_says_which_model_the_agent_uses(tmp_cache: Path, tmp_path: Path, closed_port: int) -> None:
    result = CliRunner().invoke(app, ["status", "--port", str(closed_port)])
    assert "agent model: the base SmolLM2-135M-Instruct (no tuned model registered)" in result.output
    register_agent_model(_model_dir(tmp_path / "export"), base="/models/smollm2")
    result = CliRunner().invoke(app, ["status", "--port", str(closed_port)])
    assert f"agent model: tuned {tmp_path / 'export'} as 'vibe-agent'" in result.output
    assert "not what this server serves" in result.output


def test_use_base_forgets_the_tuned_model(tmp_cache: Path, tmp_path: Path) -> None:
    register_agent_model(_model_dir(tmp_path / "export"), base="b")
    result = CliRunner().invoke(app, ["use-base"])
    assert result.exit_code == 0 and registered_agent_model() is None
    assert (tmp_path / "export" / "config.json").is_file()  # the export is kept
