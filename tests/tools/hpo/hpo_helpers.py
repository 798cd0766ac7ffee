"""Tiny proxy runs and spaces shared by the hpo tests (imported by name: test modules cannot import conftest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tiny_dataset import tiny_config


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
