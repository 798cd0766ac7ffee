"""Test helpers: a tiny base run (a real checkpoint of a tiny Megatron GPT, written without Ray) and JSONL."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1]))  # tiny_dataset lives with the trainer tests
from tiny_dataset import tiny_config


def make_base_run(data: Path, out: Path, *, seed: int = 1234, model: dict[str, Any] | None = None) -> Path:
    """A base run directory (config.yaml + checkpoint step 1) holding a freshly initialised tiny model
    (``model``: ModelConfig fields over the tiny preset)."""
    import torch.distributed as dist
    from megatron.core import parallel_state

    from trainers import build_model, build_optimizer, initialize_parallel, read_dataset_dir, save_checkpoint
    from vibe.core.config import dump_yaml

    config = tiny_config(data, out, training={"seed": seed}, model=model or {})
    out.mkdir(parents=True, exist_ok=True)
    dump_yaml(config, out / "config.yaml")
    created = not dist.is_initialized()
    if created:
        dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        initialize_parallel(config, seed=seed)
        vocab = read_dataset_dir(data).vocab_size
        model = build_model(config.model, vocab_size=vocab, tp=1, ep=1)
        optimizer = build_optimizer(model, config.optimizer)
        save_checkpoint(
            out,
            model=model,
            optimizer=optimizer,
            step=1,
            meta={"layout": {"dp": 1, "tp": 1, "ep": 1}},
            keep=1,
        )
    finally:
        parallel_state.destroy_model_parallel()
        if created:
            dist.destroy_process_group()
    return out


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def chats(n: int) -> list[dict[str, Any]]:
    """``n`` short conversations with a learnable answer (the answer repeats the question's word)."""
    words = ["alpha", "beta", "gamma", "delta", "omega", "sigma"]
    return [
        {"messages": [{"role": "user", "content": f"say {words[i % len(words)]}"},
                      {"role": "assistant", "content": f"{words[i % len(words)]}!"}]}
        for i in range(n)
    ]  # fmt: skip


def pairs(n: int) -> list[dict[str, Any]]:
    words = ["alpha", "beta", "gamma", "delta"]
    return [
        {
            "prompt": f"pick {words[i % 4]}",
            "chosen": f"{words[i % 4]} yes",
            "rejected": f"no {words[(i + 1) % 4]}",
        }
        for i in range(n)
    ]
