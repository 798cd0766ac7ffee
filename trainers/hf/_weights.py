"""HF safetensors <-> Megatron (local spec, TP=1) state dicts: names, shapes, QKV interleave, [gate; up].

Megatron's fused QKV weight is interleaved per query group: for each of the ``g`` groups, its ``heads/g``
query heads, then its key head, then its value head (``[g, heads/g + 2, d, h]`` flattened). The SwiGLU MLP's
first linear is ``[gate; up]``, the second is ``down``. Embeddings (and an untied output layer) are padded
with zero rows to ``padded_vocab_size`` on the way in and trimmed on the way out. Mixtral experts map one to
one onto Megatron's ``local_experts`` (``w1`` gate, ``w3`` up, ``w2`` down) and its gate onto the router.

Shapes: ``h`` hidden, ``n`` heads, ``g`` query groups, ``d`` head size, ``f`` FFN size, ``V`` vocabulary.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from trainers import ModelConfig
from vibe.core.errors import UserError

__all__ = ["expected_hf_shapes", "hf_to_megatron", "megatron_to_hf", "read_safetensors", "weight_files"]


def weight_files(src: Path) -> list[Path]:
    """The safetensors files of an HF directory: those its index names, or its one ``model.safetensors``."""
    index = src / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise UserError(f"{index}: not a safetensors index ({error}); it needs a weight_map") from None
        files = [src / name for name in sorted(set(weight_map.values()))]
        for file in files:
            if not file.is_file():
                raise UserError(f"{file}: missing, but {index.name} lists it; copy the complete model")
        return files
    single = src / "model.safetensors"
    if single.is_file():
        return [single]
    others = sorted(p.name for p in src.glob("*.safetensors"))
    if others:
        raise UserError(f"{src}: {', '.join(others)} without model.safetensors.index.json; add the index")
    binary = sorted(p.name for p in src.glob("*.bin"))
    hint = f" ({', '.join(binary)} is a pickle; re-save it as safetensors)" if binary else ""
    raise UserError(f"{src}: no model.safetensors{hint}")


def read_safetensors(files: list[Path]) -> dict[str, torch.Tensor]:
    """Every tensor of ``files``, as float32; a truncated or corrupt file is named."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    tensors: dict[str, torch.Tensor] = {}
    for file in files:
        try:
            loaded = load_file(str(file))
        except (SafetensorError, OSError, RuntimeError) as error:
            raise UserError(
                f"{file}: cannot be read as safetensors ({error}); the file is truncated or corrupt"
            ) from None
        for name, tensor in loaded.items():
            if name in tensors:
                raise UserError(f"{file}: tensor {name} appears in more than one file")
            tensors[name] = tensor.float() if tensor.is_floating_point() else tensor
    return tensors


def _layer_shapes(m: ModelConfig) -> dict[str, tuple[int, ...]]:
    h, n, g, d, f = m.hidden_size, m.num_attention_heads, m.query_groups, m.head_dim, m.ffn_size
    shapes: dict[str, tuple[int, ...]] = {
        "input_layernorm.weight": (h,),
        "post_attention_layernorm.weight": (h,),
        "self_attn.q_proj.weight": (n * d, h),
        "self_attn.k_proj.weight": (g * d, h),
        "self_attn.v_proj.weight": (g * d, h),
        "self_attn.o_proj.weight": (h, n * d),
    }
    if m.qkv_bias:
        shapes.update(
            {
                "self_attn.q_proj.bias": (n * d,),
                "self_attn.k_proj.bias": (g * d,),
                "self_attn.v_proj.bias": (g * d,),
            }
        )
    if m.num_experts is None:
        shapes.update(
            {"mlp.gate_proj.weight": (f, h), "mlp.up_proj.weight": (f, h), "mlp.down_proj.weight": (h, f)}
        )
    else:
        shapes["block_sparse_moe.gate.weight"] = (m.num_experts, h)
        for e in range(m.num_experts):
            p = f"block_sparse_moe.experts.{e}"
            shapes.update({f"{p}.w1.weight": (f, h), f"{p}.w3.weight": (f, h), f"{p}.w2.weight": (h, f)})
    return shapes


