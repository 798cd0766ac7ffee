"""Hardware a plan can target: known GPUs and cluster descriptions (YAML-loadable)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from vibe.core.config import VibeConfig

__all__ = ["GPU_SPECS", "ClusterConfig", "GPUSpec"]


class GPUSpec(VibeConfig):
    """One accelerator: memory and dense peak throughput at the training precision (bf16)."""

    name: str
    memory_gib: float = Field(gt=0)
    peak_flops: float = Field(gt=0, description="dense bf16 FLOP/s")
    nvlink: bool = True


# Dense (no sparsity) bf16 peaks from the vendors' data sheets.
GPU_SPECS: dict[str, GPUSpec] = {
    spec.name: spec
    for spec in (
        GPUSpec(name="B200", memory_gib=180, peak_flops=2250e12),
        GPUSpec(name="GH200", memory_gib=96, peak_flops=989e12),
        GPUSpec(name="H200", memory_gib=141, peak_flops=989e12),
        GPUSpec(name="H100", memory_gib=80, peak_flops=989e12),
        GPUSpec(name="A100-80GB", memory_gib=80, peak_flops=312e12),
        GPUSpec(name="A100-40GB", memory_gib=40, peak_flops=312e12),
        GPUSpec(name="L40S", memory_gib=48, peak_flops=362e12, nvlink=False),
        GPUSpec(name="A10", memory_gib=24, peak_flops=125e12, nvlink=False),
        GPUSpec(name="L4", memory_gib=24, peak_flops=121e12, nvlink=False),
    )
}


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
