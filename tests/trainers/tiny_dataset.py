"""A tiny dataset directory that follows the ingest contract, built from ~30 stdlib ``.py`` files.

It stands in for ``tools.data.ingest`` until that lands (``tiny_config`` gives the matching tiny run): a byte-level BPE tokenizer (vocab 768) trained with
``tokenizers``, ``train``/``valid`` Megatron indexed datasets written with ``IndexedDatasetBuilder`` (one
document per file, each followed by ``<|endoftext|>``), and a ``manifest.json`` with the contract's fields.
"""

from __future__ import annotations

import hashlib
import json
import sysconfig
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

EOD = "<|endoftext|>"
_FILES = [
    "abc.py", "bisect.py", "calendar.py", "colorsys.py", "contextlib.py", "copy.py", "csv.py",
    "dataclasses.py", "difflib.py", "enum.py", "fnmatch.py", "fractions.py", "functools.py",
    "genericpath.py", "glob.py", "heapq.py", "hmac.py", "keyword.py", "linecache.py", "numbers.py",
    "operator.py", "posixpath.py", "queue.py", "random.py", "shlex.py", "string.py", "textwrap.py",
    "this.py", "tokenize.py", "weakref.py", "sched.py", "stat.py",
]  # fmt: skip


def build_tiny_dataset(out: Path, *, vocab_size: int = 768, valid_every: int = 8) -> Path:
    """Write a contract-compliant dataset directory to ``out``; every ``valid_every``-th file goes to valid."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts = [(stdlib / name).read_text(encoding="utf-8") for name in _FILES if (stdlib / name).is_file()]
    out.mkdir(parents=True, exist_ok=True)

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    (out / "tokenizer").mkdir(exist_ok=True)
    tok_path = out / "tokenizer" / "tokenizer.json"
    tokenizer.save(str(tok_path))
    eod_id = tokenizer.token_to_id(EOD)

    splits: dict[str, dict[str, object]] = {}
    for split in ("train", "valid"):
        chosen = [
            t for i, t in enumerate(texts) if (i % valid_every == valid_every - 1) == (split == "valid")
        ]
        prefix = f"{split}_text_document"
        builder = IndexedDatasetBuilder(str(out / f"{prefix}.bin"), dtype=np.uint16)
        tokens = 0
        for text in chosen:
            ids = [*tokenizer.encode(text).ids, eod_id]
            builder.add_document(np.array(ids, dtype=np.int64), [len(ids)])
            tokens += len(ids)
        builder.finalize(str(out / f"{prefix}.idx"))
        splits[split] = {
            "prefix": prefix,
            "documents": len(chosen),
            "tokens": tokens,
            "bytes": sum(len(t.encode("utf-8")) for t in chosen),
        }

    manifest = {
        "version": 1,
        "created": datetime.now(UTC).isoformat(),
        "config": {"fixture": "tests/trainers/tiny_dataset.py"},
        "fingerprint": hashlib.sha256("".join(texts).encode()).hexdigest()[:16],
        "tokenizer": {
            "path": "tokenizer/tokenizer.json",
            "sha256": hashlib.sha256(tok_path.read_bytes()).hexdigest(),
            "vocab_size": tokenizer.get_vocab_size(),
            "eod_id": eod_id,
            "trained": True,
        },
        "splits": splits,
        "files": {"seen": len(texts), "kept": len(texts), "dropped": {}},
        "findings": {},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    (out / "files.jsonl").write_text("", encoding="utf-8")
    return out


def tiny_config(data: Path, out: Path, **sections: Any) -> Any:
    """A tiny-model RunConfig (2 layers, hidden 64, 4 heads, seq 64) with per-section overrides."""
    from trainers import RunConfig

    base: dict[str, Any] = {
        "out": str(out),
        "model": {"preset": "tiny"},
        "training": {
            "micro_batch_size": 4,
            "global_batch_size": 16,
            "max_steps": 30,
            "eval_interval": 15,
            "eval_iters": 4,
            "checkpoint_interval": 10,
        },
        "optimizer": {"lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 5},
        "data": {"sources": [{"path": str(data)}]},
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return RunConfig.model_validate(base)
