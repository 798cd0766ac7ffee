"""Canonical JSON and hashing: the byte form every hash and signature in Vibe is computed over.

Keys sorted, no whitespace, UTF-8, no NaN/Infinity. Floats use Python's shortest round-trip repr, so a
verifier in another language must format floats the same way (integers and strings are unambiguous).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["GENESIS", "canonical_json", "digest", "entry_hash"]

GENESIS = "0" * 64  # the prev_hash of the first entry


def canonical_json(value: Any) -> str:
    """``value`` as canonical JSON text. Raises ``ValueError`` for NaN/Infinity and ``TypeError`` for non-JSON."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def digest(value: Any) -> str:
    """sha256 (hex) of ``value``'s canonical JSON: the ``inputs_hash`` of a record."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def entry_hash(*, seq: int, prev_hash: str, record: Any) -> str:
    """The hash of one ledger entry: its position, its predecessor's hash and its record, together."""
    return digest({"prev_hash": prev_hash, "record": record, "seq": seq})
