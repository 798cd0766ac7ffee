"""The ledger interface and its verification, shared by every store.

A store keeps entries as :class:`StoredEntry` rows (the record's canonical JSON as text, plus position and
hashes). :func:`verify_entries` walks them in order and reports the first that is not what an untouched
append-only chain would hold.

What verification detects: editing any stored field of any entry; deleting an entry that is not the last;
inserting an entry anywhere but the end; reordering entries; and, given an :class:`Anchor` recorded earlier,
removing or rewriting the tail up to that anchor. What it cannot detect on its own: cutting off the newest
entries when no anchor is compared; someone with write access recomputing the whole chain after an edit
(compare against an anchor kept elsewhere); forged entries appended at the end (anyone who can write the
store can append; approvals carry their own signatures).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from vibe.ledger._canonical import GENESIS, canonical_json, entry_hash
from vibe.ledger._record import Anchor, Entry, Record

__all__ = ["Ledger", "StoredEntry", "VerifyReport", "verify_entries"]


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as stored: ``body`` is the record's canonical JSON text; ``thread_id`` an indexed copy of it."""

    seq: int
    prev_hash: str
    hash: str
    body: str
    thread_id: str | None = None

    def to_entry(self) -> Entry:
        return Entry(
            seq=self.seq,
            prev_hash=self.prev_hash,
            hash=self.hash,
            record=Record.model_validate_json(self.body),
        )


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of a verification: ok, or the first bad entry (``bad_seq``) and what is wrong with it."""

    ok: bool
    checked: int
    head: Anchor | None
    bad_seq: int | None = None
    problem: str | None = None

    def __str__(self) -> str:
        if self.ok:
            head = f", head {self.head}" if self.head else ""
            return f"ok: {self.checked} entries, hash chain intact{head}"
        return f"entry {self.bad_seq}: {self.problem}"


class Ledger(ABC):
    """An append-only, hash-chained log of :class:`Record` s."""

    @abstractmethod
    def append(self, record: Record) -> Entry:
        """Add ``record`` after the current head, atomically, and return its entry."""

    @abstractmethod
    def stored(self, *, thread_id: str | None = None) -> Iterator[StoredEntry]:
        """Stored entries in ``seq`` order (of one thread if given), exactly as stored."""

    @abstractmethod
    def head(self) -> Anchor | None:
        """The last entry's ``seq:hash``, or None while empty."""

    def entries(self, *, thread_id: str | None = None) -> Iterator[Entry]:
        """Entries with their records parsed, in order."""
        for stored in self.stored(thread_id=thread_id):
            yield stored.to_entry()

    def verify(self, *, anchor: Anchor | None = None) -> VerifyReport:
        """Check the whole chain (and the tail against ``anchor``); stops at the first bad entry."""
        return verify_entries(self.stored(), anchor=anchor)


def verify_entries(entries: Iterable[StoredEntry], *, anchor: Anchor | None = None) -> VerifyReport:
    """Walk ``entries`` in stored order; report the first one that breaks the chain."""
    expected_seq, prev, checked = 1, GENESIS, 0
    head: Anchor | None = None
    anchor_seen = False
    for entry in entries:
        problem = _check(entry, expected_seq=expected_seq, prev=prev)
        if problem is not None:
            return VerifyReport(ok=False, checked=checked, head=head, bad_seq=entry.seq, problem=problem)
        if anchor is not None and entry.seq == anchor.seq:
            anchor_seen = True
            if entry.hash != anchor.hash:
                return VerifyReport(
                    ok=False,
                    checked=checked,
                    head=head,
                    bad_seq=entry.seq,
                    problem=f"hash {entry.hash[:16]}... differs from the anchor {str(anchor)[:24]}...: "
                    "history up to the anchor was rewritten",
                )
        checked += 1
        expected_seq, prev = entry.seq + 1, entry.hash
        head = Anchor(seq=entry.seq, hash=entry.hash)
    if anchor is not None and not anchor_seen:
        last = head.seq if head else 0
        return VerifyReport(
            ok=False,
            checked=checked,
            head=head,
            bad_seq=last + 1,
            problem=f"missing: the ledger ends at entry {last} but the anchor records entry {anchor.seq}; "
            f"entries {last + 1}..{anchor.seq} were cut off",
        )
    return VerifyReport(ok=True, checked=checked, head=head)


def _check(entry: StoredEntry, *, expected_seq: int, prev: str) -> str | None:
    if entry.seq > expected_seq:
        missing = (
            f"entry {expected_seq}"
            if entry.seq == expected_seq + 1
            else f"entries {expected_seq}..{entry.seq - 1}"
        )
        return f"{missing} before it is missing (deleted)"
    if entry.seq < expected_seq:
        return f"out of order: expected entry {expected_seq} here (entries were inserted or moved)"
    try:
        record = json.loads(entry.body)
        canonical = canonical_json(record)
    except (ValueError, TypeError) as error:
        return f"the record is not valid JSON ({error}): edited"
    if canonical != entry.body:
        return "the record is not in canonical form: edited"
    if entry_hash(seq=entry.seq, prev_hash=entry.prev_hash, record=record) != entry.hash:
        return "the record does not match its hash: edited, moved or forged"
    if entry.prev_hash != prev:
        before = "the start of the ledger" if expected_seq == 1 else f"entry {expected_seq - 1}"
        return f"does not chain to {before}: an entry before it was deleted, inserted or replaced"
    if entry.thread_id is not None and entry.thread_id != (
        record.get("thread_id") if isinstance(record, dict) else None
    ):
        return "the thread_id column differs from the record: edited"
    return None
