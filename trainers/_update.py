"""One optimizer update on every rank, the same for pre-training and post-training.

:class:`Updater` wraps a built model in Megatron's DDP (fp32 grad buffer, no overlap) with its AdamW, and
splits a step into :meth:`~Updater.begin` (learning rate of the step, zeroed grad buffer) and
:meth:`~Updater.finish` (DP all-reduce of the grads, clipping, the optimizer step); between them the caller's
loop runs forward/backward over its micro batches through ``updater.ddp``. :meth:`~Updater.resume` loads a
checkpoint written with the same parallel layout; :meth:`~Updater.save` writes one.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from megatron.core.distributed import DistributedDataParallel, DistributedDataParallelConfig

from trainers._checkpoint import load_checkpoint, save_checkpoint
from trainers._config import OptimizerConfig
from trainers._optim import build_optimizer, clip_grad_norm, lr_at

__all__ = ["Updater", "worker_device"]

log = logging.getLogger(__name__)


def worker_device() -> torch.device:
    """This rank's device: the current CUDA device where there is one (Ray or the caller chose it), else CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


class Updater:
    """``model`` (built on this rank) in DDP with AdamW from ``optimizer``; ``layout`` is the checkpoint's."""

    def __init__(
        self, model: torch.nn.Module, optimizer: OptimizerConfig, *, layout: dict[str, int], max_steps: int
    ) -> None:
        self.model, self.config, self.layout, self.max_steps = model, optimizer, layout, max_steps
        self.ddp = DistributedDataParallel(
            model.config,  # type: ignore[arg-type]
            DistributedDataParallelConfig(
                grad_reduce_in_fp32=True, overlap_grad_reduce=False, use_distributed_optimizer=False
            ),
            model,
        )
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = build_optimizer(model, optimizer)

    def resume(self, run_dir: Path, step: int) -> None:
        """Model and optimizer state from ``run_dir``'s checkpoint of ``step`` (same layout, else an error)."""
        ckpt = Path(run_dir) / "checkpoints" / f"step_{step:07d}"
        saved = json.loads((ckpt / "meta.json").read_text())
        if saved.get("layout") != self.layout:
            raise RuntimeError(
                f"checkpoint {ckpt} was written with layout {saved.get('layout')}, this run uses "
                f"{self.layout}; resume with the checkpoint's parallel layout"
            )
        load_checkpoint(ckpt, model=self.model, optimizer=self.optimizer)
        log.info("resumed from %s", ckpt)

    def begin(self, step: int) -> float:
        """Start 1-based ``step``: set its learning rate, zero the grad buffer; returns the learning rate."""
        lr = lr_at(self.config, step=step, max_steps=self.max_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.ddp.zero_grad_buffer()
        return lr

    def finish(self) -> float:
        """All-reduce the grads over DP, clip them, take the optimizer step; returns the grad norm."""
        self.ddp.finish_grad_sync()
        grad_norm = clip_grad_norm(self.params, self.config.clip_grad)
        for p in self.params:
            p.grad = p.main_grad
        self.optimizer.step()
        for p in self.params:
            p.grad = None
        return grad_norm

    def save(self, run_dir: Path, *, step: int, meta: dict[str, Any], keep: int) -> None:
        save_checkpoint(
            run_dir, model=self.model, optimizer=self.optimizer, step=step,
            meta={**meta, "layout": self.layout}, keep=keep,
        )  # fmt: skip
