"""Proof that a conversion is the same model: bit-exact weight round trips and logits against transformers.

Logits are compared in float32 on held-out sequences (a fixed text that is in no training set, tokenized with
the model's own tokenizer, or sequences the caller gives): the maximum absolute difference over every
position and real vocabulary entry must stay at or below :data:`MAX_ABS_DIFF`, the arg-max token must
agree at every position, and the mean next-token loss (Megatron's own cross entropy over its padded
vocabulary, padding masked, against transformers') must agree within the same bound. transformers is needed for the logits check only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from trainers.hf._megatron import logits_of, loss_of

__all__ = [
    "MAX_ABS_DIFF",
    "compare_logits",
    "compare_tensors",
    "held_out_sequences",
    "sha256_file",
]

MAX_ABS_DIFF = 1e-3

_HELD_OUT = (
    "The committee met on a grey Tuesday to decide what the archive should keep, and what it could let go. "
    "Every record was read twice, once for what it said and once for what it left out.\n"
    "def merge_intervals(intervals):\n    result = []\n    for start, end in sorted(intervals):\n"
    "        if result and start <= result[-1][1]:\n            result[-1][1] = max(result[-1][1], end)\n"
    "        else:\n            result.append([start, end])\n    return result\n"
    "Quarterly revenue rose 4.2% while operating costs fell; the board approved the dividend of 0.35 per share. "
    "In 1887 the bridge was finished, eleven years late and twice over budget, and it still stands."
)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def held_out_sequences(tokenizer_json: Path, *, count: int = 4, length: int = 48) -> torch.Tensor:
    """[count, length] token ids of the held-out text (repeated if the tokenizer compresses it a lot)."""
    from tokenizers import Tokenizer

    ids = Tokenizer.from_file(str(tokenizer_json)).encode(_HELD_OUT).ids
    while len(ids) < count * length:
        ids = ids + ids
    return torch.tensor(ids[: count * length], dtype=torch.long).reshape(count, length)


def compare_tensors(reference: dict[str, torch.Tensor], candidate: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Bit-exact comparison by name: {"tensors", "bit_exact", "mismatched": [...], "missing", "extra"}."""
    mismatched = [
        name
        for name in sorted(set(reference) & set(candidate))
        if reference[name].shape != candidate[name].shape
        or reference[name].dtype != candidate[name].dtype
        or not torch.equal(reference[name], candidate[name])
    ]
    missing, extra = sorted(set(reference) - set(candidate)), sorted(set(candidate) - set(reference))
    return {
        "tensors": len(reference),
        "bit_exact": not (mismatched or missing or extra),
        "mismatched": mismatched,
        "missing": missing,
        "extra": extra,
    }


@torch.no_grad()
def compare_logits(gpt: Any, hf_dir: Path, ids: torch.Tensor, *, vocab_size: int) -> dict[str, Any]:
    """Megatron ``gpt`` vs transformers loading ``hf_dir`` (no custom code), float32 on CPU."""
    from transformers import AutoModelForCausalLM

    hf = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32, trust_remote_code=False)
    hf.eval()
    expected = hf(input_ids=ids).logits.float()  # [b, s, V]
    got = logits_of(gpt, ids)[..., :vocab_size]  # [b, s, V] (padding rows dropped)
    hf_loss = torch.nn.functional.cross_entropy(
        expected[:, :-1].reshape(-1, expected.size(-1)), ids[:, 1:].reshape(-1)
    ).item()
    megatron_loss = loss_of(gpt, ids)  # over the padded vocabulary, padding masked
    diff = (got - expected).abs()
    top1 = (got.argmax(-1) == expected.argmax(-1)).float().mean().item()
    result = {
        "sequences": int(ids.size(0)),
        "tokens": int(ids.numel()),
        "dtype": "float32",
        "device": "cpu",
        "max_abs_diff": diff.max().item(),
        "mean_abs_diff": diff.mean().item(),
        "top1_agreement": top1,
        "loss_megatron": megatron_loss,
        "loss_transformers": hf_loss,
        "loss_abs_diff": abs(megatron_loss - hf_loss),
        "threshold": MAX_ABS_DIFF,
        "transformers_class": type(hf).__name__,
    }
    result["ok"] = (
        result["max_abs_diff"] <= MAX_ABS_DIFF and top1 == 1.0 and result["loss_abs_diff"] <= MAX_ABS_DIFF
    )
    return result
