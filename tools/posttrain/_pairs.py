"""On-policy preference pairs for DPO: sample ``k`` completions per prompt from the current model and pair
the best against the worst by the policy reward (the alignment rules' weighted score).

The generator is the model itself in this process (:class:`MegatronGenerator`), or any :class:`Generator`
(a vLLM server serving the model). Prompts whose completions all score the same give no pair. Each pair keeps
its provenance: the scores of both completions per rule, the rule set's hash and the sampling seed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tools.posttrain._generate import Generator, MegatronGenerator
from tools.posttrain._rewards import Sample, load_alignment
from vibe.core.errors import UserError

__all__ = ["sample_preference_pairs"]


def sample_preference_pairs(
    *,
    base: Path,
    prompts: Path,
    policies: Sequence[Path],
    out: Path,
    k: int = 4,
    max_new_tokens: int = 32,
    temperature: float = 1.0,
    seed: int = 0,
    generator: Generator | None = None,
) -> int:
    """Write ``out`` (preference JSONL) from ``prompts`` (RL prompt JSONL); returns the number of pairs."""
    from trainers.posttrain import PolicyTrainer, PostTrainConfig, read_base_run, read_prompt_data

    if k < 2:
        raise UserError(f"k: got {k}; sample at least 2 completions per prompt to make a pair")
    run = read_base_run(base)
    policy = load_alignment(list(policies))
    seq = run.config.model.seq_length
    examples = read_prompt_data(
        prompts, template=run.template(), encode=run.encoder(), seq_length=seq, max_new_tokens=max_new_tokens
    )
    trainer = None
    if generator is None:
        config = PostTrainConfig(
            method="rl", base=run.path, data=Path(prompts), out=run.path, in_process=True
        )
        trainer = PolicyTrainer(config.model_dump(mode="json"), start_step=0)
        generator = MegatronGenerator(trainer)
    try:
        groups = generator.generate(
            [e.prompt for e in examples],
            n=k,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            seed=seed,
        )
    finally:
        if trainer is not None:
            trainer.close()
    tokenizer = run.tokenizer()
    stops = [tokenizer.decode(s, skip_special_tokens=False) for s in run.stop_sequences()]

    def text_of(ids: list[int]) -> str:
        text = tokenizer.decode(ids, skip_special_tokens=False)
        for stop in stops:
            text = text.split(stop, 1)[0] if stop else text
        return text

    lines = []
    for e, group in zip(examples, groups, strict=True):
        texts = [text_of(c.ids) for c in group]
        prompt_text = "\n".join(m["content"] for m in e.messages)
        scores = policy.score([Sample(prompt_text, t, e.record, where=f"{prompts}:{e.line}") for t in texts])
        best = max(range(len(texts)), key=lambda i: scores.total[i])
        worst = min(range(len(texts)), key=lambda i: scores.total[i])
        if scores.total[best] <= scores.total[worst]:
            continue
        provenance: dict[str, Any] = {
            "prompt_line": e.line, "rules_hash": policy.rules_hash, "seed": seed, "k": k,
            "chosen_scores": {r: s[best] for r, s in scores.per_rule.items()},
            "rejected_scores": {r: s[worst] for r, s in scores.per_rule.items()},
        }  # fmt: skip
        record = {
            "prompt": e.messages,
            "chosen": texts[best],
            "rejected": texts[worst],
            "provenance": provenance,
        }
        lines.append(json.dumps(record, ensure_ascii=False) + "\n")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text("".join(lines), encoding="utf-8")
    return len(lines)
