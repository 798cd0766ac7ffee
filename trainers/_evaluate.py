"""Open a finished (or interrupted) run for evaluation in this process: one rank, TP=1, EP=1.

:func:`open_run` creates a one-process gloo group (unless one exists), builds the run's model at TP=1 /
EP=1 and loads the latest checkpoint into it; Megatron's dist_checkpointing reshards whatever layout the
run trained with. :func:`text_nll` scores a token sequence in non-overlapping ``seq_length`` windows.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from trainers._checkpoint import CheckpointInfo, latest_checkpoint, load_model_weights
from trainers._config import ParallelConfig, RunConfig
from trainers._data import DatasetDir, build_datasets
from vibe.core.config import load_yaml
from vibe.core.errors import UserError

__all__ = ["OpenRun", "open_run", "single_rank"]


@dataclass
class OpenRun:
    """A run's config, checkpoint, model (eval mode), tokenizer and valid dataset, ready to score."""

    config: RunConfig
    checkpoint: CheckpointInfo
    model: torch.nn.Module
    tokenizer: Any  # trainers._tokenizer.HFTokenizer
    valid: Any  # Megatron GPTDataset / BlendedDataset over the valid split(s)
    sources: list[DatasetDir]
    device: torch.device

    def validate(self) -> dict[str, float]:
        """Full pass over the valid split: val_loss (nats/token), val_bpb, val_tokens."""
        from trainers._worker import validate

        tokens = sum(s.valid_tokens for s in self.sources)
        return validate(
            self.model,
            self.valid,
            batch_size=self.config.training.micro_batch_size,
            seq_length=self.config.model.seq_length,
            device=self.device,
            precision="fp32",
            tokens_per_byte=tokens / max(1, sum(s.valid_bytes for s in self.sources)),
        )

    @torch.no_grad()
    def text_nll(self, ids: list[int]) -> tuple[float, int]:
        """(total NLL in nats, tokens predicted) of ``ids`` after an end-of-document token.

        The sequence ``[eod] + ids`` is cut into windows of ``seq_length`` predictions; each token of
        ``ids`` is predicted exactly once, from at most ``seq_length`` tokens of context.
        """
        from trainers._data import Batch
        from trainers._model import causal_mask
        from trainers._worker import loss_of

        s, b = self.config.model.seq_length, self.config.training.micro_batch_size
        stream = torch.tensor([self.tokenizer.eod, *ids], dtype=torch.long)
        windows = []
        for start in range(0, len(ids), s):
            chunk = stream[start : start + s + 1]  # s inputs + their s next tokens (shorter at the end)
            n = len(chunk) - 1
            tokens, labels, mask = (
                torch.zeros(s, dtype=torch.long),
                torch.zeros(s, dtype=torch.long),
                torch.zeros(s),
            )
            tokens[:n], labels[:n], mask[:n] = chunk[:-1], chunk[1:], 1.0
            windows.append((tokens, labels, mask))
        attention = causal_mask(s, self.device)
        total, count = 0.0, 0
        for first in range(0, len(windows), b):
            group = windows[first : first + b]
            batch = Batch(
                tokens=torch.stack([w[0] for w in group]),
                labels=torch.stack([w[1] for w in group]),
                loss_mask=torch.stack([w[2] for w in group]),
                position_ids=torch.arange(s).expand(len(group), s).contiguous(),
            )
            nll, n = loss_of(self.model, batch.to(self.device), attention)
            total += nll.item()
            count += int(n.item())
        return total, count


@contextmanager
def single_rank(*, seed: int = 0) -> Iterator[None]:
    """Megatron's parallel state for one process (TP=1, EP=1) on a gloo group made here if none exists."""
    from megatron.core import parallel_state

    from trainers._worker import initialize_parallel

    created = not dist.is_initialized()
    if created:
        dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    elif dist.get_world_size() != 1:
        raise RuntimeError(
            "a single-rank model needs a single-process world; call it outside a distributed job"
        )
    try:
        initialize_parallel(RunConfig(), seed=seed)
        yield
    finally:
        parallel_state.destroy_model_parallel()
        if created:
            dist.destroy_process_group()


@contextmanager
def open_run(run_dir: Path, *, data: list[Path] | None = None) -> Iterator[OpenRun]:
    """Load ``run_dir``'s latest checkpoint into a single-rank model; tears the process group down after.

    ``data``: dataset directories to validate on instead of the run's own (e.g. an imported base model,
    which has none, scored on the split its fine-tune holds out).
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise UserError(
            f"{run_dir}: not a run directory (no config.yaml); pass the --out of a `vibe train` run"
        )
    config = load_yaml(run_dir / "config.yaml", RunConfig)
    if data:
        sources = [{"path": str(Path(d).resolve())} for d in data]
        config = config.model_copy(update={"data": config.data.model_validate({"sources": sources})})
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise UserError(
            f"{run_dir}/checkpoints: no complete checkpoint yet; train longer or `vibe train --resume`"
        )
    single = config.model_copy(update={"parallel": ParallelConfig()})  # reshard to TP=1, EP=1
    from trainers._model import build_model

    with single_rank(seed=config.training.seed):
        tokenizer, _, valid, sources = build_datasets(single, cache_dir=run_dir / "cache", train=False)
        vocab = config.model.padded_vocab_size(tokenizer.vocab_size)
        real = config.model.vocab_size or tokenizer.vocab_size
        model = build_model(config.model, vocab_size=vocab, tp=1, ep=1, real_vocab=real)
        load_model_weights(checkpoint.path, model)
        model.eval()
        device = next(model.parameters()).device
        yield OpenRun(single, checkpoint, model, tokenizer, valid, sources, device)


def bits_per_byte(nll_nats: float, num_bytes: int) -> float:
    return nll_nats / math.log(2) / max(1, num_bytes)
