"""The search's budget: compute spent (finished trials from storage, running ones up to now) and estimates.

``flops`` = training FLOPs (``trainers.flops_per_token`` x tokens trained; evaluation passes are not counted);
``cpu_hours = wall_s x cpus / 3600`` and ``gpu_hours`` likewise (what a trial held, used or not).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from tools.hpo._config import HPOConfig
from tools.hpo._space import SearchSpace, largest_run

if TYPE_CHECKING:
    import optuna

    from trainers import RunConfig

__all__ = [
    "InFlight",
    "affordable_trials",
    "over_budget",
    "search_hours",
    "seconds_per_flop",
    "spent_so_far",
    "trial_flops",
]


class InFlight(Protocol):
    """A running trial, as the budget sees it."""

    submitted: float
    step: int
    tokens_per_step: int
    flops_per_token: float


def seconds_per_flop(study: optuna.Study | None, config: HPOConfig) -> float:
    """Wall seconds per training FLOP of one trial: measured on this study's finished trials, else the
    hardware peak at 25% utilisation (CPU: the measured fp32 matmul peak of the trial's threads; GPU: an
    assumed 100 TFLOP/s per GPU)."""
    if study is not None:
        done = [t for t in study.get_trials(deepcopy=False) if float(t.user_attrs.get("flops", 0)) > 0]
        if done:
            return sum(float(t.user_attrs["wall_s"]) for t in done) / sum(
                float(t.user_attrs["flops"]) for t in done
            )
    res = config.resources
    if res.gpus:
        return 1 / (0.25 * 1e14 * res.gpus)
    from trainers import cpu_peak_flops

    return 1 / (0.25 * cpu_peak_flops(max(1, int(res.cpus))))


def trial_flops(config: RunConfig, *, vocab: int) -> float:
    t = config.training
    return (
        config.model.flops_per_token(vocab_size=vocab)
        * t.max_steps
        * t.global_batch_size
        * config.model.seq_length
    )


def affordable_trials(config: HPOConfig) -> float | None:
    """How many full-length trials of the base run the budget affords (``max_trials``, or the FLOPs budget
    over one base trial's FLOPs, whichever is fewer); None when neither bounds it."""
    budget, bounds = config.budget, []
    if budget.max_trials is not None:
        bounds.append(float(budget.max_trials))
    if budget.flops is not None:
        from trainers import read_sources

        vocab = read_sources(config.base)[0].vocab_size
        bounds.append(budget.flops / max(1.0, trial_flops(config.base, vocab=vocab)))
    return min(bounds) if bounds else None


def search_hours(config: HPOConfig, space: SearchSpace, *, vocab: int) -> dict[str, float]:
    """The hours the gate is asked about before the search: the budget's own, else an upper estimate from
    the other limits (max_trials x the largest trial, or the wall-clock limit x the trials that fit at once).
    """
    budget, res = config.budget, config.resources
    if budget.cpu_hours is not None or budget.gpu_hours is not None:
        return {k: v for k, v in (("cpu_hours", budget.cpu_hours), ("gpu_hours", budget.gpu_hours)) if v}
    bounds = []
    if budget.max_trials is not None:
        wall = trial_flops(largest_run(space, config.base), vocab=vocab) * seconds_per_flop(None, config)
        bounds.append(budget.max_trials * wall)
    end = budget.deadline.timestamp() if budget.deadline else math.inf
    if budget.max_wall_s is not None:
        end = min(end, time.time() + budget.max_wall_s)
    if math.isfinite(end):
        at_once = config.max_concurrent or max(1, int((os.cpu_count() or 1) // res.cpus))
        bounds.append(max(0.0, end - time.time()) * at_once)
    if not bounds:
        return {}
    wall_h = min(bounds) / 3600
    return {"cpu_hours": wall_h * res.cpus, **({"gpu_hours": wall_h * res.gpus} if res.gpus else {})}


def spent_so_far(
    closed: dict[str, float],
    running: Mapping[int, InFlight],
    config: HPOConfig,
    *,
    study: optuna.Study | None = None,
) -> dict[str, float]:
    """Compute used so far: ``closed`` (plus every trial in ``study``, if given) and running ones up to now."""
    spent = dict(closed)
    for t in study.get_trials(deepcopy=False) if study is not None else []:
        if t.number not in running:
            for key in spent:
                spent[key] += float(t.user_attrs.get(key, 0.0))
    now, res = time.time(), config.resources
    for r in running.values():
        wall = now - r.submitted
        spent["cpu_hours"] += wall * res.cpus / 3600
        spent["gpu_hours"] += wall * res.gpus / 3600
        spent["flops"] += r.step * r.tokens_per_step * r.flops_per_token
    return spent


def over_budget(spent: dict[str, float], budget: Any) -> str:
    """Why the budget is used up ('' if not). A trial starts while it is not; the trial that uses it up
    is stopped (and its compute counts)."""
    for key, limit in (
        ("cpu_hours", budget.cpu_hours),
        ("gpu_hours", budget.gpu_hours),
        ("flops", budget.flops),
    ):
        if limit is not None and spent[key] >= limit:
            return f"{key}: {spent[key]:.4g} of the budget's {limit:.4g} used"
    return ""
