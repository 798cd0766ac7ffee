"""The Megatron side of a conversion: one process, TP=1 / EP=1, the trainer's own model and checkpoints.

Any dp / tp / ep layout a run trained with loads here (Megatron's ``torch_dist`` checkpoints reshard on
load), and what is saved here is an ordinary trainer checkpoint that any layout loads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from trainers import ModelConfig, build_model, causal_mask, load_model_weights, save_checkpoint, single_rank

__all__ = [
    "load_model_weights",
    "load_state",
    "logits_of",
    "loss_of",
    "megatron_model",
    "save_weights",
    "state_of",
]


@contextmanager
def megatron_model(model: ModelConfig, *, padded_vocab: int, vocab: int | None = None) -> Iterator[Any]:
    """A full (unsharded) ``GPTModel`` in eval mode, in a single-rank world that ends with the block.

    ``vocab``: the real vocabulary (padding rows' logits are -inf, as in training).
    """
    with single_rank(seed=0):
        gpt = build_model(model, vocab_size=padded_vocab, tp=1, ep=1, real_vocab=vocab)
        gpt.eval()
        yield gpt


def state_of(gpt: Any) -> dict[str, torch.Tensor]:
    """The model's weights by Megatron name (``_extra_state`` entries left out)."""
    return {
        name: value.detach()
        for name, value in gpt.state_dict().items()
        if isinstance(value, torch.Tensor) and not name.endswith("_extra_state")
    }


def load_state(gpt: Any, tensors: dict[str, torch.Tensor]) -> None:
    """Copy ``tensors`` into the model; every weight must be given, with its exact shape."""
    state = state_of(gpt)
    missing, extra = sorted(set(state) - set(tensors)), sorted(set(tensors) - set(state))
    if missing or extra:
        raise ValueError(f"Megatron weights: missing {missing[:5]}, unexpected {extra[:5]}")
    with torch.no_grad():
        for name, target in state.items():
            if target.shape != tensors[name].shape:
                raise ValueError(
                    f"{name}: shape {tuple(tensors[name].shape)}, Megatron has {tuple(target.shape)}"
                )
            target.copy_(tensors[name])


def save_weights(run_dir: Path, gpt: Any, *, meta: dict[str, Any]) -> Path:
    """``RUN_DIR/checkpoints/step_0000000`` with the weights only (starts runs, cannot resume one)."""
    return save_checkpoint(
        run_dir,
        model=gpt,
        optimizer=None,
        step=0,
        meta={"consumed_samples": 0, "layout": {"dp": 1, "tp": 1, "ep": 1}, **meta},
        keep=1,
    )


@torch.no_grad()
def logits_of(gpt: Any, ids: torch.Tensor) -> torch.Tensor:
    """[b, s, V_padded] float32 logits of token ids [b, s]."""
    b, s = ids.shape
    position_ids = torch.arange(s).expand(b, s).contiguous()
    return gpt(ids, position_ids, causal_mask(s, ids.device)).float()


@torch.no_grad()
def loss_of(gpt: Any, ids: torch.Tensor) -> float:
    """Mean next-token NLL (nats) of ids [b, s] by Megatron's own (vocab-parallel) cross entropy."""
    b, s = ids.shape
    position_ids = torch.arange(s - 1).expand(b, s - 1).contiguous()
    per_token = gpt(ids[:, :-1], position_ids, causal_mask(s - 1, ids.device), labels=ids[:, 1:])  # [b, s-1]
    return per_token.float().mean().item()
