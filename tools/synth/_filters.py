"""Cheap checks on every generated text: length, quality heuristics, and decontamination.

Quality heuristics catch what small models produce when they fail: empty or runaway answers, answers that
are mostly punctuation or repeat the same line, refusals, and answers cut off by ``max_tokens``.
Decontamination drops a sample that shares any run of ``n`` words with the corpus's validation split, so
the held-out loss still measures text the model has not seen.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from tools.synth._config import FilterConfig

__all__ = ["Decontaminator", "quality_problem"]

_WORD = re.compile(r"\w+")
_REFUSALS = re.compile(
    r"\b(as an ai( language)? model|i('m| am) (sorry|unable)|i cannot (help|assist)|i can't (help|assist))\b",
    re.I,
)


def quality_problem(text: str, *, finish_reason: str | None, config: FilterConfig) -> tuple[str, str] | None:
    """(reason, detail) if ``text`` fails a length or quality filter; None if it passes."""
    if finish_reason == "length":
        return "truncated", "the answer hit max_tokens"
    stripped = text.strip()
    if len(stripped) < config.min_chars:
        return "too_short", f"{len(stripped)} characters < {config.min_chars}"
    if len(stripped) > config.max_chars:
        return "too_long", f"{len(stripped)} characters > {config.max_chars}"
    visible = [c for c in stripped if not c.isspace()]
    alpha = sum(c.isalnum() for c in visible) / max(len(visible), 1)
    if alpha < config.min_alpha_fraction:
        return "low_alpha", f"{alpha:.2f} of characters are letters or digits < {config.min_alpha_fraction}"
    lines = [line.strip() for line in stripped.splitlines() if line.strip()]
    if len(lines) >= 4:
        repeated = (len(lines) - len(set(lines))) / len(lines)
        if repeated > config.max_repeated_line_fraction:
            return "repetitive", f"{repeated:.2f} of lines repeat an earlier line"
    if _REFUSALS.search(stripped):
        return "refusal", "the answer declines the task"
    return None


def _ngram_hashes(text: str, n: int) -> set[int]:
    words = [w.lower() for w in _WORD.findall(text)]
    return {
        int.from_bytes(hashlib.blake2b(" ".join(words[i : i + n]).encode(), digest_size=8).digest(), "little")
        for i in range(len(words) - n + 1)
    }


class Decontaminator:
    """Every ``n``-word run of the validation texts (64-bit hashes); :meth:`overlap` finds them in a sample."""

    def __init__(self, texts: Iterable[str], *, n: int) -> None:
        self.n = n
        self._grams: set[int] = set()
        for text in texts:
            self._grams |= _ngram_hashes(text, n)

    def __len__(self) -> int:
        return len(self._grams)

    def overlap(self, text: str) -> int:
        """How many of ``text``'s ``n``-word runs occur in the validation split."""
        return len(_ngram_hashes(text, self.n) & self._grams)
