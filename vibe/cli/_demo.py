"""``vibe demo``: the main job on the embedded default, end to end, through the agent.

The request "train a small GPT on the Python standard library" goes through the whole graph: the LLM (the
local vLLM server, started if none answers; rules-only if it cannot be had) turns it into a goal, the planner
sizes a run for this machine, the ingest scans and tokenizes the running interpreter's standard library,
Megatron-core trains under a local Ray, the eval measures held-out loss and bits per byte, and a report
lands in the work directory. Every decision is in the ledger, verified at the end.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vibe.cli._errors import user_errors
from vibe.core.log import console, setup_logging

__all__ = ["DEMO_REQUEST", "demo"]

DEMO_REQUEST = "train a small GPT on the Python standard library"


def demo(
    workdir: Annotated[Path, typer.Option(help="where data, runs, the checkpointer and ledger go")] = Path(
        "runs"
    ),
    no_llm: Annotated[
        bool, typer.Option("--no-llm", help="skip the local LLM; plan with rules only")
    ] = False,
    budget_s: Annotated[float, typer.Option(help="seconds of local training the planner may use")] = 240,
) -> None:
    """Train a small GPT on the Python standard library, evaluate it and print a report."""
    from vibe.agent import Agent, AgentSettings, PlanSettings
    from vibe.cli._agent import chat_model, show
    from vibe.ledger import SqliteLedger, default_ledger_path

    setup_logging()
    thread = time.strftime("demo-%Y%m%d-%H%M%S")
    settings = AgentSettings(workdir=str(workdir), plan=PlanSettings(proxy_time_budget_s=budget_s))
    with user_errors():
        llm = chat_model(no_llm, required=False)
        with Agent.open(
            settings, llm=llm, yes=True, on_event=lambda line: console.print(f"[cyan]vibe[/] {line}")
        ) as agent:
            outcome = agent.run(DEMO_REQUEST, thread_id=thread)
        show(outcome)
        results = outcome.values.get("results", {})
        table = Table(title="demo results")
        table.add_column("what")
        table.add_column("value", justify="right")
        ingest, train, evaluation = (
            results.get("ingest", {}),
            results.get("train", {}),
            results.get("eval", {}),
        )
        for label, value in (
            ("files kept / seen", f"{ingest.get('files_kept', '-')} / {ingest.get('files_seen', '-')}"),
            (
                "train / valid tokens",
                f"{ingest.get('train_tokens', '-'):,} / {ingest.get('valid_tokens', '-'):,}"
                if ingest
                else "-",
            ),
            (
                "secrets and personal data redacted",
                str(sum(ingest.get("findings", {}).values())) if ingest else "-",
            ),
            ("training steps", str(train.get("final_step", "-"))),
            ("final train loss", f"{train['final_loss']:.3f}" if train.get("final_loss") else "-"),
            ("held-out loss (nats/token)", f"{evaluation['val_loss']:.3f}" if evaluation else "-"),
            ("held-out bits per byte", f"{evaluation['val_bpb']:.3f}" if evaluation else "-"),
        ):
            table.add_row(label, value)
        console.print(table)
        with SqliteLedger(default_ledger_path(workdir)) as ledger:
            console.print(f"ledger: {ledger.verify()}")
        if outcome.status != "done":
            raise typer.Exit(1)
