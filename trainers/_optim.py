"""Optimizer: AdamW on fp32 master weights, a warmup + cosine / WSD schedule, TP/EP-correct clipping.

Gradients arrive in ``param.main_grad`` (fp32), already averaged over data parallel ranks by Megatron's
``DistributedDataParallel``. The global gradient norm counts every distinct parameter element once:

* dense parameters that are TP-sharded (``tensor_model_parallel``) contribute on every TP rank, replicated
  ones (norms) only on TP rank 0, and the sum of squares is all-reduced over the TP group;
* expert parameters (``allreduce=False``) live on one EP rank each, so their sum is all-reduced over the
  expert-parallel group;
* DP replicas hold identical (already reduced) grads, so nothing is summed over DP.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
from megatron.core import parallel_state

from trainers._config import OptimizerConfig

__all__ = ["build_optimizer", "clip_grad_norm", "lr_at"]


def build_optimizer(model: torch.nn.Module, config: OptimizerConfig) -> torch.optim.AdamW:
    """AdamW; weight decay on matrices only (not norms, not biases).

    On CPU, torch's fused AdamW kernel (the same update, one pass over each tensor: 3-6x faster than the
    default per-tensor loop, about a tenth of a step on the reference configuration; BENCHMARKS.md,
    "Trainer throughput"); on GPU, torch's default.
    """
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    on_cpu = all(p.device.type == "cpu" for p in decay + no_decay)
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
        betas=(config.beta1, config.beta2),
        eps=config.eps,
        **({"fused": True} if on_cpu else {}),
    )


def lr_at(config: OptimizerConfig, *, step: int, max_steps: int) -> float:
    """Learning rate for 1-based ``step``: linear warmup, then cosine (or WSD: flat, then linear) to min_lr."""
    if step <= config.warmup_steps:
        return config.lr * step / max(1, config.warmup_steps)
    if config.schedule == "cosine":
        progress = (step - config.warmup_steps) / max(1, max_steps - config.warmup_steps)
        return config.min_lr + 0.5 * (config.lr - config.min_lr) * (
            1 + math.cos(math.pi * min(1.0, progress))
        )
    decay_steps = max(1, round(config.wsd_decay_fraction * (max_steps - config.warmup_steps)))
    decay_start = max_steps - decay_steps
    if step <= decay_start:
        return config.lr
    return config.lr + (config.min_lr - config.lr) * min(1.0, (step - decay_start) / decay_steps)


def clip_grad_norm(params: list[torch.nn.Parameter], max_norm: float) -> float:
    """Global L2 norm of ``main_grad`` over the whole model (see module doc); scale grads to ``max_norm``."""
    tp_rank = parallel_state.get_tensor_model_parallel_rank()
    device = params[0].main_grad.device
    dense_sq = torch.zeros((), dtype=torch.float32, device=device)
    expert_sq = torch.zeros((), dtype=torch.float32, device=device)
    for p in params:
        grad = p.main_grad
        if not getattr(p, "allreduce", True):
            expert_sq += grad.float().pow(2).sum()
        elif getattr(p, "tensor_model_parallel", False) or tp_rank == 0:
            dense_sq += grad.float().pow(2).sum()
    if parallel_state.get_tensor_model_parallel_world_size() > 1:
        dist.all_reduce(dense_sq, group=parallel_state.get_tensor_model_parallel_group())
    if parallel_state.get_expert_model_parallel_world_size() > 1:
        dist.all_reduce(expert_sq, group=parallel_state.get_expert_model_parallel_group())
    norm = math.sqrt((dense_sq + expert_sq).item())
    if max_norm > 0 and norm > max_norm:
        coef = max_norm / (norm + 1e-6)
        for p in params:
            p.main_grad.mul_(coef)
    return norm
