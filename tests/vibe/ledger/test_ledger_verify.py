"""Every kind of tampering is detected, and the first bad entry is named."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from vibe.ledger import (
    Anchor,
    Record,
    SqliteLedger,
    canonical_json,
    entry_hash,
    read_export,
    verify_entries,
    write_export,
)

Tamper = Callable[..., None]


def _body(ledger: SqliteLedger, seq: int) -> dict:
    return json.loads(next(s for s in ledger.stored() if s.seq == seq).body)


def test_untouched_ledger_verifies(ledger: SqliteLedger) -> None:
    report = ledger.verify()
    assert (report.ok, report.checked, report.bad_seq) == (True, 10, None)
    assert str(report).startswith("ok: 10 entries, hash chain intact, head 10:")


def test_edited_record_is_the_first_bad_entry(ledger: SqliteLedger, tamper: Tamper) -> None:
    body = _body(ledger, 4)
    body["outcome"] = "deny"
    tamper("UPDATE entries SET body = ? WHERE seq = 4", (canonical_json(body),))
    report = ledger.verify()
    assert (report.ok, report.bad_seq, report.checked) == (False, 4, 3)
    assert report.problem == "the record does not match its hash: edited, moved or forged"


def test_edit_with_recomputed_hash_breaks_the_next_link(ledger: SqliteLedger, tamper: Tamper) -> None:
    stored = {s.seq: s for s in ledger.stored()}
    body = _body(ledger, 4)
    body["reason"] = "nothing to see"
    forged = entry_hash(seq=4, prev_hash=stored[4].prev_hash, record=body)
    tamper("UPDATE entries SET body = ?, hash = ? WHERE seq = 4", (canonical_json(body), forged))
    report = ledger.verify()
    assert report.bad_seq == 5
    assert report.problem == "does not chain to entry 4: an entry before it was deleted, inserted or replaced"


def test_non_canonical_body_is_an_edit(ledger: SqliteLedger, tamper: Tamper) -> None:
    tamper("UPDATE entries SET body = ? WHERE seq = 2", (json.dumps(_body(ledger, 2), indent=1),))
    report = ledger.verify()
    assert (report.bad_seq, report.problem) == (2, "the record is not in canonical form: edited")


def test_edited_thread_column_is_detected(ledger: SqliteLedger, tamper: Tamper) -> None:
    tamper("UPDATE entries SET thread_id = 'other' WHERE seq = 7")
    report = ledger.verify()
    assert (report.bad_seq, report.problem) == (7, "the thread_id column differs from the record: edited")


def test_deleted_entry_is_named_by_the_next(ledger: SqliteLedger, tamper: Tamper) -> None:
    tamper("DELETE FROM entries WHERE seq = 6")
    report = ledger.verify()
    assert (report.bad_seq, report.problem) == (7, "entry 6 before it is missing (deleted)")


def test_deleted_first_entries(ledger: SqliteLedger, tamper: Tamper) -> None:
    tamper("DELETE FROM entries WHERE seq <= 2")
    report = ledger.verify()
    assert (report.bad_seq, report.problem) == (3, "entries 1..2 before it is missing (deleted)")


def test_deletion_with_renumbering_is_detected(ledger: SqliteLedger, tamper: Tamper) -> None:
    tamper("DELETE FROM entries WHERE seq = 6")
    for seq in range(7, 11):
        tamper("UPDATE entries SET seq = ? WHERE seq = ?", (seq - 1, seq))
    report = ledger.verify()
    assert (report.bad_seq, report.problem) == (
        6,
        "the record does not match its hash: edited, moved or forged",
    )


def _shift_up_from(tamper: Tamper, seq: int) -> None:
    for s in range(10, seq - 1, -1):
        tamper("UPDATE entries SET seq = ? WHERE seq = ?", (s + 1, s))


def test_inserted_entry_is_the_first_bad_entry(ledger: SqliteLedger, tamper: Tamper) -> None:
    _shift_up_from(tamper, 5)
    fake = canonical_json(
        Record(thread_id="thread-0", actor="approver", kind="approval").model_dump(mode="json")
    )
    previous = next(s for s in ledger.stored() if s.seq == 4)
    tamper(
        "INSERT INTO entries (seq, thread_id, prev_hash, hash, body) VALUES (5, 'thread-0', ?, ?, ?)",
        (previous.hash, "f" * 64, fake),
    )
    report = ledger.verify()
    assert (report.bad_seq, report.problem) == (
        5,
        "the record does not match its hash: edited, moved or forged",
    )


def test_well_forged_insertion_is_caught_at_the_entry_after(ledger: SqliteLedger, tamper: Tamper) -> None:
    _shift_up_from(tamper, 5)
    previous = next(s for s in ledger.stored() if s.seq == 4)
    fake = Record(thread_id="thread-0", actor="approver", kind="approval").model_dump(mode="json")
    digest = entry_hash(seq=5, prev_hash=previous.hash, record=fake)
    tamper(
        "INSERT INTO entries (seq, thread_id, prev_hash, hash, body) VALUES (5, 'thread-0', ?, ?, ?)",
        (previous.hash, digest, canonical_json(fake)),
    )
    report = ledger.verify()
    assert report.bad_seq == 6  # the moved original no longer matches its position
    assert report.problem == "the record does not match its hash: edited, moved or forged"


def test_reordered_entries_are_detected(ledger: SqliteLedger, tamper: Tamper) -> None:
    tamper("UPDATE entries SET seq = 100 WHERE seq = 3")
    tamper("UPDATE entries SET seq = 3 WHERE seq = 8")
    tamper("UPDATE entries SET seq = 8 WHERE seq = 100")
    report = ledger.verify()
    assert (report.bad_seq, report.checked) == (3, 2)
    assert report.problem == "the record does not match its hash: edited, moved or forged"


def test_truncated_tail_is_detected_against_a_recorded_head(ledger: SqliteLedger, tamper: Tamper) -> None:
    head = ledger.head()
    assert head is not None
    tamper("DELETE FROM entries WHERE seq > 7")
    assert ledger.verify().ok  # without an anchor a shorter chain is still a valid chain (documented)
    report = ledger.verify(anchor=Anchor.parse(str(head)))
    assert (report.ok, report.bad_seq) == (False, 8)
    assert report.problem == (
        "missing: the ledger ends at entry 7 but the anchor records entry 10; entries 8..10 were cut off"
    )


def test_rewritten_history_is_detected_against_a_recorded_head(ledger: SqliteLedger, tamper: Tamper) -> None:
    head = ledger.head()
    assert head is not None
    # an attacker with file access rewrites entry 9 and re-chains everything after it
    rows = {s.seq: s for s in ledger.stored()}
    prev = rows[8].hash
    for seq in (9, 10):
        body = json.loads(rows[seq].body)
        body["reason"] = "rewritten"
        digest = entry_hash(seq=seq, prev_hash=prev, record=body)
        tamper(
            "UPDATE entries SET body = ?, hash = ?, prev_hash = ? WHERE seq = ?",
            (canonical_json(body), digest, prev, seq),
        )
        prev = digest
    assert ledger.verify().ok
    report = ledger.verify(anchor=head)
    assert report.bad_seq == 10
    assert report.problem is not None and "differs from the anchor" in report.problem


def test_anchor_of_an_intact_ledger_verifies_after_more_appends(
    ledger: SqliteLedger, make_record: Callable[[int], Record]
) -> None:
    head = ledger.head()
    ledger.append(make_record(10))
    assert ledger.verify(anchor=head).ok


def test_export_round_trip_verifies(ledger: SqliteLedger, tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    with out.open("w", encoding="utf-8") as handle:
        assert write_export(ledger.stored(), handle) == 10
    assert verify_entries(read_export(out), anchor=ledger.head()).ok


def test_edited_export_is_detected(ledger: SqliteLedger, tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    with out.open("w", encoding="utf-8") as handle:
        write_export(ledger.stored(), handle)
    lines = out.read_text(encoding="utf-8").splitlines()
    line = json.loads(lines[1])
    line["record"]["outputs"]["loss"] = 0.01
    lines[1] = json.dumps(line)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = verify_entries(read_export(out))
    assert report.bad_seq == 2
