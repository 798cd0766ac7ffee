"""Vibe's trainer: Megatron-core GPT models (dense or MoE) trained under Ray Train, on CPU or GPU.

A run is a :class:`RunConfig`; :func:`launch` trains it and returns a :class:`RunResult`. The run
directory layout is documented in ``trainers/_launch.py``, the checkpoint layout in
``trainers/_checkpoint.py``. :func:`open_run` loads a run's latest checkpoint for evaluation
(``tools.eval`` builds on it). The arithmetic of a run (parameters, FLOPs per token, GPU peaks) lives in
``trainers/_arithmetic.py``, imports no torch, and is what the planner, the gate and the HPO budget count with.
"""

from trainers._arithmetic import GPU_SPECS, GPUSpec, flops_per_token, gpu_peak_flops, param_counts
from trainers._checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint
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
from trainers._data import build_datasets, micro_batches, read_dataset_dir, read_sources, valid_batches
from trainers._evaluate import OpenRun, open_run
from trainers._launch import RunResult, init_ray, launch
from trainers._metrics import cpu_peak_flops, read_metrics
from trainers._model import build_model, causal_mask
from trainers._optim import build_optimizer, lr_at
from trainers._worker import initialize_parallel, train_loop

__all__ = [
    "GPU_SPECS",
    "MODEL_PRESETS",
    "DataConfig",
    "DataSource",
    "GPUSpec",
    "ModelConfig",
    "OpenRun",
    "OptimizerConfig",
    "ParallelConfig",
    "RayConfig",
    "RunConfig",
    "RunResult",
    "TrainingConfig",
    "build_datasets",
    "build_model",
    "build_optimizer",
    "causal_mask",
    "cpu_peak_flops",
    "flops_per_token",
    "gpu_peak_flops",
    "init_ray",
    "initialize_parallel",
    "latest_checkpoint",
    "launch",
    "list_checkpoints",
    "load_checkpoint",
    "load_run_config",
    "lr_at",
    "micro_batches",
    "open_run",
    "param_counts",
    "read_dataset_dir",
    "read_metrics",
    "read_sources",
    "save_checkpoint",
    "train_loop",
    "valid_batches",
]
