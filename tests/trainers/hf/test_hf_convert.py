"""Import tiny random HF models, export them back: bit-exact round trips and logits parity with transformers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tiny_hf import tiny_config, write_model

from trainers.hf import export_run, import_model


def _tensors(directory: Path) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for file in sorted(directory.glob("*.safetensors")):
        out.update(load_file(str(file)))
    return out


CASES = {
    "llama-gqa-untied": ("llama", {}),
    "llama-tied": ("llama", {"tie_word_embeddings": True, "num_key_value_heads": 1}),
    "llama-head-dim": ("llama", {"head_dim": 24}),  # 4 heads x 24 != hidden 64
    "llama-linear-rope": ("llama", {"rope_scaling": {"rope_type": "linear", "factor": 2.0}}),
    "mistral": ("mistral", {}),
    "qwen2-qkv-bias": ("qwen2", {}),
    "mixtral-moe": ("mixtral", {}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_import_export_round_trip_and_logits(tmp_path: Path, case: str) -> None:
    kind, overrides = CASES[case]
    src = write_model(tmp_path / "src", tiny_config(kind, **overrides))
    imported = import_model(src, tmp_path / "imported")

    record = json.loads((tmp_path / "imported" / "import.json").read_text())
    v = record["verification"]
    assert v["ok"] and v["round_trip"]["bit_exact"]
    assert v["logits"]["max_abs_diff"] <= 1e-3 and v["logits"]["top1_agreement"] == 1.0
    # the loss over Megatron's padded vocabulary (384 rows) is transformers' over 301: padding is masked
    assert v["logits"]["loss_abs_diff"] <= 1e-5, v["logits"]
    assert record["vocab"] == {"hf": 301, "padded": 384}  # odd vocabulary padded to Megatron's multiple
    assert set(record["source_files"]) >= {"config.json", "model.safetensors", "tokenizer.json"}
    assert any(name.startswith("checkpoints/step_0000000/model/") for name in record["out_files"])
    assert imported.ok
    model = imported.record["model"]
    assert model["num_query_groups"] == tiny_config(kind, **overrides).num_key_value_heads
    assert model["rotary_base"] == 50000.0 and model["norm_epsilon"] == 1e-6

    exported = export_run(tmp_path / "imported", tmp_path / "exported")
    assert exported.ok and exported.record["verification"]["logits"]["max_abs_diff"] <= 1e-3
    source, back = _tensors(src), _tensors(tmp_path / "exported")
    if overrides.get("tie_word_embeddings"):
        source.pop("lm_head.weight", None)
    assert set(back) == set(source)
    for name, tensor in source.items():  # HF -> Megatron -> HF: every tensor bit-exact (fp32)
        assert torch.equal(back[name], tensor.float()), name

    import transformers

    config = transformers.AutoConfig.from_pretrained(tmp_path / "exported")
    reference = tiny_config(kind, **overrides)
    for field in ("num_key_value_heads", "vocab_size", "tie_word_embeddings", "rms_norm_eps"):
        assert getattr(config, field) == getattr(reference, field), field
    if kind == "llama":
        assert config.head_dim == reference.head_dim
    assert config.rope_parameters["rope_theta"] == 50000.0
    if "rope_scaling" in overrides:
        assert config.rope_parameters["rope_type"] == "linear" and config.rope_parameters["factor"] == 2.0
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "exported")
    assert tokenizer.chat_template  # carried from the source's tokenizer_config.json
    assert (tmp_path / "exported" / "generation_config.json").is_file()


def test_sharded_checkpoint_with_index(tmp_path: Path) -> None:
    src = write_model(tmp_path / "src", tiny_config("llama"), shard="40KB")
    assert (src / "model.safetensors.index.json").is_file() and len(list(src.glob("*.safetensors"))) > 1
    result = import_model(src, tmp_path / "imported")
    assert result.ok and len([n for n in result.record["source_files"] if n.endswith(".safetensors")]) > 1


def test_a_wrong_qkv_layout_fails_the_logits_check(tmp_path: Path) -> None:
    """The parity check can fail: swapping the two KV groups' key heads is caught."""
    from trainers.hf import (
        compare_logits,
        held_out_sequences,
        hf_to_megatron,
        load_state,
        megatron_model,
        read_hf_config,
        read_safetensors,
    )

    src = write_model(tmp_path / "src", tiny_config("llama"))
    spec = read_hf_config(src)
    tensors = read_safetensors([src / "model.safetensors"])
    k = tensors["model.layers.0.self_attn.k_proj.weight"]
    tensors["model.layers.0.self_attn.k_proj.weight"] = torch.cat([k[16:], k[:16]])  # groups swapped
    with megatron_model(spec.model, padded_vocab=384, vocab=301) as gpt:
        load_state(gpt, hf_to_megatron(tensors, spec.model, padded_vocab=384))
        result = compare_logits(gpt, src, held_out_sequences(src / "tokenizer.json"), vocab_size=301)
    assert not result["ok"] and result["max_abs_diff"] > 1e-3


def test_vocabulary_padding_is_masked_out_of_the_loss(tmp_path: Path) -> None:
    """Without the mask, the 83 zero padding rows would take probability mass: the loss would differ."""
    from trainers.hf import (
        held_out_sequences,
        hf_to_megatron,
        load_state,
        loss_of,
        megatron_model,
        read_hf_config,
        read_safetensors,
    )

    src = write_model(tmp_path / "src", tiny_config("llama"))
    spec = read_hf_config(src)
    state = hf_to_megatron(read_safetensors([src / "model.safetensors"]), spec.model, padded_vocab=384)
    ids = held_out_sequences(src / "tokenizer.json")
    losses = {}
    for vocab in (301, None):
        with megatron_model(spec.model, padded_vocab=384, vocab=vocab) as gpt:
            load_state(gpt, state)
            losses[vocab] = loss_of(gpt, ids)
    assert losses[None] - losses[301] > 0.05
