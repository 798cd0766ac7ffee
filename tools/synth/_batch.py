"""One batch of a synth run: requests sent, answers parsed and filtered, code verified in the sandbox, near
duplicates dropped, then the kept samples and the rejects appended with their provenance."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tools.data import ExactDuplicates, NearDuplicates
from tools.synth._chunks import Chunk, Corpus
from tools.synth._client import ChatPool, Generation
from tools.synth._config import SynthConfig
from tools.synth._dataset import read_jsonl
from tools.synth._filters import Decontaminator, quality_problem
from tools.synth._templates import MODULE
from tools.synth._units import Unit
from tools.synth._verify import Verdict, extract_python, verify_docstring, verify_tests

__all__ = ["BatchContext", "Candidate", "run_batch"]


@dataclass
class Candidate:
    unit: Unit
    choice: int
    raw: str
    generation: Generation
    output: str = ""
    document: str = ""
    dedup_text: str = ""
    reason: str | None = None
    detail: str = ""
    verdict: Verdict | None = None
    fields: dict[str, str] = field(default_factory=dict)


class BatchContext:
    """What every batch needs: the config, the corpus, the dedup index and the decontaminator."""

    def __init__(
        self,
        *,
        config: SynthConfig,
        corpus: Corpus,
        model: str,
        dataset: str,
        fingerprint: str,
        out: Path,
        key: str = "",
    ) -> None:
        self.config, self.corpus, self.model, self.out = config, corpus, model, out
        self.dataset, self.fingerprint, self.key = dataset, fingerprint, key
        self.exact = ExactDuplicates()
        dedup = config.dedup
        self.near = (
            NearDuplicates(
                threshold=dedup.near_dup_threshold,
                num_perm=dedup.num_perm,
                shingle_words=dedup.shingle_words,
                seed=config.seed + 1,
                signatures=out / ".minhash.bin",
            )
            if dedup.near_dup_threshold < 1.0
            else None
        )
        self.decontaminator: Decontaminator | None = None
        self._modules: dict[int, str] = {}

    def index(self, chunks: list[Chunk]) -> None:
        """The corpus's chunks, then the samples kept by earlier runs, into the dedup index."""
        for chunk in chunks:
            self.exact.check_and_add(f"corpus:{chunk.id}", chunk.text)
            if self.near is not None:
                self.near.check_and_add(f"corpus:{chunk.id}", chunk.text)
        for sample in read_jsonl(self.out / "samples.jsonl"):
            self.exact.check_and_add(f"sample:{sample['id']}", sample["dedup_text"])
            if self.near is not None:
                self.near.check_and_add(f"sample:{sample['id']}", sample["dedup_text"])

    def module(self, doc: int) -> str:
        if doc not in self._modules:
            self._modules[doc] = self.corpus.text(doc)
        return self._modules[doc]

    def close(self) -> None:
        if self.near is not None:
            self.near.close()
        (self.out / ".minhash.bin").unlink(missing_ok=True)


def _values(unit: Unit) -> dict[str, str]:
    """What a template's prompt and its output checks may name: the chunk, its place and the module."""
    chunk = unit.chunk
    return {
        "chunk": chunk.text,
        "path": chunk.path,
        "language": chunk.language,
        "symbol": chunk.symbol or "",
        "module": MODULE,
    }


def _payload(config: SynthConfig, unit: Unit) -> dict[str, Any]:
    template = unit.template
    values = _values(unit)
    s = config.sampling
    payload: dict[str, Any] = {
        "messages": [
            {"role": "system", "content": template.system},
            {"role": "user", "content": template.prompt.format_map(values)},
        ],
        "temperature": s.temperature,
        "top_p": s.top_p,
        "max_tokens": s.max_tokens,
        "n": s.n,
    }
    if s.seed is not None:
        payload["seed"] = s.seed
    if template.output == "qa":
        schema = {
            "type": "object",
            "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
            "required": ["question", "answer"],
            "additionalProperties": False,
        }
        payload["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "qa", "schema": schema, "strict": True},
        }
    return payload


