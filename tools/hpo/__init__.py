"""Hyper-parameter search for the trainer: an Optuna study whose trials are real short runs on Ray.

:func:`run_search` takes an :class:`HPOConfig` (the base proxy run, a :class:`SearchSpace`, sampler TPE /
CMA-ES / random, pruner Hyperband / successive halving / median, a :class:`Budget`, per-trial
:class:`TrialResources`) and returns a :class:`SearchResult`. The study lives in Optuna's RDB storage (a SQLite
file in the study directory by default, any SQLAlchemy URL such as PostgreSQL by config), so killing the
driver and starting it again continues the same study, and ``optuna-dashboard URL`` shows it live.

Each trial trains ``trainers`` code as a Ray task with its own resource request; the driver reports every
validation record to Optuna and stops pruned trials. Before the search and before each trial a
:class:`policies.Gate` (the agent's policy gate) is asked about ``hpo.search``; the space is bounded by the
policy's model size limit. :func:`transfer` maps the best proxy settings to the full-size run (µP-style lr
scaling); :func:`write_study_report` writes ``report.md`` with plots. ``vibe hpo`` and the agent tool ``hpo``
(``tools/hpo/_tool.py``) both call :func:`run_search`.

Modules: ``_space`` (params, default space, policy bounds), ``_config`` (configs and results), ``_search``
(the driver: scheduling, pruning, budget, resume), ``_start`` (TPE's first trials: the base run's values and
Sobol points), ``_sampler`` (TPE with a share of random trials), ``_trial`` (the Ray task), ``_transfer``, ``_report``,
``_tool``. Names load lazily: importing this package does not import torch, Megatron, Ray or Optuna.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tools.hpo import _tool  # noqa: F401  (registers the agent tool `hpo`; imports nothing heavy)
from tools.hpo._tool import HPOArgs

if TYPE_CHECKING:
    from tools.hpo._config import (
        Budget,
        HPOConfig,
        SearchResult,
        TrialResources,
        TrialSummary,
    )
    from tools.hpo._report import write_study_report
    from tools.hpo._sampler import InterleavedSampler, is_random_turn, make_sampler
    from tools.hpo._search import open_study, policy_max_parameters, run_search
    from tools.hpo._space import (
        ParamSpec,
        SearchSpace,
        apply_params,
        bound_by_policy,
        default_space,
        distributions,
        max_space_parameters,
        model_parameters,
        suggest,
        to_sampler,
        to_values,
    )
    from tools.hpo._start import SOBOL_POINTS, enqueue_start, prior_point, sobol_points
    from tools.hpo._storage import rung_steps
    from tools.hpo._transfer import transfer
    from tools.hpo._trial import STOP_PREFIX

__all__ = [
    "SOBOL_POINTS",
    "STOP_PREFIX",
    "Budget",
    "HPOArgs",
    "HPOConfig",
    "InterleavedSampler",
    "ParamSpec",
    "SearchResult",
    "SearchSpace",
    "TrialResources",
    "TrialSummary",
    "apply_params",
    "bound_by_policy",
    "default_space",
    "distributions",
    "enqueue_start",
    "is_random_turn",
    "make_sampler",
    "max_space_parameters",
    "model_parameters",
    "open_study",
    "policy_max_parameters",
    "prior_point",
    "run_search",
    "rung_steps",
    "sobol_points",
    "suggest",
    "to_sampler",
    "to_values",
    "transfer",
    "write_study_report",
]

_WHERE = {
    "SOBOL_POINTS": "_start",
    "InterleavedSampler": "_sampler",
    "is_random_turn": "_sampler",
    "make_sampler": "_sampler",
    "enqueue_start": "_start",
    "prior_point": "_start",
    "sobol_points": "_start",
    "bound_by_policy": "_space",
    "open_study": "_search",
    "model_parameters": "_space",
    "apply_params": "_space",
    "policy_max_parameters": "_search",
    "STOP_PREFIX": "_trial",
    "Budget": "_config",
    "HPOConfig": "_config",
    "SearchResult": "_config",
    "TrialResources": "_config",
    "TrialSummary": "_config",
    "ParamSpec": "_space",
    "SearchSpace": "_space",
    "default_space": "_space",
    "distributions": "_space",
    "suggest": "_space",
    "to_sampler": "_space",
    "to_values": "_space",
    "max_space_parameters": "_space",
    "run_search": "_search",
    "rung_steps": "_storage",
    "transfer": "_transfer",
    "write_study_report": "_report",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'tools.hpo' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tools.hpo.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
