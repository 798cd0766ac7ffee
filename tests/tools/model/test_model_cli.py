"""`vibe model import / export` on real files: verified, policy-gated, recorded in the ledger."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "trainers" / "hf"))
from tiny_hf import tiny_config, write_model

from vibe.cli import app
from vibe.ledger import SqliteLedger


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_model(tmp_path_factory.mktemp("models") / "allowed" / "tiny-llama", tiny_config("llama"))


def _records(workdir: Path) -> list:
    with SqliteLedger(workdir / "ledger.sqlite") as ledger:
        return [entry.record for entry in ledger.entries()]


def _policy(tmp_path: Path, root: Path) -> Path:
    path = tmp_path / "org.yaml"
    path.write_text(
        "version: 1\nname: org\ndefault: deny\n"
        f"model_sources:\n  roots: [{root}, {tmp_path}]\n  architectures: [LlamaForCausalLM]\n"
    )
    return path


def test_import_and_export_record_hashes_and_verification(source: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    policy = _policy(tmp_path, source.parent)
    result = CliRunner().invoke(
        app,
        [
            "model",
            "import",
            str(source),
            "--out",
            str(tmp_path / "base"),
            "--policy",
            str(policy),
            "--workdir",
            str(work),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "LlamaForCausalLM" in result.output and "round trip bit-exact for 21 tensors" in result.output
    assert "top-1 agreement 100%" in result.output

    result = CliRunner().invoke(
        app,
        [
            "model",
            "export",
            str(tmp_path / "base"),
            "--out",
            str(tmp_path / "hf"),
            "--policy",
            str(policy),
            "--workdir",
            str(work),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "hf" / "export.json").read_text())["verification"]["ok"]

    records = _records(work)
    assert [(r.kind, r.action, r.outcome) for r in records] == [
        ("gate", "model.import", "allow"),
        ("tool_result", "model.import", "ok"),
        ("gate", "model.convert", "allow"),
        ("tool_result", "model.convert", "ok"),
    ]
    imported = records[1].outputs
    assert imported["round_trip_bit_exact"] and imported["logits_top1_agreement"] == 1.0
    assert len(imported["files"]["model.safetensors"]) == 64 and "tokenizer.json" in imported["files"]
    assert any(name.startswith("checkpoints/") for name in imported["out_files"])
    assert set(records[3].outputs["files"]) >= {"model.safetensors", "config.json", "tokenizer.json"}


def test_a_source_outside_the_model_roots_is_denied_and_nothing_is_written(
    source: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    policy = _policy(tmp_path, tmp_path / "vetted")
    result = CliRunner().invoke(
        app,
        [
            "model",
            "import",
            str(source),
            "--out",
            str(tmp_path / "base"),
            "--policy",
            str(policy),
            "--workdir",
            str(work),
        ],
    )
    assert result.exit_code == 2
    assert "model.import: deny by policy (org:model_sources.roots)" in result.output
    assert "outside the model roots" in result.output
    assert not (tmp_path / "base").exists()
    assert [(r.kind, r.outcome) for r in _records(work)] == [("gate", "deny")]


def test_not_a_model(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    result = CliRunner().invoke(
        app, ["model", "import", str(tmp_path / "notes.txt"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and "a file, but not a .gguf" in result.output
    result = CliRunner().invoke(app, ["model", "export", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "not a run directory" in result.output
