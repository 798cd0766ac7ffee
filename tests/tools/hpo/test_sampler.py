"""TPE with a share of random trials (tools/hpo/_sampler.py), on real Optuna studies."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from hpo_helpers import proxy_run
from pydantic import ValidationError

from tools.hpo import HPOConfig, InterleavedSampler, ParamSpec, SearchSpace, is_random_turn, make_sampler


def test_the_random_turns_are_evenly_spread_and_fixed_by_the_trial_number() -> None:
    assert [n for n in range(12) if is_random_turn(n, 1 / 3)] == [2, 5, 8, 11]
    assert [n for n in range(8) if is_random_turn(n, 0.25)] == [3, 7]
    assert sum(is_random_turn(n, 0.2) for n in range(100)) == 20
    assert not any(is_random_turn(n, 0.0) for n in range(50))


def test_random_turns_leave_the_model_and_sample_the_whole_space() -> None:
    # a "model" locked onto one point: every trial it samples has x = 0.5 and width 64
    locked = optuna.samplers.PartialFixedSampler(
        {"x": 0.5, "width": 64}, base_sampler=optuna.samplers.RandomSampler(seed=0)
    )
    sampler = InterleavedSampler(locked, optuna.samplers.RandomSampler(seed=1), fraction=1 / 3)
    study = optuna.create_study(sampler=sampler)
    seen = []
    for _ in range(30):
        trial = study.ask()
        point = (trial.suggest_float("x", 0.0, 1.0), trial.suggest_categorical("width", [32, 64, 128]))
        study.tell(trial, point[0])
        seen.append(point)
    model_turns = [p for n, p in enumerate(seen) if not is_random_turn(n, 1 / 3)]
    random_turns = [p for n, p in enumerate(seen) if is_random_turn(n, 1 / 3)]
    assert set(model_turns) == {(0.5, 64)} and len(random_turns) == 10
    assert all(p[0] != 0.5 for p in random_turns)
    assert {p[1] for p in random_turns} == {32, 64, 128}  # the widths the model never tries


def test_tpe_gets_the_random_share_unless_it_is_zero(tmp_path: Path) -> None:
    space = SearchSpace(params=[ParamSpec(name="optimizer.lr", kind="float", low=1e-4, high=0.3, log=True)])
    config = HPOConfig(out=tmp_path, study_name="s", base=proxy_run(tmp_path, tmp_path), space=space)
    assert config.random_fraction == pytest.approx(1 / 3)
    assert isinstance(make_sampler(config), InterleavedSampler)
    plain = make_sampler(config.model_copy(update={"random_fraction": 0.0}))
    assert isinstance(plain, optuna.samplers.TPESampler)
    assert isinstance(
        make_sampler(config.model_copy(update={"sampler": "random"})), optuna.samplers.RandomSampler
    )
    with pytest.raises(ValidationError, match="random_fraction"):
        HPOConfig(out=tmp_path, study_name="s", base=config.base, space=space, random_fraction=1.0)
    with pytest.raises(ValueError, match=r"fraction: got 1\.5; must be in \[0, 1\)"):
        InterleavedSampler(plain, plain, fraction=1.5)