def _parse(candidate: Candidate) -> None:
    """Fill the candidate's output and training document from its raw answer, or set why it is dropped."""
    unit, raw = candidate.unit, candidate.raw
    template = unit.template
    values = _values(unit)
    if template.output == "python":
        code = extract_python(raw)
        if code is None:
            candidate.reason, candidate.detail = "no_code", "no Python code block in the answer"
            return
        output = code
    elif template.output == "qa":
        text = raw.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
        try:
            qa = json.loads(text)
            question, answer = str(qa["question"]).strip(), str(qa["answer"]).strip()
        except (json.JSONDecodeError, KeyError, TypeError):
            candidate.reason, candidate.detail = "unparseable", "not a JSON object with question and answer"
            return
        if not question or not answer:
            candidate.reason, candidate.detail = "unparseable", "empty question or answer"
            return
        values |= {"question": question, "answer": answer}
        output = f"{question}\n{answer}"
    else:
        output = raw.strip()
    candidate.output = output
    candidate.dedup_text = output
    candidate.document = template.document.format_map({**values, "output": output})


def run_batch(
    context: BatchContext,
    pool: ChatPool,
    verifiers: ThreadPoolExecutor,
    batch: list[Unit],
    number: int,
    advance: Any,
) -> dict[str, Any]:
    """Generate the batch's answers, then filter, verify and deduplicate them, then write the batch."""
    started = time.perf_counter()
    generations: dict[int, Generation] = {}
    for i, generation in pool.generate([_payload(context.config, u) for u in batch]):
        generations[i] = generation
        advance()
    seconds = time.perf_counter() - started
    candidates: list[Candidate] = []
    failed_units: list[tuple[Unit, Generation]] = []
    for i, unit in enumerate(batch):
        generation = generations[i]
        if generation.error is not None:
            failed_units.append((unit, generation))
            continue
        candidates += [
            _filtered(context, unit, generation, choice) for choice in range(len(generation.texts))
        ]
    _verify_all(context, verifiers, candidates)
    _drop_duplicates(context, candidates)
    return _write_batch(context, batch, candidates, failed_units, number, seconds)


def _filtered(context: BatchContext, unit: Unit, generation: Generation, choice: int) -> Candidate:
    """Answer ``choice`` of ``generation`` parsed, then checked for length, quality and contamination."""
    config = context.config
    candidate = Candidate(unit=unit, choice=choice, raw=generation.texts[choice], generation=generation)
    _parse(candidate)
    if candidate.reason is None:
        finish = generation.finish_reasons[choice] if choice < len(generation.finish_reasons) else None
        problem = quality_problem(candidate.output, finish_reason=finish, config=config.filters)
        if problem is not None:
            candidate.reason, candidate.detail = problem
    if candidate.reason is None and context.decontaminator is not None:
        overlap = context.decontaminator.overlap(candidate.document)
        if overlap:
            candidate.reason = "contaminated"
            candidate.detail = f"{overlap} runs of {config.decontamination_ngram} words from the valid split"
    return candidate


def _verify_all(context: BatchContext, verifiers: ThreadPoolExecutor, candidates: list[Candidate]) -> None:
    """The sandbox verdict of every candidate still kept whose template verifies its code (in parallel)."""
    todo = [c for c in candidates if c.reason is None and c.unit.template.verify != "none"]
    if not todo:
        return
    limits = context.config.verify.sandbox_limits()
    futures = {id(c): verifiers.submit(_verify, context, c, limits) for c in todo}
    for c in todo:
        c.verdict = futures[id(c)].result()
        if not c.verdict.passed:
            c.reason, c.detail = c.verdict.verdict, c.verdict.detail
        elif c.verdict.novel_text:
            c.dedup_text = c.verdict.novel_text


def _drop_duplicates(context: BatchContext, candidates: list[Candidate]) -> None:
    """Near duplicates last, in unit order, so that only verified samples enter the index."""
    for c in candidates:
        if c.reason is not None:
            continue
        sample_id = _sample_id(c)
        same = context.exact.check_and_add(f"sample:{sample_id}", c.dedup_text)
        similar = (
            None
            if same is not None or context.near is None
            else context.near.check_and_add(f"sample:{sample_id}", c.dedup_text)
        )
        hit = (same, 1.0) if same is not None else similar
        if hit is not None:
            origin = "corpus" if hit[0].startswith("corpus:") else "sample"
            c.reason, c.detail = (
                f"near_duplicate_{origin}",
                f"{hit[1]:.2f} similar to {hit[0].split(':', 1)[1]}",
            )


