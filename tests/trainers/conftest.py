"""Session fixtures for the trainer tests: one tiny contract-compliant dataset and one local Ray."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from tiny_dataset import build_tiny_dataset


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny")


@pytest.fixture(scope="session")
def local_ray(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One embedded Ray for the whole session (ray.init costs seconds); yields its GCS address."""
    import ray

    os.environ.setdefault("VIBE_NO_PROGRESS", "1")
    os.environ["VIBE_CACHE"] = str(tmp_path_factory.mktemp("vibe-cache"))
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
