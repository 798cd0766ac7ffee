"""``vibe approvals list|show|approve|reject|resume|keygen|sign|login-token|serve``: how a lead decides
what the agent waits for, from the terminal or the approvals page."""

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
Resume = Annotated[
    bool, typer.Option("--resume", help="then continue the agent's thread here (needs --workdir)")
]
Workdir = Annotated[
    Path, typer.Option("--workdir", help="the agent's workdir (its threads, checkpointer and ledger)")
]
AgentConfig = Annotated[
    Path | None, typer.Option("--agent-config", help="the agent's settings YAML, if it was run with one")
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


def _approver(approver: str | None) -> str:
    return approver or os.environ.get("VIBE_APPROVER") or getpass.getuser()


def _checked_key(name: str, key: Path | None, policy: list[Path]):
    """``name``'s private key, checked against the public key the policy lists for them (when given)."""
    from policies import load_policies
    from vibe.approvals import load_private_key, public_key_text
    from vibe.core.errors import UserError

    private = load_private_key(name, path=key)
    if policy:
        listed = load_policies(policy).public_key(name)
        if listed is None:
            raise UserError(f"{name} is not listed in any approvers group of the policy; pass --as NAME")
        if public_key_text(private) != listed:
            raise UserError(f"the key for {name} does not match the public key the policy lists for {name}")
    return private


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
    resume: bool = False,
    workdir: Path = Path("runs"),
    agent_config: Path | None = None,
) -> None:
    from policies import load_policies
    from vibe.approvals import sign_decision
    from vibe.core.errors import UserError
    from vibe.core.identity import process_user
    from vibe.ledger import SqliteLedger, default_ledger_path

    name = _approver(approver)
    with user_errors(), _store(store) as approvals:
        if not policy:
            raise UserError("pass the policy files in force with --policy (or set VIBE_POLICY)")
        policies = load_policies(policy)
        private = _checked_key(name, key, policy)
        request = approvals.get(request_id)
        user = process_user()
        if verdict == "approve" and user == request.requester:
            raise UserError(
                f"request {request.id} was filed by the OS user {user}, who runs this command: a requester "
                "cannot approve their own request under another name (--as); the approver signs from their account"
            )
        signed = sign_decision(request=request, decision=verdict, approver=name, key=private, reason=reason)
        with SqliteLedger(ledger or default_ledger_path()) as log:
            updated = approvals.decide(signed, policies=policies, ledger=log)
    typer.echo(f"{verdict}d request {updated.id} as {name}: status {updated.status}")
    if updated.status == "pending":
        typer.echo("the request needs more approvals (another rule's group) before the agent goes on")
        return
    if resume:
        _continue(updated.id, store=store, policy=policy, workdir=workdir, agent_config=agent_config)
    else:
        policy_args = " ".join(f"--policy {p}" for p in policy)
        typer.echo(
            f"the agent's thread {updated.thread_id} goes on with: "
            f"vibe approvals resume {updated.id} --workdir {workdir} {policy_args}"
        )


def _continue(
    request_id: str, *, store: Path | None, policy: list[Path], workdir: Path, agent_config: Path | None
) -> None:
    """Continue the agent's thread of request ``request_id`` in this process, under the same policy."""
    from vibe.agent import Agent, AgentSettings, continue_thread
    from vibe.approvals import default_store_path
    from vibe.core.config import load_yaml
    from vibe.core.log import console

    with user_errors():
        with _store(store) as approvals:
            request = approvals.get(request_id)
        settings = load_yaml(agent_config, AgentSettings) if agent_config else AgentSettings()
        settings = settings.model_copy(
            update={
                "workdir": str(workdir),
                "policies": [str(p) for p in policy] or settings.policies,
                "approvals": str(store or settings.approvals or default_store_path()),
                "team": request.action.team,
            }
        )
        with Agent.open(settings, on_event=lambda line: console.print(f"[cyan]vibe[/] {line}")) as agent:
            outcome = continue_thread(agent, request.thread_id)
    if outcome.waiting_for is not None:
        waiting = outcome.waiting_for
        more = f" (request {waiting['request_id']})" if waiting.get("request_id") else ""
        typer.echo(f"thread {outcome.thread_id} is paused again, waiting for {waiting.get('kind')}{more}")
    else:
        typer.echo(
            f"thread {outcome.thread_id}: {outcome.status}"
            + (f": {outcome.reason}" if outcome.reason else "")
            + (f"\nreport: {outcome.report}" if outcome.report else "")
        )


