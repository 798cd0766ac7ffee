"""``evaluate``: validation-split and text-file loss / bits per byte of a run's latest checkpoint.

Bits per byte are exact: total NLL (nats) / ln 2 / UTF-8 bytes. For the validation split the byte count is
the manifest's (``splits.valid.bytes``, the normalised text the split was tokenized from), and the NLL total
is ``loss × tokens`` with the manifest's token count, as the dataset contract defines. A text file is read
as UTF-8, tokenized with the run's tokenizer, scored after an end-of-document token, and divided by its
own byte count.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vibe.core.errors import UserError

__all__ = ["EvalResult", "SplitScore", "evaluate"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitScore:
    """Loss (nats per predicted token) and bits per byte of one body of text."""

    name: str
    loss: float
    bpb: float
    tokens: int  # tokens predicted
    bytes: int


@dataclass(frozen=True)
class EvalResult:
    run_dir: Path
    step: int
    valid: SplitScore
    texts: list[SplitScore] = field(default_factory=list)
    wall_time_s: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "run_dir": str(self.run_dir)}


def evaluate(run_dir: str | Path, *, texts: Sequence[str | Path] = ()) -> EvalResult:
    """Score ``run_dir``'s latest checkpoint; writes and returns ``RUN_DIR/eval.json``'s content."""
    from trainers import open_run

    started = time.perf_counter()
    run_dir = Path(run_dir)
    contents = []
    for text in texts:
        path = Path(text)
        try:
            contents.append((path, path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as error:
            raise UserError(
                f"--text {path}: cannot be read as UTF-8 text ({error}); pass a text file"
            ) from None
    with open_run(run_dir) as run:
        val = run.validate()
        manifest_tokens = sum(s.valid_tokens for s in run.sources)
        manifest_bytes = sum(s.valid_bytes for s in run.sources)
        valid = SplitScore(
            name="valid",
            loss=val["val_loss"],
            bpb=val["val_loss"] * manifest_tokens / manifest_bytes / math.log(2),
            tokens=val["val_tokens"],
            bytes=manifest_bytes,
        )
        scores = []
        for path, content in contents:
            nll, count = run.text_nll(run.tokenizer.tokenize(content))
            size = len(content.encode("utf-8"))
            scores.append(
                SplitScore(
                    name=str(path),
                    loss=nll / max(1, count),
                    bpb=nll / math.log(2) / max(1, size),
                    tokens=count,
                    bytes=size,
                )
            )
        step = run.checkpoint.step
    result = EvalResult(run_dir, step, valid, scores, time.perf_counter() - started)
    (run_dir / "eval.json").write_text(json.dumps(result.to_json(), indent=2), encoding="utf-8")
    log.info("%s step %d: valid loss %.4f, %.4f bits/byte", run_dir, step, valid.loss, valid.bpb)
    return result
