"""Estimates the planner stands on: model shapes, compute, parallel layouts, cost and local proxy runs.

Pure functions over typed configs; nothing here runs or allocates anything.
"""

from tools.estimate._compute import MAX_USEFUL_EPOCHS, TOKENS_PER_PARAM, ComputeEstimate, estimate_compute
from tools.estimate._hardware import GPU_SPECS, ClusterConfig, GPUSpec
from tools.estimate._layout import ParallelLayout, choose_layout, memory_per_gpu
from tools.estimate._proxy import ProxyPlan, plan_proxy
from tools.estimate._shapes import ModelShape, shape_for_params

__all__ = [
    "GPU_SPECS",
    "MAX_USEFUL_EPOCHS",
    "TOKENS_PER_PARAM",
    "ClusterConfig",
    "ComputeEstimate",
    "GPUSpec",
    "ModelShape",
    "ParallelLayout",
    "ProxyPlan",
    "choose_layout",
    "estimate_compute",
    "memory_per_gpu",
    "plan_proxy",
    "shape_for_params",
]
