"""Vibe's trainer: Megatron-core GPT models (dense or MoE) trained under Ray Train, on CPU or GPU.

A run is a :class:`RunConfig`; :func:`launch` trains it and returns a :class:`RunResult`. The run
directory layout is documented in ``trainers/_launch.py``, the checkpoint layout in
``trainers/_checkpoint.py``. :func:`open_run` loads a run's latest checkpoint for evaluation
(``tools.eval`` builds on it). :func:`run_worker` is the worker loop itself, for a process that made its
own ``torch.distributed`` group (one GPU without Ray: ``bench/gpu_check.py``); it is imported on first use
(it loads Megatron's DDP and optimizer modules, which only a worker needs).
"""

from typing import Any

from trainers._config import (
    MODEL_PRESETS,
    DataConfig,
    DataSource,
    ModelConfig,
    OptimizerConfig,
    ParallelConfig,
    RayConfig,
    RunConfig,
    TrainingConfig,
    load_run_config,
)
from trainers._evaluate import OpenRun, open_run
from trainers._launch import RunResult, launch

__all__ = [
    "MODEL_PRESETS",
    "DataConfig",
    "DataSource",
    "ModelConfig",
    "OpenRun",
    "OptimizerConfig",
    "ParallelConfig",
    "RayConfig",
    "RunConfig",
    "RunResult",
    "TrainingConfig",
    "launch",
    "load_run_config",
    "open_run",
    "run_worker",
]


def __getattr__(name: str) -> Any:
    if name == "run_worker":  # imported where a worker runs
        from trainers._worker import run_worker

        return run_worker
    raise AttributeError(f"module 'trainers' has no attribute {name!r}")
