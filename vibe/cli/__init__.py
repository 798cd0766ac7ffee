"""The ``vibe`` command. Each command group lives in its own module; heavy imports happen inside commands."""

from __future__ import annotations

import typer

from vibe.cli import _data, _eval, _train

__all__ = ["app"]

app = typer.Typer(
    name="vibe",
    help="Vibe trains language models on your own data, on your own machines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(_data.app, name="data", help="Ingest, profile and tokenize code and document archives.")
app.command("train")(_train.train)
app.command("eval")(_eval.eval_run)


def main() -> None:
    app()
