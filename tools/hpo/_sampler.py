"""The sampler a study is opened with: TPE with a share of its trials drawn at random, CMA-ES, or random.

Why interleave random trials into TPE: on a small budget TPE locks onto the region of its first good trial.
In ``bench/hpo_efficiency.py`` it kept drawing the base run's width (64) for forty trials after the start,
while random search found the best results at width 32; a categorical parameter is where this bites, since
TPE's kernel for it has no notion of "nearby". BOHB (Falkner et al., 2018) and SMAC interleave uniformly
random configurations for the same reason: whatever the model believes, every ``1 / random_fraction``-th
trial samples the whole space, so the search is never much worse than random search at the same compute, and
Hyperband prunes the random trials that are bad at its first rung, so they cost little.

The width is now searched as an ordered index (``ParamSpec.ordered``, ``_space.py``), which addresses the
cause of that lock; the random share stays at a third, since with the ordered width a fifth of trials random
ended worse at a third of random search's compute on both seeds tried (0 and 1; ``BENCHMARKS.md``).

Which trials are random is fixed by the trial number (trial ``n`` when ``floor((n + 1) f) > floor(n f)``), so
a resumed study continues the same schedule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import optuna

from tools.hpo._config import HPOConfig

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.study import Study
    from optuna.trial import FrozenTrial, TrialState

__all__ = ["TPE_STARTUP", "InterleavedSampler", "is_random_turn", "make_sampler"]

TPE_STARTUP = 5  # TPE's start-up trials (with the Sobol start: the prior point and 4 Sobol points)


def is_random_turn(number: int, fraction: float) -> bool:
    """Whether trial ``number`` is one of the evenly spread ``fraction`` of trials drawn at random."""
    return math.floor((number + 1) * fraction + 1e-9) > math.floor(number * fraction + 1e-9)


class InterleavedSampler(optuna.samplers.BaseSampler):
    """``model`` (TPE) for most trials; ``random`` for the trials :func:`is_random_turn` picks."""

    def __init__(
        self,
        model: optuna.samplers.BaseSampler,
        random: optuna.samplers.BaseSampler,
        *,
        fraction: float,
    ) -> None:
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"fraction: got {fraction}; must be in [0, 1)")
        self._model, self._random, self._fraction = model, random, fraction

    def _for(self, trial: FrozenTrial) -> optuna.samplers.BaseSampler:
        return self._random if is_random_turn(trial.number, self._fraction) else self._model

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._model.before_trial(study, trial)
        self._random.before_trial(study, trial)

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        self._model.after_trial(study, trial, state, values)
        self._random.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._model.reseed_rng()
        self._random.reseed_rng()


def make_sampler(config: HPOConfig, *, held: int = 0) -> optuna.samplers.BaseSampler:
    """TPE (multivariate, so width/depth/lr interact; constant liar for parallel trials) with
    ``config.random_fraction`` of its trials random, CMA-ES (with random start-up trials; categorical params
    fall back to independent random sampling) or random. The seed also mixes in how many trials the study
    holds, so a resumed driver does not replay the first draws."""
    seed = config.seed + held
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if config.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(
            seed=seed, n_startup_trials=4, warn_independent_sampling=False, consider_pruned_trials=True
        )
    tpe = optuna.samplers.TPESampler(
        seed=seed,
        n_startup_trials=TPE_STARTUP,
        multivariate=True,
        constant_liar=True,
    )
    if config.random_fraction == 0:
        return tpe
    random = optuna.samplers.RandomSampler(seed=seed + 7919)  # its own stream, not TPE's start-up draws
    return InterleavedSampler(tpe, random, fraction=config.random_fraction)
