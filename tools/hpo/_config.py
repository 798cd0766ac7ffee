"""The search's configuration (:class:`HPOConfig` and its parts) and what it returns (:class:`SearchResult`).

One pydantic config per component, as everywhere in Vibe: ``vibe hpo --config hpo.yaml`` loads an
``HPOConfig`` with file:line errors. ``space`` may be left out: it then defaults to
:func:`tools.hpo.default_space` of ``base``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from tools.hpo._space import SearchSpace, default_space
from trainers import RunConfig
from vibe.core.config import VibeConfig

__all__ = [
    "Budget",
    "HPOConfig",
    "SearchResult",
    "StoppedBy",
    "TrialResources",
    "TrialSummary",
]

StoppedBy = Literal["max_trials", "deadline", "budget", "policy", "exhausted"]


class Budget(VibeConfig):
    """When the search stops. Counts and hours are over the whole study (every invocation), the wall clock
    over this invocation. ``flops`` (training FLOPs over all trials) is an addition to the documented API,
    for budgets that should not depend on how busy the machine is (the benchmark uses it)."""

    max_trials: int | None = Field(default=20, ge=1, description="finished trials (complete + pruned)")
    deadline: datetime | None = Field(default=None, description="tz-aware; no trial starts after it")
    max_wall_s: float | None = Field(default=None, gt=0, description="from the start of this invocation")
    cpu_hours: float | None = Field(default=None, gt=0, description="core-hours: wall x cpus requested")
    gpu_hours: float | None = Field(default=None, gt=0)
    flops: float | None = Field(default=None, gt=0, description="training FLOPs across trials")

    @model_validator(mode="after")
    def _check(self) -> Budget:
        if self.deadline is not None and self.deadline.tzinfo is None:
            raise ValueError("deadline: must carry a time zone, e.g. 2026-01-31T18:00:00+00:00")
        limits = (self.max_trials, self.deadline, self.max_wall_s, self.cpu_hours, self.gpu_hours, self.flops)
        if all(v is None for v in limits):
            raise ValueError(
                "budget: set at least one of max_trials, deadline, max_wall_s, cpu_hours, gpu_hours, flops "
                "(an unbounded search never stops)"
            )
        return self


class TrialResources(VibeConfig):
    """What each trial asks Ray for (all its workers together)."""

    cpus: float = Field(default=1.0, gt=0)
    gpus: float = Field(default=0.0, ge=0)


class HPOConfig(VibeConfig):
    """One search: the base proxy run, the space, the sampler and pruner, the budget and resources."""

    out: Path = Field(description="study dir: trials/trial_NNNN/, report.md, plots, study.sqlite")
    study_name: str = Field(min_length=1)
    storage: str | None = Field(
        default=None, description="SQLAlchemy URL; None: sqlite:///{out}/study.sqlite"
    )
    base: RunConfig
    space: SearchSpace
    objective: Literal["val_loss", "val_bpb"] = "val_bpb"
    sampler: Literal["tpe", "cmaes", "random"] = "tpe"
    pruner: Literal["hyperband", "successive_halving", "median", "none"] = "hyperband"
    start: Literal["sobol", "random"] = Field(
        default="sobol",
        description="TPE's first trials: the base run's values then scrambled Sobol points (_start.py), "
        "or TPE's own random start-up draws",
    )
    random_fraction: float = Field(
        default=1 / 3,
        ge=0,
        lt=1,
        description="share of TPE's trials drawn uniformly at random, evenly spread (BOHB's 1/3): a model "
        "locked onto one region still sees the rest of the space (tools/hpo/_sampler.py)",
    )
    reduction_factor: int = Field(
        default=3,
        ge=2,
        le=8,
        description="Hyperband / successive halving: a rung keeps the best 1/reduction_factor of the trials "
        "that reached it, and rungs are this factor apart in steps (tools/hpo/_storage.py)",
    )
    seed: int = 0
    budget: Budget = Field(default_factory=Budget)
    resources: TrialResources = Field(default_factory=TrialResources)
    max_concurrent: int | None = Field(
        default=None, ge=1, description="None: as many as Ray's resources allow"
    )
    on_interrupted: Literal["retry", "fail"] = "retry"

    @model_validator(mode="before")
    @classmethod
    def _default_space(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("space") is None and data.get("base") is not None:
            base = (
                data["base"]
                if isinstance(data["base"], RunConfig)
                else RunConfig.model_validate(data["base"])
            )
            return {**data, "space": default_space(base)}
        return data

    def storage_url(self) -> str:
        return self.storage or f"sqlite:///{Path(self.out).resolve()}/study.sqlite"


class TrialSummary(BaseModel):
    """One trial as the study holds it (``state``: COMPLETE, PRUNED, FAILED, RUNNING, WAITING)."""

    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    run_dir: Path
    steps: int
    cpu_hours: float
    gpu_hours: float
    flops: float
    wall_s: float
    user_attrs: dict[str, Any] = Field(default_factory=dict)


class SearchResult(BaseModel):
    """What a search returns; ``trials`` covers the whole study, not only this invocation."""

    study_name: str
    storage: str
    out: Path
    best: TrialSummary | None
    n_complete: int
    n_pruned: int
    n_failed: int
    cpu_hours: float
    gpu_hours: float
    flops: float
    wall_s: float
    stopped_by: StoppedBy
    report: Path
    trials: list[TrialSummary]
    stop_reason: str = ""
    space: SearchSpace | None = None
