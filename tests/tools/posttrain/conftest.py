"""Fixtures for the post-training tool tests: the tiny dataset and base run of the trainer tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "trainers"))
sys.path.insert(0, str(Path(__file__).parents[2] / "trainers" / "posttrain"))
from posttrain_helpers import make_base_run
from tiny_dataset import build_tiny_dataset


@pytest.fixture(scope="session")
def rl_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = build_tiny_dataset(tmp_path_factory.mktemp("rl-data") / "tiny")
    return make_base_run(data, tmp_path_factory.mktemp("rl-base") / "base")


@pytest.fixture()
def rule_file(tmp_path: Path) -> Path:
    """An alignment rule a random tiny model breaks often and can learn to follow: no capital letters."""
    path = tmp_path / "org.yaml"
    path.write_text(
        "version: 1\nname: org\ndefault: allow\nalignment:\n  rules:\n"
        "    - {id: no-capitals, type: forbidden_patterns, patterns: ['[A-Z]']}\n"
        "    - {id: short, type: length, max_chars: 400, weight: 0.5}\n"
    )
    return path


@pytest.fixture(scope="session")
def local_ray(tmp_path_factory: pytest.TempPathFactory) -> str:
    import os

    import ray

    os.environ.setdefault("VIBE_NO_PROGRESS", "1")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    return ray.get_runtime_context().gcs_address
