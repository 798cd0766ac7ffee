"""``vibe data ingest``: flags over YAML, the summary table, and one-line user errors."""

from __future__ import annotations

from pathlib import Path

import yaml
from ingest_corpus import Corpus
from typer.testing import CliRunner

from tools.data import load_dataset_info
from vibe.cli import app


def test_flags_override_the_config_file(corpus: Corpus, tmp_path: Path) -> None:
    config = tmp_path / "ingest.yaml"
    data = {
        "inputs": [str(p) for p in corpus.inputs],
        "max_file_bytes": 100_000,
        "tokenizer": {"vocab_size": 400},
    }
    config.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    args = [
        "data",
        "ingest",
        "--config",
        str(config),
        "--out",
        str(out),
        "--vocab-size",
        "350",
        "--no-progress",
    ]
    result = CliRunner().invoke(app, [*args, "--secrets", "drop", "--valid-fraction", "0.2"])
    assert result.exit_code == 0, result.output
    info = load_dataset_info(out)
    assert (info.tokenizer.vocab_size, info.config["valid_fraction"]) == (350, 0.2)
    assert info.config["actions"]["secrets"] == "drop"
    assert "files seen" in result.output and "dropped: secret" in result.output


def test_unknown_config_key_is_one_line_naming_the_field(tmp_path: Path) -> None:
    config = tmp_path / "ingest.yaml"
    config.write_text("inputs: [src]\nout: out\nvocab_sise: 100\n")
    result = CliRunner().invoke(app, ["data", "ingest", "--config", str(config)])
    assert result.exit_code == 2
    assert "vocab_sise" in result.output and "unknown field" in result.output


def test_bad_action_flag_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    result = CliRunner().invoke(
        app, ["data", "ingest", str(tmp_path / "src"), "--out", str(tmp_path), "--secrets", "x"]
    )
    assert result.exit_code == 2
    assert "actions.secrets" in result.output


def test_empty_input_exits_2_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    result = CliRunner().invoke(
        app, ["data", "ingest", str(tmp_path / "src"), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 2
    assert "no input files" in result.output


def test_out_an_existing_file_exits_2_and_leaves_it(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("print('hello')\n", encoding="utf-8")
    existing = tmp_path / "notes.txt"
    existing.write_text("keep me\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["data", "ingest", str(tmp_path / "src"), "--out", str(existing)])
    assert result.exit_code == 2
    assert f"--out: {existing} is a file; pass a directory" in result.output
    assert existing.read_text(encoding="utf-8") == "keep me\n"
