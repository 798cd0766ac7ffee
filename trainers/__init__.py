"""Vibe's trainer: Megatron-core GPT models (dense or MoE) trained under Ray Train, on CPU or GPU.

A run is a :class:`RunConfig`; :func:`launch` trains it and returns a :class:`RunResult`. The run
directory layout is documented in ``trainers/_launch.py``, the checkpoint layout in
``trainers/_checkpoint.py``. :func:`open_run` loads a run's latest checkpoint for evaluation
(``tools.eval`` builds on it).
"""

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
from trainers._metrics import read_metrics

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
    "read_metrics",
]
