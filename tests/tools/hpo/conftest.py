"""Fixtures for the hpo tests: the trainer tests' tiny dataset, one local Ray, a tiny proxy run, a study."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "trainers"))  # tiny_dataset lives with the trainer tests
from tiny_dataset import build_tiny_dataset, tiny_config


@pytest.fixture(scope="session")
def hpo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_dataset(tmp_path_factory.mktemp("hpo-data") / "tiny")


@pytest.fixture(scope="session")
def hpo_ray(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One embedded Ray with 2 CPUs for the session (or the one a previous test started); its GCS address."""
    import ray

    os.environ.setdefault("VIBE_NO_PROGRESS", "1")
    os.environ.setdefault("VIBE_CACHE", str(tmp_path_factory.mktemp("vibe-cache")))
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address


def proxy_run(data: Path, out: Path, **training: Any) -> Any:
    """A tiny proxy run: 24 steps of 8 sequences, validation (2 batches) every 4 steps."""
    return tiny_config(
        data,
        out,
        training={"global_batch_size": 8, "max_steps": 24, "eval_interval": 4, "eval_iters": 2, **training},
    )


def lr_space(low: float = 1e-4, high: float = 3.0) -> Any:
    """A learning-rate range whose top end diverges (so Hyperband has poor trials to prune)."""
    from tools.hpo import ParamSpec, SearchSpace

    return SearchSpace(params=[ParamSpec(name="optimizer.lr", kind="float", low=low, high=high, log=True)])
