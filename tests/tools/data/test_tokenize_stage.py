"""The tokenize stage (encoding one batch ahead of the writer) writes exactly the bytes of a plain loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ingest_corpus import Corpus, small_config
from tokenizers import Tokenizer

from tools.data import EOD, DatasetInfo, IndexedWriter, StagedDocs, ingest

SPLITS = ("train", "valid")


def _files(root: Path) -> dict[str, bytes]:
    return {
        f"{split}{ext}": (root / f"{split}_text_document{ext}").read_bytes()
        for split in SPLITS
        for ext in (".bin", ".idx")
    }


def test_tokenize_in_many_batches_is_byte_identical_to_one_document_at_a_time(
    corpus: Corpus, ingested: DatasetInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tools.data._pipeline._TOKENIZE_BATCH_DOCS", 3)  # many batches in flight
    out = tmp_path / "out"
    config = small_config(corpus.inputs, out, tokenizer={"path": ingested.tokenizer_path()})
    ingest(config, progress=False)

    # The same documents, one at a time, with the same tokenizer, through the same writer.
    tokenizer = Tokenizer.from_file(str(out / "tokenizer" / "tokenizer.json"))
    tokenizer.encode_special_tokens = True
    eod = tokenizer.token_to_id(EOD)
    docs = StagedDocs(out / "staging")
    expected = tmp_path / "expected"
    expected.mkdir()
    writers = {
        s: IndexedWriter(out_dir=expected, prefix=f"{s}_text_document", vocab_size=tokenizer.get_vocab_size())
        for s in SPLITS
    }
    for i, text in enumerate(docs.texts(np.arange(len(docs.docs)))):
        ids = [*tokenizer.encode(text, add_special_tokens=False).ids, eod]
        writers["valid" if docs.docs["valid"][i] else "train"].add(np.array(ids, dtype=np.int64))
    for writer in writers.values():
        writer.finish()

    assert len(docs.docs) > 3 * 2  # more than two batches
    assert _files(out) == _files(expected)
    assert ingested.root is not None
    assert _files(out) == _files(ingested.root)  # and the default batching's output


@pytest.mark.parametrize(("vocab_size", "documents"), [(50_000, 5), (70_000, 3), (50_000, 0)])
def test_indexed_writer_writes_megatrons_bytes(tmp_path: Path, vocab_size: int, documents: int) -> None:
    """Our numpy writer and Megatron's IndexedDatasetBuilder write the same .bin and .idx; Megatron reads it."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from megatron.core.datasets.indexed_dataset import IndexedDataset, IndexedDatasetBuilder

    rng = np.random.default_rng(documents)
    docs = [rng.integers(0, vocab_size, int(rng.integers(1, 300))) for _ in range(documents)]
    ours = IndexedWriter(out_dir=tmp_path, prefix="ours", vocab_size=vocab_size)
    dtype = np.uint16 if vocab_size <= 65535 else np.int32
    theirs = IndexedDatasetBuilder(str(tmp_path / "theirs.bin"), dtype=dtype)
    for ids in docs:
        ours.add(ids)
        theirs.add_document(ids.astype(dtype), [len(ids)])
    ours.finish()
    theirs.finalize(str(tmp_path / "theirs.idx"))
    for ext in (".bin", ".idx"):
        assert (tmp_path / f"ours{ext}").read_bytes() == (tmp_path / f"theirs{ext}").read_bytes()
    assert (ours.documents, ours.tokens) == (documents, sum(map(len, docs)))
    if documents:
        dataset = IndexedDataset(str(tmp_path / "ours"))
        assert len(dataset) == documents
        assert all(np.array_equal(dataset[i], ids) for i, ids in enumerate(docs))
