"""The agent tool ``hpo``: a hyper-parameter search, :func:`tools.hpo.run_search` called in-process.

Every trial is a Ray task of its own (torch and Megatron run in the trial workers, not here). Calling the
tool again with the same study continues it (the study is in storage), so a restarted agent loses no trial.
The gate that judged the call (``context.gate``) is asked again by the search before it starts and before
every trial; the policy files in ``policy_files`` (and ``team``), if any, are asked as well (the stricter
answer stands).
The search is given either as fields (``base``, ``study_name``, budget, ...) or whole (``config``: a
``tools.hpo.HPOConfig`` as data, which is how the agent's plan steps carry it). Each trial is told to
``context.progress`` as it ends. The result holds the search's own summary (``best``, ``trials``) beside the
flat fields. With ``target_model`` the result carries the best settings transferred to that model (``tools.hpo.transfer``),
ready to be proposed as a ``train.run``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, model_validator

from policies import Gate, GateDecision, PolicyGate
from tools.hpo._config import SearchSpace, TrialSummary
from tools.registry import Tool, ToolArgs, ToolContext, ToolError, register
from vibe.core.errors import UserError

__all__ = ["HPOArgs", "HPOToolResult"]


class HPOArgs(ToolArgs):
    config: dict[str, Any] | None = Field(
        default=None,
        description="the whole search, a tools.hpo.HPOConfig as data (instead of the fields below)",
    )
    beat: float | None = Field(
        default=None,
        description="the value a result must beat to be used (read by the caller, not the search)",
    )
    base: dict[str, Any] | None = Field(
        default=None, description="the proxy trainers.RunConfig every trial starts from, as data"
    )
    study_name: str | None = Field(default=None, min_length=1)
    out: str | None = Field(default=None, description="study directory; None: WORKDIR/hpo/STUDY_NAME")
    space: list[dict[str, Any]] | None = Field(
        default=None,
        description="ParamSpec entries (name, kind, low, high, log, step, choices, ordered); None: default",
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

    @model_validator(mode="after")
    def _one_form(self) -> HPOArgs:
        if self.config is None and (self.base is None or self.study_name is None):
            raise ValueError("hpo: give either config (a whole HPOConfig) or base and study_name")
        return self


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
    best: TrialSummary | None = None
    trials: list[TrialSummary] = Field(default_factory=list)
    wall_s: float = 0.0
    space: SearchSpace | None = None


class _Stricter(Gate):
    """Two gates as one: a deny from either wins, then require_approval, then allow."""

    _RANK: ClassVar[dict[str, int]] = {"allow": 0, "require_approval": 1, "deny": 2}

    def __init__(self, first: Gate, second: Gate) -> None:
        self.gates = (first, second)

    def check(self, *, kind: str, attributes: dict[str, Any]) -> GateDecision:
        decisions = [gate.check(kind=kind, attributes=attributes) for gate in self.gates]
        return max(decisions, key=lambda d: self._RANK[d.outcome])


def _hpo(args: HPOArgs, context: ToolContext) -> HPOToolResult:
    from tools.hpo._config import HPOConfig
    from tools.hpo._search import run_search
    from tools.hpo._transfer import transfer
    from trainers import ModelConfig

    try:
        config = HPOConfig.model_validate(args.config if args.config is not None else _fields(args, context))
    except ValueError as error:
        raise ToolError(f"hpo: invalid search: {error}") from None
    gate = context.gate
    if args.policy_files:
        files = PolicyGate.from_files(args.policy_files, team=args.team)
        gate = files if gate is None else _Stricter(gate, files)

    def on_trial(trial: TrialSummary) -> None:
        if context.progress is not None:
            value = f"{trial.value:.4f}" if trial.value is not None else "-"
            context.progress(
                f"trial {trial.number}: {trial.state}, {config.objective} {value}, {trial.steps} steps, "
                f"{trial.wall_s:.0f} s"
            )

    try:
        result = run_search(config, gate=gate, on_trial=on_trial)
    except UserError as error:  # a configuration, data or policy problem: a retry cannot fix it
        raise ToolError(f"hpo: {error}") from None
    best = result.best
    transferred = None
    if best is not None and args.target_model is not None:
        proxy = config.base.model
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
        best=best,
        trials=result.trials,
        wall_s=result.wall_s,
        space=result.space,
    )


def _fields(args: HPOArgs, context: ToolContext) -> dict[str, Any]:
    """The search given as fields, as HPOConfig data."""
    assert args.study_name is not None
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
    return data


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
