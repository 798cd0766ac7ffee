"""From the best proxy trial to the full-size run: a documented transfer rule (µP-style).

Rule, for AdamW on a GPT whose width grows from the proxy's ``h_p`` to the target's ``h_t`` (the model
family and depth scaling stay as the planner chose them):

- ``optimizer.lr`` and ``optimizer.min_lr`` scale by ``h_p / h_t``: under µP the Adam update of a hidden
  weight matrix must shrink as 1/width to keep each layer's feature change the same size (Yang et al., 2022,
  "Tensor Programs V", table 3). Vibe's models use one lr for all weights, so the hidden-weight rule is
  applied to all (embeddings and norms then train a little slower than µP would make them, which is safe).
- ``optimizer.min_lr``, when the search did not set it, becomes 0.1 x the transferred lr (the trainer's
  default ratio), so the target's schedule stays valid.
- ``model.init_method_std`` scales by ``sqrt(h_p / h_t)`` (fan-in initialisation).
- Carried over unchanged: warmup steps, weight decay, Adam betas/eps, clipping, global batch size, the MoE
  router's top-k and aux loss coefficient (when the target is MoE; dropped for a dense target).
- Dropped (the target's shape wins): width, depth, heads, FFN size, sequence length, experts.

``h_p`` is the best trial's ``model.hidden_size`` when the search varied it, else ``proxy.hidden_size``.
The rule is only as good as the proxy is µP-like; the agent proposes the transferred run through the gate as
any other ``train.run``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainers import ModelConfig

__all__ = ["MIN_LR_RATIO", "transfer"]

MIN_LR_RATIO = 0.1  # min_lr / lr when the search did not set min_lr (the trainer's default ratio)

_SHAPE = {
    "model.hidden_size",
    "model.num_layers",
    "model.num_attention_heads",
    "model.ffn_hidden_size",
    "model.seq_length",
    "model.num_experts",
    "model.preset",
}
_LR = {"optimizer.lr", "optimizer.min_lr"}
_MOE = {"model.moe_router_topk", "model.moe_aux_loss_coeff"}


def transfer(params: dict[str, Any], *, proxy: ModelConfig, target: ModelConfig) -> dict[str, Any]:
    """Dotted RunConfig overrides for the full-size run, from the best proxy ``params`` (see module doc)."""
    width = int(params.get("model.hidden_size", proxy.hidden_size))
    ratio = width / target.hidden_size
    out: dict[str, Any] = {}
    for name, value in params.items():
        if name in _SHAPE:
            continue
        if name in _MOE:
            if target.num_experts is None:
                continue
            if name == "model.moe_router_topk":
                value = min(int(value), target.num_experts)
            out[name] = value
        elif name in _LR:
            out[name] = float(value) * ratio
        elif name == "model.init_method_std":
            out[name] = float(value) * math.sqrt(ratio)
        else:
            out[name] = value
    if "optimizer.lr" in out and "optimizer.min_lr" not in out:  # keep the target valid (min_lr <= lr)
        out["optimizer.min_lr"] = out["optimizer.lr"] * MIN_LR_RATIO
    return out
