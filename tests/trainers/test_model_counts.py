"""Parameter counts follow the model Megatron builds: GQA, a head size of its own, QKV biases, padding."""

from __future__ import annotations

import pytest

from trainers import ModelConfig, build_model, single_rank

CASES = {
    "default": {},
    "gqa": {"num_query_groups": 2},
    "mqa-head-dim": {"num_query_groups": 1, "kv_channels": 24},
    "qkv-bias-tied": {"num_query_groups": 2, "qkv_bias": True, "tie_embeddings": True},
    "padded-vocab": {"vocab_size": 301, "make_vocab_size_divisible_by": 128},
    "moe-gqa": {"num_query_groups": 2, "num_experts": 4},
}


@pytest.mark.parametrize("case", list(CASES))
def test_param_counts_equal_the_built_model(case: str) -> None:
    model = ModelConfig.model_validate({"preset": "tiny", **CASES[case]})
    rows = model.padded_vocab_size(300)
    with single_rank():
        gpt = build_model(model, vocab_size=rows, tp=1, ep=1)
        built = sum(p.numel() for p in gpt.parameters())
    assert model.param_counts(vocab_size=300)[0] == built


def test_gqa_shrinks_parameters_but_not_attention_flops() -> None:
    mha = ModelConfig(preset="tiny")
    gqa = ModelConfig(preset="tiny", num_query_groups=1)
    saved = 2 * 2 * 64 * (64 - 16)  # layers x (k, v) x hidden x (4 heads -> 1 group of 16)
    assert mha.param_counts(vocab_size=300)[0] - gqa.param_counts(vocab_size=300)[0] == saved
    assert mha.flops_per_token(vocab_size=300) - gqa.flops_per_token(vocab_size=300) == 6 * saved
