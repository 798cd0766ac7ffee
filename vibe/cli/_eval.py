"""``vibe eval RUN_DIR [--suite NAME[,NAME]] [--text PATH ...]``: evaluation suites of a run (tools.eval)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer

from vibe.cli._errors import user_errors

__all__ = ["eval_run"]


def eval_run(
    run_dir: Annotated[Path, typer.Argument(help="A `vibe train` run directory.")],
    text: Annotated[
        list[Path] | None, typer.Option("--text", help="Extra UTF-8 text file to score (repeatable).")
    ] = None,
    suite: Annotated[
        str,
        typer.Option(
            "--suite",
            help="Comma-separated: heldout, memorisation, code, policy, tasks (heldout always runs).",
        ),
    ] = "heldout",
    served: Annotated[
        str | None,
        typer.Option(help="Generate through a served model's OpenAI API (URL .../v1) instead of in-process."),
    ] = None,
    served_model: Annotated[str, typer.Option(help="The served model's name (with --served).")] = "vibe",
    hf_model: Annotated[
        Path | None,
        typer.Option(
            help="HF model directory for --suite tasks (default RUN_DIR/export); with --served, its tokenizer."
        ),
    ] = None,
    policy: Annotated[
        list[Path] | None,
        typer.Option(
            "--policy",
            help="--suite policy: judge by these files' alignment rules (repeatable; needs --prompts).",
        ),
    ] = None,
    prompts: Annotated[
        Path | None,
        typer.Option(help="--suite policy with --policy: JSONL prompt records in RL's format."),
    ] = None,
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data", help="Score this dataset's valid split instead of the run's own (repeatable)."
        ),
    ] = None,
) -> None:
    """Evaluate a run: held-out loss and bits per byte, and the suites asked for (writes RUN_DIR/eval.json)."""
    with user_errors(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Megatron / torch deprecation noise
        from tools.eval import OpenAIGenerator, evaluate, parse_suites

        generator = OpenAIGenerator(served, model=served_model) if served else None
        rules = {"policies": [str(p) for p in policy or ()], "prompts_file": prompts}
        options = {"policy": rules} if policy or prompts else {}
        result = evaluate(
            run_dir,
            texts=text or (),
            suites=parse_suites(suite),
            generator=generator,
            hf_model=hf_model,
            data=data or (),
            options=options,
        )
        typer.echo(f"{result.run_dir} @ step {result.step}")
        for score in [result.valid, *result.texts]:
            typer.echo(
                f"  {score.name}: loss {score.loss:.4f} nats/token, {score.bpb:.4f} bits/byte "
                f"({score.tokens:,} tokens, {score.bytes:,} bytes)"
            )
        for name, report in result.suites.items():
            if name == "heldout":
                continue
            shown = ", ".join(f"{k} {v:.4g}" for k, v in result.metrics.items() if k in report)
            typer.echo(f"  {name} ({report.get('sampling', '')}): {shown or report.get('note', '')}")
        for line in result.tracking:
            if "not logged" in line:
                typer.echo(line)
        typer.echo(f"wrote {result.run_dir / 'eval.json'}")
