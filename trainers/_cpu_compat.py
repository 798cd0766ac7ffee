"""Everything Megatron-core 0.16.1 needs to train on a machine without CUDA, in one place.

Megatron-core has no CPU path; it assumes CUDA in a handful of places (measured in
``/work/shared/notes/megatron-cpu.md``). :func:`apply` patches the process-wide ones; with CUDA it only
fills in the one name MoE needs when TransformerEngine is absent (a GPU machine without TE, like the one
``bench/gpu_check.py`` runs on), so the GPU path otherwise runs unmodified Megatron. :func:`transformer_overrides` lists the
``TransformerConfig`` fields that must differ on CPU. The rest of the trainer is device-agnostic.

| Megatron assumes                                   | on CPU we                                                  |
|----------------------------------------------------|------------------------------------------------------------|
| ``torch.cuda.current_device()`` as a device        | answer ``"cpu"`` (global memory buffer, TP buffers)         |
| ``torch.cuda.synchronize()`` (checkpoint saving)   | a no-op: there is no device stream to wait for              |
| ``CudaRNGStatesTracker`` (``cuda.get_rng_state``)  | use the inference tracker: dropout draws from the CPU RNG   |
| weights allocated on the GPU                       | ``use_cpu_initialization=True``                            |
| fused kernels (apex / TransformerEngine)           | all fusions off, fp32                                      |
| ``te_general_gemm`` referenced without TE (MoE)    | define the module attribute as ``None`` (on GPU too)       |
| MoE ``alltoall`` dispatcher creates a CUDA stream  | ``moe_token_dispatcher_type="allgather"``                  |
| MoE + linear biases: in-place add on a view        | ``add_bias_linear=False`` (the trainer never uses biases)  |
| causal mask built with ``device="cuda"``           | the data pipeline always passes an explicit boolean mask   |
| ``get_megatron_optimizer`` allocates on CUDA       | plain ``torch.optim.AdamW`` and our own TP-aware clipping   |

One CPU fast path (no CUDA assumption, only speed; profiled in BENCHMARKS.md, "Trainer throughput"): the
local spec's unfused RoPE (``rope_utils._apply_rotary_pos_emb_bshd``) recomputes ``cos``/``sin`` of the
frequencies for every query and key of every layer, scales them by ``mscale``, builds the rotated half with
a ``cat`` and copies its result once more into a ``cat`` with an empty pass-through part, and autograd keeps
the input for backward. :class:`FusedRope` computes the same numbers (``t * cos + rotate_half(t) * sin``)
from cos/sin computed once per forward, writes each half once, and keeps only cos/sin for backward (the
gradient is the transposed rotation). :func:`apply` installs it on CPU for the plain case (no packed
sequences, no interleaving, no MLA, ``mscale == 1``, rotary dim == head dim); anything else goes to
Megatron's own function. RMSNorm needs nothing: Megatron's local spec uses ``torch.nn.RMSNorm``, whose CPU
kernel is fused already; bias-dropout-add with no bias and ``p = 0`` is one add.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["FusedRope", "apply", "cuda_available", "fused_rope", "transformer_overrides"]

_applied = False


def cuda_available() -> bool:
    return torch.cuda.is_available()


def apply() -> None:
    """Patch the process-wide CUDA assumptions of Megatron-core; idempotent; with CUDA, only the TE one."""
    global _applied
    if _applied:
        return
    from megatron.core.transformer.moe import moe_utils

    if not hasattr(moe_utils, "te_general_gemm"):  # no TransformerEngine: on CPU, and on a GPU without it
        moe_utils.te_general_gemm = None  # type: ignore[attr-defined]
    if not cuda_available():
        torch.cuda.current_device = lambda: "cpu"  # type: ignore[assignment]
        torch.cuda.synchronize = lambda device=None: None  # type: ignore[assignment]

        from megatron.core.tensor_parallel import random as tp_random

        tp_random.initialize_rng_tracker(inference_rng_tracker=True, force_reset=True)
        _install_fused_rope()
    _applied = True


def transformer_overrides() -> dict[str, Any]:
    """``TransformerConfig`` fields that must be set this way on CPU (empty on GPU)."""
    if cuda_available():
        return {}
    return {
        "use_cpu_initialization": True,
        "gradient_accumulation_fusion": False,
        "masked_softmax_fusion": False,
        "bias_activation_fusion": False,
        "bias_dropout_fusion": False,
        "apply_rope_fusion": False,
        "persist_layer_norm": False,
        "moe_token_dispatcher_type": "allgather",  # MoE only; ignored by dense models
    }


# -- the CPU fast path: fused RoPE -------------------------------------------------------------------------
class FusedRope(torch.autograd.Function):
    """``t * cos + rotate_half(t) * sin`` (non-interleaved) in one pass per half; backward keeps cos/sin only.

    With ``t = [x1, x2]`` (halves of the last dim): ``out = [x1*c1 - x2*s1, x2*c2 + x1*s2]``; the gradient
    is the transposed rotation, ``[g1*c1 + g2*s2, g2*c2 - g1*s1]``.
    """

    @staticmethod
    def forward(ctx: Any, t: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(cos, sin)
        return _rotate(t, cos, sin, sign=1.0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        cos, sin = ctx.saved_tensors
        return _rotate(grad, cos, sin, sign=-1.0), None, None


def _rotate(t: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, *, sign: float) -> torch.Tensor:
    """``sign = 1``: the rotation; ``-1``: its transpose. t: [s, b, heads, d]; cos, sin: [s, 1, 1, d]."""
    half = t.size(-1) // 2
    x1, x2 = t[..., :half], t[..., half:]
    c1, c2, s1, s2 = cos[..., :half], cos[..., half:], sin[..., :half], sin[..., half:]
    if sign < 0:  # transpose: [g1*c1 + g2*s2, g2*c2 - g1*s1]
        s1, s2 = s2, s1
    out = torch.empty(t.shape, dtype=t.dtype, device=t.device)
    o1, o2 = out[..., :half], out[..., half:]
    torch.mul(x1, c1, out=o1)
    o1.addcmul_(x2, s1, value=-sign)
    torch.mul(x2, c2, out=o2)
    o2.addcmul_(x1, s2, value=sign)
    return out


_cos_sin: list[Any] = [None, None, None]  # (freqs, cos, sin) of the last call: one forward's layers share it


def fused_rope(t: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """Megatron's unfused bshd RoPE, fused: t [s, b, heads, d], freqs [s, 1, 1, d] (rotary dim == d)."""
    if _cos_sin[0] is not freqs or _cos_sin[1].dtype != t.dtype:
        _cos_sin[:] = [freqs, torch.cos(freqs).to(t.dtype), torch.sin(freqs).to(t.dtype)]
    return FusedRope.apply(t, _cos_sin[1], _cos_sin[2])


def _install_fused_rope() -> None:
    from megatron.core.transformer import attention

    unfused = attention.apply_rotary_pos_emb

    def apply_rotary_pos_emb(
        t: torch.Tensor,
        freqs: torch.Tensor,
        config: Any,
        cu_seqlens: torch.Tensor | None = None,
        mscale: float = 1.0,
        cp_group: Any = None,
    ) -> torch.Tensor:
        plain = (
            cu_seqlens is None
            and mscale == 1.0
            and not config.apply_rope_fusion
            and not config.rotary_interleaved
            and not config.multi_latent_attention
            and freqs.size(-1) == t.size(-1)
            and t.size(-1) % 2 == 0
            and not freqs.requires_grad
        )
        if plain:
            return fused_rope(t, freqs)
        return unfused(t, freqs, config, cu_seqlens=cu_seqlens, mscale=mscale, cp_group=cp_group)

    apply_rotary_pos_emb.__wrapped__ = unfused  # type: ignore[attr-defined]  # Megatron's own, for tests
    attention.apply_rotary_pos_emb = apply_rotary_pos_emb  # type: ignore[assignment]
