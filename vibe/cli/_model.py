"""``vibe model release RUN --name NAME``: judge a run's evaluation against the policy gates, get approval
where the policy asks, register it in the MLflow model registry; ``vibe model show NAME@ALIAS``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vibe.cli._errors import user_errors

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)


@app.command()
def release(
    run_dir: Annotated[Path, typer.Argument(help="A `vibe train` run directory with an eval.json.")],
    name: Annotated[str | None, typer.Option(help="Registered model name (default: the run's name).")] = None,
    policy: Annotated[
        list[Path] | None,
        typer.Option("--policy", "-p", help="Policy file(s) whose gates apply (repeatable)."),
    ] = None,
    alias: Annotated[
        list[str] | None,
        typer.Option("--alias", help="Alias(es) to point at the version (default: staging)."),
    ] = None,
    export: Annotated[
        Path | None, typer.Option(help="The run's HF export directory (default RUN/export).")
    ] = None,
    team: Annotated[str | None, typer.Option(help="The team on whose behalf.")] = None,
    approvals: Annotated[Path | None, typer.Option(help="Approvals store (default in the cache).")] = None,
    ledger: Annotated[Path | None, typer.Option(help="Ledger file (default in the cache).")] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow server URL (default $MLFLOW_TRACKING_URI or embedded).")
    ] = None,
) -> None:
    """Release a run: gates, approval, then a registered model version with its lineage."""
    from vibe.agent import ReleaseDenied, release_model
    from vibe.core.identity import process_user
    from vibe.tracking import TrackingConfig

    with user_errors():
        try:
            result = release_model(
                run_dir,
                name=name or Path(run_dir).resolve().name,
                policy_files=policy or (),
                requester=process_user(),  # the OS account, never a name the caller claims
                team=team,
                aliases=alias or ["staging"],
                export_dir=export,
                approvals_path=approvals,
                ledger_path=ledger,
                tracking=TrackingConfig(uri=tracking_uri),
            )
        except ReleaseDenied as error:
            typer.echo(f"release denied: {error}", err=True)
            raise typer.Exit(1) from None
    if result.status == "pending":
        typer.echo(
            f"approval requested: {result.request_id}; once approved (`vibe approvals approve "
            f"{result.request_id} --as NAME`), run this command again"
        )
        raise typer.Exit(3)
    version = result.version
    assert version is not None
    typer.echo(f"registered {version.name} version {version.version} ({', '.join(version.aliases)})")
    typer.echo(f"source: {version.source}")


@app.command()
def show(
    ref: Annotated[str, typer.Argument(help="NAME@ALIAS, NAME/VERSION or NAME (newest version).")],
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow server URL.")] = None,
) -> None:
    """A registered model version: aliases, source, lineage tags."""
    from vibe.tracking import TrackingConfig, resolve_model

    with user_errors():
        version = resolve_model(ref, config=TrackingConfig(uri=tracking_uri))
    typer.echo(f"{version.name} version {version.version} ({', '.join(version.aliases) or 'no alias'})")
    typer.echo(f"source: {version.source}")
    for key, value in sorted(version.tags.items()):
        typer.echo(f"  {key}: {value}")
