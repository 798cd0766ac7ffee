"""Vibe's trainer: Megatron-core GPT models (dense or MoE) trained under Ray Train, on CPU or GPU.

A run is a :class:`RunConfig`; :func:`launch` trains it and returns a :class:`RunResult`. The run
directory layout is documented in ``trainers/_launch.py``, the checkpoint layout in
``trainers/_checkpoint.py``. :func:`open_run` loads a run's latest checkpoint for evaluation
(``tools.eval`` builds on it). :func:`single_rank`, :func:`build_model`, :func:`load_model_weights` and
:func:`save_checkpoint` are the pieces ``trainers.hf`` (Hugging Face import / export) builds on.
"""

from trainers._checkpoint import CheckpointInfo, latest_checkpoint, load_model_weights, save_checkpoint
from trainers._config import (
    MODEL_PRESETS,
    DataConfig,
    DataSource,
    ModelConfig,
    OptimizerConfig,
    ParallelConfig,
    RayConfig,
    RopeScaling,
    RunConfig,
    TrainingConfig,
    load_run_config,
)
from trainers._data import DatasetDir, read_dataset_dir
from trainers._evaluate import OpenRun, open_run, single_rank
from trainers._launch import RunResult, launch
from trainers._model import build_model, causal_mask

__all__ = [
    "MODEL_PRESETS",
    "CheckpointInfo",
    "DataConfig",
    "DataSource",
    "DatasetDir",
    "ModelConfig",
    "OpenRun",
    "OptimizerConfig",
    "ParallelConfig",
    "RayConfig",
    "RopeScaling",
    "RunConfig",
    "RunResult",
    "TrainingConfig",
    "build_model",
    "causal_mask",
    "latest_checkpoint",
    "launch",
    "load_model_weights",
    "load_run_config",
    "open_run",
    "read_dataset_dir",
    "save_checkpoint",
    "single_rank",
]
