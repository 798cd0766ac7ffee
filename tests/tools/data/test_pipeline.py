"""``ingest`` on the real test corpus: what the manifest, files.jsonl and the indexed datasets say."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from ingest_corpus import Corpus

from tools.data import EOD, DatasetInfo, load_dataset_info, load_tokenizer
from vibe.core.errors import UserError

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from megatron.core.datasets.indexed_dataset import IndexedDataset


def _documents(info: DatasetInfo, split: str) -> list[np.ndarray]:
    dataset = IndexedDataset(str(info.prefix_path(split)))
    return [np.array(dataset[i]) for i in range(len(dataset))]  # copies: the views die with the mmap


def test_every_file_is_counted_once(ingested: DatasetInfo, records: dict[str, dict]) -> None:
    assert ingested.files.seen == len(records)
    assert ingested.files.kept + sum(ingested.files.dropped.values()) == ingested.files.seen
    assert ingested.files.kept == sum(r["status"] == "kept" for r in records.values())


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("png", "corrupt_document"),  # a truncated PNG: the image reader says so
        ("noise", "binary"),
        ("undecodable", "undecodable"),
        ("empty", "empty"),
        ("big", "too_large"),
        ("broken", "broken_archive"),
        ("duplicate_second", "duplicate"),
        ("tar_duplicate", "duplicate"),
        ("near_copy", "near_duplicate"),
    ],
)
def test_dropped_file_has_its_reason(
    corpus: Corpus, records: dict[str, dict], name: str, reason: str
) -> None:
    record = records[getattr(corpus, name)]
    assert (record["status"], record["reason"]) == ("dropped", reason)
    assert "split" not in record


def test_duplicate_names_the_file_it_repeats(corpus: Corpus, records: dict[str, dict]) -> None:
    assert records[corpus.duplicate_first]["status"] == "kept"
    assert corpus.duplicate_first in records[corpus.duplicate_second]["detail"]
    assert corpus.near_original in records[corpus.near_copy]["detail"]


@pytest.mark.parametrize(
    ("name", "language", "encoding"),
    [
        ("latin", "text", "cp1252"),
        ("utf16", "text", "utf-16"),
        ("settings", "python", "utf-8"),
        ("env", "env", "utf-8"),
        ("contact", "markdown", "utf-8"),
    ],
)
def test_kept_file_records_language_and_encoding(
    corpus: Corpus, records: dict[str, dict], name: str, language: str, encoding: str
) -> None:
    record = records[getattr(corpus, name)]
    assert (record["status"], record["language"], record["encoding"]) == ("kept", language, encoding)


def test_every_record_has_the_contract_fields(records: dict[str, dict]) -> None:
    for record in records.values():
        assert {"path", "sha256", "size", "language", "encoding", "status", "findings"} <= record.keys()
        assert ("split" in record) == (record["status"] == "kept")
        assert ("reason" in record) == (record["status"] == "dropped")


def test_sha256_is_of_the_raw_bytes(corpus: Corpus, records: dict[str, dict]) -> None:
    raw = (corpus.root / corpus.settings).read_bytes()
    assert records[corpus.settings]["sha256"] == hashlib.sha256(raw).hexdigest()
    assert records[corpus.settings]["size"] == len(raw)


def test_truncated_archive_keeps_members_before_the_break(corpus: Corpus, records: dict[str, dict]) -> None:
    assert records[corpus.broken_first]["status"] == "kept"


def test_archive_inside_a_directory_is_read(corpus: Corpus, records: dict[str, dict]) -> None:
    assert records[corpus.nested]["status"] == "kept"


def test_findings_have_kind_line_and_action(corpus: Corpus, records: dict[str, dict]) -> None:
    assert records[corpus.settings]["findings"] == [
        {"kind": "aws_access_key", "line": 3, "action": "redact"},
        {"kind": "github_token", "line": 4, "action": "redact"},
        {"kind": "private_key", "line": 5, "action": "redact"},
    ]
    assert records[corpus.env]["findings"] == [{"kind": "password", "line": 2, "action": "redact"}]
    assert records[corpus.contact]["findings"] == [
        {"kind": "email", "line": 5, "action": "redact"},
        {"kind": "phone", "line": 5, "action": "redact"},
    ]


def test_findings_are_counted_by_kind(ingested: DatasetInfo) -> None:
    for kind in ("aws_access_key", "github_token", "private_key", "password", "email", "phone"):
        assert ingested.findings[kind] >= 1


def test_reports_never_hold_the_secret_values(corpus: Corpus, ingested: DatasetInfo) -> None:
    assert ingested.root is not None
    for name in ("files.jsonl", "manifest.json", "report.md"):
        text = (ingested.root / name).read_text(encoding="utf-8")
        assert not [secret for secret in corpus.planted.values() if secret in text], name


def test_redacted_values_are_absent_from_staged_text(corpus: Corpus, ingested: DatasetInfo) -> None:
    assert ingested.root is not None
    staged = "".join(p.read_text(encoding="utf-8") for p in (ingested.root / "staging").glob("text-*.txt"))
    assert "<REDACTED:aws_access_key>" in staged
    assert not [secret for secret in corpus.planted.values() if secret in staged]


def test_redacted_values_are_absent_from_tokenized_data(corpus: Corpus, ingested: DatasetInfo) -> None:
    tokenizer = load_tokenizer(ingested.root)  # type: ignore[arg-type]
    decoded = "".join(
        tokenizer.decode(doc[:-1].tolist(), skip_special_tokens=False)
        for split in ("train", "valid")
        for doc in _documents(ingested, split)
    )
    assert "<REDACTED:github_token>" in decoded
    assert not [secret for secret in corpus.planted.values() if secret in decoded]


def test_no_file_is_in_both_splits(ingested: DatasetInfo, records: dict[str, dict]) -> None:
    kept = [r for r in records.values() if r["status"] == "kept"]
    train = {r["path"] for r in kept if r["split"] == "train"}
    valid = {r["path"] for r in kept if r["split"] == "valid"}
    assert valid and train and not train & valid
    assert (len(train), len(valid)) == (
        ingested.splits["train"].documents,
        ingested.splits["valid"].documents,
    )


@pytest.mark.parametrize("split", ["train", "valid"])
def test_token_counts_match_the_indexed_dataset(ingested: DatasetInfo, split: str) -> None:
    dataset = IndexedDataset(str(ingested.prefix_path(split)))
    assert len(dataset) == ingested.splits[split].documents
    assert int(dataset.sequence_lengths.sum()) == ingested.splits[split].tokens
    assert dataset.index.dtype == np.uint16  # vocab 400 fits


@pytest.mark.parametrize("split", ["train", "valid"])
def test_every_document_ends_with_its_only_eod(ingested: DatasetInfo, split: str) -> None:
    eod = ingested.tokenizer.eod_id
    for doc in _documents(ingested, split):
        assert doc[-1] == eod
        assert np.count_nonzero(doc == eod) == 1  # a literal "<|endoftext|>" in a file stays text


@pytest.mark.parametrize("split", ["train", "valid"])
def test_split_bytes_are_the_utf8_bytes_of_its_documents(ingested: DatasetInfo, split: str) -> None:
    tokenizer = load_tokenizer(ingested.root)  # type: ignore[arg-type]
    texts = [
        tokenizer.decode(doc[:-1].tolist(), skip_special_tokens=False) for doc in _documents(ingested, split)
    ]
    assert sum(len(t.encode("utf-8")) for t in texts) == ingested.splits[split].bytes


def test_tokenizer_matches_the_manifest(ingested: DatasetInfo) -> None:
    path = ingested.tokenizer_path()
    tokenizer = load_tokenizer(path)
    assert ingested.tokenizer.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert tokenizer.token_to_id(EOD) == ingested.tokenizer.eod_id
    assert tokenizer.get_vocab_size() == ingested.tokenizer.vocab_size == 400
    assert ingested.tokenizer.trained


def test_manifest_loads_back_equal(ingested: DatasetInfo) -> None:
    assert ingested.root is not None
    assert load_dataset_info(ingested.root) == ingested
    raw = json.loads((ingested.root / "manifest.json").read_text(encoding="utf-8"))
    assert raw["splits"]["train"]["prefix"] == "train_text_document"
    assert raw["config"]["tokenizer"]["vocab_size"] == 400


def test_unfinished_directory_is_not_a_dataset(tmp_path: Path) -> None:
    (tmp_path / "staging").mkdir()
    with pytest.raises(UserError, match=r"manifest\.json is missing"):
        load_dataset_info(tmp_path)


def test_dataset_missing_a_split_file_is_reported(ingested: DatasetInfo, tmp_path: Path) -> None:
    assert ingested.root is not None
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in (
        "manifest.json",
        "train_text_document.bin",
        "train_text_document.idx",
        "valid_text_document.idx",
    ):
        (copy / name).write_bytes((ingested.root / name).read_bytes())
    (copy / "tokenizer").mkdir()
    (copy / "tokenizer" / "tokenizer.json").write_bytes(ingested.tokenizer_path().read_bytes())
    with pytest.raises(UserError, match=r"missing valid_text_document\.bin"):
        load_dataset_info(copy)
