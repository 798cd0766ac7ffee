"""Megatron-core indexed datasets (``PREFIX.bin`` + ``PREFIX.idx``), written so that a killed run leaves none.

Documents go to hidden temporary files; :meth:`IndexedWriter.finish` renames both into place (``.bin`` first,
then ``.idx``), and only the manifest, written after that, marks the dataset finished.

The files are written here with numpy, byte for byte as ``megatron.core.datasets.indexed_dataset``'s
``IndexedDatasetBuilder`` writes them (one sequence per document, no modes), so that writing a dataset does
not import Megatron and torch (seconds of CPU on every ingest). ``tests/tools/data/test_tokenize_stage.py``
pins the bytes against Megatron's builder and reads them back with its ``IndexedDataset``.
"""

from __future__ import annotations

import os
import struct
from array import array
from pathlib import Path

import numpy as np

__all__ = ["IndexedWriter", "token_dtype"]

_INDEX_HEADER = b"MMIDIDX\x00\x00"  # megatron.core.datasets.indexed_dataset._INDEX_HEADER
_INDEX_VERSION = 1
_DTYPE_CODES = {np.dtype(np.uint16): 8, np.dtype(np.int32): 4}  # megatron's DType enum


def token_dtype(vocab_size: int) -> type[np.unsignedinteger] | type[np.signedinteger]:
    """uint16 when every id fits (vocab <= 65535), else int32: the contract with the trainer."""
    return np.uint16 if vocab_size <= 65535 else np.int32


class IndexedWriter:
    """One split: one document per :meth:`add`, each a token sequence already ending with the eod id.

    Memory: 8 bytes per document (its length), never the tokens."""

    def __init__(self, *, out_dir: Path, prefix: str, vocab_size: int) -> None:
        self.prefix = prefix
        self.documents = 0
        self.tokens = 0
        self._final = out_dir / prefix
        self._tmp = out_dir / f".{prefix}.tmp"
        self._dtype = np.dtype(token_dtype(vocab_size))
        self._lengths = array("q")
        self._bin = open(f"{self._tmp}.bin", "wb")  # noqa: SIM115 - closed in finish

    def add(self, ids: np.ndarray) -> None:
        """Append one document. ``ids``: (n_tokens,) ending with eod."""
        self._bin.write(ids.astype(self._dtype, copy=False).tobytes(order="C"))
        self._lengths.append(len(ids))
        self.documents += 1
        self.tokens += len(ids)

    def finish(self) -> None:
        self._bin.close()
        lengths = np.frombuffer(self._lengths, dtype=np.int64) if self._lengths else np.zeros(0, np.int64)
        pointers = np.zeros(len(lengths), dtype=np.int64)  # byte offset of each sequence in the .bin
        np.cumsum(lengths[:-1] * self._dtype.itemsize, out=pointers[1:])
        with open(f"{self._tmp}.idx", "wb") as idx:
            idx.write(_INDEX_HEADER)
            idx.write(struct.pack("<Q", _INDEX_VERSION))
            idx.write(struct.pack("<B", _DTYPE_CODES[self._dtype]))
            idx.write(struct.pack("<Q", len(lengths)))  # sequences
            idx.write(struct.pack("<Q", len(lengths) + 1))  # document indices: 0, then one per document
            idx.write(lengths.astype(np.int32).tobytes(order="C"))
            idx.write(pointers.tobytes(order="C"))
            idx.write(np.arange(len(lengths) + 1, dtype=np.int64).tobytes(order="C"))
        os.replace(f"{self._tmp}.bin", f"{self._final}.bin")
        os.replace(f"{self._tmp}.idx", f"{self._final}.idx")