@app.command("approve")
def approve(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    policy: PolicyFiles,
    approver: Approver = None,
    key: KeyPath = None,
    reason: Annotated[str, typer.Option(help="why (recorded, signed)")] = "",
    store: StorePath = None,
    ledger: LedgerPath = None,
    resume: Resume = False,
    workdir: Workdir = Path("runs"),
    agent_config: AgentConfig = None,
) -> None:
    """Sign an approval of request ID with your key; it counts only if the policy names you for its rules.

    With --resume the agent's thread continues here and now, where it paused (also after a restart)."""
    _decide(
        "approve",
        request_id,
        approver=approver,
        key=key,
        reason=reason,
        policy=policy,
        store=store,
        ledger=ledger,
        resume=resume,
        workdir=workdir,
        agent_config=agent_config,
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
    resume: Resume = False,
    workdir: Workdir = Path("runs"),
    agent_config: AgentConfig = None,
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
        resume=resume,
        workdir=workdir,
        agent_config=agent_config,
    )


@app.command("resume")
def resume_thread(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    policy: PolicyFiles,
    workdir: Workdir = Path("runs"),
    agent_config: AgentConfig = None,
    store: StorePath = None,
) -> None:
    """Continue the agent's thread of decided request ID: where it paused, or at the step it skipped."""
    from vibe.core.errors import UserError

    with user_errors():
        if not policy:
            raise UserError("pass the policy files in force with --policy (or set VIBE_POLICY)")
    _continue(request_id, store=store, policy=policy, workdir=workdir, agent_config=agent_config)


@app.command("sign")
def sign(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    request_hash: Annotated[
        str | None,
        typer.Option("--hash", help="the request's hash (as the page shows it); else read the store"),
    ] = None,
    reject_: Annotated[
        bool, typer.Option("--reject", help="sign a rejection instead of an approval")
    ] = False,
    reason: Annotated[str, typer.Option(help="why (signed; required to reject)")] = "",
    approver: Approver = None,
    key: KeyPath = None,
    policy: Annotated[
        list[Path], typer.Option("--policy", "-p", envvar="VIBE_POLICY", help="check your key against it")
    ] = [],  # noqa: B006 (typer reads the default, never mutates it)
    store: StorePath = None,
) -> None:
    """Print your signed approval (or rejection) of request ID, to paste into the approvals page."""
    import base64
    from datetime import UTC, datetime

    from vibe.approvals import SignedDecision
    from vibe.approvals.web import decision_token
    from vibe.core.errors import UserError

    name = _approver(approver)
    with user_errors():
        if reject_ and not reason:
            raise UserError("a rejection needs --reason: the requester reads it")
        private = _checked_key(name, key, policy)
        if request_hash is None:
            with _store(store) as approvals:
                request = approvals.get(request_id)
            request_id, request_hash = request.id, request.request_hash
        unsigned = SignedDecision(
            request_id=request_id,
            request_hash=request_hash,
            decision="reject" if reject_ else "approve",
            approver=name,
            time=datetime.now(UTC),
            reason=reason,
            signature="",
        )
        signature = base64.b64encode(private.sign(unsigned.payload())).decode("ascii")
    typer.echo(decision_token(unsigned.model_copy(update={"signature": signature})))


@app.command("login-token")
def login_token_command(
    challenge: Annotated[str, typer.Argument(help="the challenge the approvals page shows")],
    approver: Approver = None,
    key: KeyPath = None,
) -> None:
    """Print a token that signs you in to the approvals page (it answers that page's challenge once)."""
    from vibe.approvals import load_private_key
    from vibe.approvals.web import login_token

    name = _approver(approver)
    with user_errors():
        private = load_private_key(name, path=key)
    typer.echo(login_token(challenge=challenge.strip(), approver=name, key=private))


@app.command("serve")
def serve_page(
    policy: PolicyFiles,
    port: Annotated[int, typer.Option(min=1, max=65535, help="port on 127.0.0.1")] = 8377,
    store: StorePath = None,
    ledger: LedgerPath = None,
    workdir: Annotated[
        Path, typer.Option("--workdir", help="the agent's workdir, named in the command the page shows")
    ] = Path("runs"),
) -> None:
    """Serve the approvals page on http://127.0.0.1:PORT (loopback only) until interrupted."""
    from policies import load_policies
    from vibe.approvals.web import create_app, serve
    from vibe.core.errors import UserError
    from vibe.core.log import console
    from vibe.ledger import SqliteLedger, default_ledger_path

    with user_errors():
        if not policy:
            raise UserError("pass the policy files in force with --policy (or set VIBE_POLICY)")
        policies = load_policies(policy)
        policy_args = " ".join(f"--policy {p}" for p in policy)
        with _store(store) as approvals, SqliteLedger(ledger or default_ledger_path()) as log:
            app_ = create_app(
                policies=policies,
                store=approvals,
                ledger=log,
                resume_command=f"vibe approvals resume {{request_id}} --workdir {workdir} {policy_args}",
            )
            console.print(f"approvals page on http://127.0.0.1:{port}/ (Ctrl-C stops it)", highlight=False)
            serve(app_, port=port)


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
    from vibe.core.log import console

    with user_errors():
        path, public = generate_key(name, directory=directory, force=force)
    console.print(
        f"private key written to {path} (mode 0600); paste this line under approvers.<group>.members:"
    )
    typer.echo(f'{name}: "{public}"')