def expected_hf_shapes(m: ModelConfig, *, vocab_size: int) -> dict[str, tuple[int, ...]]:
    """Every tensor an HF checkpoint of ``m`` holds, with its shape (``lm_head`` only when untied)."""
    shapes: dict[str, tuple[int, ...]] = {
        "model.embed_tokens.weight": (vocab_size, m.hidden_size),
        "model.norm.weight": (m.hidden_size,),
    }
    if not m.tie_embeddings:
        shapes["lm_head.weight"] = (vocab_size, m.hidden_size)
    for i in range(m.num_layers):
        shapes.update({f"model.layers.{i}.{k}": v for k, v in _layer_shapes(m).items()})
    return shapes


def check_hf_tensors(
    tensors: dict[str, torch.Tensor], m: ModelConfig, *, vocab_size: int, where: Path
) -> None:
    """Names and shapes of ``tensors`` against what ``config.json`` implies; a mismatch names the tensor."""
    expected = expected_hf_shapes(m, vocab_size=vocab_size)
    extra = set(tensors) - set(expected)
    if m.tie_embeddings and "lm_head.weight" in extra:  # some tied checkpoints store the copy
        extra.discard("lm_head.weight")
        if not torch.equal(
            tensors["lm_head.weight"], tensors.get("model.embed_tokens.weight", torch.empty(0))
        ):
            raise UserError(
                f"{where}: tie_word_embeddings is true but lm_head.weight differs from model.embed_tokens.weight"
            )
    extra = {name for name in extra if not name.endswith("rotary_emb.inv_freq")}  # a recomputed buffer
    if extra:
        names = ", ".join(sorted(extra)[:5])
        raise UserError(
            f"{where}: tensors config.json does not account for: {names}; the config disagrees with the weights"
        )
    missing = sorted(set(expected) - set(tensors))
    if missing:
        raise UserError(f"{where}: missing tensors {', '.join(missing[:5])}; the checkpoint is incomplete")
    for name, shape in expected.items():
        if tuple(tensors[name].shape) != shape:
            raise UserError(
                f"{where}: {name} has shape {tuple(tensors[name].shape)} but config.json implies {shape} "
                f"(hidden_size={m.hidden_size}, num_attention_heads={m.num_attention_heads}, "
                f"num_key_value_heads={m.query_groups}, head_dim={m.head_dim}, intermediate_size={m.ffn_size}, "
                f"vocab_size={vocab_size}); the config disagrees with the weights"
            )


def _pad(t: torch.Tensor, rows: int) -> torch.Tensor:
    return torch.cat([t, t.new_zeros(rows - t.size(0), *t.shape[1:])]) if rows > t.size(0) else t


def _interleave_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, m: ModelConfig) -> torch.Tensor:
    g, d = m.query_groups, m.head_dim
    per = m.num_attention_heads // g
    q = q.reshape(g, per * d, *q.shape[1:])
    k, v = k.reshape(g, d, *k.shape[1:]), v.reshape(g, d, *v.shape[1:])
    return torch.cat([q, k, v], dim=1).reshape(-1, *q.shape[2:])  # [g·(per+2)·d, h] (or [...] for biases)


