"""A local proxy run: the largest model of the requested family this machine trains within a time budget.

A request bigger than the machine is planned in full for the cluster and proxied here: same architecture
family (dense or MoE), same data and tokenizer, scaled down until ``tokens · flops_per_token`` fits the
budget at this machine's measured throughput.
"""

from __future__ import annotations

from pydantic import Field

from tools.estimate._shapes import ModelShape
from vibe.core.config import VibeConfig

__all__ = ["ProxyPlan", "plan_proxy"]

# Small shapes a 2-core machine can train in minutes: (layers, hidden, heads).
_PROXY_LADDER = (
    (2, 64, 4),
    (2, 128, 4),
    (4, 128, 4),
    (4, 192, 6),
    (4, 256, 8),
    (6, 256, 8),
    (8, 384, 8),
    (8, 512, 8),
)


class ProxyPlan(VibeConfig):
    shape: ModelShape
    steps: int = Field(ge=1)
    micro_batch_size: int = Field(ge=1)
    global_batch_size: int = Field(ge=1)
    tokens: int
    expected_seconds: float
    reason: str


def plan_proxy(
    *,
    vocab_size: int,
    flops_per_second: float,
    time_budget_s: float,
    tokens_available: int,
    num_experts: int | None = None,
    seq_length: int = 256,
    global_batch_size: int = 16,
    max_steps: int | None = None,
    max_params: int | None = None,
) -> ProxyPlan:
    """The largest ladder shape whose compute-optimal run (capped by available data) fits ``time_budget_s``,
    and no larger than ``max_params`` (a proxy is never bigger than the model it stands for).

    ``flops_per_second`` is what this machine sustains in training (measured peak times measured MFU).
    """
    if flops_per_second <= 0 or time_budget_s <= 0:
        raise ValueError("flops_per_second and time_budget_s must be positive")
    tokens_per_step = global_batch_size * seq_length
    chosen: ProxyPlan | None = None
    for layers, hidden, heads in _PROXY_LADDER:
        experts = min(num_experts, 4) if num_experts else None
        shape = ModelShape(
            num_layers=layers,
            hidden_size=hidden,
            num_attention_heads=heads,
            ffn_hidden_size=4 * hidden,
            seq_length=seq_length,
            vocab_size=vocab_size,
            swiglu=True,
            num_experts=experts,
            moe_router_topk=2,
        )
        if chosen is not None and max_params is not None and shape.total_params > max_params:
            break
        tokens = min(int(20 * shape.active_params), tokens_available * 4)
        steps = max(1, tokens // tokens_per_step)
        if max_steps is not None:
            steps = min(steps, max_steps)
        seconds = steps * tokens_per_step * shape.flops_per_token() / flops_per_second
        if seconds > time_budget_s:
            # shrink the run, not the model, only for the smallest shape
            if chosen is None:
                steps = max(
                    1, int(time_budget_s * flops_per_second / (tokens_per_step * shape.flops_per_token()))
                )
                seconds = steps * tokens_per_step * shape.flops_per_token() / flops_per_second
            else:
                break
        chosen = ProxyPlan(
            shape=shape,
            steps=steps,
            micro_batch_size=min(global_batch_size, 8),
            global_batch_size=global_batch_size,
            tokens=steps * tokens_per_step,
            expected_seconds=seconds,
            reason=(
                f"largest shape whose run ({steps} steps x {tokens_per_step} tokens) fits the "
                f"{time_budget_s:.0f} s budget at {flops_per_second / 1e9:.1f} GFLOP/s sustained"
            ),
        )
    assert chosen is not None
    return chosen
