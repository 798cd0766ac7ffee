"""The transfer rule from the best proxy settings to the full-size run (µP-style lr scaling)."""

from __future__ import annotations

import math

import pytest

from tools.hpo import transfer
from trainers import ModelConfig

PROXY = ModelConfig(preset="tiny")  # hidden 64
TARGET = ModelConfig(preset="small")  # hidden 384


def test_lr_scales_inversely_with_width() -> None:
    out = transfer({"optimizer.lr": 6e-3, "optimizer.min_lr": 6e-4}, proxy=PROXY, target=TARGET)
    assert out["optimizer.lr"] == pytest.approx(1e-3)
    assert out["optimizer.min_lr"] == pytest.approx(1e-4)


def test_the_searched_width_is_the_proxy_width() -> None:
    out = transfer({"optimizer.lr": 1.2e-2, "model.hidden_size": 128}, proxy=PROXY, target=TARGET)
    assert out["optimizer.lr"] == pytest.approx(1.2e-2 * 128 / 384)


def test_shape_params_are_dropped_and_schedule_params_carried() -> None:
    params = {"model.num_layers": 3, "optimizer.warmup_steps": 7, "optimizer.weight_decay": 0.05,
              "training.global_batch_size": 32}  # fmt: skip
    out = transfer(params, proxy=PROXY, target=TARGET)
    assert out == {
        "optimizer.warmup_steps": 7,
        "optimizer.weight_decay": 0.05,
        "training.global_batch_size": 32,
    }


def test_min_lr_follows_a_transferred_lr_so_the_target_stays_valid() -> None:
    out = transfer({"optimizer.lr": 6e-3}, proxy=PROXY, target=TARGET)
    assert out["optimizer.min_lr"] <= out["optimizer.lr"]


def test_init_std_scales_with_the_square_root_of_the_width_ratio() -> None:
    out = transfer({"model.init_method_std": 0.02}, proxy=PROXY, target=TARGET)
    assert out["model.init_method_std"] == pytest.approx(0.02 * math.sqrt(64 / 384))


def test_router_settings_go_to_a_moe_target_only() -> None:
    params = {"model.moe_router_topk": 4, "model.moe_aux_loss_coeff": 0.02}
    moe = ModelConfig(preset="small", num_experts=2)
    assert transfer(params, proxy=PROXY, target=TARGET) == {}
    assert transfer(params, proxy=PROXY, target=moe) == {
        "model.moe_router_topk": 2,
        "model.moe_aux_loss_coeff": 0.02,
    }
