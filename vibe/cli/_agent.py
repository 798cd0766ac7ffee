"""``vibe run``, ``vibe resume`` and ``vibe chat``: the agent, one-shot or interactive, on the same graph."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.panel import Panel

from vibe.cli._errors import user_errors
from vibe.core.errors import UserError
from vibe.core.log import console, setup_logging

__all__ = ["chat", "resume", "run"]

Workdir = Annotated[Path, typer.Option(help="where threads, runs, the checkpointer and ledger live")]
Config = Annotated[Path | None, typer.Option(help="agent settings YAML (cluster, budgets, policies, team)")]
Policy = Annotated[
    list[Path] | None, typer.Option("--policy", help="policy file (repeat: organisation first)")
]
Team = Annotated[str | None, typer.Option(help="the team it works for (team policy and budget)")]
Unattended = Annotated[bool, typer.Option(help="never wait for an approval: queue it and skip that work")]
NoLLM = Annotated[bool, typer.Option("--no-llm", help="plan with the rules-only parser, without an LLM")]


def settings_from(
    *, workdir: Path, config: Path | None, policy: list[Path] | None, team: str | None, unattended: bool
) -> Any:
    """AgentSettings from a YAML file (if given) with the command-line options on top."""
    from vibe.agent import AgentSettings
    from vibe.core.config import load_yaml

    settings = load_yaml(config, AgentSettings) if config else AgentSettings()
    update: dict[str, Any] = {"workdir": str(workdir)}
    if policy:
        update["policies"] = [str(p.resolve()) for p in policy]
    if team:
        update["team"] = team
    if unattended:
        update["unattended"] = True
    return settings.model_copy(update=update)


def chat_model(offline: bool, *, required: bool = True) -> Any:
    """The chat model at $VIBE_LLM_URL, starting the local vLLM server first when none answers.

    With ``required`` False a server that cannot be had is reported and the agent goes on rules-only.
    """
    if offline:
        return None
    from vibe.llm import LLMConfig, LLMError, OpenAIChatModel, ensure_server

    try:
        endpoint = ensure_server()
    except LLMError as error:
        if required:
            raise
        console.print(f"[yellow]LLM unavailable:[/] {error}\n[yellow]going on with the rules-only planner[/]")
        return None
    return OpenAIChatModel(LLMConfig(url=endpoint.url, model=endpoint.model))


def _event(line: str) -> None:
    console.print(f"[cyan]vibe[/] {line}", highlight=False, soft_wrap=True)


def show(outcome: Any) -> None:
    """The end of a call: where the thread stands and what to do next."""
    waiting = outcome.waiting_for
    if waiting is not None:
        if waiting.get("kind") == "approval":
            request = waiting.get("request_id", "?")
            hint = (f"approval request {request} is pending: a lead approves it with "
                    f"`vibe approvals approve {request}`, then `vibe resume {outcome.thread_id}`")  # fmt: skip
        else:
            hint = f"confirm with `vibe resume {outcome.thread_id} --yes` (or --no)"
        console.print(
            Panel(f"thread {outcome.thread_id} is waiting: {hint}", title="paused", border_style="yellow")
        )
        return
    style = {"done": "green", "estimated": "green", "answered": "green", "question": "yellow"}.get(
        outcome.status, "red"
    )
    body = f"status: {outcome.status}" + (f"\n{outcome.reason}" if outcome.reason else "")
    body += f"\nreport: {outcome.report}" if outcome.report else ""
    console.print(Panel(body, title=f"thread {outcome.thread_id}", border_style=style))


def run(
    request: Annotated[str, typer.Argument(help='e.g. "train a 7B on our code archive in /data/code"')],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="run the plan without asking")] = False,
    thread: Annotated[str | None, typer.Option(help="thread id (default: a new one)")] = None,
    workdir: Workdir = Path("runs"),
    config: Config = None,
    policy: Policy = None,
    team: Team = None,
    unattended: Unattended = False,
    no_llm: NoLLM = False,
) -> None:
    """Plan and run a request, non-interactively. Without --yes the plan is shown and the thread waits."""
    from vibe.agent import Agent

    setup_logging()
    with user_errors():
        settings = settings_from(
            workdir=workdir, config=config, policy=policy, team=team, unattended=unattended
        )
        request = request_text(request)  # before anything opens: a binary request is refused, not crashed on
        with Agent.open(settings, llm=chat_model(no_llm, required=False), yes=yes, on_event=_event) as agent:
            show(agent.run(request, thread_id=thread))


def resume(
    thread: Annotated[str, typer.Argument(help="the thread id printed by vibe run")],
    yes: Annotated[bool, typer.Option("--yes", help="answer a pending confirmation with yes")] = False,
    no: Annotated[bool, typer.Option("--no", help="answer a pending confirmation with no")] = False,
    workdir: Workdir = Path("runs"),
    config: Config = None,
    policy: Policy = None,
    team: Team = None,
) -> None:
    """Continue a thread: after a crash, after its approval was decided, or answering its confirmation."""
    from vibe.agent import Agent, continue_thread

    setup_logging()
    with user_errors():
        settings = settings_from(workdir=workdir, config=config, policy=policy, team=team, unattended=False)
        with Agent.open(settings, on_event=_event) as agent:
            if yes or no:
                show(agent.resume(thread, answer="yes" if yes else "no"))
            else:
                show(continue_thread(agent, thread))


def chat(
    workdir: Workdir = Path("runs"),
    config: Config = None,
    policy: Policy = None,
    team: Team = None,
    no_llm: NoLLM = False,
) -> None:
    """Interactive: type a request, see the plan, then confirm, edit (lr=.. steps=..) or cancel. A follow-up
    ("make it MoE", "half the learning rate", "use /data/docs too", "cancel") edits the last request, and
    the plan is shown again before anything runs."""
    from vibe.agent import Agent

    setup_logging()
    _keep_undecodable_lines()
    with user_errors():
        settings = settings_from(workdir=workdir, config=config, policy=policy, team=team, unattended=False)
        with Agent.open(settings, llm=chat_model(no_llm, required=False), on_event=_event) as agent:
            last: Any = None  # the last turn's Reading, which a follow-up edits
            pending: str | None = None
            while True:
                request = pending or _input("[bold]you>[/] ")
                pending = None
                if request is None:
                    continue  # said; nothing was started
                if request in ("", "exit", "quit"):
                    return
                reading = _edited(last, request)
                if reading == "cancel":
                    console.print("[cyan]vibe[/] cancelled: nothing runs", highlight=False)
                    last = None
                    continue
                outcome = agent.run(reading.request if reading else request, reading=reading)
                last = _reading(outcome) or last
                while outcome.waiting_for is not None and outcome.waiting_for.get("kind") in (
                    "confirm",
                    "confirm_dirs",
                ):
                    answer = _ask(outcome.waiting_for)
                    if isinstance(answer, str) and answer.startswith("followup:"):  # edit, then plan again
                        outcome = agent.resume(outcome.thread_id, answer="no")
                        pending = answer.removeprefix("followup:")
                        break
                    outcome = agent.resume(outcome.thread_id, answer=answer)
                if pending is None:
                    show(outcome)


def _reading(outcome: Any) -> Any:
    from vibe.agent import Reading

    data = outcome.values.get("reading")
    return Reading.model_validate(data) if data else None


def _edited(last: Any, text: str) -> Any:
    """The last reading edited by ``text``, "cancel", or None (a request of its own)."""
    if last is None:
        return "cancel" if text.lower().strip() in ("cancel", "never mind") else None
    from vibe.agent import follow_up

    try:
        return follow_up(last, text)
    except ValueError as error:
        console.print(f"[yellow]{error}[/]; reading it as a new request", highlight=False)
        return None


PROMPT = "[bold]run it? \\[y]es / \\[n]o / edit lr=3e-4 steps=200 / or say what to change >[/] "  # \\[: a bracket, not markup


def _ask(waiting: dict[str, Any] | None = None) -> Any:
    """The answer to the plan: yes, no, an edit (a malformed one is said and asked again), or a follow-up
    that changes the request ("make it MoE"), returned as ``followup:TEXT``."""
    while True:
        if waiting is not None and waiting.get("kind") == "confirm_dirs":
            reply = _input(f"[bold]{escape(waiting['question'])} >[/] ")
            if reply is None:
                continue
            return reply
        reply = _input(PROMPT)
        if reply is None:
            continue
        if not reply.startswith("edit"):
            if reply.lower() in ("y", "yes"):
                return "yes"
            if reply.lower() in ("", "n", "no"):
                return "no"
            return f"followup:{reply}"
        try:
            return {"edit": parse_edit(reply)}
        except ValueError as error:
            console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)


def parse_edit(reply: str) -> dict[str, Any]:
    """``edit lr=3e-4 steps=200`` -> the edit; a ValueError names the field that is not a number."""
    pairs = dict(p.split("=", 1) for p in reply.split()[1:] if "=" in p)
    edit: dict[str, Any] = {"reason": "edited in chat"}
    for key, field, kind in (("lr", "learning_rate", float), ("steps", "max_steps", int)):
        if key in pairs:
            try:
                edit[field] = kind(pairs[key])
            except ValueError:
                what = "a number like 3e-4" if kind is float else "a whole number like 200"
                raise ValueError(f"edit {key}={pairs[key]!r}: {key} must be {what}") from None
    return edit


def request_text(text: str) -> str:
    """``text`` if it is printable UTF-8 text, else a UserError: a request is words, not binary data."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UserError(
            "the request is not UTF-8 text (it holds undecodable bytes); type it again as plain text"
        ) from None
    if any(not ch.isprintable() and ch not in "\n\t" for ch in text):
        raise UserError("the request holds control characters or binary data; type it as plain text")
    return text


def _keep_undecodable_lines() -> None:
    """Read standard input with ``surrogateescape``: under a strict UTF-8 locale one non-UTF-8 line would
    otherwise raise while decoding a whole buffered chunk, losing the lines after it (piped input then ends
    the chat as aborted); kept, each such line is said and asked again by :func:`request_text`."""
    if isinstance(sys.stdin, io.TextIOWrapper) and sys.stdin.errors == "strict":
        with contextlib.suppress(io.UnsupportedOperation, ValueError):  # already read from: left as it is
            sys.stdin.reconfigure(errors="surrogateescape")


def _input(prompt: str) -> str | None:
    """One line from the terminal, or None (said) when it is not text."""
    try:
        line = console.input(prompt)
    except UnicodeDecodeError:
        console.print("[bold red]error:[/] that was not UTF-8 text; type it again", highlight=False)
        return None
    try:
        return request_text(line).strip()
    except UserError as error:
        console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
        return None
