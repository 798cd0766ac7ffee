"""The decision ledger: every decision the agent makes, in an append-only, hash-chained, verifiable log.

One record type (:class:`Record`) for every decision: who (actor), what (kind, action), on what
(inputs_hash), why (reason, rule_ids, the policy files' hashes), the result (outputs, outcome) and an
approver's signature where there is one. A store (:class:`Ledger`; :class:`SqliteLedger` is the default)
wraps each record in an :class:`Entry` whose hash covers the record, its position and the previous hash.

    ledger = SqliteLedger(default_ledger_path())
    ledger.append(Record(thread_id="t1", actor="planner", kind="plan_chosen", outputs={...}, reason="..."))
    report = ledger.verify(anchor=Anchor.parse("42:ab12..."))  # report.ok, report.bad_seq, report.problem

Hashes are sha256 over canonical JSON (:func:`canonical_json`). :func:`verify_entries` detects an edited,
deleted, inserted or moved entry and names the first bad one; cutting off the newest entries is only
detectable against an :class:`Anchor` (``vibe audit head``) recorded elsewhere beforehand. See ``_base.py``.
"""

from vibe.ledger._base import Ledger, StoredEntry, VerifyReport, verify_entries
from vibe.ledger._canonical import GENESIS, canonical_json, digest, entry_hash
from vibe.ledger._export import read_export, write_export
from vibe.ledger._record import Actor, Anchor, Entry, Record, RecordKind
from vibe.ledger._sqlite import SqliteLedger, default_ledger_path

__all__ = [
    "GENESIS",
    "Actor",
    "Anchor",
    "Entry",
    "Ledger",
    "Record",
    "RecordKind",
    "SqliteLedger",
    "StoredEntry",
    "VerifyReport",
    "canonical_json",
    "default_ledger_path",
    "digest",
    "entry_hash",
    "read_export",
    "verify_entries",
    "write_export",
]