def _split_qkv(qkv: torch.Tensor, m: ModelConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g, d = m.query_groups, m.head_dim
    per = m.num_attention_heads // g
    grouped = qkv.reshape(g, (per + 2) * d, *qkv.shape[1:])
    q, k, v = grouped.split([per * d, d, d], dim=1)
    return (t.reshape(-1, *qkv.shape[1:]).contiguous() for t in (q, k, v))  # type: ignore[return-value]


def hf_to_megatron(
    tensors: dict[str, torch.Tensor], m: ModelConfig, *, padded_vocab: int
) -> dict[str, torch.Tensor]:
    """HF names -> Megatron names (checked tensors: see :func:`check_hf_tensors`)."""
    out = {
        "embedding.word_embeddings.weight": _pad(tensors["model.embed_tokens.weight"], padded_vocab),
        "decoder.final_layernorm.weight": tensors["model.norm.weight"],
    }
    if not m.tie_embeddings:
        out["output_layer.weight"] = _pad(tensors["lm_head.weight"], padded_vocab)
    for i in range(m.num_layers):
        hf, mg = f"model.layers.{i}.", f"decoder.layers.{i}."
        attn = hf + "self_attn."
        out[mg + "input_layernorm.weight"] = tensors[hf + "input_layernorm.weight"]
        out[mg + "pre_mlp_layernorm.weight"] = tensors[hf + "post_attention_layernorm.weight"]
        out[mg + "self_attention.linear_qkv.weight"] = _interleave_qkv(
            *(tensors[f"{attn}{x}_proj.weight"] for x in "qkv"), m
        )
        if m.qkv_bias:
            out[mg + "self_attention.linear_qkv.bias"] = _interleave_qkv(
                *(tensors[f"{attn}{x}_proj.bias"] for x in "qkv"), m
            )
        out[mg + "self_attention.linear_proj.weight"] = tensors[attn + "o_proj.weight"]
        if m.num_experts is None:
            out[mg + "mlp.linear_fc1.weight"] = torch.cat(
                [tensors[hf + "mlp.gate_proj.weight"], tensors[hf + "mlp.up_proj.weight"]]
            )
            out[mg + "mlp.linear_fc2.weight"] = tensors[hf + "mlp.down_proj.weight"]
            continue
        out[mg + "mlp.router.weight"] = tensors[hf + "block_sparse_moe.gate.weight"]
        for e in range(m.num_experts):
            src, dst = f"{hf}block_sparse_moe.experts.{e}.", f"{mg}mlp.experts.local_experts.{e}."
            out[dst + "linear_fc1.weight"] = torch.cat(
                [tensors[src + "w1.weight"], tensors[src + "w3.weight"]]
            )
            out[dst + "linear_fc2.weight"] = tensors[src + "w2.weight"]
    return out


def megatron_to_hf(
    state: dict[str, torch.Tensor], m: ModelConfig, *, vocab_size: int
) -> dict[str, torch.Tensor]:
    """Megatron names -> HF names, vocabulary trimmed to ``vocab_size``; the inverse of :func:`hf_to_megatron`."""
    out = {
        "model.embed_tokens.weight": state["embedding.word_embeddings.weight"][:vocab_size],
        "model.norm.weight": state["decoder.final_layernorm.weight"],
    }
    if not m.tie_embeddings:
        out["lm_head.weight"] = state["output_layer.weight"][:vocab_size]
    for i in range(m.num_layers):
        hf, mg = f"model.layers.{i}.", f"decoder.layers.{i}."
        attn = hf + "self_attn."
        out[hf + "input_layernorm.weight"] = state[mg + "input_layernorm.weight"]
        out[hf + "post_attention_layernorm.weight"] = state[mg + "pre_mlp_layernorm.weight"]
        for x, t in zip("qkv", _split_qkv(state[mg + "self_attention.linear_qkv.weight"], m), strict=True):
            out[f"{attn}{x}_proj.weight"] = t
        if m.qkv_bias:
            for x, t in zip("qkv", _split_qkv(state[mg + "self_attention.linear_qkv.bias"], m), strict=True):
                out[f"{attn}{x}_proj.bias"] = t
        out[attn + "o_proj.weight"] = state[mg + "self_attention.linear_proj.weight"]
        if m.num_experts is None:
            gate, up = state[mg + "mlp.linear_fc1.weight"].chunk(2)
            out[hf + "mlp.gate_proj.weight"], out[hf + "mlp.up_proj.weight"] = gate, up
            out[hf + "mlp.down_proj.weight"] = state[mg + "mlp.linear_fc2.weight"]
            continue
        out[hf + "block_sparse_moe.gate.weight"] = state[mg + "mlp.router.weight"]
        for e in range(m.num_experts):
            src, dst = f"{mg}mlp.experts.local_experts.{e}.", f"{hf}block_sparse_moe.experts.{e}."
            w1, w3 = state[src + "linear_fc1.weight"].chunk(2)
            out[dst + "w1.weight"], out[dst + "w3.weight"] = w1, w3
            out[dst + "w2.weight"] = state[src + "linear_fc2.weight"]
    return {name: t.detach().clone().contiguous() for name, t in out.items()}  # no shared storage
