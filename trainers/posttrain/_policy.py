"""The model being post-trained: a base run's Megatron GPT, its tokenizer and chat template, and what the
methods need from it (per-token log-probabilities of given sequences, and sampling for in-process rollouts).

A base run is a ``vibe train`` run directory (``config.yaml`` + ``checkpoints/``), a post-trained one, or a
model imported into that layout. Its tokenizer is ``RUN/tokenizer/tokenizer.json`` when the run carries one
(imported models, post-trained runs), else its first dataset's. Its chat template is, in order:
``RUN/chat_template.jinja`` (stored with every post-trained run), the ``chat_template`` of a
``tokenizer_config.json`` next to the tokenizer, else :data:`DEFAULT_CHAT_TEMPLATE`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from trainers import CheckpointInfo, RunConfig, latest_checkpoint, read_dataset_dir
from trainers.posttrain._chat import DEFAULT_CHAT_TEMPLATE, END_OF_TURN, ChatTemplate
from vibe.core.config import load_yaml
from vibe.core.errors import UserError

__all__ = ["BaseRun", "build_policy", "read_base_run", "sample", "token_logps"]


@dataclass(frozen=True)
class BaseRun:
    """What post-training needs from a base run (read on the driver: no Megatron)."""

    path: Path
    config: RunConfig
    checkpoint: CheckpointInfo
    tokenizer_path: Path
    eod_id: int
    template_source: str
    template_origin: str  # where the template came from, for the report

    def tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        return Tokenizer.from_file(str(self.tokenizer_path))

    def template(self) -> ChatTemplate:
        tok = self.tokenizer()
        return ChatTemplate(self.template_source, eos_token=tok.id_to_token(self.eod_id) or "")

    def encoder(self) -> Any:
        tok = self.tokenizer()
        return lambda text: tok.encode(text, add_special_tokens=False).ids

    def stop_sequences(self) -> list[list[int]]:
        """Token sequences that end a generated turn: the end-of-document token and the template's end tag."""
        tok = self.tokenizer()
        stops = [[self.eod_id]]
        if END_OF_TURN in self.template_source:
            stops.append(tok.encode(END_OF_TURN, add_special_tokens=False).ids)
        return stops


def _template_from(config_path: Path) -> str | None:
    if not config_path.is_file():
        return None
    try:
        template = json.loads(config_path.read_text(encoding="utf-8")).get("chat_template")
    except (json.JSONDecodeError, AttributeError):
        raise UserError(f"{config_path}: not a valid tokenizer_config.json") from None
    if isinstance(template, list):  # [{"name": "default", "template": ...}, ...]
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default") or next(iter(named.values()), None)
    return template if isinstance(template, str) and template.strip() else None


def _eos_of(directory: Path) -> int | None:
    """The end-of-turn token id a run's own tokenizer directory declares (generation_config.json), if any."""
    generation = directory / "generation_config.json"
    if generation.is_file():
        eos = json.loads(generation.read_text(encoding="utf-8")).get("eos_token_id")
        eos = eos[0] if isinstance(eos, list) and eos else eos
        if isinstance(eos, int):
            return eos
    return None


def read_base_run(path: Path) -> BaseRun:
    """The base run at ``path``, checked: config, a complete checkpoint, a tokenizer; UserError otherwise."""
    path = Path(path).resolve()
    if not (path / "config.yaml").is_file():
        raise UserError(f"--base {path}: not a run directory (no config.yaml); pass a `vibe train` --out")
    config = load_yaml(path / "config.yaml", RunConfig)
    checkpoint = latest_checkpoint(path)
    if checkpoint is None:
        raise UserError(f"--base {path}: no complete checkpoint; train it (or `vibe train --resume`) first")
    own = path / "tokenizer" / "tokenizer.json"
    if own.is_file():  # an imported model, or a post-trained run
        eod = _eos_of(path / "tokenizer")
        tokenizer_path = own
    else:
        if not config.data.sources:
            raise UserError(f"--base {path}: the run names no dataset and carries no tokenizer/")
        dataset = read_dataset_dir(config.data.sources[0].path)
        tokenizer_path, eod = dataset.tokenizer_path, dataset.eod_id
    if eod is None:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(tokenizer_path))
        eod = next(
            (
                tok.token_to_id(t)
                for t in ("<|endoftext|>", "<|im_end|>", "</s>")
                if tok.token_to_id(t) is not None
            ),
            0,
        )
    stored = path / "chat_template.jinja"
    if stored.is_file():
        source, origin = stored.read_text(encoding="utf-8"), str(stored)
    elif (found := _template_from(tokenizer_path.parent / "tokenizer_config.json")) is not None:
        source, origin = found, str(tokenizer_path.parent / "tokenizer_config.json")
    else:
        source, origin = DEFAULT_CHAT_TEMPLATE, "default (ChatML)"
    return BaseRun(path, config, checkpoint, tokenizer_path, int(eod), source, origin)


