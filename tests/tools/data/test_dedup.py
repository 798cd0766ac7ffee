"""Exact and near-duplicate detection."""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tools.data import BandTable, ExactDuplicates, NearDuplicates, shingles

ORIGINAL = inspect.getsource(textwrap)


@pytest.fixture
def near(tmp_path: Path) -> Iterator[NearDuplicates]:
    index = NearDuplicates(
        threshold=0.85, num_perm=128, shingle_words=5, seed=1, signatures=tmp_path / "sig.bin"
    )
    yield index
    index.close()


def test_exact_duplicate_names_the_first_copy() -> None:
    exact = ExactDuplicates()
    assert exact.check_and_add("a.py", "x = 1\n") is None
    assert exact.check_and_add("b.py", "x = 2\n") is None
    assert exact.check_and_add("c.py", "x = 1\n") == "a.py"


def test_one_changed_line_is_a_near_duplicate(near: NearDuplicates) -> None:
    lines = ORIGINAL.split("\n")
    lines[len(lines) // 2] = "# a different line"
    assert near.check_and_add("original.py", ORIGINAL) is None
    path, similarity = near.check_and_add("copy.py", "\n".join(lines))  # type: ignore[misc]
    assert path == "original.py"
    assert similarity >= 0.85


def test_different_files_are_not_near_duplicates(near: NearDuplicates) -> None:
    assert near.check_and_add("textwrap.py", ORIGINAL) is None
    assert near.check_and_add("inspect.py", inspect.getsource(inspect)) is None


def test_half_a_file_is_not_a_near_duplicate(near: NearDuplicates) -> None:
    assert near.check_and_add("full.py", ORIGINAL) is None
    assert near.check_and_add("half.py", ORIGINAL[: len(ORIGINAL) // 2]) is None


def test_shingles_are_distinct_and_cover_short_texts() -> None:
    assert len(shingles("a b a b a b a b", words=2)) == 2  # "a b" and "b a"
    assert len(shingles("one", words=5)) == 1
    assert len(shingles("   ", words=5)) == 0


def test_table_keeps_every_key_through_growth() -> None:
    table = BandTable(capacity=8)
    keys = np.random.default_rng(0).integers(1, 2**63, size=5000, dtype=np.uint64).tolist()
    for value, key in enumerate(keys):
        table.add(key, value)
    table.add(keys[0], 99_999)  # the first value wins
    assert [table.get(key) for key in keys] == list(range(len(keys)))
    assert table.get(12345) is None
