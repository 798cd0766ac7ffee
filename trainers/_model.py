"""The model: a Megatron-core ``GPTModel`` (dense or MoE) built from a :class:`ModelConfig`, and its FLOPs.

Pre-norm RMSNorm transformer, RoPE, SwiGLU (optional), no linear biases, untied embeddings by default.
MoE replaces every MLP with ``num_experts`` experts behind a top-k router trained with the switch
load-balancing (aux) loss. Layer spec: TransformerEngine's when it and CUDA are present, else Megatron's
local spec (which is what runs on CPU). Call after ``parallel_state.initialize_model_parallel``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from trainers import _cpu_compat
from trainers._attention import SDPAttention
from trainers._config import ModelConfig

if TYPE_CHECKING:  # Megatron is imported where it runs (workers, eval), not by the driver
    from megatron.core.models.gpt import GPTModel
    from megatron.core.transformer import TransformerConfig

__all__ = [
    "build_model",
    "causal_mask",
    "compile_layers",
    "flops_per_token",
    "param_counts",
    "transformer_config",
]


def transformer_config(model: ModelConfig, *, tp: int, ep: int) -> TransformerConfig:
    """The Megatron ``TransformerConfig`` for ``model`` under tensor / expert parallel sizes ``tp`` / ``ep``."""
    from megatron.core.transformer import TransformerConfig

    moe: dict[str, Any] = {}
    if model.num_experts is not None:
        moe = {
            "num_moe_experts": model.num_experts,
            "moe_router_topk": model.moe_router_topk,
            "moe_aux_loss_coeff": model.moe_aux_loss_coeff,
            "moe_router_load_balancing_type": "aux_loss",
            "moe_grouped_gemm": False,
            "moe_ffn_hidden_size": model.ffn_size,
            "moe_token_dispatcher_type": "alltoall",  # _cpu_compat switches to allgather on CPU
        }
    fields: dict[str, Any] = dict(
        num_layers=model.num_layers,
        hidden_size=model.hidden_size,
        num_attention_heads=model.num_attention_heads,
        num_query_groups=model.query_groups,
        ffn_hidden_size=model.ffn_size,
        kv_channels=model.head_dim,
        tensor_model_parallel_size=tp,
        expert_model_parallel_size=ep,
        expert_tensor_parallel_size=1,  # experts are whole on each rank, spread over ep ranks
        pipeline_model_parallel_size=1,
        sequence_parallel=False,
        normalization="RMSNorm",
        layernorm_epsilon=model.norm_epsilon,
        gated_linear_unit=model.swiglu,
        activation_func=torch.nn.functional.silu if model.swiglu else torch.nn.functional.gelu,
        add_bias_linear=False,
        add_qkv_bias=model.qkv_bias,
        hidden_dropout=model.dropout,
        attention_dropout=model.dropout,
        init_method_std=model.init_method_std,
        params_dtype=torch.float32,  # fp32 master weights; bf16 on GPU comes from autocast
    )
    return TransformerConfig(
        **{**fields, **moe, **_cpu_compat.transformer_overrides(dense_swiglu=model.swiglu and not moe)}
    )


def _layer_spec(model: ModelConfig) -> Any:
    from megatron.core.models.gpt.gpt_layer_specs import get_gpt_layer_local_spec

    if torch.cuda.is_available():
        try:
            import transformer_engine  # noqa: F401
            from megatron.core.models.gpt.gpt_layer_specs import get_gpt_layer_with_transformer_engine_spec

            return get_gpt_layer_with_transformer_engine_spec(num_experts=model.num_experts)
        except ImportError:
            pass
    spec = get_gpt_layer_local_spec(
        num_experts=model.num_experts, moe_grouped_gemm=False, normalization="RMSNorm"
    )
    spec.submodules.self_attention.submodules.core_attention = (
        SDPAttention  # torch's fused kernels, same math
    )
    return spec


def build_model(
    model: ModelConfig,
    *,
    vocab_size: int,
    tp: int,
    ep: int,
    real_vocab: int | None = None,
    compile: bool = False,
) -> GPTModel:
    """A ``GPTModel`` on this rank (its TP / EP shard), on the current device, in fp32.

    ``vocab_size`` is the embedding's row count (``model.padded_vocab_size(tokenizer vocab)``); when
    ``real_vocab`` is smaller, the logits of the padding rows are -inf (see :func:`_mask_vocab_padding`).
    ``compile``: :func:`compile_layers` (``training.compile``).
    """
    from megatron.core.models.gpt import GPTModel

    _cpu_compat.apply()
    config = transformer_config(model, tp=tp, ep=ep)
    scaling = model.rope_scaling
    rope: dict[str, Any] = {}
    if scaling is not None and scaling.type == "linear":
        rope = {"seq_len_interpolation_factor": scaling.factor}
    elif scaling is not None:  # llama3
        rope = {"rope_scaling": True, "rope_scaling_factor": scaling.factor}
    gpt = GPTModel(
        config=config,
        transformer_layer_spec=_layer_spec(model),
        vocab_size=vocab_size,
        max_sequence_length=model.seq_length,
        pre_process=True,
        post_process=True,
        parallel_output=True,
        share_embeddings_and_output_weights=model.tie_embeddings,
        position_embedding_type="rope",
        rotary_base=model.rotary_base,  # type: ignore[arg-type]  # Megatron annotates int, computes in float
        **rope,
    )
    if real_vocab is not None and real_vocab < vocab_size:
        _mask_vocab_padding(gpt, real_vocab)
    if torch.cuda.is_available():
        gpt = gpt.cuda(torch.cuda.current_device())
    if compile:
        compile_layers(gpt)
    return gpt


def compile_layers(gpt: GPTModel) -> None:
    """``torch.compile`` every transformer layer in place (``nn.Module.compile``: same parameters, same
    state dict keys, so checkpoints and Megatron DDP see the uncompiled model).

    Per layer, not the whole model: the layers share one compiled graph (dynamo treats the parameters as
    inputs), so compilation costs one layer's, and the whole model compiled measured no faster here. Inductor
    fuses each layer's elementwise work (RMSNorm, RoPE, SwiGLU, the residual adds) forward and backward; the
    CPU fast path's hand-fused RoPE and SwiGLU step aside while compiling (``cpu_compat``). A dense layer
    compiles whole; an MoE layer compiles its attention only (the token dispatch has data-dependent shapes).
    On CPU with one TP rank the loss is compiled too (``cpu_compat.compiled_cross_entropy``: inductor's
    fused cross-entropy in place of Megatron's vocab-parallel one, which makes several passes over the
    logits). Compilation happens at the first forward (the trainer's warm-up step).
    """
    from megatron.core import parallel_state

    for layer in gpt.decoder.layers:
        if gpt.config.num_moe_experts:
            layer.self_attention.compile()
        else:
            layer.compile()
    if not torch.cuda.is_available() and parallel_state.get_tensor_model_parallel_world_size() == 1:
        gpt.compute_language_model_loss = _cpu_compat.compiled_cross_entropy  # type: ignore[method-assign]


def _mask_vocab_padding(gpt: GPTModel, first_pad: int) -> None:
    """Logits of the embedding rows Megatron pads the vocabulary with (ids >= ``first_pad``) become -inf.

    So the softmax, the loss and sampling are exactly the unpadded model's (an imported model's loss equals
    transformers'), and the padding rows never receive a gradient. Each TP rank masks its own vocab slice.
    """
    from megatron.core import parallel_state

    layer = gpt.output_layer
    local = layer.output_size_per_partition
    start = parallel_state.get_tensor_model_parallel_rank() * local
    pad = torch.arange(start, start + local) >= first_pad  # [V/tp]
    if not bool(pad.any()):
        return

    def hook(module: Any, args: Any, output: tuple[torch.Tensor, Any]) -> tuple[torch.Tensor, Any]:
        logits, bias = output  # [s, b, V/tp]
        return logits.masked_fill(pad.to(logits.device), float("-inf")), bias

    layer.register_forward_hook(hook)


def causal_mask(seq_length: int, device: torch.device | str) -> torch.Tensor:
    """[1, 1, s, s] bool, True = masked (Megatron's convention); passed explicitly (CPU needs it)."""
    return torch.triu(torch.ones(seq_length, seq_length, dtype=torch.bool, device=device), diagonal=1)[
        None, None
    ]


def param_counts(model: ModelConfig, *, vocab_size: int) -> tuple[int, int]:
    """(total, active per token) parameter counts of ``model`` (see :mod:`trainers._arithmetic`)."""
    return model.param_counts(vocab_size=vocab_size)


def flops_per_token(model: ModelConfig, *, vocab_size: int) -> float:
    """Training FLOPs per token of ``model`` (see :mod:`trainers._arithmetic`)."""
    return model.flops_per_token(vocab_size=vocab_size)
