"""The work of a synth run: units (chunk, template) planned in a seeded order, and what an earlier run with
the same settings finished (``units.jsonl``), so a resumed run asks for nothing twice."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tools.data import atomic_write_text
from tools.synth._chunks import Chunk
from tools.synth._config import SynthConfig
from tools.synth._templates import Template
from vibe.core.errors import UserError

__all__ = ["SYNTH_VERSION", "Unit", "plan_units", "resume_state", "settings_key"]

SYNTH_VERSION = 1  # bump when the same settings would give different samples


@dataclass(frozen=True)
class Unit:
    chunk: Chunk
    template: Template

    @property
    def id(self) -> str:
        return f"{self.chunk.id}#{self.chunk.sha256[:12]}|{self.template.key()}"


def plan_units(chunks: list[Chunk], templates: list[Template], *, units: int, seed: int) -> list[Unit]:
    """``units`` (chunk, template) pairs: templates take turns, each taking the next chunk it applies to."""
    order = np.random.default_rng(seed).permutation(len(chunks)).tolist()

    def fits(chunk: Chunk, template: Template) -> bool:
        return (
            chunk.kind == template.kind
            and (not template.languages or chunk.language in template.languages)
            and (not template.needs_symbol or chunk.symbol is not None)
        )

    def stream(template: Template) -> Iterator[Unit]:
        return (Unit(chunks[i], template) for i in order if fits(chunks[i], template))

    streams = [stream(t) for t in templates]
    planned: list[Unit] = []
    while streams and len(planned) < units:
        alive = []
        for source in streams:
            unit = next(source, None)
            if unit is None:
                continue
            alive.append(source)
            planned.append(unit)
            if len(planned) == units:
                break
        streams = alive
    return planned


def settings_key(config: SynthConfig, templates: list[Template], model: str, fingerprint: str) -> str:
    data = {
        "version": SYNTH_VERSION,
        "dataset": fingerprint,
        "model": model,
        "templates": [t.model_dump(mode="json") for t in templates],
        **config.model_dump(
            mode="json", include={"sampling", "chunks", "filters", "dedup", "decontamination_ngram", "seed"}
        ),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]


def resume_state(out: Path, key: str) -> set[str]:
    """The units an earlier run with the same settings finished; trims what it wrote after its last batch."""
    state = out / "synth.json"
    if state.is_file():
        previous = json.loads(state.read_text(encoding="utf-8")).get("key")
        if previous != key:
            raise UserError(
                f"out: {out} holds samples made with other settings (model, templates, sampling, filters or "
                f"corpus changed); pass a new --out, or delete {out} to start over"
            )
    else:
        atomic_write_text(state, json.dumps({"key": key}) + "\n")
    done: set[str] = set()
    units = out / "units.jsonl"
    for line in units.read_text(encoding="utf-8").splitlines() if units.is_file() else []:
        try:
            done.add(json.loads(line)["unit"])
        except (json.JSONDecodeError, KeyError):
            break  # a torn last line: that batch is redone
    for name in ("samples.jsonl", "rejects.jsonl", "units.jsonl", "batches.jsonl"):
        path = out / name
        if not path.is_file():
            continue
        kept_lines = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            units_of = record.get("units") if name == "batches.jsonl" else [record.get("unit")]
            if units_of and all(u in done for u in units_of):
                kept_lines.append(line + "\n")
        atomic_write_text(path, "".join(kept_lines))
    return done
