"""Automatic anchors and approval signatures in `vibe audit verify` (issue #10, medium 8).

Without anyone keeping `vibe audit head`, a ledger cut short or rewritten end to end is caught through the
heads finished threads keep in the approvals store (and the policy's anchor file); with --policy, an
approval entry whose signature does not verify against the approver's key is caught too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from vibe.agent import Agent, AgentSettings
from vibe.approvals import ApprovalStore, public_key_text
from vibe.cli import audit_app as app
from vibe.ledger import Record, SqliteLedger


def _verify(ledger: Path, store: Path, *more: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["verify", "--ledger", str(ledger), "--approvals", str(store), *more])
    return result.exit_code, result.output


def test_truncation_is_caught_through_the_kept_anchor(
    ledger: SqliteLedger, tamper: Callable[[str, tuple[object, ...]], None], tmp_path: Path
) -> None:
    store_path = tmp_path / "approvals.sqlite"
    with ApprovalStore(store_path) as store:
        head = ledger.head()
        assert head is not None
        store.anchor(ledger=ledger.path, head=head, thread_id="thread-1")
    assert _verify(ledger.path, store_path)[0] == 0
    tamper("DELETE FROM entries WHERE seq > 7", ())
    code, output = _verify(ledger.path, store_path)
    assert code == 1 and "missing: the ledger ends at entry 7 but the anchor records entry 10" in output


def test_a_ledger_rewritten_end_to_end_is_caught(
    ledger: SqliteLedger, tmp_path: Path, make_record: Callable[[int], Record]
) -> None:
    store_path = tmp_path / "approvals.sqlite"
    with ApprovalStore(store_path) as store:
        head = ledger.head()
        assert head is not None
        store.anchor(ledger=ledger.path, head=head, thread_id="thread-1")
    path = ledger.path
    ledger.close()
    path.unlink()
    with SqliteLedger(path) as forged:  # a whole new, internally consistent chain
        for i in range(10):
            forged.append(make_record(i).model_copy(update={"reason": f"rewritten {i}"}))
    code, output = _verify(path, store_path)
    assert code == 1 and "differs from the anchor" in output


def test_an_approval_entry_with_a_forged_signature_is_caught(
    tmp_path: Path, make_record: Callable[[int], Record]
) -> None:
    alice = Ed25519PrivateKey.generate()
    policy = tmp_path / "org.yaml"
    policy.write_text(
        "version: 1\nname: org\ndefault: allow\napprovers:\n  leads:\n"
        f'    members: {{alice: "{public_key_text(alice)}"}}\n    may_approve: [train.run]\n',
        encoding="utf-8",
    )
    mallory = Ed25519PrivateKey.generate()
    from vibe.approvals import ApprovalRequest, sign_decision

    fake = ApprovalRequest.model_construct(id="r1", request_hash="h" * 64)
    signed = sign_decision(request=fake, decision="approve", approver="alice", key=mallory)
    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        ledger.append(make_record(0))
        ledger.append(
            Record(
                thread_id="t",
                actor="approver",
                kind="approval",
                action="train.run",
                reason="approved",
                outcome="approved",
                signature=signed.model_dump(mode="json"),
            )
        )
    code, output = _verify(tmp_path / "ledger.sqlite", tmp_path / "none.sqlite", "--policy", str(policy))
    assert code == 1 and "FORGED: entry 2: the signature of alice does not verify" in output
    code, output = _verify(tmp_path / "ledger.sqlite", tmp_path / "none.sqlite")
    assert code == 0  # the chain itself is intact: only the signature check sees it


def test_a_finished_thread_anchors_its_head_and_verify_reads_the_policy_anchor_file(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIBE_CACHE", str(tmp_path / "cache"))
    anchors = tmp_path / "offsite" / "vibe.anchors"
    anchors.parent.mkdir()
    policy = tmp_path / "org.yaml"
    policy.write_text(
        f"version: 1\nname: org\ndefault: allow\nretention:\n  anchor_file: {anchors}\n", encoding="utf-8"
    )
    store_path, ledger_path = tmp_path / "approvals.sqlite", tmp_path / "my runs" / "ledger.sqlite"
    settings = AgentSettings(
        workdir=str(ledger_path.parent),  # a space in the path: the anchor file must still be read right
        policies=[str(policy)],
        approvals=str(store_path),
        measure_local_flops=False,
    )
    with Agent.open(settings) as agent:  # an estimate: a whole thread, up to its report, with no training
        assert agent.run(f"how much would a 7B on {corpus} cost?", thread_id="e 1").status == "estimated"
        checkpoint = agent.graph.get_state({"configurable": {"thread_id": "e 1"}}).values
    with SqliteLedger(ledger_path) as ledger:
        head = ledger.head()
    assert head is not None and head.seq > 2
    assert checkpoint["ledger_head"] == str(head)  # in the thread's checkpoint
    with ApprovalStore(store_path) as store:
        assert store.anchors(ledger_path) == [head]  # in the approvals store
    assert anchors.read_text(encoding="utf-8") == f"{ledger_path.resolve()} {head} e 1\n"  # and off-site
    elsewhere = tmp_path / "no-store.sqlite"  # below, only the anchor file can know the real head
    code, output = _verify(ledger_path, elsewhere, "--policy", str(policy))
    assert code == 0 and f"(anchor {head.seq} checked)" in output
    conn = sqlite3.connect(ledger_path, isolation_level=None)  # cut the ledger short, as in the first test
    conn.execute("DROP TRIGGER IF EXISTS entries_no_delete")
    conn.execute("DELETE FROM entries WHERE seq > ?", (head.seq - 2,))
    conn.close()
    code, output = _verify(ledger_path, elsewhere, "--policy", str(policy))
    assert code == 1
    assert (
        f"missing: the ledger ends at entry {head.seq - 2} but the anchor records entry {head.seq}" in output
    )
    assert _verify(ledger_path, elsewhere)[0] == 0  # without the policy (and its anchor file) it goes unseen
    assert _verify(ledger_path, store_path)[0] == 1  # the store's anchor catches it too
