"""Input the ingest cannot use: a clear UserError only when nothing usable remains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ingest_corpus import small_config
from tokenizers import Tokenizer, models

from tools.data import ingest
from vibe.core.errors import UserError


def test_empty_input_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"no input files in .*empty"):
        ingest(small_config([tmp_path / "empty"], tmp_path / "out"), progress=False)


def test_missing_input_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"input .*nowhere does not exist"):
        ingest(small_config([tmp_path / "nowhere"], tmp_path / "out"), progress=False)


def test_nothing_usable_says_what_was_seen_and_why(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (src / "empty.py").write_bytes(b"")
    with pytest.raises(UserError, match=r"saw 2 files, dropped all \(1 corrupt_document, 1 empty\)"):
        ingest(small_config([src], tmp_path / "out"), progress=False)


def test_nothing_usable_still_writes_each_files_reason(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(UserError):
        ingest(small_config([src], tmp_path / "out"), progress=False)
    record = json.loads((tmp_path / "out" / "files.jsonl").read_text(encoding="utf-8"))
    assert (record["path"], record["reason"]) == ("src/logo.png", "corrupt_document")


def test_tokenizer_without_eod_is_a_user_error(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text("print('hello')\n", encoding="utf-8")
    tokenizer_path = tmp_path / "plain.json"
    Tokenizer(models.BPE()).save(str(tokenizer_path))
    config = small_config([src], tmp_path / "out", tokenizer={"path": tokenizer_path})
    with pytest.raises(UserError, match=r"has no <\|endoftext\|> token"):
        ingest(config, progress=False)


def test_a_single_kept_file_goes_to_train(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text("def main():\n    return 42\n" * 20, encoding="utf-8")
    info = ingest(small_config([src], tmp_path / "out", tokenizer={"vocab_size": 300}), progress=False)
    assert (info.splits["train"].documents, info.splits["valid"].documents) == (1, 0)