def _verify(context: BatchContext, candidate: Candidate, limits: Any) -> Verdict:
    chunk = candidate.unit.chunk
    module = context.module(chunk.doc)
    if candidate.unit.template.verify == "tests":
        return verify_tests(chunk=chunk, module_source=module, code=candidate.output, limits=limits)
    return verify_docstring(chunk=chunk, module_source=module, code=candidate.output, limits=limits)


def _sample_id(candidate: Candidate) -> str:
    return hashlib.sha256(f"{candidate.unit.id}\0{candidate.choice}".encode()).hexdigest()[:20]


def _provenance(context: BatchContext, candidate: Candidate, number: int) -> dict[str, Any]:
    unit, generation = candidate.unit, candidate.generation
    chunk, template = unit.chunk, unit.template
    verification = (
        candidate.verdict.as_json()
        if candidate.verdict is not None
        else {"verdict": "not_required" if template.verify == "none" else "not_run"}
    )
    return {
        "id": _sample_id(candidate),
        "unit": unit.id,
        "template": template.name,
        "template_version": template.version,
        "kind": template.kind,
        "source": {
            "chunk_id": chunk.id,
            "chunk_sha256": chunk.sha256,
            "path": chunk.path,
            "lines": [chunk.first_line, chunk.last_line],
            "symbol": chunk.symbol,
            "language": chunk.language,
            "dataset": context.dataset,
            "dataset_fingerprint": context.fingerprint,
        },
        "model": context.model,
        "endpoint": context.config.llm.url,
        "sampling": {**context.config.sampling.model_dump(mode="json"), "choice": candidate.choice},
        "verification": verification,
        "usage": {
            "prompt_tokens": generation.prompt_tokens,
            "completion_tokens": generation.completion_tokens,
            "request_seconds": round(generation.seconds, 3),
        },
        "batch": number,
        "created": datetime.now(UTC).isoformat(),
    }


def _write_batch(
    context: BatchContext,
    batch: list[Unit],
    candidates: list[Candidate],
    failed_units: list[tuple[Unit, Generation]],
    number: int,
    seconds: float,
) -> dict[str, Any]:
    out = context.out
    kept_lines, reject_lines = [], []
    dropped: Counter[str] = Counter()
    for c in candidates:
        record = _provenance(context, c, number)
        if c.reason is None:
            record |= {"text": c.document, "output": c.output, "dedup_text": c.dedup_text}
            kept_lines.append(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            record |= {"reason": c.reason, "detail": c.detail, "output": c.raw}
            reject_lines.append(json.dumps(record, ensure_ascii=False) + "\n")
            dropped[c.reason] += 1
    for unit, generation in failed_units:
        record = {
            "id": hashlib.sha256(unit.id.encode()).hexdigest()[:20],
            "unit": unit.id,
            "template": unit.template.name,
            "template_version": unit.template.version,
            "source": {"chunk_id": unit.chunk.id, "chunk_sha256": unit.chunk.sha256},
            "model": context.model,
            "reason": "llm_error",
            "detail": generation.error,
            "batch": number,
        }
        reject_lines.append(json.dumps(record, ensure_ascii=False) + "\n")
        dropped["llm_error"] += 1
    _append(out / "samples.jsonl", kept_lines)
    _append(out / "rejects.jsonl", reject_lines)
    _append(out / "units.jsonl", [json.dumps({"unit": u.id, "batch": number}) + "\n" for u in batch])
    generations = {id(c.generation): c.generation for c in candidates} | {id(g): g for _, g in failed_units}
    summary = {
        "batch": number,
        "units": [u.id for u in batch],
        "requests": len(batch),
        "candidates": len(candidates),
        "kept": len(kept_lines),
        "dropped": dict(sorted(dropped.items())),
        "prompt_tokens": sum(g.prompt_tokens for g in generations.values()),
        "completion_tokens": sum(g.completion_tokens for g in generations.values()),
        "seconds": round(seconds, 3),
        "samples_sha256": hashlib.sha256("".join(kept_lines).encode()).hexdigest(),
        "rejects_sha256": hashlib.sha256("".join(reject_lines).encode()).hexdigest(),
    }
    _append(out / "batches.jsonl", [json.dumps(summary) + "\n"])
    return {k: v for k, v in summary.items() if k != "units"}


def _append(path: Path, lines: list[str]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.writelines(lines)
        handle.flush()
        os.fsync(handle.fileno())
