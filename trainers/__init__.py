"""Vibe's trainer: Megatron-core GPT models (dense or MoE) trained under Ray Train, on CPU or GPU.

A run is a :class:`RunConfig`; :func:`launch` trains it and returns a :class:`RunResult`. The run
directory layout is documented in ``trainers/_launch.py``, the checkpoint layout in
``trainers/_checkpoint.py``. :func:`open_run` loads a run's latest checkpoint for evaluation
(``tools.eval`` builds on it). :func:`single_rank`, :func:`build_model`, :func:`load_model_weights` and
:func:`save_checkpoint` are the pieces ``trainers.hf`` (Hugging Face import / export) builds on. The
arithmetic of a run (parameters, FLOPs per token, GPU peaks) lives in ``trainers/_arithmetic.py``, imports no
torch, and is what the planner, the gate and the HPO budget count with.
:func:`run_worker` is the worker loop without Ray, for a process that made its own ``torch.distributed``
group (one GPU: ``bench/gpu_check.py``); :func:`train_loop` runs it under Ray Train.

Names load lazily (as ``tools.hpo``'s do): ``from trainers import RunConfig`` imports the config module only,
not torch or Megatron, so the CLI, the agent, the document worker and the planner start without them; a
name that needs torch (``launch``, ``build_model``) imports it when first asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainers import _cpu_compat as cpu_compat
    from trainers._arithmetic import GPU_SPECS, GPUSpec, flops_per_token, gpu_peak_flops, param_counts
    from trainers._checkpoint import (
        CheckpointInfo,
        latest_checkpoint,
        list_checkpoints,
        load_checkpoint,
        load_model_weights,
        save_checkpoint,
    )
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
    from trainers._data import (
        DatasetDir,
        build_datasets,
        micro_batches,
        read_dataset_dir,
        read_sources,
        valid_batches,
    )
    from trainers._evaluate import OpenRun, open_run, single_rank
    from trainers._launch import RunResult, init_ray, launch
    from trainers._metrics import MetricsWriter, cpu_peak_flops, read_metrics, truncate_metrics
    from trainers._model import build_model, causal_mask
    from trainers._optim import build_optimizer, clip_grad_norm, lr_at
    from trainers._tracking import MetricsTail, describe_step, finish_tracking
    from trainers._update import Updater, worker_device
    from trainers._worker import (
        await_verdict,
        check_attempt,
        initialize_parallel,
        run_worker,
        setup_worker_logging,
        train_loop,
    )

__all__ = [
    "GPU_SPECS",
    "MODEL_PRESETS",
    "CheckpointInfo",
    "DataConfig",
    "DataSource",
    "DatasetDir",
    "GPUSpec",
    "MetricsTail",
    "MetricsWriter",
    "ModelConfig",
    "OpenRun",
    "OptimizerConfig",
    "ParallelConfig",
    "RayConfig",
    "RopeScaling",
    "RunConfig",
    "RunResult",
    "TrainingConfig",
    "Updater",
    "await_verdict",
    "build_datasets",
    "build_model",
    "build_optimizer",
    "causal_mask",
    "check_attempt",
    "clip_grad_norm",
    "cpu_compat",
    "cpu_peak_flops",
    "describe_step",
    "finish_tracking",
    "flops_per_token",
    "gpu_peak_flops",
    "init_ray",
    "initialize_parallel",
    "latest_checkpoint",
    "launch",
    "list_checkpoints",
    "load_checkpoint",
    "load_model_weights",
    "load_run_config",
    "lr_at",
    "micro_batches",
    "open_run",
    "param_counts",
    "read_dataset_dir",
    "read_metrics",
    "read_sources",
    "run_worker",
    "save_checkpoint",
    "setup_worker_logging",
    "single_rank",
    "train_loop",
    "truncate_metrics",
    "valid_batches",
    "worker_device",
]

_WHERE = {  # name -> (module, its name there)
    "GPU_SPECS": ("_arithmetic", "GPU_SPECS"),
    "MODEL_PRESETS": ("_config", "MODEL_PRESETS"),
    "CheckpointInfo": ("_checkpoint", "CheckpointInfo"),
    "DataConfig": ("_config", "DataConfig"),
    "DataSource": ("_config", "DataSource"),
    "DatasetDir": ("_data", "DatasetDir"),
    "GPUSpec": ("_arithmetic", "GPUSpec"),
    "MetricsTail": ("_tracking", "MetricsTail"),
    "MetricsWriter": ("_metrics", "MetricsWriter"),
    "ModelConfig": ("_config", "ModelConfig"),
    "OpenRun": ("_evaluate", "OpenRun"),
    "OptimizerConfig": ("_config", "OptimizerConfig"),
    "ParallelConfig": ("_config", "ParallelConfig"),
    "RayConfig": ("_config", "RayConfig"),
    "RopeScaling": ("_config", "RopeScaling"),
    "RunConfig": ("_config", "RunConfig"),
    "RunResult": ("_launch", "RunResult"),
    "TrainingConfig": ("_config", "TrainingConfig"),
    "Updater": ("_update", "Updater"),
    "build_datasets": ("_data", "build_datasets"),
    "build_model": ("_model", "build_model"),
    "build_optimizer": ("_optim", "build_optimizer"),
    "causal_mask": ("_model", "causal_mask"),
    "await_verdict": ("_worker", "await_verdict"),
    "check_attempt": ("_worker", "check_attempt"),
    "clip_grad_norm": ("_optim", "clip_grad_norm"),
    "cpu_compat": ("", "_cpu_compat"),  # the module itself
    "cpu_peak_flops": ("_metrics", "cpu_peak_flops"),
    "describe_step": ("_tracking", "describe_step"),
    "finish_tracking": ("_tracking", "finish_tracking"),
    "flops_per_token": ("_arithmetic", "flops_per_token"),
    "gpu_peak_flops": ("_arithmetic", "gpu_peak_flops"),
    "init_ray": ("_launch", "init_ray"),
    "initialize_parallel": ("_worker", "initialize_parallel"),
    "latest_checkpoint": ("_checkpoint", "latest_checkpoint"),
    "launch": ("_launch", "launch"),
    "list_checkpoints": ("_checkpoint", "list_checkpoints"),
    "load_checkpoint": ("_checkpoint", "load_checkpoint"),
    "load_model_weights": ("_checkpoint", "load_model_weights"),
    "load_run_config": ("_config", "load_run_config"),
    "lr_at": ("_optim", "lr_at"),
    "micro_batches": ("_data", "micro_batches"),
    "open_run": ("_evaluate", "open_run"),
    "param_counts": ("_arithmetic", "param_counts"),
    "read_dataset_dir": ("_data", "read_dataset_dir"),
    "read_metrics": ("_metrics", "read_metrics"),
    "read_sources": ("_data", "read_sources"),
    "run_worker": ("_worker", "run_worker"),
    "save_checkpoint": ("_checkpoint", "save_checkpoint"),
    "setup_worker_logging": ("_worker", "setup_worker_logging"),
    "single_rank": ("_evaluate", "single_rank"),
    "train_loop": ("_worker", "train_loop"),
    "truncate_metrics": ("_metrics", "truncate_metrics"),
    "valid_batches": ("_data", "valid_batches"),
    "worker_device": ("_update", "worker_device"),
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'trainers' has no attribute {name!r}")
    module, attr = _WHERE[name]
    value = (
        importlib.import_module(f"trainers.{attr}")
        if not module
        else getattr(importlib.import_module(f"trainers.{module}"), attr)
    )
    globals()[name] = value
    return value
