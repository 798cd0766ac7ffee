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
