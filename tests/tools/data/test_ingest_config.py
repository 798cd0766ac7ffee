"""IngestConfig: defaults, and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.data import IngestConfig
from vibe.core.config import ConfigError, load_yaml, validate


def test_defaults_match_the_documented_ones() -> None:
    config = IngestConfig(inputs=[Path("src")], out=Path("out"))
    assert config.tokenizer.vocab_size == 8192
    assert config.valid_fraction == 0.05
    assert (config.actions.secrets, config.actions.personal_data) == ("redact", "redact")
    assert config.dedup.near_dup_threshold == 0.85
    assert config.tokenizer.train_bytes == 200_000_000


def test_sizes_accept_units(tmp_path: Path) -> None:
    path = tmp_path / "ingest.yaml"
    path.write_text("inputs: [src]\nout: out\nmax_file_bytes: 1MiB\ntokenizer:\n  train_bytes: 50MB\n")
    config = load_yaml(path, IngestConfig)
    assert (config.max_file_bytes, config.tokenizer.train_bytes) == (1024 * 1024, 50_000_000)


def test_unknown_key_names_the_field_and_line(tmp_path: Path) -> None:
    path = tmp_path / "ingest.yaml"
    path.write_text("inputs: [src]\nout: out\ntokenizer:\n  vocab_sise: 4096\n")
    with pytest.raises(
        ConfigError, match=r"ingest\.yaml:4: tokenizer\.vocab_sise: .*unknown field.*vocab_size"
    ):
        load_yaml(path, IngestConfig)


def test_bad_action_lists_the_allowed_ones() -> None:
    with pytest.raises(ConfigError, match=r"actions\.secrets: got 'shred'.*'redact', 'drop' or 'fail'"):
        validate(IngestConfig, {"inputs": ["src"], "out": "out", "actions": {"secrets": "shred"}})


def test_inputs_listed_twice_are_rejected() -> None:
    with pytest.raises(ConfigError, match=r"inputs: .*src is listed twice"):
        validate(IngestConfig, {"inputs": ["src", "src"], "out": "out"})
