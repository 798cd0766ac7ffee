"""The typed config of one ingest: what to read, what to keep, how to tokenize and where to write.

A run is an :class:`IngestConfig`; ``vibe data ingest`` builds one from ``--config YAML`` plus its flags.
What happens to files with secrets or personal data is :class:`FindingActions`, a field of its own so that
a policy file can supply it later; :func:`tools.data._scan.decide` is the one place that reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import ByteSize, Field, field_validator

from tools.data.documents import DocumentsConfig
from vibe.core.config import VibeConfig

__all__ = ["Action", "DedupConfig", "FindingActions", "IngestConfig", "TokenizerConfig"]

Action = Literal["redact", "drop", "fail"]

# Directory names never walked: version control, caches and installed third-party packages are not the
# organisation's own text (and the interpreter's stdlib directory holds site-packages).
DEFAULT_EXCLUDE = [
    ".git",
    ".hg",
    ".svn",
    "__pycache__",
    "node_modules",
    "site-packages",
    "dist-packages",
    ".venv",
    ".tox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
]


class FindingActions(VibeConfig):
    """What to do with a file in which the scanner finds something: redact the match, drop the file, or fail."""

    secrets: Action = "redact"
    personal_data: Action = "redact"


class DedupConfig(VibeConfig):
    """Near-duplicate removal: MinHash over word shingles, LSH at a Jaccard threshold."""

    near_dup_threshold: float = Field(0.85, gt=0.0, le=1.0, description="Jaccard similarity; 1.0 disables")
    num_perm: int = Field(128, ge=16, le=1024, description="MinHash permutations")
    shingle_words: int = Field(5, ge=1, le=32, description="words per shingle")


class TokenizerConfig(VibeConfig):
    """Train a byte-level BPE tokenizer of ``vocab_size``, or reuse the one at ``path``."""

    vocab_size: int = Field(8192, ge=300, le=1_000_000)
    path: Path | None = Field(None, description="an existing tokenizer.json (or a dataset dir holding one)")
    train_bytes: ByteSize = Field(ByteSize(200_000_000), ge=1, description="cap on tokenizer training text")


class IngestConfig(VibeConfig):
    """One ingest: ``inputs`` (directories, archives, files) -> a dataset directory ``out``."""

    inputs: list[Path] = Field(min_length=1)
    out: Path
    valid_fraction: float = Field(0.05, gt=0.0, lt=1.0)
    seed: int = Field(0, ge=0)
    max_file_bytes: ByteSize = Field(ByteSize(2 * 1024 * 1024), ge=1, description="larger files are skipped")
    exclude: list[str] = Field(default_factory=lambda: list(DEFAULT_EXCLUDE), description="dir name globs")
    actions: FindingActions = Field(default_factory=FindingActions)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    tokenizer: TokenizerConfig = Field(default_factory=TokenizerConfig)
    documents: DocumentsConfig = Field(default_factory=DocumentsConfig)

    @field_validator("inputs")
    @classmethod
    def _no_repeats(cls, inputs: list[Path]) -> list[Path]:
        seen = set()
        for path in inputs:
            key = str(path)
            if key in seen:
                raise ValueError(f"{key} is listed twice; list each input once")
            seen.add(key)
        return inputs