def build_policy(base: BaseRun, *, tp: int, seq_length: int | None = None) -> Any:
    """The base model on this rank, its latest checkpoint loaded (resharded to ``tp``). Needs parallel state."""
    from trainers import build_model, load_model_weights

    model_config = base.config.model
    if seq_length is not None:
        model_config = model_config.model_copy(update={"seq_length": seq_length})
    tokens = base.tokenizer().get_vocab_size()
    vocab = model_config.padded_vocab_size(tokens)  # an imported model's embedding may be padded
    model = build_model(
        model_config, vocab_size=vocab, tp=tp, ep=1, real_vocab=model_config.vocab_size or tokens
    )
    load_model_weights(base.checkpoint.path, model)
    return model


def _pad(rows: list[list[int]], length: int, value: int = 0) -> torch.Tensor:
    out = torch.full((len(rows), length), value, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row[:length], dtype=torch.long)
    return out


def token_logps(
    model: torch.nn.Module, sequences: list[list[int]], predicted: list[list[bool]], *, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """([b, s] log p(token i+1 | ..i), [b, s] float mask of the predicted tokens wanted), s = longest - 1.

    ``predicted[j][i]`` says whether token ``i`` of sequence ``j`` is one whose probability is wanted (its
    first token never is). Tensor-parallel correct: log-probs come from Megatron's vocab-parallel loss.
    """
    from trainers import causal_mask

    s = max(len(x) for x in sequences) - 1
    tokens = _pad([x[:-1] for x in sequences], s).to(device)
    labels = _pad([x[1:] for x in sequences], s).to(device)
    mask = torch.zeros(len(sequences), s)
    for j, flags in enumerate(predicted):
        mask[j, : len(flags) - 1] = torch.tensor(flags[1:], dtype=torch.float32)
    positions = torch.arange(s, device=device).expand(len(sequences), s)
    nll = model(tokens, positions, causal_mask(s, device), labels=labels)  # [b, s] nats
    return -nll.float(), mask.to(device)


@torch.no_grad()
def sample(
    model: torch.nn.Module,
    prompts: list[list[int]],
    *,
    max_new_tokens: int,
    temperature: float,
    seed: int,
    stops: list[list[int]],
    greedy: bool = False,
) -> list[tuple[list[int], list[float]]]:
    """For each prompt: (completion ids, their log-probs under the model at temperature 1).

    Full recomputation per token (no KV cache): meant for tiny models in tests and smoke runs, where it
    stands in for a vLLM server. Stops at a stop sequence (kept in the completion) or ``max_new_tokens``.
    """
    from trainers import causal_mask

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    rng = torch.Generator(device="cpu").manual_seed(seed)
    rows = [list(p) for p in prompts]
    done = [False] * len(rows)
    logps: list[list[float]] = [[] for _ in rows]
    starts = [len(p) for p in prompts]
    for _ in range(max_new_tokens):
        live = [i for i in range(len(rows)) if not done[i]]
        if not live:
            break
        s = max(len(rows[i]) for i in live)
        tokens = _pad([rows[i] for i in live], s).to(device)
        positions = torch.arange(s, device=device).expand(len(live), s)
        logits = model(tokens, positions, causal_mask(s, device))  # [b, s, v]
        last = torch.stack([logits[k, len(rows[i]) - 1] for k, i in enumerate(live)]).float().cpu()
        logp = torch.log_softmax(last, dim=-1)
        if greedy:
            choice = logp.argmax(dim=-1)
        else:
            choice = torch.multinomial(torch.softmax(last / temperature, dim=-1), 1, generator=rng)[:, 0]
        for k, i in enumerate(live):
            token = int(choice[k])
            rows[i].append(token)
            logps[i].append(float(logp[k, token]))
            completion = rows[i][starts[i] :]
            if any(len(stop) <= len(completion) and completion[-len(stop) :] == stop for stop in stops):
                done[i] = True
    model.train(was_training)
    return [(rows[i][starts[i] :], logps[i]) for i in range(len(rows))]
