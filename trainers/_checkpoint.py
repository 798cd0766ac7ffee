"""Checkpoints: atomic, reshardable model weights plus per-rank optimizer and RNG state.

Layout of ``RUN_DIR/checkpoints/step_0000040/`` (``step`` = optimizer updates done)::

    model/            Megatron dist_checkpointing (torch_dist format) of model.sharded_state_dict():
                      loads under any TP / EP layout (e.g. a TP=2 run evaluated at TP=1)
    rank_00000.pt     per global rank: AdamW state and RNG states (torch, numpy, python, cuda);
                      resuming needs the same dp / tp / ep layout (absent in a weights-only checkpoint,
                      e.g. an imported model's ``step_0000000``: it can start a run, not resume one)
    meta.json         step, consumed samples, layout; written last

Atomicity: every rank writes into ``checkpoints/.tmp.step_0000040/``; after a barrier rank 0 writes
``meta.json`` and renames the directory to ``step_0000040``. A directory named ``step_*`` is therefore
complete; a crash leaves at most a ``.tmp.*`` directory, removed by the next save. The last
``keep`` checkpoints are kept.

Megatron's stock ``torch_dist`` saver writes through a spawned manager process and forked writers, which
hang on CPU inside Ray workers; :func:`_sync_torch_dist_save` writes the same format synchronously with
PyTorch's plain ``FileSystemWriter``, and loading is Megatron's own ``dist_checkpointing.load``.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

__all__ = [
    "CheckpointInfo",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "load_model_weights",
    "save_checkpoint",
]

_NAME = re.compile(r"^step_(\d{7})$")


@dataclass(frozen=True)
class CheckpointInfo:
    path: Path
    step: int
    meta: dict[str, Any]


def _sync_torch_dist_save() -> Any:
    """Megatron's torch_dist format, written synchronously in this process (no forked writers)."""
    import torch.distributed.checkpoint as dcp
    from megatron.core.dist_checkpointing.strategies.torch import (
        MCoreSavePlanner,
        TorchDistSaveShardedStrategy,
        _replace_state_dict_keys_with_sharded_keys,
        mcore_to_pyt_state_dict,
    )

    class SyncTorchDistSave(TorchDistSaveShardedStrategy):
        def save(self, sharded_state_dict: Any, checkpoint_dir: str | Path) -> None:
            state, _, _ = _replace_state_dict_keys_with_sharded_keys(
                sharded_state_dict, self.keep_only_main_replica
            )
            dcp.save(
                mcore_to_pyt_state_dict(state, False),
                storage_writer=dcp.FileSystemWriter(
                    Path(checkpoint_dir), single_file_per_rank=True, thread_count=1
                ),
                planner=MCoreSavePlanner(
                    dedup_replicated_tensors=not self.keep_only_main_replica, flatten_state_dict=False
                ),
            )

    return SyncTorchDistSave("torch_dist", 1)


def list_checkpoints(run_dir: Path) -> list[CheckpointInfo]:
    """Complete checkpoints of ``run_dir``, oldest first."""
    root = Path(run_dir) / "checkpoints"
    found = []
    for path in sorted(root.glob("step_*")) if root.is_dir() else []:
        match = _NAME.match(path.name)
        meta_path = path / "meta.json"
        if match and meta_path.is_file():
            found.append(CheckpointInfo(path, int(match.group(1)), json.loads(meta_path.read_text())))
    return found


def latest_checkpoint(run_dir: Path) -> CheckpointInfo | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def save_checkpoint(
    run_dir: Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    step: int,
    meta: dict[str, Any],
    keep: int,
) -> Path:
    """Write checkpoint ``step`` atomically and prune to the last ``keep``. Collective: all ranks call it.

    ``optimizer`` None writes the weights only (no ``rank_*.pt``).
    """
    root = Path(run_dir) / "checkpoints"
    final = root / f"step_{step:07d}"
    tmp = root / f".tmp.{final.name}"
    rank = dist.get_rank()
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "model").mkdir(parents=True)
    dist.barrier()
    from megatron.core import dist_checkpointing

    dist_checkpointing.save(
        model.sharded_state_dict(), str(tmp / "model"), sharded_strategy=_sync_torch_dist_save()
    )
    if optimizer is not None:
        torch.save({"optimizer": optimizer.state_dict(), "rng": _rng_state()}, tmp / f"rank_{rank:05d}.pt")
    dist.barrier()
    if rank == 0:
        record = {**meta, "step": step, "world_size": dist.get_world_size(), "time": time.time()}
        (tmp / "meta.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
        if final.exists():  # re-saving a step (a resumed run reached it again): replace it
            shutil.rmtree(final)
        os.replace(tmp, final)
        for old in list_checkpoints(run_dir)[:-keep]:
            shutil.rmtree(old.path, ignore_errors=True)
        for stale in root.glob(".tmp.*"):
            shutil.rmtree(stale, ignore_errors=True)
    dist.barrier()
    return final


def load_model_weights(path: Path, model: torch.nn.Module) -> None:
    """Load the weights of checkpoint ``path`` into ``model`` under this process's (any) parallel layout."""
    from megatron.core import dist_checkpointing

    state = dist_checkpointing.load(model.sharded_state_dict(), str(Path(path) / "model"))
    model.load_state_dict(state, strict=True)


def load_checkpoint(
    path: Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    """Restore weights, optimizer and RNG state; returns ``meta.json``. Needs the layout it was saved with."""
    load_model_weights(path, model)
    rank_file = Path(path) / f"rank_{dist.get_rank():05d}.pt"
    state = torch.load(rank_file, map_location="cpu", weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    _set_rng_state(state["rng"])
    return json.loads((Path(path) / "meta.json").read_text())
