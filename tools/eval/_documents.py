"""The documents of a run's splits, decoded back to text (what the suites prompt with and compare against)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["split_documents", "split_token_documents"]


def split_token_documents(prefix: Path, *, limit: int | None = None) -> Iterator[list[int]]:
    """Token ids of each document of the indexed dataset at ``prefix`` (its end-of-document token dropped)."""
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    dataset = IndexedDataset(str(prefix), mmap=True)
    for i in range(len(dataset) if limit is None else min(limit, len(dataset))):
        ids = dataset[i].tolist()
        yield ids[:-1] if ids else ids


def split_documents(run: Any, split: str, *, limit: int | None = None) -> Iterator[str]:
    """Text of each ``split`` ("train" or "valid") document of every source of the open run."""
    for source in run.sources:
        prefix = source.valid_prefix if split == "valid" else source.train_prefix
        for ids in split_token_documents(prefix, limit=limit):
            yield run.tokenizer.detokenize(ids)
