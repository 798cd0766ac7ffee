"""The arithmetic of a GPT run, in one place: parameter counts, training FLOPs per token, GPU peaks.

Pure functions over numbers (no torch import), so the planner, the gate, the HPO budget and the
trainer's MFU all count the same way: the estimate a plan makes of a run is what the trainer reports.

Parameters (Megatron GPT, pre-norm): per layer ``4·h²`` (q, k, v, o) + MLP (``3·h·f`` SwiGLU, ``2·h·f``
GELU; ``E`` experts of it for MoE, plus a ``h·E`` router) + two norms ``2·h``; then the input embedding
``V·h``, the output layer ``V·h`` unless tied, and the final norm ``h``.

Training FLOPs per token: ``6·N + 12·L·h·s``. ``N`` counts the weights a token multiplies: all active
parameters (MoE: the router plus ``topk`` experts) but the input embedding table (a lookup, unless tied to
the output layer). ``6·N`` is the forward (2 FLOPs per multiply-add) plus the backward (twice the
forward); ``12·L·h·s`` is attention's ``QKᵀ`` and ``AV`` (2·2·s·h per token and layer, times 3 for
fwd+bwd), which no weight accounts for (PaLM appendix B; nanoGPT's ``estimate_mfu``).
"""

from __future__ import annotations

from pydantic import Field

from vibe.core.config import VibeConfig

__all__ = ["GPU_SPECS", "GPUSpec", "flops_per_token", "gpu_peak_flops", "param_counts"]


def param_counts(
    *,
    num_layers: int,
    hidden_size: int,
    ffn_size: int,
    vocab_size: int,
    swiglu: bool = True,
    num_experts: int | None = None,
    moe_router_topk: int = 2,
    tie_embeddings: bool = False,
) -> tuple[int, int]:
    """(total, active per token) parameters of the full (unsharded) model, embeddings included."""
    h = hidden_size
    attention_and_norms = 4 * h * h + 2 * h
    mlp = (3 if swiglu else 2) * h * ffn_size
    embed = vocab_size * h * (1 if tie_embeddings else 2) + h  # + the final norm
    if num_experts is None:
        dense = num_layers * (attention_and_norms + mlp) + embed
        return dense, dense
    router = h * num_experts
    total = num_layers * (attention_and_norms + router + num_experts * mlp) + embed
    active = num_layers * (attention_and_norms + router + moe_router_topk * mlp) + embed
    return total, active


def flops_per_token(
    *,
    num_layers: int,
    hidden_size: int,
    ffn_size: int,
    seq_length: int,
    vocab_size: int,
    swiglu: bool = True,
    num_experts: int | None = None,
    moe_router_topk: int = 2,
    tie_embeddings: bool = False,
) -> float:
    """Training FLOPs per token, ``6·N + 12·L·h·s`` (see the module docstring)."""
    _, active = param_counts(
        num_layers=num_layers,
        hidden_size=hidden_size,
        ffn_size=ffn_size,
        vocab_size=vocab_size,
        swiglu=swiglu,
        num_experts=num_experts,
        moe_router_topk=moe_router_topk,
        tie_embeddings=tie_embeddings,
    )
    matmul = active - (0 if tie_embeddings else vocab_size * hidden_size)
    return 6.0 * matmul + 12.0 * num_layers * hidden_size * seq_length


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


def gpu_peak_flops(device_name: str) -> float | None:
    """bf16 dense peak of a known GPU (matched by name), else None."""
    for spec in sorted(GPU_SPECS.values(), key=lambda s: -len(s.name)):  # "GH200" before "H200"
        family = spec.name.split("-")[0]  # "A100-80GB" matches "NVIDIA A100-SXM4-80GB" by family
        if family.lower() in device_name.lower():
            return spec.peak_flops
    return None
