"""``vibe eval RUN_DIR [--text PATH ...]``: held-out loss and bits per byte of a run (tools.eval)."""

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
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data", help="Score this dataset's valid split instead of the run's own (repeatable)."
        ),
    ] = None,
) -> None:
    """Evaluate a run: held-out loss and bits per byte (writes RUN_DIR/eval.json)."""
    with user_errors(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Megatron / torch deprecation noise
        from tools.eval import evaluate

        result = evaluate(run_dir, texts=text or (), data=data or ())
        typer.echo(f"{result.run_dir} @ step {result.step}")
        for score in [result.valid, *result.texts]:
            typer.echo(
                f"  {score.name}: loss {score.loss:.4f} nats/token, {score.bpb:.4f} bits/byte "
                f"({score.tokens:,} tokens, {score.bytes:,} bytes)"
            )
        typer.echo(f"wrote {result.run_dir / 'eval.json'}")
