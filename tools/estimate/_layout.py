"""A parallel layout (TP / PP / EP / DP, micro and global batch) that fits a model in GPU memory.

Memory per GPU, in bytes, for bf16 training with Megatron's distributed optimizer:
  model states   = params_per_gpu · (2 bf16 weights + 4 fp32 grads + 12 / DP fp32 master + Adam m, v)
  activations    = 34 · s · b · h · L / TP   (selective recompute + sequence parallel, Korthikanti et al. 2022;
                   with 1F1B the first pipeline stage holds PP micro-batches of L/PP layers each = L layers)
  logits         = 4 · s · b · V / TP        (fp32 cross-entropy input)
A layout fits when the sum stays under ``headroom`` of the GPU's memory. Among those that fit, the one with
the most data parallelism wins (least communication), then the least pipeline depth (smallest bubble).
"""

from __future__ import annotations

import math

from pydantic import Field

from tools.estimate._hardware import ClusterConfig
from tools.estimate._shapes import ModelShape
from vibe.core.config import VibeConfig

__all__ = ["ParallelLayout", "choose_layout", "memory_per_gpu"]

GIB = 1024**3


class ParallelLayout(VibeConfig):
    tp: int = Field(ge=1)
    pp: int = Field(ge=1)
    ep: int = Field(ge=1)
    dp: int = Field(ge=1)
    micro_batch_size: int = Field(ge=1)
    global_batch_size: int = Field(ge=1)
    memory_gib_per_gpu: float
    memory_gib_available: float

    @property
    def gpus(self) -> int:
        return self.tp * self.pp * self.dp


def memory_per_gpu(shape: ModelShape, *, tp: int, pp: int, ep: int, dp: int, micro_batch_size: int) -> float:
    """Bytes one GPU holds for this layout (see the module docstring for the formula)."""
    mlp = (3 if shape.swiglu else 2) * shape.hidden_size * shape.ffn_hidden_size
    expert_params = shape.num_layers * mlp * shape.num_experts if shape.num_experts else 0
    dense_params = shape.total_params - expert_params
    params = dense_params / (tp * pp) + expert_params / (ep * tp * pp)
    states = params * (2 + 4 + 12 / dp)
    s, b, h = shape.seq_length, micro_batch_size, shape.hidden_size
    activations = 34 * s * b * h * shape.num_layers / tp
    logits = 4 * s * b * shape.vocab_size / tp
    return states + activations + logits


def _global_batch(shape: ModelShape, dp: int, micro: int) -> int:
    """Sequences per step: ~0.5M tokens at 100M params growing as sqrt(N) to 4M tokens (GPT-3 / Llama practice)."""
    target_tokens = min(4 * 2**20, max(2**19, 2**19 * math.sqrt(shape.total_params / 1e8)))
    sequences = max(1, round(target_tokens / shape.seq_length))
    per_step = dp * micro
    return max(per_step, per_step * round(sequences / per_step))


def choose_layout(
    shape: ModelShape, cluster: ClusterConfig, *, headroom: float = 0.85
) -> ParallelLayout | None:
    """The best layout on ``cluster`` that fits, or ``None`` when the model fits on no layout there."""
    available = cluster.spec.memory_gib * headroom * GIB
    gpus = cluster.num_gpus
    candidates: list[tuple[tuple[int, int, int], ParallelLayout]] = []
    for tp in (1, 2, 4, 8):
        if tp > cluster.gpus_per_node or shape.num_attention_heads % tp:
            continue
        for pp in range(1, shape.num_layers + 1):
            if shape.num_layers % pp or gpus % (tp * pp):
                continue
            dp = gpus // (tp * pp)
            experts = shape.num_experts or 1
            eps = [ep for ep in range(1, experts + 1) if experts % ep == 0 and dp % ep == 0]
            for ep in eps if shape.num_experts else [1]:
                for micro in (4, 2, 1):
                    used = memory_per_gpu(shape, tp=tp, pp=pp, ep=ep, dp=dp, micro_batch_size=micro)
                    if used <= available:
                        layout = ParallelLayout(
                            tp=tp,
                            pp=pp,
                            ep=ep,
                            dp=dp,
                            micro_batch_size=micro,
                            global_batch_size=_global_batch(shape, dp, micro),
                            memory_gib_per_gpu=round(used / GIB, 2),
                            memory_gib_available=round(available / GIB, 2),
                        )
                        candidates.append(((dp, -pp, micro), layout))
                        break
    if not candidates:
        return None
    return max(candidates, key=lambda c: c[0])[1]
