"""The planner, the gate and the trainer count a run's parameters and FLOPs the same way."""

from __future__ import annotations

import pytest

from trainers import ModelConfig, RunConfig, flops_per_token, param_counts
from vibe.agent import PlanSettings, describe_step, make_plan, parse_request


@pytest.mark.parametrize(
    "request_text", ["train a 7B on /data/code", "train a 1B MoE with 8 experts on /data/code"]
)
def test_the_planned_proxy_is_what_the_trainer_counts(request_text: str) -> None:
    plan = make_plan(
        parse_request(request_text), tokens_available=5_000_000, settings=PlanSettings(), thread_id="t"
    )
    assert plan.proxy is not None
    train = RunConfig.model_validate(plan.steps[1].args["config"])
    vocab = plan.proxy.shape.vocab_size
    assert plan.proxy.shape.flops_per_token() == train.model.flops_per_token(vocab_size=vocab)
    assert plan.proxy.shape.total_params == train.model.param_counts(vocab_size=vocab)[0]

    # the gate's hours for the train step are the proxy's expected seconds: the same FLOPs, the same FLOP/s
    cpu_hours = describe_step(
        plan.steps[1].model_dump(mode="json"), plan=plan.model_dump(mode="json"), local_flops_per_second=1.0
    )["cpu_hours"]
    import os

    assert cpu_hours == pytest.approx(plan.proxy.expected_seconds / 3600 * (os.cpu_count() or 1))


def test_the_input_embedding_is_a_lookup_unless_tied() -> None:
    model = ModelConfig(preset=None, num_layers=4, hidden_size=128, num_attention_heads=4, seq_length=256)
    sizes = dict(num_layers=4, hidden_size=128, ffn_size=model.ffn_size, seq_length=256, vocab_size=1000)
    untied, tied = flops_per_token(**sizes), flops_per_token(**sizes, tie_embeddings=True)
    total, active = param_counts(**{k: v for k, v in sizes.items() if k != "seq_length"})
    assert total == active
    assert untied == 6 * (active - 1000 * 128) + 12 * 4 * 128 * 256
    assert tied == 6 * (active - 1000 * 128) + 12 * 4 * 128 * 256  # tied: one table, multiplied once
    assert model.flops_per_token(vocab_size=1000) == untied
