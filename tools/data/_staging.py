"""Kept, normalised text staged on disk between the scan and the tokenizer, so no stage holds it in memory.

Texts are appended to shard files (``text-00000.txt``, ...; UTF-8, no separators) and a table of
(shard, offset, bytes, score) rows. When the scan is done, :func:`finish_staging` assigns each document to a
split and saves the table as ``docs.npy``; readers stream documents back in order, one batch at a time.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

__all__ = ["DOC_DTYPE", "StagedDocs", "StagingWriter", "assign_splits", "finish_staging", "split_score"]

_ROW = np.dtype([("shard", "<u4"), ("offset", "<u8"), ("nbytes", "<u8"), ("score", "<f8")])
_PACK_ROW = struct.Struct("<IQQd").pack  # the same packed layout as _ROW
DOC_DTYPE = np.dtype([("shard", "<u4"), ("offset", "<u8"), ("nbytes", "<u8"), ("valid", "u1")])
_SHARD_BYTES = 256 << 20


def split_score(path: str, seed: int) -> float:
    """A uniform number in [0, 1) fixed by the file's path and the seed: the file's split never changes."""
    digest = hashlib.sha256(f"{seed}\0{path}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "little") / 2**64


def assign_splits(scores: np.ndarray, fraction: float) -> np.ndarray:
    """valid[i] = scores[i] < fraction; with two or more documents, each split gets at least one."""
    valid = scores < fraction
    if len(scores) >= 2:
        if not valid.any():
            valid[np.argmin(scores)] = True
        if valid.all():
            valid[np.argmax(scores)] = False
    return valid


class StagingWriter:
    """Append documents to shards under ``directory``; rows of the doc table go to ``rows.bin``."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._shard = -1
        self._text = None
        self._offset = 0
        self._rows = (directory / "rows.bin").open("wb")
        self.documents = 0
        self._next_shard()

    def _next_shard(self) -> None:
        if self._text is not None:
            self._text.close()
        self._shard += 1
        self._text = (self._dir / f"text-{self._shard:05d}.txt").open("wb")
        self._offset = 0

    def add(self, text: str, score: float) -> int:
        """Stage one document; returns its index."""
        data = text.encode("utf-8", "surrogatepass")
        if self._offset and self._offset + len(data) > _SHARD_BYTES:
            self._next_shard()
        assert self._text is not None
        self._text.write(data)
        self._rows.write(_PACK_ROW(self._shard, self._offset, len(data), score))
        self._offset += len(data)
        self.documents += 1
        return self.documents - 1

    def close(self) -> None:
        if self._text is not None:
            self._text.close()
        self._rows.close()


def finish_staging(directory: Path, *, valid_fraction: float) -> np.ndarray:
    """Assign splits, save ``docs.npy`` (atomically) and return the doc table. Shape: (n_docs,) DOC_DTYPE."""
    rows = np.fromfile(directory / "rows.bin", dtype=_ROW)
    docs = np.zeros(len(rows), dtype=DOC_DTYPE)
    for name in ("shard", "offset", "nbytes"):
        docs[name] = rows[name]
    docs["valid"] = assign_splits(rows["score"], valid_fraction)
    tmp = directory / "docs.tmp.npy"
    np.save(tmp, docs)
    os.replace(tmp, directory / "docs.npy")
    (directory / "rows.bin").unlink()
    return docs


class StagedDocs:
    """Read staged documents back: all of them, or a chosen subset, in order."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self.docs = np.load(directory / "docs.npy")

    def bytes_of(self, valid: bool) -> int:
        return int(self.docs["nbytes"][self.docs["valid"] == valid].sum())

    def texts(self, indices: np.ndarray, *, on_bytes: Callable[[int], None] | None = None) -> Iterator[str]:
        """The texts of ``indices`` (ascending), read shard by shard."""
        handle, shard = None, -1
        try:
            for i in indices:
                row = self.docs[i]
                if row["shard"] != shard:
                    if handle is not None:
                        handle.close()
                    shard = int(row["shard"])
                    handle = (self._dir / f"text-{shard:05d}.txt").open("rb")
                assert handle is not None
                handle.seek(int(row["offset"]))
                data = handle.read(int(row["nbytes"]))
                if on_bytes is not None:
                    on_bytes(len(data))
                yield data.decode("utf-8", "surrogatepass")
        finally:
            if handle is not None:
                handle.close()

    def batches(self, *, batch_bytes: int, max_docs: int) -> Iterator[tuple[np.ndarray, list[str]]]:
        """Every document in order, as (indices, texts) batches of about ``batch_bytes``."""
        indices: list[int] = []
        texts: list[str] = []
        size = 0
        for i, text in enumerate(self.texts(np.arange(len(self.docs)))):
            indices.append(i)
            texts.append(text)
            size += int(self.docs["nbytes"][i])
            if size >= batch_bytes or len(texts) >= max_docs:
                yield np.array(indices), texts
                indices, texts, size = [], [], 0
        if texts:
            yield np.array(indices), texts
