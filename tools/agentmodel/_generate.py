"""Rollouts with a KV cache on CPU: ``transformers`` sampling from the RL trainer's current weights.

The trainer's own sampler (``MegatronGenerator``) recomputes the whole sequence per token, fine for tiny
models but minutes per step for a 135M model writing 70-token drafts; a vLLM server would be shared with
the agent. :class:`TransformersGenerator` keeps an HF copy of the policy in this process: after every update
the trainer's Megatron weights are converted to HF names (``trainers.hf.megatron_to_hf``, the export's own
mapping) and loaded into it, and a greedy probe confirms the two agree token for token before the next step.
Log-probs are of the raw logits (temperature 1), as the trainer's importance correction expects.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from tools.posttrain import Completion, GeneratorError, SyncReport, greedy_agrees

__all__ = ["TransformersGenerator"]

log = logging.getLogger(__name__)


class TransformersGenerator:
    """Samples with an HF model that mirrors ``trainer`` (an in-process ``trainers.posttrain.PolicyTrainer``)."""

    name = "transformers"

    def __init__(self, trainer: Any, *, hf_dir: Path, probe: tuple[list[int], int], stops: list[int]) -> None:
        import torch
        import transformers

        self.trainer, self.probe, self.stops = trainer, probe, stops
        self.model = transformers.AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).eval()
        self._load_from_trainer()

    def _load_from_trainer(self) -> None:
        from trainers.hf import megatron_to_hf, state_of

        policy = self.trainer.target if hasattr(self.trainer, "target") else self.trainer
        m = policy.base.config.model
        vocab = self.model.config.vocab_size
        tensors = megatron_to_hf(state_of(policy.model), m, vocab_size=vocab)
        missing, unexpected = self.model.load_state_dict(tensors, strict=False)
        unexpected = [k for k in unexpected if k != "lm_head.weight"]
        missing = [k for k in missing if k != "lm_head.weight" or not self.model.config.tie_word_embeddings]
        if missing or unexpected:
            raise GeneratorError(
                f"HF mirror of the policy: missing {missing[:3]}, unexpected {unexpected[:3]}"
            )
        if self.model.config.tie_word_embeddings:
            self.model.tie_weights()

    def generate(
        self, prompts: list[list[int]], *, n: int, max_new_tokens: int, temperature: float, seed: int
    ) -> list[list[Completion]]:
        import torch

        with torch.no_grad():
            return self._generate(
                prompts, n=n, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed
            )

    def _generate(
        self, prompts: list[list[int]], *, n: int, max_new_tokens: int, temperature: float, seed: int
    ) -> list[list[Completion]]:
        import torch

        groups = []
        for k, prompt in enumerate(prompts):  # one prompt at a time: no padding, n samples in a batch
            torch.manual_seed(seed * 7919 + k)
            ids = torch.tensor([prompt] * n)
            out = self.model.generate(
                ids, attention_mask=torch.ones_like(ids), do_sample=True, temperature=temperature, top_k=0,
                top_p=1.0, max_new_tokens=max_new_tokens, eos_token_id=self.stops, pad_token_id=self.stops[0],
                output_logits=True, return_dict_in_generate=True,
            )  # fmt: skip
            new = out.sequences[:, len(prompt) :]  # [n, t]
            logps = torch.stack(out.logits, dim=1).float().log_softmax(-1)  # [n, t, v], temperature 1
            token_logps = logps.gather(-1, new[..., None])[..., 0]
            group = []
            for row in range(n):
                tokens = new[row].tolist()
                end = next((i + 1 for i, t in enumerate(tokens) if t in self.stops), len(tokens))
                group.append(Completion(tokens[:end], token_logps[row, :end].tolist()))
            groups.append(group)
        return groups

    def _greedy(self) -> list[int]:
        import torch

        ids, k = self.probe
        prompt = torch.tensor([ids])
        with torch.no_grad():
            out = self.model.generate(
                prompt, attention_mask=torch.ones_like(prompt), do_sample=False, max_new_tokens=k,
                eos_token_id=None, pad_token_id=self.stops[0],
            )  # fmt: skip
        return out[0, len(ids) :].tolist()

    def probe_matches(self) -> bool:
        return greedy_agrees(self.trainer, self.probe, self._greedy())

    def sync(self, *, step: int) -> SyncReport:
        started = time.perf_counter()
        self._load_from_trainer()
        if not self.probe_matches():
            raise GeneratorError(
                f"step {step}: the HF mirror's greedy probe differs from the trainer's after the weight copy"
            )
        return SyncReport("copy", True, time.perf_counter() - started)
