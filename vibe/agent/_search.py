"""The search step: a hyperparameter search on a small proxy, whose best settings the local run inherits.

When the goal asks for a search (``TrainingGoal.search``), :func:`search_step` adds an ``hpo`` step between
the ingest and the training step. It searches on a *search proxy*: the local run's model at
``SearchSettings.proxy_width`` of its width (same depth, same head size, same data and tokenizer), trained for
``trial_fraction`` of the local run's steps per trial. The space is :func:`tools.hpo.default_space` of that
proxy (or the space given, e.g. one narrowed around an earlier best); the budget is ``max_trials`` and a
wall-clock allowance (``hours``, else ``max_trials`` x one trial's estimate) and the hours it may use: the
smaller of that wall time x the trials that run at once (one core each) and ``max_trials`` x one trial's
estimate (its training FLOPs at the plan's rate plus a fixed start-up), as CPU core-hours (GPU-hours for a
``device: cuda`` run), and optionally a ``deadline`` after which no trial starts.

When the search has finished, :func:`transfer_into` maps its best trial onto the next training step with
:func:`tools.hpo.transfer` (µP-style: the learning rate scales by proxy width / target width; warmup,
weight decay and batch size carry over; the target keeps its shape). That changed step is what the gate
judges next, and the ledger records where it came from: "proposed from search trial N, transferred by …".
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from tools.hpo import HPOArgs
from vibe.agent._step import PlanStep
from vibe.core.config import VibeConfig, set_dotted

__all__ = [
    "TRANSFER_RULE",
    "TRIAL_OVERHEAD_S",
    "SearchSettings",
    "search_parameters",
    "search_step",
    "shrink_search_step",
    "transfer_into",
]

# Start-up of one trial on top of its training FLOPs (a Ray task in a warm worker, Megatron model build,
# first validation): what a search budget allows per trial besides its compute.
TRIAL_OVERHEAD_S = 30.0
TRANSFER_RULE = (
    "µP-style transfer (tools.hpo.transfer): learning rate x proxy width / target width; warmup, weight "
    "decay and batch size carried over; width and depth from the target"
)


class SearchSettings(VibeConfig):
    """How large a search the planner adds when a goal asks for one."""

    max_trials: int = Field(default=8, ge=1, description="finished trials (complete or pruned)")
    hours: float | None = Field(
        default=None,
        gt=0,
        description="wall-clock hours for the search; None: max_trials x one trial's estimate",
    )
    deadline: datetime | None = Field(default=None, description="no trial starts after this (timezone-aware)")
    trial_fraction: float = Field(
        default=0.25, gt=0, le=1, description="share of the local run's steps per trial"
    )
    proxy_width: float = Field(default=0.5, gt=0, le=1, description="search proxy width / local run width")
    space: dict[str, Any] | None = Field(
        default=None, description="a tools.hpo.SearchSpace as data; None: default_space of the search proxy"
    )
    sampler: Literal["tpe", "cmaes", "random"] = "tpe"
    pruner: Literal["hyperband", "successive_halving", "median", "none"] = "hyperband"
    seed: int = 0
    beat: float | None = Field(
        default=None,
        description="the objective value to beat: a search whose best is no better trains nothing after it",
    )
    max_concurrent: int | None = Field(
        default=None, ge=1, description="None: as many as Ray's resources allow"
    )


def _proxy_model(model: dict[str, Any], width: float) -> dict[str, Any]:
    """``model`` at ``width`` of its width, keeping the head size; never narrower than 32 (or the model)."""
    hidden, heads = int(model["hidden_size"]), int(model["num_attention_heads"])
    head_dim = hidden // heads
    new_heads = max(1, round(heads * width))
    while new_heads < heads and new_heads * head_dim < 32:
        new_heads += 1
    new_heads = min(new_heads, heads)
    new_hidden = new_heads * head_dim
    out = {**model, "preset": None, "hidden_size": new_hidden, "num_attention_heads": new_heads}
    if model.get("ffn_hidden_size"):
        out["ffn_hidden_size"] = max(8, int(model["ffn_hidden_size"]) * new_hidden // hidden)
    return out


def _seconds(config: dict[str, Any], *, vocab_size: int, flops_per_second: float) -> float:
    from tools.estimate import ModelShape
    from trainers import ModelConfig

    shape = ModelShape.of_model(ModelConfig.model_validate(config.get("model", {})), vocab_size=vocab_size)
    training = config["training"]
    return (
        training["max_steps"]
        * training["global_batch_size"]
        * shape.seq_length
        * shape.flops_per_token()
        / (flops_per_second)
    )


def search_step(
    train_config: dict[str, Any],
    *,
    objective: Literal["val_bpb", "val_loss"],
    settings: SearchSettings,
    vocab_size: int,
    flops_per_second: float,
    out: str,
    study_name: str,
) -> HPOArgs:
    """The ``hpo`` step's arguments, ``config`` the HPOConfig as data, for a search ahead of ``train_config``."""
    from tools.hpo import Budget, HPOConfig, SearchSpace, default_space
    from trainers import RunConfig

    base = copy.deepcopy(train_config)
    base["model"] = _proxy_model(base["model"], settings.proxy_width)
    training = base["training"]
    steps = max(4, math.ceil(training["max_steps"] * settings.trial_fraction))
    training["max_steps"] = steps
    training["eval_interval"] = max(1, steps // 4)  # the pruner compares trials at these points
    training["checkpoint_interval"] = 0  # only at the end: trials are short
    base["optimizer"]["warmup_steps"] = min(base["optimizer"].get("warmup_steps", 0), max(1, steps // 10))
    base["out"] = f"{out}/base"
    run = RunConfig.model_validate(base)
    space = SearchSpace.model_validate(settings.space) if settings.space else default_space(run)
    trial_s = _seconds(base, vocab_size=vocab_size, flops_per_second=flops_per_second) + TRIAL_OVERHEAD_S
    wall_s = settings.hours * 3600 if settings.hours else settings.max_trials * trial_s
    gpu = base.get("device") == "cuda" or base.get("ray", {}).get("use_gpu")
    cores = os.cpu_count() or 1
    at_once = min(cores, settings.max_concurrent or cores)  # trials ask for one CPU each
    # No more than the wall clock allows at that concurrency, nor than max_trials trials can use.
    hours = min(wall_s * (1 if gpu else at_once), settings.max_trials * trial_s) / 3600
    budget = Budget(
        max_trials=settings.max_trials,
        deadline=settings.deadline,
        max_wall_s=wall_s,
        cpu_hours=None if gpu else hours,
        gpu_hours=hours if gpu else None,
    )
    config = HPOConfig(
        out=out,
        study_name=study_name,
        base=run,
        space=space,
        objective=objective,
        sampler=settings.sampler,
        pruner=settings.pruner,
        seed=settings.seed,
        budget=budget,
        max_concurrent=settings.max_concurrent,
    )
    beat = {"beat": settings.beat} if settings.beat is not None else {}
    return HPOArgs(config=config.model_dump(mode="json"), **beat)


def search_parameters(config: dict[str, Any], *, vocab_size: int) -> int:
    """The most parameters a trial of the search ``config`` (HPOConfig as data) can have: the base run at the
    widest and deepest values of its space, counted as the search itself counts them for the policy."""
    from tools.hpo import SearchSpace, max_space_parameters
    from trainers import RunConfig

    return max_space_parameters(
        SearchSpace.model_validate(config["space"]),
        RunConfig.model_validate(config["base"]),
        vocab_size=vocab_size,
    )


def shrink_search_step(step: PlanStep, *, accept: Callable[[PlanStep], bool]) -> PlanStep | None:
    """The search ``step`` with half, a quarter, ... of its trials and hours (down to one trial), the
    largest that ``accept`` (the gate, in practice) takes; None if not even one trial is accepted."""
    budget = step.args["config"]["budget"]
    trials = budget.get("max_trials") or 1
    while trials > 1:
        trials //= 2
        share = trials / (budget.get("max_trials") or 1)
        config = copy.deepcopy(step.args["config"])
        new = config["budget"]
        new["max_trials"] = trials
        for key in ("cpu_hours", "gpu_hours", "max_wall_s"):
            if new.get(key) is not None:
                new[key] = new[key] * share
        smaller = step.with_args(
            config=config, why=f"{step.why} (shrunk to fit the policy: {trials} trial(s))"
        )
        if accept(smaller):
            return smaller
    return None


def transfer_into(
    train_step: PlanStep | dict[str, Any], *, search: dict[str, Any], result: dict[str, Any]
) -> tuple[PlanStep, dict[str, Any], str] | None:
    """The training step with the search's best settings transferred onto it, the overrides applied and the
    reason to record; None when the search found no best trial. ``train_step`` is typed, or serialised as
    the agent's state holds it."""
    from tools.hpo import transfer
    from trainers import ModelConfig

    train_step = PlanStep.model_validate(train_step)
    best = result.get("best")
    if not best:
        return None
    proxy_model = copy.deepcopy(search["base"]["model"])
    for name, value in best["params"].items():
        if name.startswith("model."):
            proxy_model[name.removeprefix("model.")] = value
    proxy = ModelConfig.model_validate(proxy_model)
    config = copy.deepcopy(train_step.args["config"])
    target = ModelConfig.model_validate(config["model"])
    overrides = transfer(best["params"], proxy=proxy, target=target)
    for dotted, value in overrides.items():
        set_dotted(config, dotted, value)
    training, optimizer = config["training"], config["optimizer"]
    optimizer["min_lr"] = min(optimizer.get("min_lr", 0.0), optimizer["lr"])
    optimizer["warmup_steps"] = min(optimizer.get("warmup_steps", 0), max(0, training["max_steps"] - 1))
    dp = config.get("parallel", {}).get("dp", 1)
    micro = min(training["micro_batch_size"], max(1, training["global_batch_size"] // dp))
    while training["global_batch_size"] % (micro * dp):
        micro -= 1
    training["micro_batch_size"] = max(1, micro)
    value = best.get("value")
    shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in overrides.items())
    reason = (
        f"proposed from search trial {best['number']} ({search.get('objective', 'val_bpb')} "
        f"{value:.4f}) of study {result.get('study_name', '?')}, transferred by rule {TRANSFER_RULE} "
        f"(proxy width {proxy.hidden_size} -> target width {target.hidden_size}): {shown}"
        if value is not None
        else f"proposed from search trial {best['number']}, transferred by rule {TRANSFER_RULE}: {shown}"
    )
    why = f"{train_step.why}; settings proposed from search trial {best['number']}, transferred by rule µP-style"
    moved = train_step.with_args(config=config, why=why)
    return moved, overrides, reason
