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


def test_cpu_optimizer_is_the_fused_kernel_with_the_default_adamws_update() -> None:
    import torch

    from trainers import build_optimizer

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.LayerNorm(8))
    twin = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.LayerNorm(8))
    twin.load_state_dict(model.state_dict())
    config = OptimizerConfig(lr=1e-2, weight_decay=0.1)
    ours = build_optimizer(model, config)
    assert ours.defaults["fused"] is True
    reference = torch.optim.AdamW(
        [
            {"params": [p for p in twin.parameters() if p.dim() >= 2], "weight_decay": 0.1},
            {"params": [p for p in twin.parameters() if p.dim() < 2], "weight_decay": 0.0},
        ],
        lr=1e-2,
        betas=(config.beta1, config.beta2),
        eps=config.eps,
        foreach=False,
    )
    x = torch.randn(4, 8)
    for _ in range(3):
        for net, opt in ((model, ours), (twin, reference)):
            opt.zero_grad()
            net(x).square().sum().backward()
            opt.step()
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
