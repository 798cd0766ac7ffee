"""``vibe data ...``: ingest directories and archives into a tokenized dataset (the pipeline is tools.data)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vibe.cli._errors import user_errors

app = typer.Typer(no_args_is_help=True)

_ACTIONS = "redact | drop | fail"


@app.command("ingest")
def ingest(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Directories, archives (.tar, .tar.gz, .zip) or files.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Dataset directory to write.")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="IngestConfig YAML; flags override it.")
    ] = None,
    vocab_size: Annotated[int | None, typer.Option(help="Tokenizer vocabulary size (default 8192).")] = None,
    tokenizer: Annotated[
        Path | None, typer.Option(help="Reuse this tokenizer.json instead of training one.")
    ] = None,
    valid_fraction: Annotated[
        float | None, typer.Option(help="Share of files for validation (default 0.05).")
    ] = None,
    secrets: Annotated[
        str | None, typer.Option(help=f"Files with secrets: {_ACTIONS} (default redact).")
    ] = None,
    personal_data: Annotated[
        str | None, typer.Option(help=f"Files with e-mails/phone numbers: {_ACTIONS} (default redact).")
    ] = None,
    near_dup_threshold: Annotated[
        float | None,
        typer.Option(help="Jaccard similarity of near duplicates; 1.0 disables (default 0.85)."),
    ] = None,
    max_file_size: Annotated[
        str | None, typer.Option(help="Skip larger files, e.g. 2MiB or 500000 (default 2MiB).")
    ] = None,
    tokenizer_train_bytes: Annotated[
        str | None, typer.Option(help="Cap on tokenizer training text, e.g. 200MB (default 200MB).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for the split and sampling (default 0).")] = None,
    canaries: Annotated[
        int | None, typer.Option(help="Plant N random canaries in the train split (memorisation eval).")
    ] = None,
    canary_repeats: Annotated[
        int | None, typer.Option(help="Times each canary is planted (default 1).")
    ] = None,
    documents: Annotated[
        bool | None,
        typer.Option(
            "--documents/--no-documents",
            help="Read PDF, Office, ODF, HTML, e-mail and images (OCR) as documents (default on).",
        ),
    ] = None,
    email_headers: Annotated[
        str | None,
        typer.Option(help="E-mail From/To/Cc/Date/Subject in the text: keep or drop (default keep)."),
    ] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bars.")] = False,
) -> None:
    """Ingest code and documents into DIR: tokenizer, train/valid Megatron datasets, manifest and report."""
    from rich.console import Console

    from tools.data import IngestConfig, summary_table
    from tools.data import ingest as run_ingest
    from vibe.core.config import load_config
    from vibe.core.log import run_log

    flags: dict[str, Any] = {
        "inputs": [str(p) for p in paths] if paths else None,
        "out": str(out) if out is not None else None,
        "valid_fraction": valid_fraction,
        "seed": seed,
        "max_file_bytes": max_file_size,
        "actions.secrets": secrets,
        "actions.personal_data": personal_data,
        "dedup.near_dup_threshold": near_dup_threshold,
        "tokenizer.vocab_size": vocab_size,
        "tokenizer.path": str(tokenizer) if tokenizer is not None else None,
        "tokenizer.train_bytes": tokenizer_train_bytes,
        "canaries": canaries,
        "canary_repeats": canary_repeats,
        "documents.enabled": documents,
        "documents.email_headers": email_headers,
    }
    overrides = {key: value for key, value in flags.items() if value is not None}
    with user_errors():
        ingest_config = load_config(IngestConfig, config, overrides=overrides)
        if ingest_config.out.exists() and not ingest_config.out.is_dir():
            from vibe.core.errors import UserError

            raise UserError(f"--out: {ingest_config.out} is a file; pass a directory for the dataset")
        ingest_config.out.mkdir(parents=True, exist_ok=True)
        with run_log(ingest_config.out / "ingest.log"):
            info = run_ingest(ingest_config, progress=not no_progress)
    Console().print(summary_table(info))
