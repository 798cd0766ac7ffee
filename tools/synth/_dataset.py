"""The kept samples as a dataset directory training can blend in: the ingest's layout, the corpus's tokenizer.

``OUT/manifest.json`` (the :class:`tools.data.DatasetInfo` schema, plus a ``synthetic`` block), a copy of the
corpus's ``tokenizer/tokenizer.json`` (same sha256, so the trainer accepts the blend) and
``train_text_document``/``valid_text_document`` ``.bin``/``.idx``: one document per sample, ending with the
end-of-document token. A sample's split is fixed by its id and the seed. ``manifest.json`` is written last.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from tools.data import (
    EOD,
    MANIFEST,
    DatasetInfo,
    IndexedWriter,
    assign_splits,
    atomic_copy,
    atomic_write_text,
    load_dataset_info,
    split_score,
)

__all__ = ["read_jsonl", "write_dataset"]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def write_dataset(
    out: Path,
    *,
    samples: list[dict[str, Any]],
    corpus: DatasetInfo,
    valid_fraction: float,
    seed: int,
    config: dict[str, Any],
    dropped: dict[str, int],
    seen: int,
    synthetic: dict[str, Any],
) -> DatasetInfo:
    """Tokenize ``samples`` (their ``text``) into ``out`` next to a copy of the corpus's tokenizer."""
    from tokenizers import Tokenizer

    target = out / "tokenizer" / "tokenizer.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_copy(corpus.tokenizer_path(), target)
    tokenizer = Tokenizer.from_file(str(target))
    tokenizer.encode_special_tokens = True  # a literal <|endoftext|> in a sample is text
    eod = tokenizer.token_to_id(EOD)
    vocab = tokenizer.get_vocab_size()
    scores = np.array([split_score(s["id"], seed) for s in samples], dtype=np.float64)
    valid = assign_splits(scores, valid_fraction) if valid_fraction > 0 else np.zeros(len(samples), bool)
    writers = {
        split: IndexedWriter(out_dir=out, prefix=f"{split}_text_document", vocab_size=vocab)
        for split in ("train", "valid")
    }
    nbytes: Counter[str] = Counter()
    texts = [s["text"] for s in samples]
    for start in range(0, len(texts), 256):
        encodings = tokenizer.encode_batch_fast(texts[start : start + 256], add_special_tokens=False)
        for offset, encoding in enumerate(encodings):
            i = start + offset
            split = "valid" if valid[i] else "train"
            ids = np.empty(len(encoding.ids) + 1, dtype=np.int64)  # (n_tokens + 1,): the text, then eod
            ids[:-1] = encoding.ids
            ids[-1] = eod
            writers[split].add(ids)
            nbytes[split] += len(texts[i].encode("utf-8", "surrogatepass"))
    for writer in writers.values():
        writer.finish()
    splits = {
        split: {"prefix": w.prefix, "documents": w.documents, "tokens": w.tokens, "bytes": nbytes[split]}
        for split, w in writers.items()
    }
    ids_digest = hashlib.sha256("\n".join(s["id"] for s in samples).encode()).hexdigest()
    manifest = {
        "version": 1,
        "created": datetime.now(UTC).isoformat(),
        "config": config,
        "fingerprint": hashlib.sha256(f"{corpus.fingerprint}\0{ids_digest}".encode()).hexdigest()[:32],
        "tokenizer": {
            "path": "tokenizer/tokenizer.json",
            "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
            "vocab_size": vocab,
            "eod_id": eod,
            "trained": False,
        },
        "splits": splits,
        "files": {"seen": seen, "kept": len(samples), "dropped": dict(sorted(dropped.items()))},
        "findings": {},
        "synthetic": synthetic,
    }
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return load_dataset_info(out)
