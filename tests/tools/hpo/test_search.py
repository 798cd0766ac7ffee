"""The search on real Optuna storage and real Ray trials (tiny runs): pruning, stopping, samplers, storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hpo_helpers import lr_space, proxy_run

from tools.hpo import Budget, HPOConfig, ParamSpec, SearchSpace, TrialResources, run_search, rung_steps


def _config(data: Path, out: Path, **fields: object) -> HPOConfig:
    base = proxy_run(data, out / "base", **fields.pop("training", {}))  # type: ignore[arg-type]
    return HPOConfig.model_validate(
        {"out": out, "study_name": "test", "base": base, "space": lr_space(), **fields}
    )


@pytest.mark.slow
def test_hyperband_prunes_poor_trials_and_max_trials_stops(
    hpo_data: Path, hpo_ray: str, tmp_path: Path
) -> None:
    config = _config(hpo_data, tmp_path / "study", budget=Budget(max_trials=8), seed=1)
    result = run_search(config)
    assert result.stopped_by == "max_trials"
    assert result.n_complete + result.n_pruned == 8 and result.n_failed == 0
    assert result.n_pruned >= 1
    pruned = [t for t in result.trials if t.state == "PRUNED"]
    # pruned at a rung, and no step past it: the worker holds there for the driver's verdict
    assert all(t.user_attrs["stopped_at"] in rung_steps(config) for t in pruned)
    assert all(t.steps == t.user_attrs["stopped_at"] for t in pruned)
    assert result.best is not None and result.best.steps == config.base.training.max_steps
    assert result.report.is_file() and (tmp_path / "study" / "history.png").is_file()


@pytest.mark.slow
def test_the_compute_budget_stops_the_search(hpo_data: Path, hpo_ray: str, tmp_path: Path) -> None:
    # one tiny trial trains 24 steps x 8 x 64 tokens; the budget covers about two and a half of them
    config = _config(hpo_data, tmp_path / "study", pruner="none", max_concurrent=1,
                     budget=Budget(max_trials=20, flops=2.5 * 24 * 8 * 64 * 1.3e6))  # fmt: skip
    result = run_search(config)
    assert result.stopped_by == "budget"
    assert 1 <= result.n_complete < 20
    assert result.flops <= config.budget.flops * 1.5  # the running trial is stopped when the budget is spent


@pytest.mark.slow
def test_the_deadline_stops_running_trials(hpo_data: Path, hpo_ray: str, tmp_path: Path) -> None:
    config = _config(hpo_data, tmp_path / "study", training={"max_steps": 4000}, pruner="none",
                     budget=Budget(max_trials=4, max_wall_s=6))  # fmt: skip
    result = run_search(config)
    assert result.stopped_by == "deadline"
    assert result.n_complete == 0 and result.n_failed >= 1
    for trial in result.trials:
        assert trial.state == "FAIL" and trial.user_attrs["stopped"] == "deadline"
        assert 0 < trial.steps < 4000


def test_a_past_deadline_starts_no_trial(hpo_data: Path, hpo_ray: str, tmp_path: Path) -> None:
    config = _config(
        hpo_data, tmp_path / "study", budget=Budget(deadline=datetime.now(UTC) - timedelta(seconds=1))
    )
    result = run_search(config)
    assert result.stopped_by == "deadline" and result.trials == []


@pytest.mark.slow
def test_cmaes_is_selectable_and_samples_after_its_start_up(
    hpo_data: Path, hpo_ray: str, tmp_path: Path
) -> None:
    space = SearchSpace(
        params=[
            ParamSpec(name="optimizer.lr", kind="float", low=1e-3, high=3e-2, log=True),
            ParamSpec(name="optimizer.weight_decay", kind="float", low=0.0, high=0.3),
        ]
    )
    config = _config(hpo_data, tmp_path / "study", sampler="cmaes", pruner="none", space=space,
                     training={"max_steps": 8}, budget=Budget(max_trials=6), max_concurrent=1)  # fmt: skip
    result = run_search(config)
    import optuna

    study = optuna.load_study(study_name="test", storage=result.storage)
    assert any(k.startswith("cma:") for t in study.trials for k in t.system_attrs)
    assert result.n_complete == 6


def test_random_sampler_and_storage_url_are_honoured(hpo_data: Path, hpo_ray: str, tmp_path: Path) -> None:
    import optuna

    from tools.hpo import open_study

    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    config = _config(hpo_data, tmp_path / "study", sampler="random", storage=url)
    study = open_study(config)
    assert isinstance(study.sampler, optuna.samplers.RandomSampler)
    assert (tmp_path / "elsewhere.db").is_file() and not (tmp_path / "study" / "study.sqlite").exists()
    assert optuna.load_study(study_name="test", storage=url).study_name == "test"


def test_resources_that_fit_nowhere_are_refused(hpo_data: Path, hpo_ray: str, tmp_path: Path) -> None:
    from vibe.core.errors import UserError

    config = _config(hpo_data, tmp_path / "study", resources=TrialResources(cpus=64))
    with pytest.raises(UserError, match="resources"):
        run_search(config)
