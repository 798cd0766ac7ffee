"""What a model size implies: tokens for a compute-optimal run, training FLOPs, time, GPU-hours and cost.

tokens   D = 20 · N            (Hoffmann et al. 2022; N = active parameters for a mixture of experts)
FLOPs    C = D · (6·N + 12·L·h·s)
time     T = C / (GPUs · peak · MFU)
"""

from __future__ import annotations

from pydantic import Field

from tools.estimate._hardware import ClusterConfig
from tools.estimate._layout import ParallelLayout, choose_layout
from tools.estimate._shapes import ModelShape
from vibe.core.config import VibeConfig

__all__ = ["TOKENS_PER_PARAM", "ComputeEstimate", "estimate_compute"]

TOKENS_PER_PARAM = 20.0
MAX_USEFUL_EPOCHS = 4.0  # repeating data beyond ~4 epochs stops paying (Muennighoff et al. 2023)


class ComputeEstimate(VibeConfig):
    """The cost of training ``shape`` on ``cluster``; every number a lead needs to approve the run."""

    shape: ModelShape
    total_params: int
    active_params: int
    tokens_optimal: int
    tokens_planned: int
    tokens_available: int | None
    epochs: float | None
    train_flops: float
    cluster: ClusterConfig
    layout: ParallelLayout | None
    hours: float = Field(description="wall-clock hours on the whole cluster")
    gpu_hours: float
    cost: float
    warnings: list[str] = Field(default_factory=list)

    @property
    def fits(self) -> bool:
        return self.layout is not None


def estimate_compute(
    shape: ModelShape,
    cluster: ClusterConfig,
    *,
    tokens_available: int | None = None,
    tokens: int | None = None,
    gpu_hour_budget: float | None = None,
) -> ComputeEstimate:
    """Cost a run of ``shape`` on ``cluster``. ``tokens`` overrides the compute-optimal token count."""
    warnings: list[str] = []
    optimal = int(TOKENS_PER_PARAM * shape.active_params)
    planned = tokens or optimal
    epochs = None
    if tokens_available is not None:
        if tokens_available <= 0:
            raise ValueError("tokens_available must be positive when given")
        epochs = planned / tokens_available
        if epochs > MAX_USEFUL_EPOCHS:
            warnings.append(
                f"the data has {tokens_available:,} tokens; {planned:,} planned tokens means {epochs:.1f} epochs "
                f"(more than {MAX_USEFUL_EPOCHS:g} stops helping): add data or train a smaller model"
            )
    flops = planned * shape.flops_per_token()
    layout = choose_layout(shape, cluster)
    if layout is None:
        warnings.append(
            f"{shape.total_params / 1e9:.2f}B parameters do not fit on {cluster.num_gpus}x{cluster.spec.name} "
            f"({cluster.spec.memory_gib:g} GiB each) with any TP/PP/EP layout: add GPUs or nodes"
        )
    seconds = flops / (cluster.num_gpus * cluster.spec.peak_flops * cluster.expected_mfu)
    gpu_hours = seconds * cluster.num_gpus / 3600
    if gpu_hour_budget is not None and gpu_hours > gpu_hour_budget:
        warnings.append(
            f"needs {gpu_hours:,.0f} GPU-hours, over the budget of {gpu_hour_budget:,.0f}: "
            f"train on fewer tokens or a smaller model"
        )
    return ComputeEstimate(
        shape=shape,
        total_params=shape.total_params,
        active_params=shape.active_params,
        tokens_optimal=optimal,
        tokens_planned=planned,
        tokens_available=tokens_available,
        epochs=epochs,
        train_flops=flops,
        cluster=cluster,
        layout=layout,
        hours=seconds / 3600,
        gpu_hours=gpu_hours,
        cost=gpu_hours * cluster.gpu_hour_cost,
        warnings=warnings,
    )
