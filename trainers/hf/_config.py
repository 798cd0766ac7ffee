"""A Hugging Face ``config.json`` <-> the trainer's :class:`ModelConfig`, exactly or not at all.

:func:`read_hf_config` accepts the Llama family (``LlamaForCausalLM``, ``MistralForCausalLM`` without a
sliding window, ``Qwen2ForCausalLM`` with its QKV biases) and Mixtral (softmax router, top-k, SwiGLU experts).
Every option Megatron cannot compute the same way (another activation, a sliding window, attention or MLP
biases where Megatron has none, an unsupported RoPE scaling, a quantized checkpoint) is refused with a
``UserError`` that names the ``config.json`` field. :func:`hf_config_dict` writes the config back.
Both the transformers 4 (``rope_theta`` / ``rope_scaling``) and 5 (``rope_parameters``) spellings are read;
the 5 spelling is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from trainers import ModelConfig, RopeScaling
from vibe.core.errors import UserError

__all__ = ["ARCHITECTURES", "HFModel", "hf_config_dict", "read_hf_config"]

# architecture -> model_type
ARCHITECTURES: dict[str, str] = {
    "LlamaForCausalLM": "llama",
    "MistralForCausalLM": "mistral",
    "Qwen2ForCausalLM": "qwen2",
    "MixtralForCausalLM": "mixtral",
}
VOCAB_MULTIPLE = (
    128  # Megatron's make_vocab_size_divisible_by: embeddings padded on import, trimmed on export
)


@dataclass(frozen=True)
class HFModel:
    """What an HF config says, in the trainer's terms, plus what export needs back."""

    architecture: str
    model: ModelConfig
    vocab_size: int  # the HF model's (unpadded) vocabulary
    token_ids: dict[str, Any]  # bos_token_id, eos_token_id, pad_token_id as given
    raw: dict[str, Any]


def _refuse(path: Path, field: str, value: Any, why: str) -> UserError:
    return UserError(
        f"{path}: {field}={value!r}: {why}; this model cannot be converted exactly, so it is not"
    )


def _rope(path: Path, config: dict[str, Any]) -> tuple[float, RopeScaling | None]:
    params = config.get("rope_parameters")
    if isinstance(params, dict) and "rope_theta" in params:  # transformers 5
        theta, kind, where = params["rope_theta"], params.get("rope_type", "default"), "rope_parameters"
        scaling = params
    else:  # transformers 4
        theta, scaling, where = config.get("rope_theta", 10000.0), config.get("rope_scaling"), "rope_scaling"
        kind = (scaling or {}).get("rope_type", (scaling or {}).get("type", "default"))
    if config.get("partial_rotary_factor", 1.0) != 1.0:
        raise _refuse(
            path,
            "partial_rotary_factor",
            config["partial_rotary_factor"],
            "Megatron rotates whole heads here",
        )
    if kind == "default":
        return float(theta), None
    if kind not in ("linear", "llama3"):
        raise _refuse(path, f"{where}.rope_type", kind, "supported RoPE scalings are linear and llama3")
    fields = {"type": kind, "factor": scaling.get("factor")}
    if kind == "llama3":
        for name in ("low_freq_factor", "high_freq_factor", "original_max_position_embeddings"):
            if name in scaling:
                fields[name] = scaling[name]
    try:
        return float(theta), RopeScaling.model_validate(fields)
    except ValidationError as error:
        detail = error.errors()[0]
        name = ".".join(str(x) for x in detail["loc"])
        raise _refuse(path, f"{where}.{name}", detail.get("input"), detail["msg"]) from None


