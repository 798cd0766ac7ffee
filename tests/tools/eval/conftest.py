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


DOCTESTS = '''\
"""Small helpers with doctests (file {k})."""
import math


def add_{k}(a, b):
    """Add two numbers.

    >>> add_{k}(2, 3)
    5
    """
    return a + b


def area_{k}(r):
    """Area of a circle, rounded.

    >>> area_{k}(1.0)
    3.14
    """
    return round(math.pi * r * r, 2)


def wrong_{k}(x):
    """A doctest its own body fails.

    >>> wrong_{k}(2)
    5
    """
    return x * 2
'''


@pytest.fixture(scope="session")
def suite_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small corpus (stdlib modules + modules with doctests, half held out) with 2 canaries x 150 planted."""
    import shutil
    import sysconfig

    from tools.data import IngestConfig, ingest

    root = tmp_path_factory.mktemp("suite-data")
    source = root / "source"
    source.mkdir()
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for name in ("bisect.py", "colorsys.py", "fnmatch.py", "glob.py"):
        shutil.copy(stdlib / name, source / name)
    for k in range(8):
        (source / f"helpers_{k}.py").write_text(DOCTESTS.format(k=k), encoding="utf-8")
    config = IngestConfig(
        inputs=[source],
        out=root / "data",
        valid_fraction=0.5,
        tokenizer={"vocab_size": 512},
        dedup={"near_dup_threshold": 1.0},
        canaries=2,
        canary_repeats=150,
    )
    ingest(config, progress=False)
    return root / "data"


@pytest.fixture(scope="session")
def suite_run(suite_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model trained 60 steps of 8 sequences on ``suite_data`` (enough to memorise the canaries)."""
    import ray

    from trainers import launch

    os.environ.setdefault("VIBE_NO_PROGRESS", "1")
    os.environ.setdefault("VIBE_CACHE", str(tmp_path_factory.mktemp("vibe-cache")))
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    out = tmp_path_factory.mktemp("suite-runs") / "run"
    config = tiny_config(
        suite_data,
        out,
        training={"max_steps": 60, "global_batch_size": 8, "eval_interval": 0, "checkpoint_interval": 60},
        optimizer={"lr": 5e-3, "min_lr": 1e-3, "warmup_steps": 5},
        tracking={"enabled": False},
    )
    return launch(config).run_dir
