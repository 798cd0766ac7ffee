"""Model shapes for a parameter budget, and their parameter and FLOP counts.

Shapes follow the Llama / Megatron GPT family (SwiGLU MLP, RoPE, untied output layer) so that a
"7B" request maps onto the layer, width and head counts people expect.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from trainers import ModelConfig, flops_per_token, param_counts
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
    tie_embeddings: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> ModelShape:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} is not divisible by num_attention_heads {self.num_attention_heads}"
            )
        if self.num_experts is not None and self.moe_router_topk > self.num_experts:
            raise ValueError(f"moe_router_topk {self.moe_router_topk} exceeds num_experts {self.num_experts}")
        return self

    @classmethod
    def of_model(cls, model: ModelConfig, *, vocab_size: int) -> ModelShape:
        """The shape of a trainer's model (what the gate and the search estimate runs with)."""
        return cls(
            num_layers=model.num_layers,
            hidden_size=model.hidden_size,
            num_attention_heads=model.num_attention_heads,
            ffn_hidden_size=model.ffn_size,
            seq_length=model.seq_length,
            vocab_size=vocab_size,
            swiglu=model.swiglu,
            num_experts=model.num_experts,
            moe_router_topk=model.moe_router_topk,
            tie_embeddings=model.tie_embeddings,
        )

    def _sizes(self) -> dict[str, Any]:
        return {
            "num_layers": self.num_layers,
            "hidden_size": self.hidden_size,
            "ffn_size": self.ffn_hidden_size,
            "vocab_size": self.vocab_size,
            "swiglu": self.swiglu,
            "num_experts": self.num_experts,
            "moe_router_topk": self.moe_router_topk,
            "tie_embeddings": self.tie_embeddings,
        }

    @property
    def total_params(self) -> int:
        """Every weight, all experts counted (:mod:`trainers._arithmetic`)."""
        return param_counts(**self._sizes())[0]

    @property
    def active_params(self) -> int:
        """Weights one token passes through (top-k experts for MoE)."""
        return param_counts(**self._sizes())[1]

    def flops_per_token(self) -> float:
        """Training FLOPs per token, the trainer's formula (:func:`trainers.flops_per_token`)."""
        return flops_per_token(**self._sizes(), seq_length=self.seq_length)


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
