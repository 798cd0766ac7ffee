"""Megatron-core indexed datasets (``PREFIX.bin`` + ``PREFIX.idx``), written so that a killed run leaves none.

Documents go to hidden temporary files; :meth:`IndexedWriter.finish` renames both into place (``.bin`` first,
then ``.idx``), and only the manifest, written after that, marks the dataset finished.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

__all__ = ["IndexedWriter", "token_dtype"]


def token_dtype(vocab_size: int) -> type[np.unsignedinteger] | type[np.signedinteger]:
    """uint16 when every id fits (vocab <= 65535), else int32: the contract with the trainer."""
    return np.uint16 if vocab_size <= 65535 else np.int32


class IndexedWriter:
    """One split: one document per :meth:`add`, each a token sequence already ending with the eod id."""

    def __init__(self, *, out_dir: Path, prefix: str, vocab_size: int) -> None:
        # a slow import, so only when writing; megatron.core warns about optional GPU libraries on import
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

        self.prefix = prefix
        self.documents = 0
        self.tokens = 0
        self._final = out_dir / prefix
        self._tmp = out_dir / f".{prefix}.tmp"
        self._dtype = token_dtype(vocab_size)
        self._builder = IndexedDatasetBuilder(f"{self._tmp}.bin", dtype=self._dtype)

    def add(self, ids: np.ndarray) -> None:
        """Append one document. ``ids``: (n_tokens,) ending with eod."""
        self._builder.add_document(ids.astype(self._dtype, copy=False), [len(ids)])
        self.documents += 1
        self.tokens += len(ids)

    def finish(self) -> None:
        self._builder.finalize(f"{self._tmp}.idx")
        os.replace(f"{self._tmp}.bin", f"{self._final}.bin")
        os.replace(f"{self._tmp}.idx", f"{self._final}.idx")
