"""Fixtures for the ledger tests: a real SQLite ledger with entries, and raw access for tampering."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vibe.ledger import Record, SqliteLedger

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def make_record(i: int) -> Record:
    """A realistic record: the i-th decision, alternating between two threads."""
    kinds = ["goal_parsed", "plan_chosen", "gate", "tool_called", "tool_result"]
    return Record(
        time=T0 + timedelta(seconds=i),
        thread_id=f"thread-{i % 2}",
        actor="planner" if i % 5 != 2 else "policy",
        kind=kinds[i % 5],  # type: ignore[arg-type]
        action="train.run",
        outputs={"step": i, "loss": 3.5 - i / 10, "tags": ["a", "é"]},
        reason=f"decision {i}",
        policy_hashes={"/etc/vibe/org.yaml": "ab" * 32},
        rule_ids=["org:compute"] if i % 5 == 2 else [],
        outcome="allow" if i % 5 == 2 else "ok",
    )


@pytest.fixture(name="make_record")
def make_record_fixture() -> Callable[[int], Record]:
    return make_record


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[SqliteLedger]:
    """A ledger holding entries 1..10."""
    with SqliteLedger(tmp_path / "ledger.sqlite") as store:
        for i in range(10):
            store.append(make_record(i))
        yield store


@pytest.fixture
def tamper(ledger: SqliteLedger) -> Callable[[str, tuple[object, ...]], None]:
    """Run SQL on the ledger file directly, as an attacker with file access would (triggers dropped first)."""

    def _tamper(sql: str, args: tuple[object, ...] = ()) -> None:
        conn = sqlite3.connect(ledger.path, isolation_level=None)
        conn.execute("DROP TRIGGER IF EXISTS entries_no_update")
        conn.execute("DROP TRIGGER IF EXISTS entries_no_delete")
        conn.execute(sql, args)
        conn.close()

    return _tamper


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Error lines printed by ``user_errors`` are not wrapped at 80 columns, so tests can match them whole."""
    from vibe.core.log import console

    monkeypatch.setattr(console, "_width", 10_000)
