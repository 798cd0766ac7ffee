"""JSON Lines export for auditors: one entry per line, readable without Vibe and verifiable with it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from vibe.core.errors import UserError
from vibe.ledger._base import StoredEntry
from vibe.ledger._canonical import canonical_json

__all__ = ["read_export", "write_export"]


def write_export(entries: Iterable[StoredEntry], out: TextIO) -> int:
    """Write ``{"seq", "prev_hash", "hash", "record"}`` per line; returns the number written."""
    count = 0
    for entry in entries:
        line = {
            "seq": entry.seq,
            "prev_hash": entry.prev_hash,
            "hash": entry.hash,
            "record": json.loads(entry.body),
        }
        out.write(canonical_json(line) + "\n")
        count += 1
    return count


def read_export(path: str | Path) -> Iterator[StoredEntry]:
    """Entries of an export written by :func:`write_export`, for :func:`verify_entries`."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8")
    except OSError as error:
        raise UserError(f"{path}: cannot read the export ({error.strerror})") from None
    with handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
                yield StoredEntry(
                    seq=int(line["seq"]),
                    prev_hash=str(line["prev_hash"]),
                    hash=str(line["hash"]),
                    body=canonical_json(line["record"]),
                )
            except (ValueError, KeyError, TypeError) as error:
                raise UserError(f"{path}:{number}: not a ledger export line ({error})") from None
