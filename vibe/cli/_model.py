"""``vibe model import | export | release | show``: base models in (HF directory or GGUF), runs out (HF
directory), verified; releases judged against the policy gates into the MLflow model registry.

Import and export are judged by the policy files given with ``--policy`` (``model.import`` against
``model_sources``' roots and architectures, ``model.convert`` for an export inside the network) and recorded,
with the hashes of every file and the verification figures, in ``WORKDIR/ledger.sqlite``. ``release`` judges
a run's evaluation against the gates, gets approval where the policy asks, and registers a model version;
``show NAME@ALIAS`` prints one.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vibe.cli._errors import user_errors

if TYPE_CHECKING:
    from policies import Gate

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)

_Policy = Annotated[
    list[Path] | None, typer.Option("--policy", help="Policy file (repeat: organisation first).")
]
_Team = Annotated[str | None, typer.Option(help="The team it works for (team policy).")]
_Workdir = Annotated[
    Path, typer.Option(help="Where the ledger lives ($VIBE_LEDGER, else WORKDIR/ledger.sqlite).")
]


def _gate(policy: list[Path] | None, team: str | None) -> Gate | None:
    if not policy:
        return None
    from policies import PolicyGate

    return PolicyGate.from_files([p.resolve() for p in policy], team=team)


def _say(result: Any) -> None:
    v = result.record["verification"]
    logits = v["logits"]
    figures = (
        f"logits max |diff| {logits['max_abs_diff']:.2e} (fp32, limit {logits['threshold']:g}), "
        f"top-1 agreement {logits['top1_agreement']:.0%}"
        if "max_abs_diff" in logits
        else "logits not compared"
    )
    typer.echo(
        f"{result.record['architecture']} -> {result.out}: round trip bit-exact for "
        f"{v['round_trip']['tensors']} tensors, {figures}; record: {result.record_path}"
    )


@app.command("import")
def import_(
    src: Annotated[
        Path, typer.Argument(help="An HF model directory (config.json + safetensors) or a .gguf.")
    ],
    out: Annotated[Path, typer.Option("--out", help="The run directory to write (new).")],
    seq_len: Annotated[int | None, typer.Option("--seq-len", help="Training sequence length.")] = None,
    policy: _Policy = None,
    team: _Team = None,
    workdir: _Workdir = Path("runs"),
) -> None:
    """Import a base model as a Megatron checkpoint with its tokenizer (then: vibe train --init-from OUT)."""
    with user_errors(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tools.model import import_base_model
        from vibe.ledger import SqliteLedger, default_ledger_path

        gate = _gate(policy, team)
        workdir.mkdir(parents=True, exist_ok=True)
        with SqliteLedger(default_ledger_path(workdir)) as ledger:
            _say(import_base_model(src, out, seq_length=seq_len, gate=gate, ledger=ledger))


@app.command("export")
def export(
    run: Annotated[Path, typer.Argument(help="A `vibe train` or `vibe model import` run directory.")],
    out: Annotated[Path, typer.Option("--out", help="The HF directory to write (new).")],
    policy: _Policy = None,
    team: _Team = None,
    workdir: _Workdir = Path("runs"),
) -> None:
    """Export a run's latest checkpoint (any dp/tp/ep layout) as an HF directory transformers and vLLM load."""
    with user_errors(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tools.model import export_model
        from vibe.ledger import SqliteLedger, default_ledger_path

        gate = _gate(policy, team)
        workdir.mkdir(parents=True, exist_ok=True)
        with SqliteLedger(default_ledger_path(workdir)) as ledger:
            _say(export_model(run, out, gate=gate, ledger=ledger))


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
