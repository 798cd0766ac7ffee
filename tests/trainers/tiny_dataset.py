"""A tiny dataset for the trainer tests: ~30 standard-library modules through the real ``tools.data.ingest``
(a byte-level BPE tokenizer of 768 tokens, train/valid Megatron indexed datasets, manifest), and
``tiny_config``, the matching tiny run."""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path
from typing import Any

from tools.data import IngestConfig, ingest

_FILES = [
    "abc.py", "bisect.py", "calendar.py", "colorsys.py", "contextlib.py", "copy.py", "csv.py",
    "dataclasses.py", "difflib.py", "enum.py", "fnmatch.py", "fractions.py", "functools.py",
    "genericpath.py", "glob.py", "heapq.py", "hmac.py", "keyword.py", "linecache.py", "numbers.py",
    "operator.py", "posixpath.py", "queue.py", "random.py", "shlex.py", "string.py", "textwrap.py",
    "this.py", "tokenize.py", "weakref.py", "sched.py", "stat.py",
]  # fmt: skip


def build_tiny_dataset(out: Path, *, vocab_size: int = 768) -> Path:
    """Ingest the modules above (copied next to ``out``) into the dataset directory ``out``."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    source = out.parent / f"{out.name}-source"
    source.mkdir(parents=True, exist_ok=True)
    for name in _FILES:
        if (stdlib / name).is_file():
            shutil.copy(stdlib / name, source / name)
    config = IngestConfig(
        inputs=[source], out=out, valid_fraction=0.125, tokenizer={"vocab_size": vocab_size}
    )
    ingest(config, progress=False)
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
