"""`vibe audit verify|head|show|export` on a real ledger file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from vibe.cli import audit_app as app
from vibe.ledger import SqliteLedger

Tamper = Callable[..., None]


def test_verify_ok(ledger: SqliteLedger) -> None:
    result = CliRunner().invoke(app, ["verify", "--ledger", str(ledger.path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: 10 entries, hash chain intact, head 10:")


def test_verify_names_the_first_bad_entry_and_fails(ledger: SqliteLedger, tamper: Tamper) -> None:
    tamper("DELETE FROM entries WHERE seq = 3")
    result = CliRunner().invoke(app, ["verify", "--ledger", str(ledger.path)])
    assert result.exit_code == 1
    assert "TAMPERED: entry 4: entry 3 before it is missing (deleted)" in result.output


def test_head_then_truncation_is_caught(ledger: SqliteLedger, tamper: Tamper) -> None:
    head = CliRunner().invoke(app, ["head", "--ledger", str(ledger.path)]).output.strip()
    tamper("DELETE FROM entries WHERE seq = 10")
    assert CliRunner().invoke(app, ["verify", "--ledger", str(ledger.path)]).exit_code == 0
    result = CliRunner().invoke(app, ["verify", "--ledger", str(ledger.path), "--anchor", head])
    assert result.exit_code == 1
    assert "entry 10: missing: the ledger ends at entry 9" in result.output


def test_bad_anchor_is_a_user_error(ledger: SqliteLedger) -> None:
    result = CliRunner().invoke(app, ["verify", "--ledger", str(ledger.path), "--anchor", "ten"])
    assert result.exit_code == 2
    assert "--anchor: anchor 'ten' must be SEQ:HASH" in result.output


def test_missing_ledger_is_a_user_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["verify", "--ledger", str(tmp_path / "none.sqlite")])
    assert result.exit_code == 2
    assert "none.sqlite: no ledger there" in result.output
    assert not (tmp_path / "none.sqlite").exists()


def test_show_one_thread(ledger: SqliteLedger) -> None:
    result = CliRunner().invoke(app, ["show", "--ledger", str(ledger.path), "--thread", "thread-1"])
    assert result.exit_code == 0, result.output
    reasons = [f"decision {i}" for i in range(10)]
    assert all((reason in result.output) == (int(reason.split()[1]) % 2 == 1) for reason in reasons)
    assert "org:compute" in result.output  # entry 7, a policy gate in thread-1


def test_export_then_verify_the_export(ledger: SqliteLedger, tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    result = CliRunner().invoke(app, ["export", "--ledger", str(ledger.path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, 11))
    verified = CliRunner().invoke(app, ["verify", "--export", str(out)])
    assert verified.exit_code == 0 and verified.output.startswith("ok: 10 entries")
    out.write_text("\n".join(lines[:4] + lines[5:]) + "\n", encoding="utf-8")
    broken = CliRunner().invoke(app, ["verify", "--export", str(out)])
    assert broken.exit_code == 1 and "entry 6: entry 5 before it is missing" in broken.output


def test_export_to_stdout_is_jsonl(ledger: SqliteLedger) -> None:
    result = CliRunner().invoke(app, ["export", "--ledger", str(ledger.path)])
    records = [json.loads(line)["record"] for line in result.stdout.splitlines()]
    assert [r["reason"] for r in records] == [f"decision {i}" for i in range(10)]
