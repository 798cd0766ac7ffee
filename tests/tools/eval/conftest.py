"""Fixtures for the eval tests: a tiny dataset and one short TP=2 training run under a local Ray."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "trainers"))  # tiny_dataset lives with the trainer tests
from tiny_dataset import build_tiny_dataset, tiny_config


@pytest.fixture(scope="session")
def eval_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_dataset(tmp_path_factory.mktemp("eval-data") / "tiny")


@pytest.fixture(scope="session")
def trained_run(eval_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 20-step run trained with tensor parallelism 2, so evaluation (one rank) must reshard it."""
    import ray

    from trainers import launch

    os.environ.setdefault("VIBE_NO_PROGRESS", "1")
    os.environ.setdefault("VIBE_CACHE", str(tmp_path_factory.mktemp("vibe-cache")))
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    out = tmp_path_factory.mktemp("eval-runs") / "tp2"
    config = tiny_config(eval_data, out, parallel={"tp": 2}, training={"max_steps": 20, "eval_interval": 0})
    return launch(config).run_dir
