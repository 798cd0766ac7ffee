"""Learning-rate schedules: warmup, cosine and WSD reach the documented values."""

from __future__ import annotations

import pytest

from trainers import OptimizerConfig, lr_at


def test_warmup_then_cosine_to_min_lr() -> None:
    config = OptimizerConfig(lr=1e-3, min_lr=1e-4, warmup_steps=10, schedule="cosine")
    assert lr_at(config, step=1, max_steps=100) == pytest.approx(1e-4)
    assert lr_at(config, step=10, max_steps=100) == pytest.approx(1e-3)
    assert lr_at(config, step=55, max_steps=100) == pytest.approx(5.5e-4)
    assert lr_at(config, step=100, max_steps=100) == pytest.approx(1e-4)


def test_wsd_is_flat_then_decays_linearly() -> None:
    config = OptimizerConfig(lr=1e-3, min_lr=0.0, warmup_steps=10, schedule="wsd", wsd_decay_fraction=0.2)
    assert lr_at(config, step=20, max_steps=110) == pytest.approx(1e-3)
    assert lr_at(config, step=90, max_steps=110) == pytest.approx(1e-3)  # the last 20% of 100 steps decay
    assert lr_at(config, step=100, max_steps=110) == pytest.approx(5e-4)
    assert lr_at(config, step=110, max_steps=110) == pytest.approx(0.0)
