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
) -> None:
    """Check the hash chain; name the first bad entry and exit 1 if anything was edited, removed or moved."""
    from vibe.core.log import console
    from vibe.ledger import Anchor, read_export, verify_entries

    with user_errors():
        try:
            expected = Anchor.parse(anchor) if anchor else None
        except ValueError as error:
            from vibe.core.errors import UserError

            raise UserError(f"--anchor: {error}") from None
        if export is not None:
            report = verify_entries(read_export(export), anchor=expected)
        else:
            with _open(ledger) as store:
                report = store.verify(anchor=expected)
    if not report.ok:
        console.print(f"[bold red]TAMPERED:[/] {report}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(1)
    typer.echo(str(report))


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
