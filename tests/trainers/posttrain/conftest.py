"""Fixtures for the post-training tests: a tiny dataset (real ingest) and a tiny base run (real checkpoint)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
from posttrain_helpers import make_base_run
from tiny_dataset import build_tiny_dataset


@pytest.fixture(scope="session")
def post_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_dataset(tmp_path_factory.mktemp("post-data") / "tiny")


@pytest.fixture(scope="session")
def base_run(post_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_base_run(post_data, tmp_path_factory.mktemp("post-base") / "base")
