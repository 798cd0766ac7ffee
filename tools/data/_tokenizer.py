"""The byte-level BPE tokenizer: train one from an iterator of texts, or check and reuse an existing one."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from vibe.core.errors import UserError

__all__ = ["EOD", "check_tokenizer", "resolve_tokenizer_path", "train_tokenizer"]

EOD = "<|endoftext|>"


def train_tokenizer(texts: Iterable[str], *, vocab_size: int, length: int | None = None) -> Tokenizer:
    """Train a byte-level BPE (GPT-2 style, no prefix space) whose only special token is ``<|endoftext|>``."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer, length=length)
    return tokenizer


def resolve_tokenizer_path(path: Path) -> Path:
    """``path`` itself, or the tokenizer.json inside a directory (a tokenizer dir or a dataset dir)."""
    if path.is_dir():
        for candidate in (path / "tokenizer.json", path / "tokenizer" / "tokenizer.json"):
            if candidate.is_file():
                return candidate
        raise UserError(f"tokenizer.path: {path} is a directory without tokenizer.json; pass the file itself")
    if not path.is_file():
        raise UserError(
            f"tokenizer.path: {path} does not exist; pass a tokenizer.json written by `tokenizers`"
        )
    return path


def check_tokenizer(path: Path) -> Tokenizer:
    """Load a tokenizer.json and make sure it has the end-of-document token."""
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as error:  # tokenizers raises a bare Exception for bad JSON or unknown models
        raise UserError(f"tokenizer.path: {path} is not a readable tokenizers file ({error})") from None
    if tokenizer.token_to_id(EOD) is None:
        raise UserError(
            f"tokenizer.path: {path} has no {EOD} token, which ends every document; use a tokenizer that has "
            f"it, or leave tokenizer.path unset to train one"
        )
    return tokenizer
