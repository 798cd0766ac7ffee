"""Vibe's trainer: Megatron-core GPT models (dense or MoE) trained under Ray Train, on CPU or GPU.

A run is a :class:`RunConfig`; :func:`launch` trains it and returns a :class:`RunResult`. The run
directory layout is documented in ``trainers/_launch.py``, the checkpoint layout in
``trainers/_checkpoint.py``. :func:`open_run` loads a run's latest checkpoint for evaluation
(``tools.eval`` builds on it). The arithmetic of a run (parameters, FLOPs per token, GPU peaks) lives in
``trainers/_arithmetic.py``, imports no torch, and is what the planner, the gate and the HPO budget count with.
"""

from trainers._arithmetic import GPU_SPECS, GPUSpec, flops_per_token, gpu_peak_flops, param_counts
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
from trainers._metrics import cpu_peak_flops, read_metrics

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
    "cpu_peak_flops",
    "flops_per_token",
    "gpu_peak_flops",
    "launch",
    "load_run_config",
    "open_run",
    "param_counts",
    "read_metrics",
]
