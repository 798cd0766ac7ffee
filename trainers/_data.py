"""Data: dataset directories (the ingest contract) -> Megatron blended GPT datasets -> deterministic batches.

Training reads the ``train`` split of every source, blended by weight, through Megatron's
``BlendedMegatronDatasetBuilder`` / ``GPTDataset`` (which shuffles with ``training.seed``). The index cache
Megatron builds goes to ``data.cache_dir`` or ``RUN_DIR/cache``, never next to the source data.

Data order is a pure function: the global batch of (1-based) step ``s`` is samples
``[(s-1)·G, s·G)`` of the shuffled train dataset; DP rank ``r`` takes the contiguous slice
``r·G/dp + m·b ... + b`` for micro batch ``m``. So a resumed run sees exactly the order an uninterrupted
run would, with no sampler state to save. Validation builds one pass over the ``valid`` split of every
source (every token predicted exactly once: consecutive ``seq_length + 1`` windows overlap by one token,
and the last partial window is padded and masked).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from trainers._config import RunConfig
from vibe.core.errors import UserError

if TYPE_CHECKING:  # Megatron is imported where datasets are built (workers, eval), not by the driver
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig

    from trainers._tokenizer import HFTokenizer

__all__ = ["Batch", "DatasetDir", "build_datasets", "micro_batches", "read_dataset_dir", "valid_batches"]


@dataclass(frozen=True)
class DatasetDir:
    """What the trainer needs from one dataset directory's ``manifest.json``."""

    path: Path
    tokenizer_path: Path
    tokenizer_sha256: str
    vocab_size: int
    eod_id: int
    train_prefix: Path
    valid_prefix: Path
    valid_tokens: int
    valid_bytes: int


def read_dataset_dir(path: Path) -> DatasetDir:
    """Read a finished dataset directory; raise ``UserError`` naming what is missing and what to do."""
    path = Path(path)
    manifest_path = path / "manifest.json"
    if not path.is_dir():
        raise UserError(
            f"{path}: dataset directory not found; create it with `vibe data ingest SRC --out {path}`"
        )
    if not manifest_path.is_file():
        raise UserError(
            f"{manifest_path}: missing, so {path} is not a finished dataset; "
            f"(re)run `vibe data ingest SRC --out {path}`"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        tok = manifest["tokenizer"]
        train, valid = manifest["splits"]["train"], manifest["splits"]["valid"]
        info = DatasetDir(
            path=path,
            tokenizer_path=path / tok["path"],
            tokenizer_sha256=str(tok["sha256"]),
            vocab_size=int(tok["vocab_size"]),
            eod_id=int(tok["eod_id"]),
            train_prefix=path / train["prefix"],
            valid_prefix=path / valid["prefix"],
            valid_tokens=int(valid["tokens"]),
            valid_bytes=int(valid["bytes"]),
        )
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise UserError(
            f"{manifest_path}: not a valid dataset manifest ({type(error).__name__}: {error}); "
            f"re-run `vibe data ingest` to rewrite it"
        ) from None
    for needed in (
        info.tokenizer_path,
        *(Path(f"{p}{ext}") for p in (info.train_prefix, info.valid_prefix) for ext in (".bin", ".idx")),
    ):
        if not needed.is_file():
            raise UserError(f"{needed}: missing from dataset {path}; re-run `vibe data ingest` to rebuild it")
    for prefix in (info.train_prefix, info.valid_prefix):
        problem = indexed_problem(prefix)
        if problem:
            raise UserError(f"{problem}; dataset {path} is damaged: re-run `vibe data ingest` to rebuild it")
    return info


_IDX_MAGIC = b"MMIDIDX\x00\x00"
_ITEMSIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 8, 7: 4, 8: 2}  # Megatron's dtype codes -> bytes per token


def indexed_problem(prefix: Path) -> str | None:
    """What is wrong with the Megatron indexed dataset ``PREFIX.bin``/``.idx`` (None if it is whole).

    Checks the index header, that the index holds as many entries as it says, and that the last document
    ends exactly where ``.bin`` ends: a truncated or swapped file is caught here, before Ray starts.
    """
    idx, bin_ = Path(f"{prefix}.idx"), Path(f"{prefix}.bin")
    try:
        with idx.open("rb") as f:
            header = f.read(34)
            if len(header) < 34 or header[:9] != _IDX_MAGIC:
                return f"{idx}: not a Megatron index (bad or missing header)"
            version, code, sequences, documents = struct.unpack("<QBQQ", header[9:34])
            if version != 1 or code not in _ITEMSIZE:
                return f"{idx}: unsupported index (version {version}, dtype code {code})"
            need = 34 + sequences * 12 + documents * 8
            size = idx.stat().st_size
            if size < need:
                return f"{idx}: truncated ({size} bytes; its header promises at least {need})"
            if sequences == 0:
                return (
                    None if bin_.stat().st_size == 0 else f"{bin_}: holds data its empty index does not list"
                )
            f.seek(34 + (sequences - 1) * 4)
            (last_length,) = struct.unpack("<i", f.read(4))
            f.seek(34 + sequences * 4 + (sequences - 1) * 8)
            (last_pointer,) = struct.unpack("<q", f.read(8))
        expected = last_pointer + last_length * _ITEMSIZE[code]
        actual = bin_.stat().st_size
    except OSError as error:
        return f"{idx}: cannot be read ({error.strerror or error})"
    if actual != expected:
        what = "truncated" if actual < expected else "longer than its index says"
        return f"{bin_}: {what} ({actual} bytes; {idx.name} says {expected})"
    return None


