"""``vibe approvals list|show|approve|reject|keygen``: how a team lead decides what the agent waits for."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated, Literal

import typer

from vibe.cli._errors import user_errors

app = typer.Typer(no_args_is_help=True, help="Review, approve and reject actions waiting for a lead.")

StorePath = Annotated[
    Path | None,
    typer.Option(
        "--store", envvar="VIBE_APPROVALS", help="approvals file (default: $VIBE_CACHE/approvals/...)"
    ),
]
LedgerPath = Annotated[
    Path | None,
    typer.Option(
        "--ledger", envvar="VIBE_LEDGER", help="ledger that records the decision (default: the usual one)"
    ),
]
PolicyFiles = Annotated[
    list[Path],
    typer.Option(
        "--policy", "-p", envvar="VIBE_POLICY", help="policy files in force (approvers and their keys)"
    ),
]
Approver = Annotated[
    str | None,
    typer.Option("--as", help="your approver name in the policy (default: $VIBE_APPROVER or login)"),
]
KeyPath = Annotated[
    Path | None, typer.Option("--key", help="private key file (default: the keygen location)")
]


def _store(path: Path | None):
    from vibe.approvals import ApprovalStore, default_store_path

    return ApprovalStore(path or default_store_path())


@app.command("list")
def list_requests(
    store: StorePath = None,
    all_: Annotated[bool, typer.Option("--all", help="include decided and expired requests")] = False,
) -> None:
    """Requests waiting for a decision (all requests with --all)."""
    from rich.console import Console
    from rich.table import Table

    with user_errors(), _store(store) as approvals:
        requests = approvals.list() if all_ else approvals.pending()
    table = Table(title="approval requests" if all_ else "pending approval requests")
    for column in (
        "id",
        "created (UTC)",
        "expires (UTC)",
        "status",
        "requester",
        "action",
        "rules",
        "summary",
    ):
        table.add_column(column, overflow="fold")
    for r in requests:
        table.add_row(
            r.id,
            f"{r.created:%Y-%m-%d %H:%M}",
            f"{r.expires:%Y-%m-%d %H:%M}",
            r.status,
            r.requester,
            r.action.kind,
            ", ".join(n.rule for n in r.rules),
            r.summary,
        )
    Console(width=200).print(table)


@app.command("show")
def show(request_id: Annotated[str, typer.Argument(metavar="ID")], store: StorePath = None) -> None:
    """Everything a lead needs to decide request ID: the plan, cost, data, rules and decisions so far."""
    from rich.console import Console

    with user_errors(), _store(store) as approvals:
        r = approvals.get(request_id)
    out = Console(highlight=False, soft_wrap=True)
    out.print(f"[bold]request {r.id}[/]  status [bold]{r.status}[/]")
    out.print(f"created {r.created:%Y-%m-%d %H:%M:%S} UTC, expires {r.expires:%Y-%m-%d %H:%M:%S} UTC")
    out.print(f"requester {r.requester}, thread {r.thread_id}")
    out.print(f"action    {r.action.model_dump_json(exclude_defaults=True)}")
    out.print(f"summary   {r.summary}")
    cost = ", ".join(f"{k} {v}" for k, v in r.cost.model_dump(exclude_defaults=True).items()) or "not stated"
    out.print(f"cost      {cost}")
    out.print(f"data      {', '.join(r.data_touched) or 'none'}")
    for need in r.rules:
        out.print(f"rule      {need.rule} (approvers: {', '.join(need.groups)}): {need.reason}")
    for d in r.decisions:
        s = d.signed
        out.print(
            f"decision  {s.decision} by {s.approver} at {s.time:%Y-%m-%d %H:%M:%S} ({', '.join(d.covers)}) {s.reason}"
        )
    out.print(f"hash      {r.request_hash}")


def _decide(
    verdict: Literal["approve", "reject"],
    request_id: str,
    *,
    approver: str | None,
    key: Path | None,
    reason: str,
    policy: list[Path],
    store: Path | None,
    ledger: Path | None,
) -> None:
    from policies import load_policies
    from vibe.approvals import load_private_key, public_key_text, sign_decision
    from vibe.errors import UserError
    from vibe.ledger import SqliteLedger, default_ledger_path

    name = approver or os.environ.get("VIBE_APPROVER") or getpass.getuser()
    with user_errors(), _store(store) as approvals:
        policies = load_policies(policy)
        private = load_private_key(name, path=key)
        listed = policies.public_key(name)
        if listed is None:
            raise UserError(f"{name} is not listed in any approvers group of the policy; pass --as NAME")
        if public_key_text(private) != listed:
            raise UserError(f"the key for {name} does not match the public key the policy lists for {name}")
        request = approvals.get(request_id)
        signed = sign_decision(request=request, decision=verdict, approver=name, key=private, reason=reason)
        with SqliteLedger(ledger or default_ledger_path()) as log:
            updated = approvals.decide(signed, policies=policies, ledger=log)
    typer.echo(f"{verdict}d request {updated.id} as {name}: status {updated.status}")


@app.command("approve")
def approve(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    policy: PolicyFiles,
    approver: Approver = None,
    key: KeyPath = None,
    reason: Annotated[str, typer.Option(help="why (recorded, signed)")] = "",
    store: StorePath = None,
    ledger: LedgerPath = None,
) -> None:
    """Sign an approval of request ID with your key; it counts only if the policy names you for its rules."""
    _decide(
        "approve",
        request_id,
        approver=approver,
        key=key,
        reason=reason,
        policy=policy,
        store=store,
        ledger=ledger,
    )


@app.command("reject")
def reject(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    reason: Annotated[str, typer.Option(help="why (recorded, signed, shown to the requester)")],
    policy: PolicyFiles,
    approver: Approver = None,
    key: KeyPath = None,
    store: StorePath = None,
    ledger: LedgerPath = None,
) -> None:
    """Sign a rejection of request ID; one rejection by an eligible approver rejects the request."""
    _decide(
        "reject",
        request_id,
        approver=approver,
        key=key,
        reason=reason,
        policy=policy,
        store=store,
        ledger=ledger,
    )


@app.command("keygen")
def keygen(
    name: Annotated[str, typer.Argument(help="your approver name, as it will appear in the policy")],
    force: Annotated[bool, typer.Option(help="replace an existing key")] = False,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="key directory (default: $VIBE_CACHE/keys)")
    ] = None,
) -> None:
    """Create an ed25519 key for NAME (private part 0600 on disk) and print the public key for the policy."""
    from vibe.approvals import generate_key
    from vibe.log import console

    with user_errors():
        path, public = generate_key(name, directory=directory, force=force)
    console.print(
        f"private key written to {path} (mode 0600); paste this line under approvers.<group>.members:"
    )
    typer.echo(f'{name}: "{public}"')
