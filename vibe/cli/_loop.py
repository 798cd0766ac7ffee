"""``vibe loop``: pursue a goal unattended until a deadline, then write the morning report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel

from vibe.cli._errors import user_errors
from vibe.core.log import console, setup_logging

__all__ = ["loop"]


def _event(line: str) -> None:
    from rich.markup import escape

    console.print(f"[cyan]loop[/] {escape(line)}", highlight=False, soft_wrap=True)


def loop(
    goal: Annotated[
        str, typer.Argument(help='e.g. "lowest validation bits per byte for a 20M code model on /data/code"')
    ],
    until: Annotated[
        str | None, typer.Option(help="deadline: HH:MM (the next such time) or an ISO date-time")
    ] = None,
    hours: Annotated[float | None, typer.Option(help="deadline as hours from now")] = None,
    workdir: Annotated[Path, typer.Option(help="threads, runs, ledger and loop-<time>/ reports")] = Path(
        "runs"
    ),
    config: Annotated[
        Path | None,
        typer.Option(help="LoopConfig YAML (round settings, agent settings); options override it"),
    ] = None,
    policy: Annotated[
        list[Path] | None, typer.Option("--policy", help="policy file (repeat: organisation first)")
    ] = None,
    team: Annotated[str | None, typer.Option(help="the team it works for (team policy and budget)")] = None,
    max_trials: Annotated[int | None, typer.Option(help="trials per search round")] = None,
    no_llm: Annotated[bool, typer.Option("--no-llm", help="read the goal with rules only")] = False,
) -> None:
    """Search, train the best transferred run, evaluate and refine, in rounds, until the deadline.

    Nothing waits for a person: a step that needs approval is queued and skipped, and the report lists it.
    Running the same goal again in the same workdir continues an unfinished loop.
    """
    from pydantic import ValidationError

    from vibe.cli._agent import chat_model
    from vibe.core.errors import UserError
    from vibe.core.yamlfile import read_yaml
    from vibe.loop import LoopConfig, parse_until, run_loop

    setup_logging()
    with user_errors():
        data: dict[str, Any] = (read_yaml(config).data or {}) if config else {}
        if not isinstance(data, dict):
            raise UserError(f"{config}: must be a mapping of fields (goal, rounds, ...)")
        if (until is None) == (hours is None):
            raise UserError("give exactly one of --until HH:MM and --hours N")
        try:
            deadline = parse_until(until) if until else None
        except ValueError as error:
            raise UserError(str(error)) from None
        data.update(goal=goal, workdir=str(workdir), until=deadline, hours=hours)
        if policy:
            data["policies"] = [str(p.resolve()) for p in policy]
        if team:
            data["team"] = team
        if max_trials:
            data["rounds"] = {**data.get("rounds", {}), "max_trials": max_trials}
        try:
            settings = LoopConfig.model_validate(data)
        except ValidationError as error:
            where = f" in {config}" if config else ""
            first = error.errors()[0]
            raise UserError(
                f"loop settings{where}: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
            ) from None
        result = run_loop(settings, llm=chat_model(no_llm, required=False), on_event=_event)
    best = result.best_run
    body = f"stopped by: {result.state.stopped_by} — {result.state.note}\nreport: {result.report}"
    if best:
        body += f"\nbest full-size run: round {best['round']}, val_bpb {best['val_bpb']:.4f}"
    if result.pending:
        body += f"\npending approvals: {', '.join(r['id'] for r in result.pending)}"
    console.print(Panel(body, title=result.state.name, border_style="green"))
