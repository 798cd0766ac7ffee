"""Packing SFT samples into full rows without letting one sample attend to another.

Samples are packed in order, first fit, into rows of ``seq_length`` predicted positions. Each sample keeps its
own positions (0, 1, ... from its start: RoPE sees what it would see alone) and a block-diagonal causal mask
confines attention to the sample's own earlier tokens, so the packed loss is exactly the sum of the samples'
losses computed one by one. On CPU, Megatron's packed-sequence parameters are unavailable; the mask is passed
explicitly, and :func:`explicit_masks` makes the attention layers honour it (a causal mask type would ignore it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch

__all__ = ["explicit_masks", "pack", "packed_logps"]


def pack(examples: Sequence[Any], *, seq_length: int) -> list[list[Any]]:
    """Rows of examples whose predicted positions (``len(ids) - 1`` each) fit in ``seq_length``, first fit."""
    rows: list[list[Any]] = []
    room: list[int] = []
    for e in examples:
        need = len(e.ids) - 1
        for r, left in enumerate(room):
            if need <= left:
                rows[r].append(e)
                room[r] -= need
                break
        else:
            rows.append([e])
            room.append(seq_length - need)
    return rows


@contextmanager
def explicit_masks(model: torch.nn.Module) -> Iterator[None]:
    """Make every self-attention use the explicit attention mask passed to the model (arbitrary mask type)."""
    from megatron.core.transformer.enums import AttnMaskType

    modules = [m for m in model.modules() if hasattr(m, "attn_mask_type") and hasattr(m, "core_attention")]
    saved = [m.attn_mask_type for m in modules]
    for m in modules:
        m.attn_mask_type = AttnMaskType.arbitrary
    try:
        yield
    finally:
        for m, kind in zip(modules, saved, strict=True):
            m.attn_mask_type = kind


def packed_logps(
    model: torch.nn.Module, rows: list[list[Any]], *, seq_length: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """([r, s] log-probs of the label tokens, [r, s] float mask of trained tokens) for packed ``rows``."""
    r, s = len(rows), seq_length
    tokens = torch.zeros(r, s, dtype=torch.long)
    labels = torch.zeros(r, s, dtype=torch.long)
    mask = torch.zeros(r, s)
    positions = torch.zeros(r, s, dtype=torch.long)
    attention = torch.ones(r, 1, s, s, dtype=torch.bool)  # True = masked
    for i, row in enumerate(rows):
        at = 0
        for e in row:
            n = len(e.ids) - 1
            tokens[i, at : at + n] = torch.tensor(e.ids[:-1])
            labels[i, at : at + n] = torch.tensor(e.ids[1:])
            mask[i, at : at + n] = torch.tensor(e.mask[1:], dtype=torch.float32)
            positions[i, at : at + n] = torch.arange(n)
            attention[i, 0, at : at + n, at : at + n] = torch.triu(
                torch.ones(n, n, dtype=torch.bool), diagonal=1
            )
            at += n
        if at < s:  # padding attends to itself only (its outputs are masked out of the loss)
            attention[i, 0, torch.arange(at, s), torch.arange(at, s)] = False
    with explicit_masks(model):
        nll = model(tokens.to(device), positions.to(device), attention.to(device), labels=labels.to(device))
    return -nll.float(), mask.to(device)
