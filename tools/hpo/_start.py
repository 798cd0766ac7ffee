"""The search's first trials: the base run's own values, then scrambled Sobol points (TPE's start).

TPE models the space from the trials it has seen; before it has ``n_startup_trials`` of them it draws at
random. On a small budget those few random draws decide where TPE looks next, and in
``bench/hpo_efficiency.py`` a start that happened to miss the good learning rates cost a whole seed. Here a
fresh TPE study is seeded (``study.enqueue_trial``) with

1. the base run's values of the searched fields, clipped into the space: what the user (or the planner)
   already thought good, known after one trial, and
2. ``SOBOL_POINTS`` points of a scrambled Sobol sequence (``scipy.stats.qmc``) over the unit cube, mapped
   onto the space (log ranges in log space): every stretch of every range gets its share, where random
   draws cluster.

TPE takes over after them (the enqueued trials count as its start-up). A continued study is not seeded
again. ``HPOConfig.start="random"`` keeps TPE's own random start.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

from tools.hpo._space import ParamSpec, SearchSpace, to_sampler

if TYPE_CHECKING:
    import optuna

    from trainers import RunConfig

__all__ = ["SOBOL_POINTS", "enqueue_start", "prior_point", "sobol_points"]

SOBOL_POINTS = 4  # with the prior point, TPE's usual 5 start-up trials: a small budget keeps room for TPE


def prior_point(space: SearchSpace, base: RunConfig) -> dict[str, Any]:
    """The base run's value of every searched field, moved into the space (ints onto the step grid,
    categoricals to the nearest numeric choice); fields the base has no usable value for are left out."""
    data = base.model_dump(mode="json")
    point: dict[str, Any] = {}
    for p in space.params:
        value: Any = data
        for key in p.name.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            continue
        if p.kind == "categorical":
            choices = list(p.choices or [])
            if value in choices:
                point[p.name] = value
            elif isinstance(value, int | float) and all(isinstance(c, int | float) for c in choices):
                point[p.name] = min(choices, key=lambda c: abs(math.log(max(c, 1e-12) / max(value, 1e-12))))
            continue
        if not isinstance(value, int | float):
            continue
        low, high = float(p.low or 0), float(p.high or 0)
        clipped = min(max(float(value), low), high)
        point[p.name] = _on_grid(p, clipped) if p.kind == "int" else clipped
    return point


def sobol_points(space: SearchSpace, *, n: int, seed: int) -> list[dict[str, Any]]:
    """The first ``n`` points of a scrambled Sobol sequence (seeded), mapped onto ``space``."""
    if n < 0:
        raise ValueError(f"n: got {n}; must be >= 0")
    if n == 0 or not space.params:
        return []
    from scipy.stats import qmc

    sobol = qmc.Sobol(d=len(space.params), scramble=True, seed=seed)
    with warnings.catch_warnings():  # a prefix of a 2^m block is still evenly spread; scipy warns anyway
        warnings.simplefilter("ignore")
        cube = sobol.random_base2(m=max(0, math.ceil(math.log2(n))))[:n]
    return [{p.name: _from_unit(p, float(u)) for p, u in zip(space.params, row, strict=True)} for row in cube]


def enqueue_start(
    study: optuna.Study, space: SearchSpace, base: RunConfig, *, seed: int, limit: int | None = None
) -> int:
    """Seed a fresh study with the prior point and the Sobol points, at most ``limit`` of them (the budget's
    trial count: a 1-trial search leaves no queued point behind in its storage); returns how many were
    enqueued (0 for a study that already holds trials)."""
    if study.get_trials(deepcopy=False):
        return 0
    points = [("prior", prior_point(space, base))]
    points += [("sobol", point) for point in sobol_points(space, n=SOBOL_POINTS, seed=seed)]
    seen: set[str] = set()
    for origin, point in points:
        key = repr(sorted(point.items()))
        if limit is not None and len(seen) >= limit:
            break
        if point and key not in seen:
            seen.add(key)
            study.enqueue_trial(to_sampler(space, point), user_attrs={"start": origin})
    return len(seen)


def _from_unit(p: ParamSpec, u: float) -> Any:
    """``u`` in [0, 1) to a value of ``p``: evenly in the range (in log space for log params)."""
    if p.kind == "categorical":
        choices = p.ordered_choices()
        return choices[min(int(u * len(choices)), len(choices) - 1)]
    low, high = float(p.low or 0), float(p.high or 0)
    if p.kind == "int" and not p.log:
        step = p.step or 1
        count = (int(high) - int(low)) // step + 1
        return int(low) + min(int(u * count), count - 1) * step
    if p.log:
        value = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    else:
        value = low + u * (high - low)
    return _on_grid(p, value) if p.kind == "int" else min(max(value, low), high)


def _on_grid(p: ParamSpec, value: float) -> int:
    step, low = p.step or 1, int(p.low or 0)
    snapped = low + round((value - low) / step) * step
    return int(min(max(snapped, low), int(p.high or 0)))
