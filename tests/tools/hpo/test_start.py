"""TPE's start (tools/hpo/_start.py): the base run's values, then Sobol points, enqueued on real Optuna storage."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hpo_helpers import proxy_run

from tools.hpo import (
    SOBOL_POINTS,
    Budget,
    HPOConfig,
    InterleavedSampler,
    ParamSpec,
    SearchSpace,
    distributions,
    enqueue_start,
    open_study,
    prior_point,
    run_search,
    sobol_points,
    to_values,
)


def _space() -> SearchSpace:
    return SearchSpace(
        params=[
            ParamSpec(name="optimizer.lr", kind="float", low=1e-4, high=0.3, log=True),
            ParamSpec(name="optimizer.warmup_steps", kind="int", low=0, high=12),
            ParamSpec(name="optimizer.weight_decay", kind="float", low=0.0, high=0.3),
            ParamSpec(name="model.hidden_size", kind="categorical", choices=[32, 48, 128]),
        ]
    )


def test_sobol_points_cover_every_stretch_of_every_range_and_follow_the_seed() -> None:
    space = _space()
    points = sobol_points(space, n=8, seed=3)
    assert len(points) == 8
    lo, hi = math.log(1e-4), math.log(0.3)
    lr_bins = sorted(int(8 * (math.log(p["optimizer.lr"]) - lo) / (hi - lo)) for p in points)
    assert lr_bins == list(range(8))  # one point in each eighth of the log range: no clustering
    wd_bins = sorted(int(8 * p["optimizer.weight_decay"] / 0.3) for p in points)
    assert wd_bins == list(range(8))
    assert all(
        isinstance(p["optimizer.warmup_steps"], int) and 0 <= p["optimizer.warmup_steps"] <= 12
        for p in points
    )
    assert {p["model.hidden_size"] for p in points} == {32, 48, 128}
    assert sobol_points(space, n=8, seed=3) == points
    assert sobol_points(space, n=8, seed=4) != points
    assert len(sobol_points(space, n=5, seed=0)) == 5 and sobol_points(space, n=0, seed=0) == []
    with pytest.raises(ValueError, match="n: got -1"):
        sobol_points(space, n=-1, seed=0)


def test_the_prior_point_is_the_base_runs_values_moved_into_the_space(tmp_path: Path) -> None:
    base = proxy_run(tmp_path / "data", tmp_path / "base")  # lr 3e-3, warmup 5, hidden 64
    point = prior_point(_space(), base)
    assert point["optimizer.lr"] == pytest.approx(3e-3)
    assert point["optimizer.warmup_steps"] == 5
    assert point["model.hidden_size"] == 48  # 64 is not a choice: the nearest (in ratio) is
    narrow = SearchSpace(params=[ParamSpec(name="optimizer.lr", kind="float", low=1e-2, high=0.1, log=True)])
    assert prior_point(narrow, base) == {"optimizer.lr": 1e-2}  # clipped into the range


def test_a_fresh_study_asks_the_prior_then_the_sobol_points_and_is_seeded_once(tmp_path: Path) -> None:
    space = _space()
    base = proxy_run(tmp_path / "data", tmp_path / "base")
    config = HPOConfig(out=tmp_path / "study", study_name="s", base=base, space=space, seed=2)
    config.out.mkdir()
    study = open_study(config)
    assert enqueue_start(study, space, base, seed=2) == 1 + SOBOL_POINTS
    asked = []
    for _ in range(1 + SOBOL_POINTS + 1):
        trial = study.ask(distributions(space))
        asked.append(to_values(space, trial.params))  # the width is asked as an index (ordered)
        study.tell(trial, 1.0)
    assert asked[0] == prior_point(space, base)
    assert asked[1 : 1 + SOBOL_POINTS] == sobol_points(space, n=SOBOL_POINTS, seed=2)
    assert asked[-1] not in asked[:-1]  # TPE's own draw after the start
    again = open_study(config)  # a continued study (a new driver): not seeded twice
    assert enqueue_start(again, space, base, seed=2) == 0
    assert len(again.get_trials()) == 2 + SOBOL_POINTS


@pytest.mark.parametrize(
    ("fields", "seeded"),
    [({}, 1 + SOBOL_POINTS), ({"start": "random"}, 0), ({"sampler": "cmaes"}, 0), ({"sampler": "random"}, 0)],
)
def test_run_search_seeds_only_a_tpe_study_with_the_sobol_start(
    hpo_data: Path, hpo_ray: str, tmp_path: Path, fields: dict[str, str], seeded: int
) -> None:
    import optuna

    config = HPOConfig.model_validate(
        {"out": tmp_path / "study", "study_name": "t", "base": proxy_run(hpo_data, tmp_path / "base"),
         "space": _space(), "budget": Budget(deadline=datetime.now(UTC) - timedelta(seconds=1)), **fields}
    )  # fmt: skip
    result = run_search(config)  # past its deadline: no trial runs, the start stays enqueued
    assert result.stopped_by == "deadline"
    assert result.trials == []  # the queued start is not a trial that ran
    study = optuna.load_study(study_name="t", storage=result.storage)
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert len(waiting) == seeded
    assert [t.user_attrs["start"] for t in waiting] == ["prior", *["sobol"] * (seeded - 1)][:seeded]
    expected = {"cmaes": optuna.samplers.CmaEsSampler, "random": optuna.samplers.RandomSampler}
    assert isinstance(
        open_study(config).sampler, expected.get(fields.get("sampler", ""), InterleavedSampler)
    )  # TPE with its random share (test_sampler.py)


@pytest.mark.parametrize(
    ("budget", "pruner"),
    [
        ({"max_trials": 8}, "SuccessiveHalvingPruner"),  # 8 trials: TPE could not model 2 brackets
        ({"max_trials": 40}, "SuccessiveHalvingPruner"),  # 40: still too few for 2 brackets (< 100)
        ({"max_trials": 100}, "HyperbandPruner"),
        ({"max_trials": None, "flops": 6 * 24 * 8 * 64 * 1.3e6}, "SuccessiveHalvingPruner"),  # ~6 trials
    ],
)
def test_hyperband_brackets_are_sized_to_the_budget(
    hpo_data: Path, tmp_path: Path, budget: dict[str, object], pruner: str
) -> None:
    base = proxy_run(hpo_data, tmp_path / "base")  # 24 steps, validation every 4: rungs 8 and 24, 2 brackets
    config = HPOConfig(out=tmp_path / "study", study_name="b", base=base, space=_space(),
                       budget=Budget.model_validate(budget))  # fmt: skip
    config.out.mkdir()
    assert type(open_study(config).pruner).__name__ == pruner
    random = config.model_copy(update={"sampler": "random", "study_name": "r"})
    assert type(open_study(random).pruner).__name__ == "HyperbandPruner"  # no model to starve


def test_trials_hold_at_the_rungs_of_their_pruner(hpo_data: Path, tmp_path: Path) -> None:
    from tools.hpo import rung_steps

    base = proxy_run(hpo_data, tmp_path / "base")  # 24 steps, validation every 4: the first rung at 8
    config = HPOConfig(out=tmp_path / "study", study_name="h", base=base, space=_space())
    assert rung_steps(config) == [8]  # 8 x 3 = 24 is the end, not a rung
    assert rung_steps(config.model_copy(update={"reduction_factor": 2})) == [8, 16]
    assert rung_steps(config.model_copy(update={"pruner": "median"})) == [8, 12, 16, 20]
    assert rung_steps(config.model_copy(update={"pruner": "none"})) == []
    with pytest.raises(ValueError, match="reduction_factor"):
        HPOConfig(out=tmp_path / "study", study_name="h", base=base, space=_space(), reduction_factor=1)
