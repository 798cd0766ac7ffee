"""The agent tool ``hpo``: a hyper-parameter search, run as ``vibe hpo --config`` in a child process.

Same code as the command (``tools.hpo.run_search``); the child keeps torch, Megatron and Ray out of the
agent's process, like the ``train`` tool. Calling the tool again with the same study continues it (the study
is in storage), so a restarted agent loses no trial. The agent's gate judges the ``hpo`` step before the
call; policy files given in ``policy_files`` are also checked by the search itself before every trial.
With ``target_model`` the result carries the best settings transferred to that model (``tools.hpo.transfer``),
ready to be proposed as a ``train.run``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from tools._registry import Tool, ToolContext, ToolError, register

__all__ = ["HPOArgs", "HPOToolResult"]


class HPOArgs(BaseModel):
    base: dict[str, Any] = Field(description="the proxy trainers.RunConfig every trial starts from, as data")
    study_name: str = Field(min_length=1)
    out: str | None = Field(default=None, description="study directory; None: WORKDIR/hpo/STUDY_NAME")
    space: list[dict[str, Any]] | None = Field(
        default=None,
        description="ParamSpec entries (name, kind, low, high, log, step, choices); None: default",
    )
    objective: Literal["val_loss", "val_bpb"] = "val_bpb"
    sampler: Literal["tpe", "cmaes", "random"] = "tpe"
    pruner: Literal["hyperband", "successive_halving", "median", "none"] = "hyperband"
    seed: int = 0
    max_trials: int | None = Field(default=20, ge=1)
    max_wall_s: float | None = Field(default=None, gt=0)
    cpu_hours: float | None = Field(default=None, gt=0)
    gpu_hours: float | None = Field(default=None, gt=0)
    cpus_per_trial: float = Field(default=1.0, gt=0)
    gpus_per_trial: float = Field(default=0.0, ge=0)
    max_concurrent: int | None = Field(default=None, ge=1)
    storage: str | None = Field(default=None, description="SQLAlchemy URL; None: OUT/study.sqlite")
    policy_files: list[str] = Field(default_factory=list, description="policy files the search checks itself")
    team: str | None = None
    target_model: dict[str, Any] | None = Field(
        default=None, description="a trainers.ModelConfig as data: transfer the best settings to it"
    )


class HPOToolResult(BaseModel):
    study_name: str
    storage: str
    out: str
    report: str
    stopped_by: str
    stop_reason: str
    n_complete: int
    n_pruned: int
    n_failed: int
    cpu_hours: float
    gpu_hours: float
    flops: float
    best_value: float | None
    best_params: dict[str, Any]
    best_run_dir: str | None
    transferred: dict[str, Any] | None = None


def _hpo(args: HPOArgs, context: ToolContext) -> HPOToolResult:
    import os
    import subprocess
    import sys

    from tools.hpo import HPOConfig, SearchResult, transfer
    from trainers import ModelConfig, RunConfig
    from vibe.core.config import dump_yaml

    out = Path(args.out) if args.out else context.workdir / "hpo" / args.study_name
    data: dict[str, Any] = {
        "out": str(out),
        "study_name": args.study_name,
        "storage": args.storage,
        "base": args.base,
        "objective": args.objective,
        "sampler": args.sampler,
        "pruner": args.pruner,
        "seed": args.seed,
        "budget": {
            "max_trials": args.max_trials,
            "max_wall_s": args.max_wall_s,
            "cpu_hours": args.cpu_hours,
            "gpu_hours": args.gpu_hours,
        },
        "resources": {"cpus": args.cpus_per_trial, "gpus": args.gpus_per_trial},
        "max_concurrent": args.max_concurrent,
    }
    if args.space is not None:
        data["space"] = {"params": args.space}
    try:
        config = HPOConfig.model_validate(data)
    except ValueError as error:
        raise ToolError(f"hpo: invalid search: {error}") from None
    spec = context.workdir / "steps" / f"{args.study_name}.hpo.yaml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    dump_yaml(config, spec)
    result_path = spec.with_suffix(".result.json")
    result_path.unlink(missing_ok=True)
    command = [sys.executable, "-m", "vibe", "hpo", "--config", str(spec), "--result-json", str(result_path)]
    for policy in args.policy_files:
        command += ["--policy", policy]
    if args.team:
        command += ["--team", args.team]
    env = {**os.environ, **({} if context.show_progress else {"VIBE_NO_PROGRESS": "1"})}
    child = subprocess.run(command, env=env, capture_output=not context.show_progress, text=True)
    if child.returncode != 0 or not result_path.is_file():
        tail = (child.stderr or "").strip().splitlines()[-3:] if child.stderr else []
        raise ToolError(
            f"hpo exited with status {child.returncode}{': ' + ' '.join(tail) if tail else ''}; see "
            f"{out}/hpo.log (running the tool again continues the study)",
            retryable=child.returncode != 2,
        )
    result = SearchResult.model_validate_json(result_path.read_text())
    best = result.best
    transferred = None
    if best is not None and args.target_model is not None:
        proxy = RunConfig.model_validate(args.base).model
        transferred = transfer(best.params, proxy=proxy, target=ModelConfig.model_validate(args.target_model))
    return HPOToolResult(
        study_name=result.study_name,
        storage=result.storage,
        out=str(result.out),
        report=str(result.report),
        stopped_by=result.stopped_by,
        stop_reason=result.stop_reason,
        n_complete=result.n_complete,
        n_pruned=result.n_pruned,
        n_failed=result.n_failed,
        cpu_hours=result.cpu_hours,
        gpu_hours=result.gpu_hours,
        flops=result.flops,
        best_value=best.value if best else None,
        best_params=best.params if best else {},
        best_run_dir=str(best.run_dir) if best else None,
        transferred=transferred,
    )


register(
    Tool(
        name="hpo",
        description="Hyper-parameter search (Optuna on Ray): short proxy training runs, pruned early; "
        "returns the best settings and, for a target model, those settings transferred to it.",
        args=HPOArgs,
        result=HPOToolResult,
        fn=_hpo,
    )
)
