"""The finished dataset directory: ``manifest.json`` as a typed model, loaders, and atomic writes.

``manifest.json`` is written last, atomically; a directory without one is not a finished dataset.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tokenizers import Tokenizer

from vibe.core.errors import UserError

__all__ = [
    "MANIFEST",
    "DatasetInfo",
    "DocumentsInfo",
    "FilesInfo",
    "SplitInfo",
    "StageInfo",
    "TokenizerInfo",
    "atomic_copy",
    "atomic_write_text",
    "load_dataset_info",
    "load_tokenizer",
]

MANIFEST = "manifest.json"
SPLITS = ("train", "valid")


class _Model(BaseModel):
    # Readers ignore fields they do not know, so a newer manifest still loads.
    model_config = ConfigDict(extra="ignore")


class TokenizerInfo(_Model):
    path: str
    sha256: str
    vocab_size: int
    eod_id: int
    trained: bool


class SplitInfo(_Model):
    prefix: str  # relative to the dataset directory, without .bin/.idx
    documents: int
    tokens: int
    bytes: int  # UTF-8 bytes of the split's kept, normalised text: bits/byte = nats/token * tokens/bytes/ln 2


class FilesInfo(_Model):
    seen: int
    kept: int
    dropped: dict[str, int]


class DocumentsInfo(_Model):
    """Documents read (by type), image-text pairs kept in the side dataset, OCR pages below the confidence."""

    types: dict[str, int] = Field(default_factory=dict)
    image_pairs: int = 0
    image_pairs_path: str = "images/pairs.jsonl"  # relative to the dataset directory
    ocr_low_confidence_pages: int = 0


class StageInfo(_Model):
    reused: bool
    seconds: float


class DatasetInfo(_Model):
    """``manifest.json`` of a dataset directory. ``root`` (not serialised) is the directory it was read from."""

    version: Literal[1]
    created: datetime
    config: dict[str, Any]
    fingerprint: str
    tokenizer: TokenizerInfo
    splits: dict[str, SplitInfo]
    files: FilesInfo
    findings: dict[str, int]
    documents: DocumentsInfo = Field(default_factory=DocumentsInfo)
    stages: dict[str, StageInfo] = Field(default_factory=dict)
    seconds: float = 0.0
    root: Path | None = Field(None, exclude=True)

    def prefix_path(self, split: str) -> Path:
        """Absolute prefix of a split's ``.bin``/``.idx``, as Megatron's ``IndexedDataset`` takes it."""
        return self._root() / self.splits[split].prefix

    def tokenizer_path(self) -> Path:
        return self._root() / self.tokenizer.path

    def _root(self) -> Path:
        if self.root is None:
            raise ValueError("this DatasetInfo was not loaded from a directory; use load_dataset_info(dir)")
        return self.root


def load_dataset_info(directory: str | Path) -> DatasetInfo:
    """Read and check a finished dataset directory; a :class:`UserError` says what is missing."""
    root = Path(directory)
    rerun = f"run `vibe data ingest PATH... --out {root}`"
    if not root.is_dir():
        raise UserError(f"{root} is not a dataset directory (it does not exist); {rerun}")
    manifest = root / MANIFEST
    if not manifest.is_file():
        raise UserError(
            f"{root} is not a finished dataset: {MANIFEST} is missing (did the ingest finish?); {rerun}"
        )
    try:
        info = DatasetInfo.model_validate({**json.loads(manifest.read_text(encoding="utf-8")), "root": root})
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{manifest} is not valid JSON ({error}); {rerun}") from None
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "<top level>"
        raise UserError(f"{manifest}: {field}: {first['msg']}; {rerun}") from None
    missing = [info.tokenizer.path] if not info.tokenizer_path().is_file() else []
    for split in SPLITS:
        if split not in info.splits:
            missing.append(f"splits.{split} in {MANIFEST}")
            continue
        missing += [
            f"{info.splits[split].prefix}{ext}"
            for ext in (".bin", ".idx")
            if not Path(f"{info.prefix_path(split)}{ext}").is_file()
        ]
    if missing:
        raise UserError(f"{root} is not a complete dataset: missing {', '.join(missing)}; {rerun}")
    return info


def load_tokenizer(path: str | Path) -> Tokenizer:
    """The tokenizer of a dataset directory (or a tokenizer.json path itself)."""
    path = Path(path)
    if path.is_dir():
        manifest = path / MANIFEST
        path = (
            load_dataset_info(path).tokenizer_path()
            if manifest.is_file()
            else path / "tokenizer" / "tokenizer.json"
        )
    if not path.is_file():
        raise UserError(f"{path} does not exist: pass a dataset directory or its tokenizer/tokenizer.json")
    return Tokenizer.from_file(str(path))


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: readers see all or nothing."""
    tmp = _tmp(path)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def atomic_copy(source: Path, path: Path) -> None:
    tmp = _tmp(path)
    shutil.copyfile(source, tmp)
    os.replace(tmp, path)
