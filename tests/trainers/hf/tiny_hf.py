"""Tiny random Hugging Face models built in the test (nothing downloaded): Llama, Qwen2, Mixtral; and the greedy
continuation a served model answers (the serve tests' parity check)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

EOD = "<|endoftext|>"
_TEXT = (
    "def add(a, b):\n    return a + b\n\nclass Stack:\n    def push(self, x):\n        self.items.append(x)\n"
    "The quick brown fox jumps over the lazy dog. Every record was read twice; the archive keeps them all.\n"
)


def write_tokenizer(out: Path, *, vocab_size: int = 300) -> Tokenizer:
    """A byte-level BPE with <|endoftext|> (id 0), trained on a few lines; saved as out/tokenizer.json."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator([_TEXT] * 4, trainer=trainer)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "eos_token": EOD,
                "bos_token": EOD,
                "chat_template": "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{{ eos_token }}{% endfor %}",
            }
        )
    )
    return tokenizer


def tiny_config(kind: str = "llama", **overrides: Any) -> Any:
    """A transformers config: 2 layers, hidden 64, 4 heads, 2 KV heads (GQA), an odd vocabulary (301)."""
    import transformers

    common: dict[str, Any] = dict(
        vocab_size=301,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        rms_norm_eps=1e-6,
        rope_theta=50000.0,
        tie_word_embeddings=False,
        bos_token_id=0,
        eos_token_id=0,
    )
    common.update(overrides)
    if kind == "llama":
        return transformers.LlamaConfig(**common)
    if kind == "mistral":
        return transformers.MistralConfig(sliding_window=None, **common)
    if kind == "qwen2":
        return transformers.Qwen2Config(use_sliding_window=False, **common)
    if kind == "mixtral":
        return transformers.MixtralConfig(num_local_experts=4, num_experts_per_tok=2, **common)
    raise ValueError(kind)


def write_model(out: Path, config: Any, *, seed: int = 0, shard: str | None = None) -> Path:
    """A random model of ``config`` saved to ``out`` (safetensors; ``shard`` e.g. "20KB" splits it), + tokenizer."""
    import transformers

    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(config)
    with torch.no_grad():  # give norms and biases non-trivial values, so a swapped tensor shows
        for name, param in model.named_parameters():
            if name.endswith("norm.weight") or name.endswith(".bias"):
                param.add_(torch.randn_like(param) * 0.1)
    kwargs = {"max_shard_size": shard} if shard else {}
    model.save_pretrained(out, **kwargs)
    write_tokenizer(out)
    return out


def vllm_greedy(port: int, model: str, prompt_ids: list[int], n: int) -> list[int]:
    """The ``n`` token ids a vLLM server on ``port`` continues ``prompt_ids`` with, greedily."""
    import httpx

    body = {
        "model": model,
        "prompt": prompt_ids,
        "max_tokens": n,
        "temperature": 0.0,
        "return_token_ids": True,
        "ignore_eos": True,
    }
    answer = httpx.post(f"http://127.0.0.1:{port}/v1/completions", json=body, timeout=120).json()
    assert "choices" in answer, answer  # an engine failure answers 500 with an error object
    return list(answer["choices"][0]["token_ids"])
