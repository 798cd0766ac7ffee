import pytest

from tools.estimate import ModelShape, shape_for_params
from vibe.core.config import ConfigError, validate


@pytest.mark.parametrize("params", [125e6, 1e9, 7e9, 70e9])
def test_shape_for_params_lands_within_a_factor_of_the_request(params: float) -> None:
    shape = shape_for_params(params)
    assert params / 1.6 <= shape.total_params <= params * 1.6


def test_seven_billion_maps_to_the_llama_7b_shape() -> None:
    shape = shape_for_params(7e9)
    assert (shape.num_layers, shape.hidden_size, shape.num_attention_heads) == (32, 4096, 32)


def test_moe_counts_only_routed_experts_as_active() -> None:
    moe = shape_for_params(1e9, num_experts=8, moe_router_topk=2)
    assert moe.active_params < moe.total_params
    assert moe.flops_per_token() < 6 * moe.total_params


def test_flops_per_token_is_six_n_plus_attention() -> None:
    shape = ModelShape(
        num_layers=2, hidden_size=64, num_attention_heads=4, ffn_hidden_size=256, seq_length=128
    )
    embedding_lookup = shape.vocab_size * 64  # the input table multiplies nothing
    assert shape.flops_per_token() == 6 * (shape.active_params - embedding_lookup) + 12 * 2 * 64 * 128


def test_heads_must_divide_hidden() -> None:
    with pytest.raises(ConfigError, match="hidden_size 100 is not divisible by num_attention_heads 3"):
        validate(
            ModelShape, {"num_layers": 1, "hidden_size": 100, "num_attention_heads": 3, "ffn_hidden_size": 64}
        )
