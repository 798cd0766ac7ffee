"""Model shapes for a parameter budget, and their parameter and FLOP counts.

Shapes follow the Llama / Megatron GPT family (SwiGLU MLP, RoPE, untied output layer) so that a
"7B" request maps onto the layer, width and head counts people expect.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from vibe.core.config import VibeConfig

__all__ = ["ModelShape", "shape_for_params"]


class ModelShape(VibeConfig):
    """A GPT shape. ``num_experts`` set makes the MLP a mixture of experts (top-k routed)."""

    num_layers: int = Field(ge=1)
    hidden_size: int = Field(ge=8)
    num_attention_heads: int = Field(ge=1)
    ffn_hidden_size: int = Field(ge=8)
    seq_length: int = Field(default=4096, ge=8)
    vocab_size: int = Field(default=32000, ge=2)
    swiglu: bool = True
    num_experts: int | None = Field(default=None, ge=2)
    moe_router_topk: int = Field(default=2, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> ModelShape:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} is not divisible by num_attention_heads {self.num_attention_heads}"
            )
        if self.num_experts is not None and self.moe_router_topk > self.num_experts:
            raise ValueError(f"moe_router_topk {self.moe_router_topk} exceeds num_experts {self.num_experts}")
        return self

    def _mlp_params(self) -> int:
        return (3 if self.swiglu else 2) * self.hidden_size * self.ffn_hidden_size

    def _layer_params(self, experts: int) -> int:
        h = self.hidden_size
        attention = 4 * h * h  # q, k, v, o projections
        router = h * self.num_experts if self.num_experts else 0
        return attention + experts * self._mlp_params() + router + 2 * h  # + two norms

    @property
    def total_params(self) -> int:
        """Every weight, all experts counted."""
        experts = self.num_experts or 1
        embed = 2 * self.vocab_size * self.hidden_size  # input embedding + untied output layer
        return self.num_layers * self._layer_params(experts) + embed + self.hidden_size

    @property
    def active_params(self) -> int:
        """Weights one token passes through (top-k experts for MoE): what its FLOPs scale with."""
        experts = self.moe_router_topk if self.num_experts else 1
        embed = 2 * self.vocab_size * self.hidden_size
        return self.num_layers * self._layer_params(experts) + embed + self.hidden_size

    def flops_per_token(self) -> float:
        """Training FLOPs per token: 6·N_active for the matmuls plus 12·L·h·s for attention scores."""
        return 6.0 * self.active_params + 12.0 * self.num_layers * self.hidden_size * self.seq_length


# (hidden, layers, heads) per nominal size, after the Llama / Pythia families.
_LADDER: tuple[tuple[int, int, int], ...] = (
    (64, 2, 4),
    (128, 4, 4),
    (256, 4, 8),
    (384, 6, 6),
    (512, 8, 8),
    (768, 12, 12),
    (1024, 24, 16),
    (1536, 24, 16),
    (2048, 24, 16),
    (2560, 32, 20),
    (3072, 28, 24),
    (4096, 32, 32),
    (5120, 40, 40),
    (6144, 48, 48),
    (8192, 80, 64),
    (12288, 96, 96),
)


def _ffn(hidden: int, swiglu: bool) -> int:
    if not swiglu:
        return 4 * hidden
    return 256 * ((8 * hidden // 3 + 255) // 256)  # 8/3·h rounded up to a multiple of 256


def shape_for_params(
    params: float,
    *,
    num_experts: int | None = None,
    moe_router_topk: int = 2,
    seq_length: int = 4096,
    vocab_size: int = 32000,
    swiglu: bool = True,
) -> ModelShape:
    """The ladder shape whose total parameter count is closest (in log scale) to ``params``."""
    if params <= 0:
        raise ValueError(f"params must be positive, got {params}")
    best: ModelShape | None = None
    best_gap = float("inf")
    for hidden, layers, heads in _LADDER:
        shape = ModelShape(
            num_layers=layers,
            hidden_size=hidden,
            num_attention_heads=heads,
            ffn_hidden_size=_ffn(hidden, swiglu),
            seq_length=seq_length,
            vocab_size=vocab_size,
            swiglu=swiglu,
            num_experts=num_experts,
            moe_router_topk=moe_router_topk,
        )
        gap = max(shape.total_params / params, params / shape.total_params)
        if gap < best_gap:
            best, best_gap = shape, gap
    assert best is not None
    return best
