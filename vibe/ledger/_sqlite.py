"""The default ledger store: one SQLite file in WAL mode, safe for several processes appending at once.

``append`` runs ``BEGIN IMMEDIATE`` (the write lock), reads the head, inserts the next entry and commits:
two processes can never chain onto the same head. Triggers refuse UPDATE and DELETE, so the store is
append-only for every ordinary client (someone who edits the file directly is what ``verify`` is for).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vibe.core.errors import UserError
from vibe.ledger._base import Ledger, StoredEntry
from vibe.ledger._canonical import GENESIS, canonical_json, entry_hash
from vibe.ledger._record import Anchor, Entry, Record

__all__ = ["SqliteLedger", "default_ledger_path"]

SCHEMA_VERSION = "1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    thread_id TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_thread ON entries (thread_id, seq);
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
"""


def default_ledger_path(workdir: str | Path = "runs") -> Path:
    """The one default for every command: ``$VIBE_LEDGER``, else ``WORKDIR/ledger.sqlite`` (``runs/`` unless
    told otherwise), which is where ``vibe run`` and ``vibe chat`` record and ``vibe audit`` looks."""
    import os

    return Path(os.environ.get("VIBE_LEDGER") or Path(workdir) / "ledger.sqlite")


class SqliteLedger(Ledger):
    """A :class:`Ledger` in the SQLite file ``path`` (created if missing). Picklable: it reopens by path."""

    def __init__(self, path: str | Path, *, timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, timeout=timeout_s, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
        except sqlite3.DatabaseError as error:
            raise UserError(
                f"{self.path}: cannot open the ledger ({error}); pass --ledger with a SQLite file"
            ) from None

    def append(self, record: Record) -> Entry:
        body_obj = record.model_dump(mode="json")
        try:
            body = canonical_json(body_obj)
        except ValueError as error:  # NaN or Infinity somewhere in outputs
            raise ValueError(
                f"the record is not valid JSON ({error}); replace NaN/Infinity in outputs"
            ) from None
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._conn.execute("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
                seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
                digest = entry_hash(seq=seq, prev_hash=prev, record=body_obj)
                self._conn.execute(
                    "INSERT INTO entries (seq, thread_id, prev_hash, hash, body) VALUES (?, ?, ?, ?, ?)",
                    (seq, record.thread_id, prev, digest, body),
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return Entry(seq=seq, prev_hash=prev, hash=digest, record=record)

    def stored(self, *, thread_id: str | None = None, page: int = 1000) -> Iterator[StoredEntry]:
        query = "SELECT seq, prev_hash, hash, body, thread_id FROM entries WHERE seq > ?"
        if thread_id is not None:
            query += " AND thread_id = ?"
        query += " ORDER BY seq LIMIT ?"
        last = -(2**63)
        while True:  # page by seq, so a long ledger is never held in memory at once
            args: tuple[Any, ...] = (last, thread_id, page) if thread_id is not None else (last, page)
            with self._lock:
                rows = self._conn.execute(query, args).fetchall()
            for seq, prev, digest, body, thread in rows:
                yield StoredEntry(seq=seq, prev_hash=prev, hash=digest, body=body, thread_id=thread)
            if len(rows) < page:
                return
            last = rows[-1][0]

    def head(self) -> Anchor | None:
        with self._lock:
            row = self._conn.execute("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
        return Anchor(seq=row[0], hash=row[1]) if row else None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SqliteLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self.path), "timeout_s": self.timeout_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], timeout_s=state["timeout_s"])  # type: ignore[misc]
