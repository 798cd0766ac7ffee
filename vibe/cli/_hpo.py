"""``vibe hpo``: a hyper-parameter search over the trainer's settings (``tools.hpo.run_search``).

Either ``--config hpo.yaml`` (an ``HPOConfig``: base run, space, sampler, pruner, budget, resources) with
flags on top, or flags alone: ``--data DIR --out DIR`` searches the default space around a tiny proxy run.
Running the same command again continues the same study (its storage is ``OUT/study.sqlite`` unless
``--storage`` names another SQLAlchemy URL). ``--policy`` files gate the search like the agent's gate does.
"""

from __future__ import annotations

import warnings
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vibe.cli._errors import user_errors

if TYPE_CHECKING:
    from tools.hpo import HPOConfig, SearchResult

__all__ = ["hpo"]


def hpo(
    data: Annotated[
        list[Path] | None, typer.Option("--data", help="Dataset dir from `vibe data ingest` (repeatable).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Study directory.")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="HPOConfig YAML; flags override it.")
    ] = None,
    study: Annotated[
        str | None, typer.Option("--study", help="Study name (default: the --out dir's name).")
    ] = None,
    trials: Annotated[int | None, typer.Option("--trials", help="Finished trials to reach.")] = None,
    hours: Annotated[
        float | None, typer.Option("--hours", help="Wall-clock limit of this invocation.")
    ] = None,
    deadline: Annotated[
        str | None, typer.Option("--deadline", help="ISO time with zone, e.g. 2026-01-31T18:00+00:00.")
    ] = None,
    cpu_hours: Annotated[float | None, typer.Option("--cpu-hours", help="Core-hours across trials.")] = None,
    gpu_hours: Annotated[float | None, typer.Option("--gpu-hours")] = None,
    sampler: Annotated[str | None, typer.Option("--sampler", help="tpe, cmaes or random.")] = None,
    pruner: Annotated[
        str | None, typer.Option("--pruner", help="hyperband, successive_halving, median or none.")
    ] = None,
    storage: Annotated[str | None, typer.Option("--storage", help="SQLAlchemy URL of the study.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Base model preset (default tiny).")] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", help="Steps of each trial.")] = None,
    eval_interval: Annotated[int | None, typer.Option("--eval-interval", help="Steps between evals.")] = None,
    cpus: Annotated[float | None, typer.Option("--cpus", help="CPUs per trial.")] = None,
    gpus: Annotated[float | None, typer.Option("--gpus", help="GPUs per trial.")] = None,
    max_concurrent: Annotated[int | None, typer.Option("--max-concurrent")] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    policy: Annotated[
        list[Path] | None, typer.Option("--policy", help="Policy file (repeatable; organisation first).")
    ] = None,
    team: Annotated[str | None, typer.Option("--team", help="Team the search runs for.")] = None,
    result_json: Annotated[
        Path | None, typer.Option("--result-json", help="Also write the SearchResult as JSON here.")
    ] = None,
) -> None:
    """Search hyper-parameters with Optuna; every trial is a short real training run on Ray."""
    with user_errors(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Megatron / torch deprecation noise
        from tools.hpo import run_search

        overrides: dict[str, Any] = {
            "out": str(out) if out else None,
            "study_name": study,
            "storage": storage,
            "sampler": sampler,
            "pruner": pruner,
            "seed": seed,
            "max_concurrent": max_concurrent,
            "budget.max_trials": trials,
            "budget.max_wall_s": hours * 3600 if hours is not None else None,
            "budget.deadline": _deadline(deadline),
            "budget.cpu_hours": cpu_hours,
            "budget.gpu_hours": gpu_hours,
            "resources.cpus": cpus,
            "resources.gpus": gpus,
            "base.model.preset": model,
            "base.training.max_steps": max_steps,
            "base.training.eval_interval": eval_interval,
        }
        if data:
            overrides["base.data.sources"] = [{"path": str(d)} for d in data]
        overrides = {k: v for k, v in overrides.items() if v is not None}
        hpo_config = _hpo_config(config, overrides, out=out, data=data, max_steps=max_steps)
        gate = None
        if policy:
            from policies import PolicyGate

            gate = PolicyGate.from_files(policy, team=team)
        result = run_search(hpo_config, gate=gate)
        if result_json is not None:
            result_json.parent.mkdir(parents=True, exist_ok=True)
            result_json.write_text(result.model_dump_json(indent=2), encoding="utf-8")
        _tell(result, objective=hpo_config.objective)


def _hpo_config(
    config: Path | None,
    overrides: dict[str, Any],
    *,
    out: Path | None,
    data: list[Path] | None,
    max_steps: int | None,
) -> HPOConfig:
    """The search: ``config`` with the flags on top, or the flags alone around a tiny proxy run."""
    from tools.hpo import HPOConfig
    from vibe.core.config import load_config
    from vibe.core.errors import UserError

    if config is not None:
        return load_config(HPOConfig, config, overrides=overrides)
    if out is None or not data:
        raise UserError("vibe hpo: give --data DIR and --out DIR (or --config hpo.yaml)")
    steps = max_steps or 100
    overrides.setdefault("study_name", out.name)
    overrides.setdefault("base.training.max_steps", steps)
    overrides.setdefault("base.training.eval_interval", max(1, steps // 10))
    return load_config(HPOConfig, overrides=overrides)


def _tell(result: SearchResult, *, objective: str) -> None:
    best = (
        f"best {objective} {result.best.value:.4f} (trial {result.best.number}: {result.best.params})"
        if result.best and result.best.value is not None
        else "no trial complete"
    )
    typer.echo(
        f"{result.n_complete} complete, {result.n_pruned} pruned, {result.n_failed} failed; {best}; "
        f"stopped by {result.stopped_by} ({result.stop_reason}); {result.cpu_hours:.3f} CPU-hours\n"
        f"report: {result.report}\ndashboard: optuna-dashboard {result.storage}"
    )


def _deadline(text: str | None) -> str | None:
    if text is None:
        return None
    from vibe.core.errors import UserError

    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"--deadline: {text!r} is not an ISO time; write e.g. 2026-01-31T18:00+00:00"
        ) from None
    if when.tzinfo is None:
        raise UserError(f"--deadline: {text!r} has no time zone; add one, e.g. +00:00")
    return when.isoformat()
