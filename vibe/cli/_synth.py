"""``vibe synth DATASET --out DIR``: verified synthetic training data from an ingested corpus (tools.synth)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vibe.cli._errors import user_errors

__all__ = ["synth"]


def synth(
    dataset: Annotated[
        Path | None, typer.Argument(help="An ingested dataset directory (`vibe data ingest`).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Directory for the samples and dataset.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="SynthConfig YAML; flags override it.")
    ] = None,
    templates: Annotated[
        list[str] | None,
        typer.Option("--templates", "-t", help="Template names (repeat); default: all built-in."),
    ] = None,
    samples: Annotated[
        int | None, typer.Option(help="Volume: candidate samples to generate (default 100).")
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible endpoint (default $VIBE_LLM_URL or local).")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Served model name (default: the first the server lists).")
    ] = None,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight at once (default 8).")] = None,
    policy: Annotated[
        list[Path] | None, typer.Option("--policy", help="Policy file (repeat: organisation first).")
    ] = None,
    team: Annotated[str | None, typer.Option(help="The team it works for (team policy and budget).")] = None,
    workdir: Annotated[
        Path, typer.Option(help="Where the ledger lives ($VIBE_LEDGER, else WORKDIR/ledger.sqlite).")
    ] = Path("runs"),
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bars.")] = False,
) -> None:
    """Generate verified synthetic samples from DATASET's chunks with the served LLM into OUT."""
    from rich.console import Console

    from tools.synth import SynthConfig, synthesize
    from vibe.core.config import load_config
    from vibe.core.log import run_log
    from vibe.ledger import SqliteLedger, default_ledger_path

    flags: dict[str, Any] = {
        "dataset": str(dataset) if dataset is not None else None,
        "out": str(out) if out is not None else None,
        "templates": templates or None,
        "samples": samples,
        "llm.url": url,
        "llm.model": model,
        "max_concurrency": concurrency,
    }
    overrides = {key: value for key, value in flags.items() if value is not None}
    with user_errors():
        synth_config = load_config(SynthConfig, config, overrides=overrides)
        gate = None
        if policy:
            from policies import PolicyGate

            gate = PolicyGate.from_files([p.resolve() for p in policy], team=team)
        synth_config.out.mkdir(parents=True, exist_ok=True)
        with run_log(synth_config.out / "synth.log"):
            workdir.mkdir(parents=True, exist_ok=True)
            with SqliteLedger(default_ledger_path(workdir)) as ledger:
                result = synthesize(
                    synth_config,
                    gate=gate,
                    ledger=ledger,
                    thread_id="cli-synth",
                    progress_bar=not no_progress,
                )
    dropped = ", ".join(f"{n} {reason}" for reason, n in result.dropped.items()) or "none"
    Console().print(
        f"[bold]{result.kept}[/] samples kept of {result.candidates} ({dropped} dropped) in {result.out}; "
        f"{result.samples_per_s:.2f} samples/s, {result.tokens_per_s:.1f} tokens/s; report: {result.report_path}"
    )
