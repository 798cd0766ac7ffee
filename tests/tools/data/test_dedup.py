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


def _findall_shingles(text: str, *, words: int) -> np.ndarray:
    """The shingles as the ingest computed them before numpy found the tokens: a regex and a crc32 each."""
    import re
    import zlib

    tokens = re.findall(rb"\w+|[^\w\s]+", text.encode("utf-8", "surrogatepass"))
    if not tokens:
        return np.zeros(0, dtype=np.uint64)
    hashes = np.array([zlib.crc32(t) for t in tokens], dtype=np.uint64)
    n = max(len(hashes) - words + 1, 1)
    combined = np.zeros(n, dtype=np.uint64)
    for j in range(min(words, len(hashes))):
        combined = (combined * np.uint64(1_000_003) + hashes[j : j + n]) & np.uint64(0xFFFFFFFF)
    return np.unique(combined)


_TEXTS = [
    "",
    "one",
    "x = 1\n",
    " \t\n\r\x0b\x0c x\x1c\x1f y \x00\x7f",  # every ASCII space, and control bytes that are not
    "a" * 12 + " " + "b" * 13 + " " + "-" * 40 + "_under_score_" + "9" * 100,  # around the short-token size
    "caf\u00e9 na\u00efve \ud800 \u00e9t\u00e9 -- ;; \u4e2d\u6587\u5b57 \U0001f600!" * 50,
    ORIGINAL,
    inspect.getsource(inspect) * 3,  # more shingles than one numpy batch (8192)
]


@pytest.mark.parametrize("text", _TEXTS)
@pytest.mark.parametrize("words", [1, 5])
def test_shingles_are_the_regex_tokens_crc32s(text: str, words: int) -> None:
    assert np.array_equal(shingles(text, words=words), _findall_shingles(text, words=words))


def _datasketch_signature(text: str, *, seed: int, num_perm: int = 128, words: int = 5) -> np.ndarray:
    """The signature as the ingest computed it before it was done in numpy: datasketch's own update_batch."""
    from datasketch import MinHash

    prototype = MinHash(num_perm=num_perm, seed=seed)
    minhash = MinHash(
        num_perm=num_perm,
        seed=seed,
        hashfunc=int,
        permutations=prototype.permutations,
        scheme=prototype.scheme,
    )
    values = shingles(text, words=words)
    for start in range(0, len(values), 8192):
        minhash.update_batch(values[start : start + 8192].tolist())
    return minhash.hashvalues.astype(np.uint32)


@pytest.mark.parametrize("text", _TEXTS)
def test_signature_is_datasketchs_bit_for_bit(near: NearDuplicates, text: str) -> None:
    assert len(shingles(text, words=5)) != 8192  # not a batch boundary by accident
    assert np.array_equal(near.signature(text), _datasketch_signature(text, seed=1))


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
