"""The search space: validation, narrowing, the default space, applying params, bounding by a model size."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tools.hpo import (
    ParamSpec,
    SearchSpace,
    apply_params,
    bound_by_policy,
    default_space,
    max_space_parameters,
)
from trainers import RunConfig


def _base(**model: object) -> RunConfig:
    return RunConfig.model_validate({"model": {"preset": "tiny", **model}, "training": {"max_steps": 40}})


def test_a_param_must_name_a_dotted_run_config_field() -> None:
    with pytest.raises(ValidationError, match=r"dotted trainers\.RunConfig field"):
        ParamSpec(name="lr", kind="float", low=1e-4, high=1e-2)


def test_a_log_param_needs_a_positive_low() -> None:
    with pytest.raises(ValidationError, match="log: true needs low > 0"):
        ParamSpec(name="optimizer.lr", kind="float", low=0.0, high=1e-2, log=True)


def test_narrowed_stays_inside_the_old_bounds_around_the_best() -> None:
    space = SearchSpace(
        params=[
            ParamSpec(name="optimizer.lr", kind="float", low=1e-4, high=1e-1, log=True),
            ParamSpec(name="optimizer.warmup_steps", kind="int", low=0, high=40),
            ParamSpec(name="training.global_batch_size", kind="categorical", choices=[8, 16]),
        ]
    )
    narrow = space.narrowed({"optimizer.lr": 1e-1, "optimizer.warmup_steps": 20}, factor=0.5)
    lr, warmup, batch = narrow.params
    assert lr.high == pytest.approx(1e-1) and 1e-4 < lr.low < 1e-1  # slid inside the upper bound
    assert lr.high / lr.low == pytest.approx((1e-1 / 1e-4) ** 0.5)
    assert (warmup.low, warmup.high) == (10, 30)
    assert batch == space.params[2]


def test_default_space_adds_router_settings_for_moe() -> None:
    dense = {p.name for p in default_space(_base()).params}
    moe = {p.name for p in default_space(_base(num_experts=4)).params}
    assert {"optimizer.lr", "model.hidden_size", "model.num_layers", "training.global_batch_size"} <= dense
    assert moe - dense == {"model.moe_router_topk", "model.moe_aux_loss_coeff"}


def test_applying_a_lower_lr_keeps_the_min_lr_ratio_valid() -> None:
    base = _base()
    config = apply_params(base, {"optimizer.lr": base.optimizer.lr / 100}, out=str(Path("/tmp/x")))
    assert config.optimizer.min_lr == pytest.approx(base.optimizer.min_lr / 100)
    assert config.out == Path("/tmp/x")


def test_bounding_by_a_parameter_limit_shrinks_depth_then_width() -> None:
    base = _base()
    space = SearchSpace(
        params=[
            ParamSpec(name="model.hidden_size", kind="categorical", choices=[32, 64, 128]),
            ParamSpec(name="model.num_layers", kind="int", low=1, high=4),
        ]
    )
    limit = max_space_parameters(space, base, vocab_size=768) // 3
    bounded, notes = bound_by_policy(space, base, vocab_size=768, limit=limit)
    assert max_space_parameters(bounded, base, vocab_size=768) <= limit
    assert bounded.get("model.num_layers").high == 1  # depth went first
    assert max(bounded.get("model.hidden_size").choices) < 128
    assert len(notes) == 2


def test_bounding_fails_when_even_the_smallest_model_is_too_big() -> None:
    from vibe.core.errors import UserError

    space = SearchSpace(params=[ParamSpec(name="model.num_layers", kind="int", low=1, high=2)])
    with pytest.raises(UserError, match=r"models\.max_parameters"):
        bound_by_policy(space, _base(), vocab_size=768, limit=1000)


def test_a_numeric_categorical_is_suggested_as_an_ordered_index_and_runs_as_its_value() -> None:
    import optuna

    from tools.hpo import distributions, suggest, to_sampler, to_values

    width = ParamSpec(name="model.hidden_size", kind="categorical", choices=[128, 32, 64])
    named = ParamSpec(name="model.normalization", kind="categorical", choices=["RMSNorm", "LayerNorm"])
    space = SearchSpace(params=[width, named])
    assert width.is_ordered and width.ordered_choices() == [32, 64, 128]
    assert not named.is_ordered  # named choices keep TPE's categorical kernel
    assert isinstance(distributions(space)["model.hidden_size"], optuna.distributions.IntDistribution)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial(to_sampler(space, {"model.hidden_size": 32, "model.normalization": "LayerNorm"}))
    seen = set()
    for _ in range(12):
        trial = study.ask()
        values = suggest(trial, space)
        assert trial.params["model.hidden_size"] == [32, 64, 128].index(values["model.hidden_size"])
        assert to_values(space, trial.params) == values
        seen.add(values["model.hidden_size"])
        study.tell(trial, 1.0)
    assert study.trials[0].params["model.hidden_size"] == 0  # the enqueued width 32, as its index
    assert seen == {32, 64, 128}
    unordered = SearchSpace(params=[width.model_copy(update={"ordered": False})])
    assert isinstance(
        distributions(unordered)["model.hidden_size"], optuna.distributions.CategoricalDistribution
    )
    with pytest.raises(ValueError, match=r"model.hidden_size: 48 is not one of the choices \[32, 64, 128\]"):
        to_sampler(space, {"model.hidden_size": 48})


def test_ordered_needs_numeric_choices_of_a_categorical() -> None:
    with pytest.raises(ValidationError, match=r"model.normalization: ordered: true needs numeric choices"):
        ParamSpec(
            name="model.normalization", kind="categorical", choices=["RMSNorm", "LayerNorm"], ordered=True
        )
    with pytest.raises(ValidationError, match=r"optimizer.lr: `ordered` applies to kind categorical only"):
        ParamSpec(name="optimizer.lr", kind="float", low=1e-4, high=1e-2, ordered=True)
    with pytest.raises(ValidationError, match=r"model.hidden_size: choices \[32, 32\] repeat a value"):
        ParamSpec(name="model.hidden_size", kind="categorical", choices=[32, 32])