def read_sources(config: RunConfig) -> list[DatasetDir]:
    """Every source of ``config.data``; they must share one tokenizer."""
    if not config.data.sources:
        raise UserError("data.sources: no dataset given; pass --data DIR (a `vibe data ingest` output)")
    dirs = [read_dataset_dir(source.path) for source in config.data.sources]
    first = dirs[0]
    for other in dirs[1:]:
        if other.tokenizer_sha256 != first.tokenizer_sha256:
            raise UserError(
                f"data.sources: {other.path} uses a different tokenizer than {first.path}; "
                "blended datasets must be ingested with one shared tokenizer"
            )
    return dirs


def _dataset_config(
    config: RunConfig, tokenizer: HFTokenizer, blends: list[Any], cache_dir: Path
) -> GPTDatasetConfig:
    from megatron.core.datasets.gpt_dataset import GPTDatasetConfig

    return GPTDatasetConfig(
        random_seed=config.training.seed,
        sequence_length=config.model.seq_length,
        blend_per_split=blends,
        path_to_cache=str(cache_dir),
        tokenizer=tokenizer,
        reset_position_ids=False,
        reset_attention_mask=False,
        eod_mask_loss=False,
        create_attention_mask=False,  # one causal mask for all samples, built by the model code
        drop_last_partial_validation_sequence=False,  # keep the tail of the valid split (padded, masked)
        mid_level_dataset_surplus=0.005,
    )


def build_datasets(
    config: RunConfig, *, cache_dir: Path, train: bool = True
) -> tuple[HFTokenizer, GPTDataset | None, GPTDataset, list[DatasetDir]]:
    """(tokenizer, train dataset or None, valid dataset, sources). Collective: call on every rank."""
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
    from megatron.core.datasets.gpt_dataset import GPTDataset

    from trainers._tokenizer import HFTokenizer

    dirs = read_sources(config)
    tokenizer = HFTokenizer(dirs[0].tokenizer_path, eod_id=dirs[0].eod_id)
    weights = [s.weight for s in config.data.sources]
    train_blend = ([str(d.train_prefix) for d in dirs], weights) if train else None
    valid_blend = ([str(d.valid_prefix) for d in dirs], None)  # weights None + size None: one full pass
    t = config.training
    sizes = [t.max_steps * t.global_batch_size if train else 0, None, None]
    builder = BlendedMegatronDatasetBuilder(
        GPTDataset,
        sizes,
        lambda: True,
        _dataset_config(config, tokenizer, [train_blend, valid_blend, None], cache_dir),
    )
    train_ds, valid_ds, _ = builder.build()
    return tokenizer, train_ds, valid_ds, dirs


@dataclass
class Batch:
    tokens: torch.Tensor  # [b, s] int64
    labels: torch.Tensor  # [b, s] int64
    loss_mask: torch.Tensor  # [b, s] float32
    position_ids: torch.Tensor  # [b, s] int64

    def to(self, device: torch.device) -> Batch:
        return Batch(
            *(
                x.to(device, non_blocking=True)
                for x in (self.tokens, self.labels, self.loss_mask, self.position_ids)
            )
        )


def _collate(dataset: GPTDataset, indices: range | list[int | None]) -> Batch:
    # Index None: a padding sample, any real sample with its loss mask zeroed (a BlendedDataset, unlike a
    # GPTDataset, has no padding index of its own).
    samples = [dataset[i] if i is not None else _masked(dataset[0]) for i in indices]
    return Batch(
        tokens=torch.stack([s["tokens"] for s in samples]),
        labels=torch.stack([s["labels"] for s in samples]),
        loss_mask=torch.stack([s["loss_mask"] for s in samples]).float(),
        position_ids=torch.stack([s["position_ids"] for s in samples]),
    )


def _masked(sample: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {**sample, "loss_mask": torch.zeros_like(sample["loss_mask"])}


def micro_batches(config: RunConfig, dataset: GPTDataset, *, step: int, dp_rank: int) -> Iterator[Batch]:
    """The micro batches of 1-based ``step`` for ``dp_rank``: a pure function of (seed, step, dp_rank)."""
    t, dp = config.training, config.parallel.dp
    start = (step - 1) * t.global_batch_size + dp_rank * (t.global_batch_size // dp)
    for m in range(config.num_microbatches):
        first = start + m * t.micro_batch_size
        yield _collate(dataset, range(first, first + t.micro_batch_size))


def valid_batches(
    dataset: GPTDataset, *, batch_size: int, dp_rank: int, dp_size: int, max_batches: int | None = None
) -> Iterator[Batch]:
    """This rank's share of the valid split (samples ``i`` with ``i % dp_size == dp_rank``), in order.

    Every rank yields the same number of full batches (padded with masked samples), because MoE token
    dispatch is collective across ranks. ``max_batches`` limits a mid-training estimate; None: full pass.
    """
    per_rank = -(-len(dataset) // dp_size)
    batches = -(-per_rank // batch_size)
    if max_batches is not None:
        batches = min(batches, max_batches)
    mine: list[int | None] = list(range(dp_rank, len(dataset), dp_size))
    mine += [None] * (batches * batch_size - len(mine))
    for b in range(batches):
        yield _collate(dataset, mine[b * batch_size : (b + 1) * batch_size])