def read_hf_config(path: Path, *, seq_length: int | None = None) -> HFModel:
    """``config.json`` (or its directory) as an :class:`HFModel`; refuses what cannot be carried exactly."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        raise UserError(f"{path}: missing; an HF model directory has config.json beside its safetensors")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: not readable JSON ({error})") from None
    archs = config.get("architectures") or []
    if len(archs) != 1 or archs[0] not in ARCHITECTURES:
        raise _refuse(path, "architectures", archs, f"supported architectures are {', '.join(ARCHITECTURES)}")
    arch = archs[0]
    if "quantization_config" in config:
        raise _refuse(
            path, "quantization_config", "...", "quantized checkpoints are not converted; dequantize first"
        )
    if config.get("hidden_act", "silu") != "silu":
        raise _refuse(path, "hidden_act", config["hidden_act"], "only SwiGLU (silu) MLPs map onto Megatron's")
    if config.get("attention_bias"):
        raise _refuse(path, "attention_bias", True, "Megatron's Llama layout has no attention biases")
    if config.get("mlp_bias"):
        raise _refuse(path, "mlp_bias", True, "Megatron's Llama layout has no MLP biases")
    sliding = config.get("sliding_window")
    if sliding is not None and (arch != "Qwen2ForCausalLM" or config.get("use_sliding_window")):
        raise _refuse(path, "sliding_window", sliding, "sliding-window attention is not carried")
    layer_types = config.get("layer_types") or []
    if any(t != "full_attention" for t in layer_types):
        raise _refuse(path, "layer_types", sorted(set(layer_types)), "only full attention is carried")
    for name in (
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "vocab_size",
    ):
        if not isinstance(config.get(name), int) or config[name] <= 0:
            raise _refuse(path, name, config.get(name), "must be a positive integer")
    heads, hidden = config["num_attention_heads"], config["hidden_size"]
    head_dim = config.get("head_dim") or hidden // heads
    theta, scaling = _rope(path, config)
    moe: dict[str, Any] = {}
    if arch == "MixtralForCausalLM":
        moe = {
            "num_experts": config.get("num_local_experts"),
            "moe_router_topk": config.get("num_experts_per_tok", 2),
            "moe_aux_loss_coeff": config.get("router_aux_loss_coef", 0.0),
        }
    max_positions = int(config.get("max_position_embeddings") or 2048)
    fields = {
        "preset": None,
        "num_layers": config["num_hidden_layers"],
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "num_query_groups": config.get("num_key_value_heads") or heads,
        "kv_channels": head_dim if head_dim * heads != hidden else None,
        "ffn_hidden_size": config["intermediate_size"],
        "seq_length": seq_length or min(max_positions, 2048),
        "max_position_embeddings": max_positions,
        "swiglu": True,
        "rotary_base": theta,
        "rope_scaling": scaling,
        "norm_epsilon": config.get("rms_norm_eps", 1e-6),
        "qkv_bias": arch == "Qwen2ForCausalLM",
        "tie_embeddings": bool(config.get("tie_word_embeddings", False)),
        "vocab_size": config["vocab_size"],
        "make_vocab_size_divisible_by": VOCAB_MULTIPLE,
        "init_method_std": config.get("initializer_range", 0.02),
        "dropout": 0.0,
        **moe,
    }
    try:
        model = ModelConfig.model_validate(fields)
    except ValidationError as error:
        detail = error.errors()[0]
        name = ".".join(str(x) for x in detail["loc"])
        raise _refuse(path, f"(as model.{name})", detail.get("input"), detail["msg"]) from None
    ids = {k: config.get(k) for k in ("bos_token_id", "eos_token_id", "pad_token_id")}
    return HFModel(architecture=arch, model=model, vocab_size=config["vocab_size"], token_ids=ids, raw=config)


def export_architecture(model: ModelConfig) -> str:
    """The HF architecture a trainer model is written as (Mistral without a window is written as Llama)."""
    if not model.swiglu:
        raise UserError(
            "model.swiglu: false (a GELU MLP) has no Hugging Face Llama-family equivalent; export needs SwiGLU"
        )
    if model.num_experts is not None:
        if model.qkv_bias:
            raise UserError("model.qkv_bias: true with model.num_experts has no Mixtral equivalent")
        return "MixtralForCausalLM"
    return "Qwen2ForCausalLM" if model.qkv_bias else "LlamaForCausalLM"


def hf_config_dict(model: ModelConfig, *, vocab_size: int, token_ids: dict[str, Any]) -> dict[str, Any]:
    """The ``config.json`` of ``model`` with ``vocab_size`` rows (trimmed of padding)."""
    arch = export_architecture(model)
    rope: dict[str, Any] = {"rope_theta": float(model.rotary_base), "rope_type": "default"}
    if model.rope_scaling is not None:
        s = model.rope_scaling
        rope.update(rope_type=s.type, factor=s.factor)
        if s.type == "llama3":
            rope.update(
                low_freq_factor=s.low_freq_factor,
                high_freq_factor=s.high_freq_factor,
                original_max_position_embeddings=s.original_max_position_embeddings,
            )
    config: dict[str, Any] = {
        "architectures": [arch],
        "model_type": ARCHITECTURES[arch],
        "hidden_size": model.hidden_size,
        "intermediate_size": model.ffn_size,
        "num_hidden_layers": model.num_layers,
        "num_attention_heads": model.num_attention_heads,
        "num_key_value_heads": model.query_groups,
        "head_dim": model.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": model.max_position_embeddings or model.seq_length,
        "rms_norm_eps": model.norm_epsilon,
        "rope_parameters": rope,
        "tie_word_embeddings": model.tie_embeddings,
        "vocab_size": vocab_size,
        "initializer_range": model.init_method_std,
        "attention_dropout": 0.0,
        "use_cache": True,
        "dtype": "float32",
        **token_ids,
    }
    if arch == "LlamaForCausalLM":
        config.update(attention_bias=False, mlp_bias=False)
    if arch == "Qwen2ForCausalLM":
        config.update(use_sliding_window=False, sliding_window=None)
    if arch == "MixtralForCausalLM":
        config.update(
            num_local_experts=model.num_experts,
            num_experts_per_tok=model.moe_router_topk,
            router_aux_loss_coef=model.moe_aux_loss_coeff,
            router_jitter_noise=0.0,
            sliding_window=None,
        )
    return config
