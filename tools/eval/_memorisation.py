"""The memorisation suite: planted canaries (exposure, verbatim extraction) and regurgitation of training text.

Canaries (planted by ``vibe data ingest --canaries N`` into the train split only, listed in the manifest):
each is ``PREFIX + SECRET`` where SECRET is ``length`` random characters of ``alphabet``. Its **exposure**
(Carlini et al., "The Secret Sharer", 2019) is ``log2(R + 1) - log2(rank)``: the rank of the canary's total
NLL among R random candidates of the same format (rank 1 = more likely than every candidate: exposure
log2(R + 1); a canary the model never saw sits at ~1 bit). **Extraction**: greedy completion of PREFIX
reproduces SECRET verbatim.

**Regurgitation**: held-out (valid) document prefixes completed greedily; a completion regurgitates when it
contains a span of ``span_tokens`` tokens found verbatim in the training text (the first ``train_tokens``
tokens of the train split are indexed).
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

from pydantic import Field

from tools.eval._documents import split_documents, split_token_documents
from tools.eval._generate import Generator, MegatronGenerator, Sampling
from vibe.core.config import VibeConfig

__all__ = ["MemorisationConfig", "memorisation_suite", "sequence_nll"]


class MemorisationConfig(VibeConfig):
    candidates: int = Field(1000, ge=10, description="random candidates each canary is ranked among")
    prompts: int = Field(16, ge=0, description="held-out prefixes completed for regurgitation")
    prefix_chars: int = Field(200, ge=10)
    span_tokens: int = Field(16, ge=4, description="a regurgitated span is at least this many tokens")
    train_tokens: int = Field(2_000_000, ge=1, description="training tokens indexed for regurgitation")
    new_tokens: int = Field(48, ge=1)
    seed: int = 0


def sequence_nll(gen: MegatronGenerator, texts: list[str], *, batch: int = 64) -> list[float]:
    """Total NLL (nats) of each text after an end-of-document token (texts must fit in seq_length)."""
    import torch  # here, not at the top: importing tools needs no torch

    tok = gen.run.tokenizer
    seqs = [[tok.eod, *tok.tokenize(t)][: gen.seq_length + 1] for t in texts]
    out: list[float] = []
    for first in range(0, len(seqs), batch):
        group = seqs[first : first + batch]
        width = max(len(s) for s in group) - 1
        tokens = torch.zeros(len(group), width, dtype=torch.long)
        labels = torch.zeros(len(group), width, dtype=torch.long)
        mask = torch.zeros(len(group), width)
        for i, s in enumerate(group):
            n = len(s) - 1
            tokens[i, :n], labels[i, :n], mask[i, :n] = torch.tensor(s[:-1]), torch.tensor(s[1:]), 1.0
        logp = torch.log_softmax(gen.logits(tokens), dim=-1)  # [b, s, vocab]
        nll = -logp.gather(-1, labels[..., None].to(logp.device))[..., 0].cpu() * mask  # [b, s]
        out += nll.sum(-1).tolist()
    return out


def _canaries(run: Any) -> list[dict[str, Any]]:
    found = []
    for source in run.sources:
        manifest = json.loads((source.path / "manifest.json").read_text(encoding="utf-8"))
        spec = manifest.get("canaries")
        if spec:
            found += [{**c, "alphabet": spec["alphabet"], "length": spec["length"]} for c in spec["values"]]
    return found


def memorisation_suite(
    run: Any, generator: Generator, *, config: MemorisationConfig | None = None
) -> dict[str, Any]:
    config = config or MemorisationConfig()
    scorer = MegatronGenerator(run)
    rng = random.Random(config.seed)
    greedy = Sampling(max_new_tokens=config.new_tokens)
    result: dict[str, Any] = {"sampling": greedy.describe(), "candidates": config.candidates}

    canaries = _canaries(run)
    rows = []
    if canaries:
        prompts = [c["prefix"] for c in canaries]
        completions = generator.generate(prompts, sampling=greedy.model_copy(update={"max_new_tokens": 24}))
        for canary, completion in zip(canaries, completions, strict=True):
            candidates = [
                canary["prefix"] + "".join(rng.choice(canary["alphabet"]) for _ in range(canary["length"]))
                for _ in range(config.candidates)
            ]
            true, *others = sequence_nll(scorer, [canary["prefix"] + canary["secret"], *candidates])
            rank = 1 + sum(o < true for o in others)
            rows.append(
                {
                    "prefix": canary["prefix"],
                    "rank": rank,
                    "exposure": math.log2(config.candidates + 1) - math.log2(rank),
                    "extracted": completion.startswith(canary["secret"]),
                }
            )
        result.update(
            canaries=rows,
            canary_exposure_max=max(r["exposure"] for r in rows),
            canary_exposure_mean=sum(r["exposure"] for r in rows) / len(rows),
            canary_extraction_rate=sum(r["extracted"] for r in rows) / len(rows),
            exposure_ceiling=math.log2(config.candidates + 1),
        )
    else:
        result["canaries"] = []
        result["note"] = "no canaries planted (vibe data ingest --canaries N plants them)"

    # regurgitation of training text from held-out prefixes
    spans: set[int] = set()  # hashes of every span_tokens-long token window of the indexed training text
    seen = 0
    n = config.span_tokens
    for source in run.sources:
        for ids in split_token_documents(source.train_prefix):
            spans.update(hash(tuple(ids[i : i + n])) for i in range(max(0, len(ids) - n + 1)))
            seen += len(ids)
            if seen >= config.train_tokens:
                break
    prefixes = [
        d[: config.prefix_chars] for d in split_documents(run, "valid") if len(d) > config.prefix_chars
    ]
    prefixes = prefixes[: config.prompts]
    hits = 0
    for completion in generator.generate(prefixes, sampling=greedy) if prefixes else []:
        ids = run.tokenizer.tokenize(completion)
        hits += any(hash(tuple(ids[i : i + n])) in spans for i in range(max(0, len(ids) - n + 1)))
    result.update(
        regurgitation_prompts=len(prefixes),
        regurgitation_rate=hits / len(prefixes) if prefixes else 0.0,
        regurgitation_span_tokens=n,
        train_tokens_indexed=seen,
    )
    return result
