"""Data: dataset-directory errors, and a data order that is a pure function of (seed, step, dp rank)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from tiny_dataset import tiny_config

from trainers import build_datasets, micro_batches, read_dataset_dir, valid_batches
from vibe.core.errors import UserError


def test_missing_dataset_dir_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(
        UserError, match=r"nope: dataset directory not found; create it with `vibe data ingest"
    ):
        read_dataset_dir(tmp_path / "nope")


def test_unfinished_dataset_names_missing_file(tiny_data: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_data, broken)
    (broken / "valid_text_document.idx").unlink()
    with pytest.raises(
        UserError, match=r"valid_text_document\.idx: missing from dataset .*re-run `vibe data ingest`"
    ):
        read_dataset_dir(broken)
    (broken / "manifest.json").unlink()
    with pytest.raises(UserError, match=r"manifest\.json: missing, so .* is not a finished dataset"):
        read_dataset_dir(broken)


def test_step_batches_are_a_pure_function_and_dp_ranks_split_the_global_batch(
    tiny_data: Path, tmp_path: Path
) -> None:
    one = tiny_config(tiny_data, tmp_path / "a")
    two = tiny_config(tiny_data, tmp_path / "b", parallel={"dp": 2})
    _, train_a, _, _ = build_datasets(one, cache_dir=tmp_path / "cache-a")
    _, train_b, _, _ = build_datasets(two, cache_dir=tmp_path / "cache-b")  # rebuilt from scratch

    def tokens(config, dataset, step: int, rank: int) -> torch.Tensor:  # type: ignore[no-untyped-def]
        return torch.cat([b.tokens for b in micro_batches(config, dataset, step=step, dp_rank=rank)])

    whole = tokens(one, train_a, 7, 0)  # [16, 64]: the global batch of step 7
    assert whole.shape == (16, 64)
    assert torch.equal(torch.cat([tokens(two, train_b, 7, 0), tokens(two, train_b, 7, 1)]), whole)
    assert not torch.equal(tokens(one, train_a, 8, 0), whole)
    assert list(tmp_path.glob("cache-a/*train*"))  # Megatron's index cache went where we said


def test_validation_batches_cover_every_valid_token_once(tiny_data: Path, tmp_path: Path) -> None:
    config = tiny_config(tiny_data, tmp_path / "a")
    _, _, valid, sources = build_datasets(config, cache_dir=tmp_path / "cache", train=False)
    masks = [
        b.loss_mask for rank in (0, 1) for b in valid_batches(valid, batch_size=4, dp_rank=rank, dp_size=2)
    ]
    assert int(sum(m.sum() for m in masks)) == sources[0].valid_tokens - 1  # all but the very first token


def test_validation_padding_works_on_a_blend_of_sources(tiny_data: Path, tmp_path: Path) -> None:
    # Two sources make the valid split a Megatron BlendedDataset, which has no padding index of its own
    # (and builds its index collectively: a one-process group stands in for the workers' group).
    config = tiny_config(tiny_data, tmp_path / "a")
    config = config.model_copy(
        update={"data": config.data.model_copy(update={"sources": config.data.sources * 2})}
    )
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        _, _, valid, sources = build_datasets(config, cache_dir=tmp_path / "cache", train=False)
        batches = list(valid_batches(valid, batch_size=len(valid) + 3, dp_rank=0, dp_size=1))  # pads 3
    finally:
        dist.destroy_process_group()
    assert len(batches) == 1 and batches[0].tokens.shape[0] == len(valid) + 3
    assert int(batches[0].loss_mask[len(valid) :].sum()) == 0
    assert int(batches[0].loss_mask.sum()) == sum(s.valid_tokens - 1 for s in sources)
