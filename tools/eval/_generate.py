"""Generation for evaluation: one :class:`Generator` interface, two implementations.

:class:`MegatronGenerator` samples in this process from a run opened with ``trainers.open_run`` (the tests'
tiny models; no KV cache: each new token re-reads the last ``seq_length`` tokens). :class:`OpenAIGenerator`
asks a served model (vLLM's OpenAI-compatible ``/v1/completions``, e.g. ``vibe llm serve`` of an HF export).

Sampling is stated, never implicit: :class:`Sampling` (temperature 0 = greedy; else temperature and top-k with
a seed), and every suite reports the sampling it used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import Field

from vibe.core.config import VibeConfig
from vibe.core.errors import UserError

if TYPE_CHECKING:
    import torch

__all__ = ["Generator", "MegatronGenerator", "OpenAIGenerator", "Sampling"]


class Sampling(VibeConfig):
    """How completions are drawn."""

    max_new_tokens: int = Field(64, ge=1, le=4096)
    temperature: float = Field(0.0, ge=0.0, description="0: greedy (deterministic)")
    top_k: int = Field(0, ge=0, description="0: the whole vocabulary")
    seed: int = 0

    def describe(self) -> str:
        if self.temperature == 0:
            return f"greedy, up to {self.max_new_tokens} new tokens"
        top = f", top-k {self.top_k}" if self.top_k else ""
        return (
            f"temperature {self.temperature:g}{top}, seed {self.seed}, up to {self.max_new_tokens} new tokens"
        )


class Generator(Protocol):
    """Completes text prompts; ``stop`` strings end a completion early (they are not included)."""

    def generate(
        self, prompts: Sequence[str], *, sampling: Sampling, stop: Sequence[str] = ()
    ) -> list[str]: ...


def _cut(text: str, stop: Sequence[str]) -> str:
    ends = [i for i in (text.find(s) for s in stop) if i >= 0]
    return text[: min(ends)] if ends else text


class MegatronGenerator:
    """Samples from an :class:`trainers.OpenRun` (the Megatron model in eval mode, one process)."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.seq_length = run.config.model.seq_length

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """[b, s] token ids (s <= seq_length) -> [b, s, vocab] logits."""
        import torch  # here, not at the top: importing tools (the CLI, the document worker) needs no torch

        from trainers import causal_mask

        b, s = tokens.shape
        with torch.no_grad():
            positions = torch.arange(s, device=self.run.device).expand(b, s).contiguous()
            out = self.run.model(tokens.to(self.run.device), positions, causal_mask(s, self.run.device))
        return out.float()

    def generate(self, prompts: Sequence[str], *, sampling: Sampling, stop: Sequence[str] = ()) -> list[str]:
        import torch

        tok = self.run.tokenizer
        generator = torch.Generator().manual_seed(sampling.seed)
        results = []
        for prompt in prompts:  # one prompt at a time: prompts differ in length and no padding is needed
            ids = [tok.eod, *tok.tokenize(prompt)]
            new: list[int] = []
            for _ in range(sampling.max_new_tokens):
                window = torch.tensor([(ids + new)[-self.seq_length :]], dtype=torch.long)
                last = self.logits(window)[0, -1]  # [vocab]
                if sampling.temperature == 0:
                    token = int(last.argmax())
                else:
                    scores = last / sampling.temperature
                    if sampling.top_k:
                        kth = torch.topk(scores, min(sampling.top_k, scores.numel())).values[-1]
                        scores = scores.masked_fill(scores < kth, float("-inf"))
                    token = int(torch.multinomial(torch.softmax(scores, -1), 1, generator=generator))
                if token == tok.eod:
                    break
                new.append(token)
                if stop and any(s in tok.detokenize(new) for s in stop):
                    break
            results.append(_cut(tok.detokenize(new), stop))
        return results


class OpenAIGenerator:
    """A served model's ``/v1/completions`` (vLLM): ``url`` like ``http://127.0.0.1:8000/v1``."""

    def __init__(self, url: str, *, model: str, timeout_s: float = 120.0) -> None:
        self.url, self.model, self.timeout_s = url.rstrip("/"), model, timeout_s

    def generate(self, prompts: Sequence[str], *, sampling: Sampling, stop: Sequence[str] = ()) -> list[str]:
        import httpx

        body: dict[str, Any] = {
            "model": self.model,
            "prompt": list(prompts),
            "max_tokens": sampling.max_new_tokens,
            "temperature": sampling.temperature,
            "seed": sampling.seed,
            **({"top_k": sampling.top_k} if sampling.top_k else {}),
            **({"stop": list(stop)} if stop else {}),
        }
        try:
            response = httpx.post(f"{self.url}/completions", json=body, timeout=self.timeout_s)
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise UserError(
                f"{self.url}/completions: {error}; is the model served (`vibe llm serve --model ...`)?"
            ) from None
        choices = sorted(response.json()["choices"], key=lambda c: c["index"])
        return [_cut(c["text"], stop) for c in choices]
