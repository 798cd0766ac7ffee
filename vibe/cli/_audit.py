"""``vibe audit verify|show|export|head``: what an auditor runs against the decision ledger."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from vibe.cli._errors import user_errors

app = typer.Typer(no_args_is_help=True, help="Verify, show and export the decision ledger.")

LedgerPath = Annotated[
    Path | None,
    typer.Option(
        "--ledger",
        envvar="VIBE_LEDGER",
        help="ledger file (default: runs/ledger.sqlite, where `vibe run` records)",
    ),
]


def _open(path: Path | None):
    from vibe.core.errors import UserError
    from vibe.ledger import SqliteLedger, default_ledger_path

    path = path or default_ledger_path()
    if not path.is_file():
        raise UserError(f"{path}: no ledger there; pass --ledger PATH (or set VIBE_LEDGER)")
    return SqliteLedger(path)


@app.command("verify")
def verify(
    ledger: LedgerPath = None,
    anchor: Annotated[
        str | None, typer.Option(help="a head recorded earlier (SEQ:HASH from `vibe audit head`)")
    ] = None,
    export: Annotated[
        Path | None, typer.Option(help="verify this JSONL export instead of the ledger")
    ] = None,
    policy: Annotated[
        list[Path] | None,
        typer.Option(
            "--policy", help="check every approval entry's signature against these files' approver keys"
        ),
    ] = None,
    approvals: Annotated[
        Path | None,
        typer.Option(help="approvals store holding the anchors (default: $VIBE_CACHE/approvals/...)"),
    ] = None,
) -> None:
    """Check the hash chain against the newest anchor kept for this ledger (finished threads keep one in the
    approvals store, and in the policy's retention.anchor_file); with --policy, every approval's signature.
    Name the first bad entry and exit 1 if anything was edited, removed, moved, cut off or forged."""
    from vibe.core.errors import UserError
    from vibe.core.log import console
    from vibe.ledger import Anchor, default_ledger_path, read_export, verify_entries

    with user_errors():
        try:
            expected = Anchor.parse(anchor) if anchor else None
        except ValueError as error:
            raise UserError(f"--anchor: {error}") from None
        policies = None
        if policy:
            from policies import load_policies

            policies = load_policies(policy)
        if export is not None:
            report = verify_entries(read_export(export), anchor=expected)
            forged = None
        else:
            path = ledger or default_ledger_path()
            with _open(ledger) as store:
                kept = _kept_anchors(path, approvals, policies)
                if expected is None and kept:
                    expected = max(kept, key=lambda a: a.seq)
                report = store.verify(anchor=expected)
                forged = _forged_approval(store, policies) if report.ok and policies is not None else None
    if not report.ok:
        console.print(f"[bold red]TAMPERED:[/] {report}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(1)
    if forged:
        console.print(f"[bold red]FORGED:[/] {forged}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(1)
    typer.echo(
        str(report)
        + (f" (anchor {expected.seq} checked)" if expected else "")
        + (", approval signatures verified" if policies is not None else "")
    )


def _kept_anchors(ledger: Path, approvals: Path | None, policies) -> list:
    """The anchors kept for ``ledger``: in the approvals store and in the policy's anchor file."""
    from vibe.approvals import ApprovalStore, default_store_path
    from vibe.ledger import Anchor

    kept: list[Anchor] = []
    store_path = approvals or default_store_path()
    if store_path.is_file():
        with ApprovalStore(store_path) as store:
            kept += store.anchors(ledger)
    anchor_file = policies.retention.anchor_file if policies is not None else None
    if anchor_file and Path(anchor_file).is_file():
        me = str(ledger.resolve()) + " "  # a line is "LEDGER SEQ:HASH THREAD"; the path may hold spaces
        for line in Path(anchor_file).read_text(encoding="utf-8").splitlines():
            parts = line[len(me) :].split() if line.startswith(me) else []
            if parts:
                try:
                    kept.append(Anchor.parse(parts[0]))
                except ValueError:
                    continue
    return kept


def _forged_approval(store, policies) -> str | None:
    """The first approval entry whose signature does not verify against the policy's key, or None."""
    from pydantic import ValidationError

    from vibe.approvals import SignedDecision, verify_signature

    for entry in store.entries():
        record = entry.record
        if record.kind != "approval":
            continue
        if not record.signature:
            return f"entry {entry.seq}: an approval entry without a signature"
        try:
            signed = SignedDecision.model_validate(record.signature)
        except ValidationError:
            return f"entry {entry.seq}: the approval's signature is malformed"
        key = policies.public_key(signed.approver)
        if key is None:
            return f"entry {entry.seq}: {signed.approver} is not an approver in the policy given"
        if not verify_signature(key, signed.payload(), signed.signature):
            return f"entry {entry.seq}: the signature of {signed.approver} does not verify against their key"
    return None


@app.command("head")
def head(ledger: LedgerPath = None) -> None:
    """Print the head (SEQ:HASH); keep it elsewhere and pass it to `verify --anchor` to detect truncation."""
    with user_errors(), _open(ledger) as store:
        anchor = store.head()
    typer.echo(str(anchor) if anchor else "empty")


@app.command("show")
def show(
    ledger: LedgerPath = None,
    thread: Annotated[str | None, typer.Option(help="only this thread")] = None,
    last: Annotated[int, typer.Option(min=1, help="show the last N entries")] = 50,
) -> None:
    """A table of the last entries: time, thread, actor, kind, action, outcome, rules and reason."""
    from collections import deque

    from rich.console import Console
    from rich.table import Table

    with user_errors(), _open(ledger) as store:
        entries = deque(store.entries(thread_id=thread), maxlen=last)
    table = Table(title=f"ledger {'thread ' + thread if thread else ''}".strip(), show_lines=False)
    for column in ("seq", "time (UTC)", "thread", "actor", "kind", "action", "outcome", "rules", "reason"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        r = entry.record
        table.add_row(
            str(entry.seq),
            r.time.strftime("%Y-%m-%d %H:%M:%S"),
            r.thread_id,
            r.actor,
            r.kind,
            r.action or "",
            r.outcome or "",
            ", ".join(r.rule_ids),
            r.reason,
        )
    Console(width=200).print(table)


@app.command("export")
def export(
    ledger: LedgerPath = None,
    out: Annotated[Path | None, typer.Option(help="write here instead of stdout")] = None,
) -> None:
    """Write every entry as JSON Lines (seq, prev_hash, hash, record); `verify --export FILE` checks it."""
    from vibe.core.log import console
    from vibe.ledger import write_export

    with user_errors(), _open(ledger) as store:
        if out is None:
            count = write_export(store.stored(), sys.stdout)
        else:
            with out.open("w", encoding="utf-8") as handle:
                count = write_export(store.stored(), handle)
    console.print(f"exported {count} entries" + (f" to {out}" if out else ""), highlight=False)
