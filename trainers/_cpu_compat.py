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
| fused kernels (apex / TransformerEngine)           | all fusions off, fp32 (SwiGLU: ours, below)                |
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
Megatron's own function. SwiGLU (dense models): Megatron's unfused MLP computes ``silu(a) * (b + 0.0)`` and
concatenates the halves' gradients in backward; :func:`transformer_overrides` turns ``bias_activation_fusion``
on for a dense SwiGLU model, and :func:`apply` replaces the ``bias_swiglu_impl`` that Megatron's MLP then
calls (a ``torch.compile`` function, seconds of compilation at start-up) by :class:`FusedSwiGLU`: two ops
forward, three backward, into one buffer. RMSNorm needs nothing: Megatron's local spec uses ``torch.nn.RMSNorm``, whose CPU
kernel is fused already; bias-dropout-add with no bias and ``p = 0`` is one add.

``training.compile`` (``trainers._model.compile_layers``) goes further: ``torch.compile`` of each layer,
so inductor fuses the elementwise work between the matmuls forward and backward. While compiling, the hand-fused
RoPE and SwiGLU step aside (dynamo cannot trace their ``out=`` writes into views; inductor fuses the plain
expressions better), and Megatron's default-TP-group lookup skips its deprecation warning (a graph break).
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = [
    "FusedRope",
    "FusedSwiGLU",
    "apply",
    "compiled_cross_entropy",
    "cuda_available",
    "fused_rope",
    "fused_swiglu",
    "transformer_overrides",
]

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
        _install_fused_swiglu()
        _install_traceable_tp_group()
    _applied = True


def transformer_overrides(*, dense_swiglu: bool = False) -> dict[str, Any]:
    """``TransformerConfig`` fields that must be set this way on CPU (empty on GPU).

    ``dense_swiglu``: the model is dense (no experts) with a SwiGLU MLP; then ``bias_activation_fusion`` is
    on, which routes Megatron's MLP through ``bias_swiglu_impl``, replaced on CPU by :func:`fused_swiglu`
    (Megatron's own is a ``torch.compile`` function: seconds of compilation at start-up).
    """
    if cuda_available():
        return {}
    return {
        "use_cpu_initialization": True,
        "gradient_accumulation_fusion": False,
        "masked_softmax_fusion": False,
        "bias_activation_fusion": dense_swiglu,
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
        if plain and not torch.compiler.is_compiling():  # compiled: inductor fuses Megatron's own
            return fused_rope(t, freqs)
        return unfused(t, freqs, config, cu_seqlens=cu_seqlens, mscale=mscale, cp_group=cp_group)

    apply_rotary_pos_emb.__wrapped__ = unfused  # type: ignore[attr-defined]  # Megatron's own, for tests
    attention.apply_rotary_pos_emb = apply_rotary_pos_emb  # type: ignore[assignment]


# -- the CPU fast path: fused SwiGLU -----------------------------------------------------------------------
class FusedSwiGLU(torch.autograd.Function):
    """``silu(a) * b`` for ``y = [a, b]`` (halves of the last dim); backward writes both halves of one buffer.

    Megatron's unfused MLP computes ``silu(a) * (b + glu_linear_offset)`` (an extra add of 0.0), and its
    backward concatenates the two halves' gradients; here the forward is two ops and the backward three
    (``g * b``, ``silu_backward`` into the first half, ``g * silu(a)`` into the second), keeping the same
    tensors for backward as the unfused graph (the input and ``silu(a)``).
    """

    @staticmethod
    def forward(ctx: Any, y: torch.Tensor) -> torch.Tensor:
        a, b = y.chunk(2, dim=-1)
        s = torch.nn.functional.silu(a)
        ctx.save_for_backward(y, s)
        return s * b

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        y, s = ctx.saved_tensors
        a, b = y.chunk(2, dim=-1)
        out = torch.empty(y.shape, dtype=y.dtype, device=y.device)
        ga, gb = out.chunk(2, dim=-1)
        torch.ops.aten.silu_backward.grad_input(grad * b, a, grad_input=ga)
        torch.mul(grad, s, out=gb)
        return out


def fused_swiglu(y: torch.Tensor) -> torch.Tensor:
    """SwiGLU of ``y`` ([..., 2 * ffn]): ``silu(y[..., :ffn]) * y[..., ffn:]``, fused (see :class:`FusedSwiGLU`)."""
    return FusedSwiGLU.apply(y)


def _install_fused_swiglu() -> None:
    from megatron.core.transformer import mlp

    compiled = mlp.bias_swiglu_impl

    def bias_swiglu_impl(
        input: torch.Tensor,
        bias: torch.Tensor | None,
        fp8_input_store: bool = False,
        cpu_offload_input: bool = False,
    ) -> torch.Tensor:
        if bias is None and not fp8_input_store and not cpu_offload_input:
            if torch.compiler.is_compiling():  # inductor fuses the plain expression
                a, b = input.chunk(2, dim=-1)
                return torch.nn.functional.silu(a) * b
            return fused_swiglu(input)
        return compiled(input, bias, fp8_input_store, cpu_offload_input)

    bias_swiglu_impl.__wrapped__ = compiled  # type: ignore[attr-defined]
    mlp.bias_swiglu_impl = bias_swiglu_impl  # type: ignore[assignment]


# -- torch.compile (``training.compile``): one graph per layer ------------------------------------------
def _install_traceable_tp_group() -> None:
    """``RowParallelLinear`` passes ``tp_group=None``, and Megatron's lookup of the default group then calls
    ``warnings.warn`` (a deprecation notice), which dynamo cannot trace: a graph break in every layer's two
    row-parallel linears. While compiling, the same lookup without the warning."""
    from megatron.core import parallel_state
    from megatron.core.tensor_parallel import layers

    warning = layers.get_tensor_model_parallel_group_if_none

    def get_tensor_model_parallel_group_if_none(
        tp_group: Any, is_expert: bool = False, check_initialized: bool = True
    ) -> Any:
        if tp_group is None and torch.compiler.is_compiling() and parallel_state.is_initialized():
            if is_expert:
                return parallel_state.get_expert_tensor_parallel_group(check_initialized=check_initialized)
            return parallel_state.get_tensor_model_parallel_group(check_initialized=check_initialized)
        return warning(tp_group, is_expert=is_expert, check_initialized=check_initialized)

    get_tensor_model_parallel_group_if_none.__wrapped__ = warning  # type: ignore[attr-defined]
    layers.get_tensor_model_parallel_group_if_none = get_tensor_model_parallel_group_if_none  # type: ignore[assignment]


def _cross_entropy(labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Per-token cross-entropy [b, s] of logits [s, b, V] (one TP rank: the whole vocabulary)."""
    s, b, v = logits.shape
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(s * b, v), labels.t().reshape(-1), reduction="none"
    )
    return loss.view(s, b).t().contiguous()


_compiled_cross_entropy: Any = None


def compiled_cross_entropy(labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """``LanguageModule.compute_language_model_loss`` for tensor parallel size 1 on CPU, under ``torch.compile``:
    inductor's fused softmax cross-entropy, forward and backward (about 15% less than Megatron's
    vocab-parallel one at [256, 4, 8192], same values within 1e-6); compiled at the first call."""
    global _compiled_cross_entropy
    if _compiled_cross_entropy is None:
        _compiled_cross_entropy = torch.compile(_cross_entropy)
    return _compiled_cross_entropy(labels, logits)
