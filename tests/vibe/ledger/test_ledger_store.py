"""The SQLite ledger: appends chain, reads back, refuses updates, and is safe for concurrent processes."""

from __future__ import annotations

import multiprocessing
import pickle
import sqlite3
from collections.abc import Callable
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from vibe.core.config import ConfigError, validate
from vibe.ledger import GENESIS, Record, SqliteLedger, digest, entry_hash


def test_entries_chain_from_genesis(ledger: SqliteLedger) -> None:
    entries = list(ledger.entries())
    assert [e.seq for e in entries] == list(range(1, 11))
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in pairwise(entries))
    assert entries[3].hash == entry_hash(
        seq=4, prev_hash=entries[2].hash, record=entries[3].record.model_dump(mode="json")
    )


def test_records_read_back_equal(ledger: SqliteLedger, make_record: Callable[[int], Record]) -> None:
    assert [e.record for e in ledger.entries()] == [make_record(i) for i in range(10)]


def test_head_is_the_last_entry(ledger: SqliteLedger) -> None:
    last = list(ledger.entries())[-1]
    assert (ledger.head().seq, ledger.head().hash) == (10, last.hash)  # type: ignore[union-attr]


def test_empty_ledger(tmp_path: Path) -> None:
    with SqliteLedger(tmp_path / "l.sqlite") as store:
        assert store.head() is None
        assert store.verify().ok and store.verify().checked == 0


def test_thread_filter(ledger: SqliteLedger) -> None:
    assert [e.seq for e in ledger.entries(thread_id="thread-1")] == [2, 4, 6, 8, 10]


def test_paging_reads_every_entry(ledger: SqliteLedger) -> None:
    assert [s.seq for s in ledger.stored(page=3)] == list(range(1, 11))


def test_updates_and_deletes_are_refused(ledger: SqliteLedger) -> None:
    conn = sqlite3.connect(ledger.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE entries SET body = '{}' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM entries WHERE seq = 10")
    conn.close()
    assert ledger.verify().ok


def test_wal_mode(ledger: SqliteLedger) -> None:
    conn = sqlite3.connect(ledger.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_reopening_continues_the_chain(ledger: SqliteLedger, make_record: Callable[[int], Record]) -> None:
    with SqliteLedger(ledger.path) as again:
        entry = again.append(make_record(10))
    assert entry.seq == 11
    assert ledger.verify().ok and ledger.head().seq == 11  # type: ignore[union-attr]


def test_pickled_ledger_appends_to_the_same_file(
    ledger: SqliteLedger, make_record: Callable[[int], Record]
) -> None:
    clone = pickle.loads(pickle.dumps(ledger))
    clone.append(make_record(11))
    clone.close()
    assert ledger.head().seq == 11  # type: ignore[union-attr]


def _append_many(path: str, worker: int, count: int, start: Any) -> None:
    with SqliteLedger(path) as store:
        start.wait()  # every worker has its connection open: the appends below race each other
        for i in range(count):
            store.append(
                Record(thread_id=f"worker-{worker}", actor="tool", kind="tool_result", outputs={"i": i})
            )


def test_concurrent_processes_append_one_chain(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite")
    SqliteLedger(path).close()
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(4)
    workers = [context.Process(target=_append_many, args=(path, w, 60, start)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
        assert process.exitcode == 0
    with SqliteLedger(path) as store:
        report = store.verify()
        assert report.ok, str(report)
        assert report.checked == 240
        per_worker = [[e.record.outputs for e in store.entries(thread_id=f"worker-{w}")] for w in range(4)]
    assert all(outputs == [{"i": i} for i in range(60)] for outputs in per_worker)


def test_record_needs_an_aware_time() -> None:
    with pytest.raises(ConfigError, match=r"time: .*must be timezone-aware"):
        validate(
            Record,
            {"time": datetime(2025, 1, 1), "thread_id": "t", "actor": "llm", "kind": "note"},
            source="r",
        )


def test_record_rejects_unknown_kind_and_actor() -> None:
    with pytest.raises(ConfigError) as error:
        validate(Record, {"thread_id": "t", "actor": "robot", "kind": "thinking"}, source="r")
    assert "r: actor: got 'robot'" in str(error.value)
    assert "r: kind: got 'thinking'" in str(error.value)


def test_inputs_hash_must_be_a_digest() -> None:
    assert Record(thread_id="t", actor="llm", kind="note", inputs_hash=digest({"a": 1})).inputs_hash
    with pytest.raises(ConfigError, match="64 lowercase hex"):
        validate(Record, {"thread_id": "t", "actor": "llm", "kind": "note", "inputs_hash": "abc"}, source="r")


def test_outputs_must_be_json(tmp_path: Path) -> None:
    with (
        SqliteLedger(tmp_path / "l.sqlite") as store,
        pytest.raises(ValueError, match="replace NaN/Infinity in outputs"),
    ):
        store.append(Record(thread_id="t", actor="tool", kind="tool_result", outputs={"loss": float("nan")}))
