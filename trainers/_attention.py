"""Core attention through ``torch.nn.functional.scaled_dot_product_attention``.

Megatron's local spec computes attention as two batched matmuls around a materialised [b, heads, s, s]
score tensor and its softmax. Where TransformerEngine is absent (always on CPU), this drop-in subclass of
``DotProductAttention`` hands the same computation to torch's fused kernels (flash / memory-efficient on CPU
and GPU), which never materialise the scores. Same inputs, outputs, parameters and checkpoints.

A causal mask type uses ``is_causal`` (as Megatron's fused softmax does, ignoring the explicit mask);
any other mask is passed through (True = masked, Megatron's convention, inverted for torch).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from megatron.core.transformer.dot_product_attention import DotProductAttention
from megatron.core.transformer.enums import AttnMaskType

__all__ = ["SDPAttention"]


class SDPAttention(DotProductAttention):
    def forward(  # type: ignore[override]
        self,
        query: torch.Tensor,  # [s, b, heads, d]
        key: torch.Tensor,  # [s, b, groups, d]
        value: torch.Tensor,  # [s, b, groups, d]
        attention_mask: torch.Tensor | None,  # [1 or b, 1, s, s] bool, True = masked
        attn_mask_type: AttnMaskType | None = None,
        attention_bias: torch.Tensor | None = None,
        packed_seq_params: Any = None,
    ) -> torch.Tensor:
        assert packed_seq_params is None and attention_bias is None, "not supported by SDPAttention"
        assert self.softmax_offset is None, "SDPAttention supports the vanilla softmax only"
        q, k, v = (t.permute(1, 2, 0, 3) for t in (query, key, value))  # [b, heads|groups, s, d]
        if k.size(1) != q.size(1):  # grouped-query attention: repeat each group for its heads
            repeat = q.size(1) // k.size(1)
            k, v = k.repeat_interleave(repeat, dim=1), v.repeat_interleave(repeat, dim=1)
        causal = (attn_mask_type or self.attn_mask_type) == AttnMaskType.causal
        context = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=None if causal or attention_mask is None else ~attention_mask,
            dropout_p=self.attention_dropout.p if self.training else 0.0,
            is_causal=causal,
            scale=self.softmax_scale,
        )  # [b, heads, s, d]
        s, b = context.size(2), context.size(0)
        return context.permute(2, 0, 1, 3).reshape(s, b, self.hidden_size_per_partition)  # [s, b, h]
