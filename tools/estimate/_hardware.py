"""Hardware a plan can target: known GPUs and cluster descriptions (YAML-loadable)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from trainers import GPU_SPECS, GPUSpec
from vibe.core.config import VibeConfig

__all__ = ["GPU_SPECS", "ClusterConfig", "GPUSpec"]


class ClusterConfig(VibeConfig):
    """Where a full-size run would go: the cluster description a plan is costed against."""

    name: str = "gpu-cluster"
    kind: Literal["gpu", "cpu"] = "gpu"
    gpu: str = Field(default="H100", description=f"one of {sorted(GPU_SPECS)} or a custom gpu_spec")
    gpu_spec: GPUSpec | None = None
    gpus_per_node: int = Field(default=8, ge=1)
    nodes: int = Field(default=4, ge=1)
    expected_mfu: float = Field(default=0.40, gt=0, le=1)
    gpu_hour_cost: float = Field(default=2.5, ge=0, description="cost of one GPU-hour, in the currency below")
    currency: str = "USD"
    ray_address: str | None = None

    @model_validator(mode="after")
    def _known_gpu(self) -> ClusterConfig:
        if self.kind == "gpu" and self.gpu_spec is None and self.gpu not in GPU_SPECS:
            raise ValueError(f"unknown gpu {self.gpu!r}: use one of {sorted(GPU_SPECS)} or give gpu_spec")
        return self

    @property
    def spec(self) -> GPUSpec:
        return self.gpu_spec or GPU_SPECS[self.gpu]

    @property
    def num_gpus(self) -> int:
        return self.gpus_per_node * self.nodes
