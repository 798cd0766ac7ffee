"""Fixtures for the hpo tests: the trainer tests' tiny dataset and one local Ray (helpers: hpo_helpers.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "trainers"))  # tiny_dataset lives with the trainer tests
from tiny_dataset import build_tiny_dataset


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
