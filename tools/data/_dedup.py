"""Duplicate removal: exact (sha256 of the normalised text) and near (MinHash LSH over word shingles).

Memory grows with the number of files, never with their size, and by a few hundred bytes per file: keys live
in numpy open-addressing tables (24 bytes per entry) and paths in one packed buffer. Near duplicates use
datasketch MinHash signatures and datasketch's choice of LSH bands for the threshold; the bands go to such a
table (datasketch's own dict-of-sets buckets cost ~2.7 KB per file, 3 GB for a million files). Signatures
live in a file on disk and are read back only to confirm a candidate.
"""

from __future__ import annotations

import functools
import hashlib
import os
import zlib
from array import array
from pathlib import Path

import numpy as np
from datasketch import MinHash, MinHashLSH

__all__ = ["ExactDuplicates", "NearDuplicates", "minhash_signature", "shingles"]

# Tokens: words and runs of punctuation over the UTF-8 bytes, as the regex rb"\w+|[^\w\s]+" finds them
# (a bytes pattern's \w and \s are ASCII), found with numpy from each byte's class.
_SPACE, _WORD, _PUNCT = 0, 1, 2
_CLASS = np.full(256, _PUNCT, dtype=np.int8)  # punctuation, and every non-ASCII byte
_CLASS[list(b" \t\n\r\f\v")] = _SPACE
_CLASS[list(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")] = _WORD
_CRC_TABLE = np.array(  # zlib's CRC-32 (reflected 0xEDB88320), one entry per byte value
    [
        functools.reduce(lambda c, _: (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1, range(8), i)
        for i in range(256)
    ],
    dtype=np.uint32,
)
_SHORT_TOKEN = 12  # tokens up to this many bytes are hashed in numpy, a byte position at a time
_PRIME = np.uint64(1_000_003)
_MASK32 = np.uint64(0xFFFFFFFF)
_BATCH = 8192  # shingles per MinHash update: bounds the (batch, num_perm) temporary to a few MB


class BandTable:
    """uint64 key (non-zero) -> uint32 value, first value wins; linear probing, at most half full."""

    def __init__(self, capacity: int = 1 << 12) -> None:
        self._keys = np.zeros(capacity, dtype=np.uint64)  # 0 marks an empty slot
        self._values = np.zeros(capacity, dtype=np.uint32)
        self._mask = capacity - 1
        self._size = 0

    def _slot(self, key: int) -> int:
        i = key & self._mask
        while True:
            found = int(self._keys[i])
            if found == 0 or found == key:
                return i
            i = (i + 1) & self._mask

    def get(self, key: int) -> int | None:
        i = self._slot(key)
        return int(self._values[i]) if self._keys[i] else None

    def add(self, key: int, value: int) -> None:
        """Map ``key`` to ``value`` unless it already has a value."""
        i = self._slot(key)
        if self._keys[i]:
            return
        self._keys[i], self._values[i] = key, value
        self._size += 1
        if 2 * self._size > len(self._keys):
            self._grow()

    def _grow(self) -> None:
        used = self._keys != 0
        keys, values = self._keys[used], self._values[used]
        self._keys = np.zeros(2 * len(self._keys), dtype=np.uint64)
        self._values = np.zeros_like(self._keys, dtype=np.uint32)
        self._mask = len(self._keys) - 1
        position = keys & np.uint64(self._mask)
        pending = np.arange(len(keys))
        while pending.size:  # place every key whose slot is free (one per slot), move the rest on by one
            slots = position[pending]
            free = pending[self._keys[slots] == 0]
            _, first = np.unique(position[free], return_index=True)
            placed = free[first]
            self._keys[position[placed]], self._values[position[placed]] = keys[placed], values[placed]
            pending = np.setdiff1d(pending, placed, assume_unique=True)
            position[pending] = (position[pending] + np.uint64(1)) & np.uint64(self._mask)


class _Paths:
    """An append-only list of strings packed into one buffer: ~the UTF-8 length plus 8 bytes each."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._ends = array("Q")

    def append(self, path: str) -> int:
        self._data += path.encode("utf-8", "surrogatepass")
        self._ends.append(len(self._data))
        return len(self._ends) - 1

    def __getitem__(self, index: int) -> str:
        start = self._ends[index - 1] if index else 0
        return self._data[start : self._ends[index]].decode("utf-8", "surrogatepass")


def _key(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") or 1


class ExactDuplicates:
    """First path seen for each normalised text (keyed by 64 bits of its hash)."""

    def __init__(self) -> None:
        self._table = BandTable()
        self._paths = _Paths()

    def check_and_add(self, path: str, text: str) -> str | None:
        """The path of an earlier file with the same text, or None (and remember this one)."""
        key = (
            int.from_bytes(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:8], "little") or 1
        )
        first = self._table.get(key)
        if first is not None:
            return self._paths[first]
        self._table.add(key, self._paths.append(path))
        return None


def shingles(text: str, *, words: int) -> np.ndarray:
    """The distinct 32-bit hashes of every run of ``words`` consecutive tokens. Shape: (n_shingles,) uint64."""
    return np.unique(_shingle_hashes(text, words=words))


def _shingle_hashes(text: str, *, words: int) -> np.ndarray:
    """The 32-bit hash of every run of ``words`` consecutive tokens, in order, repeats included: a MinHash
    (a minimum per permutation) is the same over them as over :func:`shingles`. Shape: (n,) uint64."""
    hashes = _token_crcs(text.encode("utf-8", "surrogatepass"))
    if not len(hashes):
        return hashes
    n = max(len(hashes) - words + 1, 1)  # a text shorter than one shingle is one shingle
    combined = np.zeros(n, dtype=np.uint64)
    for j in range(min(words, len(hashes))):
        combined = (combined * _PRIME + hashes[j : j + n]) & _MASK32  # polynomial hash of the window
    return combined


def _token_crcs(raw: bytes) -> np.ndarray:
    """``zlib.crc32`` of each token of ``raw`` (the runs of word or punctuation bytes), in order, with no
    bytes object or Python call per token: the CRCs of the short ones are computed together, one byte
    position at a time. Shape: (n_tokens,) uint64."""
    data = np.frombuffer(raw, dtype=np.uint8)
    if not len(data):
        return np.zeros(0, dtype=np.uint64)
    kind = _CLASS[data]
    change = np.empty(len(data), dtype=bool)  # where a run of one class begins
    change[0] = True
    np.not_equal(kind[1:], kind[:-1], out=change[1:])
    runs = np.flatnonzero(change)
    ends = np.append(runs[1:], len(data))
    token = kind[runs] != _SPACE
    starts, ends = runs[token], ends[token]
    lengths = ends - starts
    crcs = np.empty(len(starts), dtype=np.uint32)
    short = np.flatnonzero(lengths <= _SHORT_TOKEN)
    order = short[np.argsort(-lengths[short], kind="stable")]  # longest first: the first m are > k long
    by_length, at = lengths[order], starts[order]
    crc = np.full(len(order), 0xFFFFFFFF, dtype=np.uint32)
    top = int(by_length[0]) if len(order) else 0
    for k, m in enumerate(np.searchsorted(-by_length, -np.arange(top), side="left").tolist()):
        head = crc[:m]  # the tokens longer than k bytes: feed each its byte k
        crc[:m] = _CRC_TABLE[(head ^ data[at[:m] + k]) & 0xFF] ^ (head >> np.uint32(8))
    crcs[order] = crc ^ np.uint32(0xFFFFFFFF)
    long = np.flatnonzero(lengths > _SHORT_TOKEN)
    if len(long):
        crcs[long] = [
            zlib.crc32(raw[a:b]) for a, b in zip(starts[long].tolist(), ends[long].tolist(), strict=True)
        ]
    return crcs.astype(np.uint64)


def minhash_signature(
    values: np.ndarray, permutations: tuple[np.ndarray, np.ndarray], scheme: str
) -> np.ndarray:
    """The MinHash of 32-bit ``values`` (n,) under datasketch's ``permutations`` (a, b), each (num_perm,).

    Only datasketch's default "affine32" scheme is computed here: fmix32 of each value, then ``a * h + b``
    wrapping in uint32, and the minimum over values per permutation (the max value when there are none).
    Shape: (num_perm,) uint32."""
    if scheme != "affine32":
        raise ValueError(f"MinHash scheme {scheme!r}: only datasketch's 'affine32' is supported")
    a, b = (p.astype(np.uint32)[:, None] for p in permutations)  # (num_perm, 1)
    h = values.astype(np.uint32)  # the values are 32-bit already; datasketch keeps the low 32 bits too
    h ^= h >> np.uint32(16)  # MurmurHash3's fmix32, as datasketch._fmix(h, 32)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    result = np.full(len(a), np.iinfo(np.uint32).max, dtype=np.uint32)
    work = np.empty((len(a), min(len(h), _BATCH)), dtype=np.uint32)
    for start in range(0, len(h), _BATCH):
        batch = h[start : start + _BATCH]
        phv = work[:, : len(batch)]
        np.multiply(a, batch[None, :], out=phv)
        phv += b
        np.minimum(result, phv.min(axis=1), out=result)
    return result


class NearDuplicates:
    """Near-duplicate detection: a document whose estimated Jaccard similarity to a kept one is >= threshold."""

    def __init__(
        self, *, threshold: float, num_perm: int, shingle_words: int, seed: int, signatures: Path
    ) -> None:
        self.threshold = threshold
        self.shingle_words = shingle_words
        prototype = MinHash(num_perm=num_perm, seed=seed)
        self._permutations: tuple[np.ndarray, np.ndarray] = tuple(prototype.permutations)  # type: ignore[assignment]
        self._scheme = prototype.scheme
        # datasketch picks the bands (b bands of r rows) that best separate pairs at the threshold
        self._bands = MinHashLSH(threshold=threshold, num_perm=num_perm).hashranges
        self._buckets = BandTable()  # band key -> first kept document with that band
        self._paths = _Paths()
        self._file = signatures.open("wb+", buffering=0)
        self._row = num_perm * np.dtype(np.uint32).itemsize

    def close(self) -> None:
        self._file.close()

    def signature(self, text: str) -> np.ndarray:
        """The MinHash signature of ``text``'s shingles. Shape: (num_perm,) uint32.

        Bit for bit what ``datasketch.MinHash.update_batch`` computes for the shingles (with
        ``hashfunc=int`` and this MinHash's permutations and scheme), done in numpy without a Python int
        per shingle; ``test_dedup`` pins the two against each other."""
        values = _shingle_hashes(text, words=self.shingle_words)  # repeats change no minimum: no np.unique
        return minhash_signature(values, self._permutations, self._scheme)

    def check_and_add(self, path: str, text: str) -> tuple[str, float] | None:
        """(path, similarity) of a kept near-duplicate of ``text``; or None, and ``text`` is indexed."""
        ours = self.signature(text)
        keys = [
            _key(bytes([band]) + ours[start:end].tobytes()) for band, (start, end) in enumerate(self._bands)
        ]
        candidates = {doc for doc in map(self._buckets.get, keys) if doc is not None}
        best: tuple[int, float] | None = None
        for doc in sorted(candidates):
            theirs = np.frombuffer(os.pread(self._file.fileno(), self._row, doc * self._row), dtype=np.uint32)
            similarity = float(np.mean(ours == theirs))
            if similarity >= self.threshold and (best is None or similarity > best[1]):
                best = (doc, similarity)
        if best is not None:
            return self._paths[best[0]], best[1]
        doc = self._paths.append(path)
        self._file.write(ours.tobytes())
        for key in keys:
            self._buckets.add(key, doc)
        return None
