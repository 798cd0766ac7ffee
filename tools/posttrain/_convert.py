"""``vibe synth`` output -> chat SFT data, with each sample's provenance kept.

A kept synthetic sample (``SYNTH_OUT/samples.jsonl``) has its training ``text`` (the template's document), the
model's ``output`` and its provenance (id, template, source chunk, model, verification). It becomes one
conversation: a question/answer output (``{"question", "answer"}``) is a user question and the assistant's
answer; any other output is the assistant's answer to the part of the document before it (the task and the
source it is about), or, when the document does not contain the output, to a request naming the template and
the source. The record keeps ``provenance`` (everything but the texts), which the trainer never reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vibe.core.errors import UserError

__all__ = ["chat_from_synth"]

_TEXTS = {"text", "output", "dedup_text"}


def _conversation(sample: dict[str, Any]) -> list[dict[str, str]]:
    output, text = sample.get("output"), sample.get("text", "")
    if (
        isinstance(output, dict)
        and isinstance(output.get("question"), str)
        and isinstance(output.get("answer"), str)
    ):
        return [
            {"role": "user", "content": output["question"]},
            {"role": "assistant", "content": output["answer"]},
        ]
    if not isinstance(output, str) or not output.strip():
        raise ValueError("its output is neither text nor a question/answer object")
    at = text.rfind(output) if isinstance(text, str) else -1
    prompt = text[:at].strip() if at > 0 else ""
    if not prompt:
        source = sample.get("source", {})
        prompt = (
            f"{sample.get('template', 'task')}: {source.get('path', '')} {source.get('symbol') or ''}".strip()
        )
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": output}]


def chat_from_synth(samples: Path, out: Path) -> int:
    """Write ``out`` (chat JSONL) from a synth ``samples.jsonl`` (or its directory); returns the count."""
    samples = Path(samples)
    if samples.is_dir():
        samples = samples / "samples.jsonl"
    if not samples.is_file():
        raise UserError(f"{samples}: not found; pass a `vibe synth` output directory or its samples.jsonl")
    lines = []
    with samples.open(encoding="utf-8") as source:
        for number, line in enumerate(source, start=1):
            if not line.strip():
                continue
            try:
                sample = json.loads(line)
                messages = _conversation(sample)
            except (json.JSONDecodeError, ValueError, AttributeError) as error:
                raise UserError(f"{samples}:{number}: not a synth sample ({error})") from None
            provenance = {k: v for k, v in sample.items() if k not in _TEXTS}
            lines.append(
                json.dumps({"messages": messages, "provenance": provenance}, ensure_ascii=False) + "\n"
            )
    if not lines:
        raise UserError(f"{samples}: no samples")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text("".join(lines), encoding="utf-8")
    return len(lines)
