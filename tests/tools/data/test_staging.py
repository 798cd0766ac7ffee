"""Splits by file, and staged text read back in order."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tools.data import StagedDocs, StagingWriter, assign_splits, finish_staging, split_score


def test_split_score_depends_only_on_path_and_seed() -> None:
    assert split_score("repo/a.py", 0) == split_score("repo/a.py", 0)
    assert split_score("repo/a.py", 0) != split_score("repo/a.py", 1)
    assert 0.0 <= split_score("repo/b.py", 0) < 1.0


def test_two_documents_always_give_one_to_each_split() -> None:
    assert assign_splits(np.array([0.7, 0.9]), 0.05).tolist() == [True, False]
    assert assign_splits(np.array([0.01, 0.02]), 0.05).tolist() == [True, False]


def test_one_document_goes_to_train() -> None:
    assert assign_splits(np.array([0.5]), 0.05).tolist() == [False]


def test_staged_texts_read_back_in_order(tmp_path: Path) -> None:
    writer = StagingWriter(tmp_path)
    texts = ["alpha\n", "βeta ✓\n", "", "gamma\n"]
    for i, text in enumerate(texts):
        assert writer.add(text, score=i / 4) == i
    writer.close()
    docs = finish_staging(tmp_path, valid_fraction=0.3)
    assert docs["valid"].tolist() == [True, True, False, False]
    staged = StagedDocs(tmp_path)
    assert list(staged.texts(np.arange(4))) == texts
    assert [t for _, batch in staged.batches(batch_bytes=8, max_docs=10) for t in batch] == texts
    assert staged.bytes_of(True) == len("alpha\nβeta ✓\n".encode())
