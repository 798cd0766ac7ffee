"""Checkpoint round trip in one process (gloo, world size 1): weights, AdamW state and RNG come back exactly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from tiny_dataset import tiny_config

from trainers import (
    build_model,
    build_optimizer,
    causal_mask,
    initialize_parallel,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)


@pytest.fixture
def single_rank() -> Iterator[None]:
    from megatron.core import parallel_state

    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield
    parallel_state.destroy_model_parallel()
    dist.destroy_process_group()


def _model_and_optimizer(config, seed: int):  # type: ignore[no-untyped-def]
    torch.manual_seed(seed)
    model = build_model(config.model, vocab_size=768, tp=1, ep=1)
    return model, build_optimizer(model, config.optimizer)


def _train_steps(model, optimizer, steps: int) -> None:  # type: ignore[no-untyped-def]
    mask = causal_mask(64, "cpu")
    for _ in range(steps):
        tokens = torch.randint(0, 768, (2, 64))
        loss = model(tokens, torch.arange(64).expand(2, 64), mask, labels=tokens.roll(-1, 1)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def test_round_trip_restores_weights_optimizer_and_rng(
    single_rank: None, tiny_data: Path, tmp_path: Path
) -> None:
    config = tiny_config(tiny_data, tmp_path)
    initialize_parallel(config, seed=1)
    model, optimizer = _model_and_optimizer(config, seed=1)
    _train_steps(model, optimizer, 2)
    meta = {"consumed_samples": 32, "layout": {"dp": 1, "tp": 1, "ep": 1}}
    path = save_checkpoint(tmp_path, model=model, optimizer=optimizer, step=2, meta=meta, keep=2)
    next_draw = torch.rand(3)  # what the RNG gives right after the save

    fresh, fresh_opt = _model_and_optimizer(config, seed=2)
    assert not torch.equal(fresh.embedding.word_embeddings.weight, model.embedding.word_embeddings.weight)
    loaded = load_checkpoint(path, model=fresh, optimizer=fresh_opt)

    assert loaded["step"] == 2 and loaded["consumed_samples"] == 32
    for (name, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items(), strict=True):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b), name
    state_a, state_b = optimizer.state_dict()["state"], fresh_opt.state_dict()["state"]
    assert state_a.keys() == state_b.keys() and len(state_a) > 0
    for key in state_a:
        for field in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(state_a[key][field], state_b[key][field]), (key, field)
    assert torch.equal(torch.rand(3), next_draw)


def test_saves_are_atomic_and_keep_the_last_k(single_rank: None, tiny_data: Path, tmp_path: Path) -> None:
    config = tiny_config(tiny_data, tmp_path)
    initialize_parallel(config, seed=1)
    model, optimizer = _model_and_optimizer(config, seed=1)
    (tmp_path / "checkpoints" / ".tmp.step_0000001").mkdir(parents=True)  # debris of a crashed save
    (tmp_path / "checkpoints" / "step_0000009").mkdir()  # no meta.json: incomplete, ignored
    for step in (2, 4, 6):
        save_checkpoint(tmp_path, model=model, optimizer=optimizer, step=step, meta={}, keep=2)
    assert [c.step for c in list_checkpoints(tmp_path)] == [4, 6]
    assert latest_checkpoint(tmp_path).step == 6
    assert not list((tmp_path / "checkpoints").glob(".tmp*"))
