"""``vibe run``, ``vibe resume`` and ``vibe chat``: the agent, one-shot or interactive, on the same graph."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel

from vibe.cli._errors import user_errors
from vibe.log import console, setup_logging

__all__ = ["chat", "resume", "run"]

Workdir = Annotated[
    Path, typer.Option("--workdir", help="where threads, runs, the checkpointer and ledger live")
]
Offline = Annotated[bool, typer.Option("--no-llm", help="plan with the rules-only parser, without an LLM")]


def _settings(workdir: Path, config: Path | None) -> Any:
    from vibe.agent import AgentSettings
    from vibe.config import load_yaml

    settings = load_yaml(config, AgentSettings) if config else AgentSettings()
    return settings.model_copy(update={"workdir": str(workdir)})


def _llm(offline: bool, *, required: bool = True) -> Any:
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


def _show(outcome: Any) -> None:
    if outcome.waiting_for is not None:
        kind = outcome.waiting_for.get("kind")
        console.print(
            Panel(
                f"thread {outcome.thread_id} is waiting for: {kind}\n"
                f"continue with `vibe resume {outcome.thread_id} --yes` (or --no)",
                title="paused",
                border_style="yellow",
            )
        )
        return
    style = "green" if outcome.status in ("done", "estimated") else "red"
    console.print(
        Panel(
            f"status: {outcome.status}"
            + (f"\n{outcome.reason}" if outcome.reason else "")
            + (f"\nreport: {outcome.report}" if outcome.report else ""),
            title=f"thread {outcome.thread_id}",
            border_style=style,
        )
    )


def run(
    request: Annotated[str, typer.Argument(help='e.g. "train a 7B on our code archive in /data/code"')],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="run the plan without asking")] = False,
    thread: Annotated[str | None, typer.Option(help="thread id (default: a new one)")] = None,
    workdir: Workdir = Path("runs"),
    config: Annotated[Path | None, typer.Option(help="agent settings YAML (cluster, budgets)")] = None,
    no_llm: Offline = False,
) -> None:
    """Plan and run a request, non-interactively. Without --yes the plan is shown and the thread waits."""
    from vibe.agent import Agent

    setup_logging()
    with (
        user_errors(),
        Agent.open(
            _settings(workdir, config),
            llm=_llm(no_llm),
            yes=yes,
            on_event=lambda line: console.print(f"[cyan]vibe[/] {line}"),
        ) as agent,
    ):
        _show(agent.run(request, thread_id=thread))


def resume(
    thread: Annotated[str, typer.Argument(help="the thread id printed by vibe run")],
    yes: Annotated[bool, typer.Option("--yes", help="answer a pending confirmation with yes")] = False,
    no: Annotated[bool, typer.Option("--no", help="answer a pending confirmation with no")] = False,
    workdir: Workdir = Path("runs"),
) -> None:
    """Continue a thread after a crash, or answer the question it paused on (the LLM is not needed)."""
    from vibe.agent import Agent, AgentSettings

    setup_logging()
    answer = "yes" if yes else ("no" if no else None)
    with (
        user_errors(),
        Agent.open(
            AgentSettings(workdir=str(workdir)),
            on_event=lambda line: console.print(f"[cyan]vibe[/] {line}"),
        ) as agent,
    ):
        _show(agent.resume(thread, answer=answer))


def chat(
    workdir: Workdir = Path("runs"),
    no_llm: Offline = False,
) -> None:
    """Interactive: type a request, see the plan, then confirm, edit (lr=.. steps=..) or cancel."""
    from vibe.agent import Agent, AgentSettings

    setup_logging()
    with (
        user_errors(),
        Agent.open(
            AgentSettings(workdir=str(workdir)),
            llm=_llm(no_llm),
            on_event=lambda line: console.print(f"[cyan]vibe[/] {line}"),
        ) as agent,
    ):
        while True:
            request = console.input("[bold]you>[/] ").strip()
            if request in ("", "exit", "quit"):
                return
            outcome = agent.run(request)
            while outcome.waiting_for is not None:
                reply = console.input("[bold]confirm? [y]es / [n]o / edit lr=.. steps=..>[/] ").strip()
                answer: Any
                if reply.startswith("edit"):
                    pairs = dict(p.split("=", 1) for p in reply.split()[1:] if "=" in p)
                    answer = {
                        "edit": {
                            k: v
                            for k, v in {
                                "learning_rate": _num(pairs.get("lr")),
                                "max_steps": _int(pairs.get("steps")),
                                "reason": "edited in chat",
                            }.items()
                            if v is not None
                        }
                    }
                else:
                    answer = "yes" if reply.lower() in ("y", "yes") else "no"
                outcome = agent.resume(outcome.thread_id, answer=answer)
            _show(outcome)


def _num(text: str | None) -> float | None:
    return float(text) if text else None


def _int(text: str | None) -> int | None:
    return int(text) if text else None
