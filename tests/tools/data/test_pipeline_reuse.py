"""Re-running an ingest reuses finished stages with the same fingerprint and rebuilds the rest."""

from __future__ import annotations

import os
from pathlib import Path

from ingest_corpus import Corpus, small_config

from tools.data import DatasetInfo, ingest


def _reused(info: DatasetInfo) -> dict[str, bool]:
    return {name: stage.reused for name, stage in info.stages.items()}


def test_same_inputs_and_settings_skip_every_stage(fresh_corpus: Corpus, tmp_path: Path) -> None:
    config = small_config(fresh_corpus.inputs, tmp_path / "out")
    first = ingest(config, progress=False)
    second = ingest(config, progress=False)
    assert _reused(first) == {"collect": False, "tokenizer": False, "tokenize": False}
    assert _reused(second) == {"collect": True, "tokenizer": True, "tokenize": True}
    assert second.fingerprint == first.fingerprint
    assert second.splits == first.splits


def test_changed_input_file_rebuilds_everything(fresh_corpus: Corpus, tmp_path: Path) -> None:
    config = small_config(fresh_corpus.inputs, tmp_path / "out")
    first = ingest(config, progress=False)
    changed = fresh_corpus.root / fresh_corpus.contact
    changed.write_text(
        changed.read_text(encoding="utf-8") + "\nOne more line of documentation.\n", encoding="utf-8"
    )
    os.utime(changed, ns=(1, 1))  # a different mtime even on a coarse-grained clock
    second = ingest(config, progress=False)
    assert _reused(second) == {"collect": False, "tokenizer": False, "tokenize": False}
    assert second.fingerprint != first.fingerprint
    assert second.splits["train"].bytes + second.splits["valid"].bytes > (
        first.splits["train"].bytes + first.splits["valid"].bytes
    )


def test_changed_vocab_reuses_the_collected_text(fresh_corpus: Corpus, tmp_path: Path) -> None:
    ingest(small_config(fresh_corpus.inputs, tmp_path / "out"), progress=False)
    second = ingest(
        small_config(fresh_corpus.inputs, tmp_path / "out", tokenizer={"vocab_size": 300}), progress=False
    )
    assert _reused(second) == {"collect": True, "tokenizer": False, "tokenize": False}
    assert second.tokenizer.vocab_size == 300


def test_given_tokenizer_is_reused_not_trained(ingested: DatasetInfo, corpus: Corpus, tmp_path: Path) -> None:
    config = small_config(corpus.inputs, tmp_path / "out", tokenizer={"path": ingested.tokenizer_path()})
    info = ingest(config, progress=False)
    assert not info.tokenizer.trained
    assert info.tokenizer.sha256 == ingested.tokenizer.sha256
    assert info.splits == ingested.splits


def test_missing_output_rebuilds_its_stage(fresh_corpus: Corpus, tmp_path: Path) -> None:
    config = small_config(fresh_corpus.inputs, tmp_path / "out")
    first = ingest(config, progress=False)
    (tmp_path / "out" / "valid_text_document.bin").unlink()
    second = ingest(config, progress=False)
    assert _reused(second) == {"collect": True, "tokenizer": True, "tokenize": False}
    assert second.splits == first.splits


def test_output_inside_an_input_directory_is_not_read_back(fresh_corpus: Corpus) -> None:
    config = small_config(fresh_corpus.inputs, fresh_corpus.repo / "dataset")
    first = ingest(config, progress=False)
    second = ingest(config, progress=False)  # the dataset now lies in the input directory
    assert _reused(second)["collect"]
    assert second.files.seen == first.files.seen
