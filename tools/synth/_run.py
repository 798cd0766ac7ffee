"""``synthesize``: an ingested corpus -> verified synthetic samples, resumably, in batches.

1. Check the gate (when one is given): ``llm.call`` (url) first, then ``synth.generate`` (generator = the
   served model, volume = ``samples``, url, the corpus path). Deny or require_approval -> :class:`UserError`
   naming the rules. No request is sent before both allow.
2. Plan the work: the corpus's train split cut into chunks (:mod:`tools.synth._chunks`), visited in a seeded
   order, each template taking the next chunk it applies to in turn, until ``samples // n`` units
   (chunk, template) are planned. Units finished by an earlier run with the same settings are skipped.
3. In batches of ``4 x max_concurrency`` units: send the requests (``max_concurrency`` in flight), parse each
   answer by the template's output format, filter (length, quality, decontamination against the valid
   split), verify generated code in the sandbox (in parallel), drop near duplicates of the corpus's chunks
   and of samples kept before, then append to ``samples.jsonl`` / ``rejects.jsonl`` and mark the units done
   (``units.jsonl``, written last: a batch cut short is redone). Each batch goes to the ledger.
4. Write the indexed dataset (:mod:`tools.synth._dataset`) and ``report.md``.

Every sample carries its provenance: source chunk id and sha256, the corpus's fingerprint, the model and
endpoint, the template and its version, the sampling parameters and the verification result. Generated text
is data: it is parsed, filtered, run in the sandbox when it is code, and never acted on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from policies import Gate
from tools.data import MANIFEST, ExactDuplicates, NearDuplicates, atomic_write_text, load_dataset_info
from tools.synth._chunks import Chunk, Corpus
from tools.synth._client import ChatPool, Generation
from tools.synth._config import SynthConfig
from tools.synth._dataset import read_jsonl, write_dataset
from tools.synth._filters import Decontaminator, quality_problem
from tools.synth._report import write_report
from tools.synth._templates import MODULE, Template, resolve_templates
from tools.synth._verify import Verdict, extract_python, verify_docstring, verify_tests
from vibe.core.errors import UserError
from vibe.core.log import progress
from vibe.ledger import Ledger, Record, digest

__all__ = ["SynthResult", "synthesize"]

log = logging.getLogger(__name__)

SYNTH_VERSION = 1  # bump when the same settings would give different samples


class SynthResult(BaseModel):
    """What a run left in ``out`` (counts cover every run that wrote to it)."""

    out: Path
    samples_path: Path
    rejects_path: Path
    report_path: Path
    dataset: Path | None  # ``out`` when the indexed dataset was written (some sample was kept)
    model: str
    units_planned: int
    units_run: int  # by this call (the rest were finished by an earlier one)
    candidates: int
    kept: int
    dropped: dict[str, int]
    requests: int
    completion_tokens: int
    generation_seconds: float
    samples_per_s: float
    tokens_per_s: float


@dataclass(frozen=True)
class _Unit:
    chunk: Chunk
    template: Template

    @property
    def id(self) -> str:
        return f"{self.chunk.id}#{self.chunk.sha256[:12]}|{self.template.key()}"


@dataclass
class _Candidate:
    unit: _Unit
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


# -------------------------------------------------------------------------------------------------- gate
def _gate(
    gate: Gate | None, ledger: Ledger | None, thread_id: str, kind: str, attributes: dict[str, Any]
) -> None:
    if gate is None:
        return
    decision = gate.check(kind=kind, attributes=attributes)
    outcome, rules, reason = decision.outcome, decision.rule_ids, decision.reason
    _record(
        ledger,
        thread_id,
        actor="policy",
        kind="gate",
        action=kind,
        inputs=attributes,
        outcome=outcome,
        reason=reason,
        rule_ids=rules,
        policy_hashes=dict(decision.policy_hashes),
    )
    if outcome == "allow":
        return
    named = ", ".join(rules) or "the policy"
    if outcome == "require_approval":
        raise UserError(f"{kind} needs approval ({named}): {reason}; ask an approver, or lower the request")
    raise UserError(f"{kind} denied by {named}: {reason}")


def _record(
    ledger: Ledger | None,
    thread_id: str,
    *,
    actor: str,
    kind: str,
    action: str,
    inputs: Any,
    outcome: str,
    reason: str,
    outputs: Any = None,
    rule_ids: list[str] | None = None,
    policy_hashes: dict[str, str] | None = None,
) -> None:
    if ledger is None:
        return
    ledger.append(
        Record(
            thread_id=thread_id,
            actor=actor,
            kind=kind,
            action=action,
            inputs_hash=digest(inputs),  # type: ignore[arg-type]
            outputs=outputs,
            outcome=outcome,
            reason=reason,
            rule_ids=rule_ids or [],
            policy_hashes=policy_hashes or {},
        )
    )


# -------------------------------------------------------------------------------------------------- plan
def _plan(chunks: list[Chunk], templates: list[Template], *, units: int, seed: int) -> list[_Unit]:
    """``units`` (chunk, template) pairs: templates take turns, each taking the next chunk it applies to."""
    order = np.random.default_rng(seed).permutation(len(chunks)).tolist()

    def fits(chunk: Chunk, template: Template) -> bool:
        return (
            chunk.kind == template.kind
            and (not template.languages or chunk.language in template.languages)
            and (not template.needs_symbol or chunk.symbol is not None)
        )

    def stream(template: Template) -> Iterator[_Unit]:
        return (_Unit(chunks[i], template) for i in order if fits(chunks[i], template))

    streams = [stream(t) for t in templates]
    planned: list[_Unit] = []
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


def _settings_key(config: SynthConfig, templates: list[Template], model: str, fingerprint: str) -> str:
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


def _resume_state(out: Path, key: str) -> set[str]:
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


# -------------------------------------------------------------------------------------------------- run
def synthesize(
    config: SynthConfig,
    *,
    gate: Gate | None = None,
    ledger: Ledger | None = None,
    thread_id: str = "synth",
    progress_bar: bool = True,
) -> SynthResult:
    """Run (or resume) the synthetic-data run ``config`` describes; see the module docstring.

    The policy first (``llm.call``, ``synth.generate``), then the plan (chunks x templates, minus what an
    earlier run finished), then the batches, each recorded in ``ledger``; then the dataset and its report.
    """
    info = load_dataset_info(config.dataset)
    templates = resolve_templates(config.templates, config.template_files)
    record = _Recorder(ledger, thread_id)
    _gate(gate, ledger, thread_id, "llm.call", {"url": config.llm.url})
    with ChatPool(config.llm, max_concurrency=config.max_concurrency) as pool:
        _gate(gate, ledger, thread_id, "synth.generate", _generate_attributes(config, pool.model))
        if any(t.verify != "none" for t in templates):
            import sandbox

            sandbox.check_available()
        context, planned, todo = _prepare(config, info, templates, model=pool.model)
        record(
            kind="run_started",
            inputs=config.model_dump(mode="json"),
            reason=f"synth: {len(todo)} of {len(planned)} units to generate with {pool.model} at {config.llm.url}",
            outputs={"out": str(config.out), "planned": len(planned), "todo": len(todo), "key": context.key},
        )
        _generate(context, pool, planned=planned, todo=todo, record=record, progress_bar=progress_bar)
        context.close()
    result = _finish(
        config, info, context, model=pool.model, planned=len(planned), ran=len(todo), templates=templates
    )
    record(
        kind="run_finished",
        inputs=config.model_dump(mode="json"),
        outputs=result.model_dump(mode="json"),
        reason=f"synth: {result.kept} samples kept of {result.candidates} in {config.out}",
    )
    return result


@dataclass
class _Recorder:
    """The run's own records (actor ``tool``, action ``synth.generate``) into the ledger it was given."""

    ledger: Ledger | None
    thread_id: str

    def __call__(self, *, kind: str, inputs: Any, reason: str, outputs: Any = None) -> None:
        _record(self.ledger, self.thread_id, actor="tool", kind=kind, action="synth.generate",
                inputs=inputs, outcome="ok", reason=reason, outputs=outputs)  # fmt: skip


def _generate_attributes(config: SynthConfig, model: str) -> dict[str, Any]:
    """What ``synth.generate`` is judged on: the generator, the volume, the endpoint and the corpus."""
    dataset = str(Path(config.dataset).resolve())
    return {"generator": model, "volume": config.samples, "url": config.llm.url, "paths": [dataset]}


def _prepare(
    config: SynthConfig, info: Any, templates: list[Template], *, model: str
) -> tuple[_Context, list[_Unit], list[_Unit]]:
    """The output directory, the units planned (chunk x template) and those an earlier run did not finish,
    and the context every batch shares (corpus index, decontaminator)."""
    units_wanted = config.samples // config.sampling.n
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)  # not a finished dataset while samples are added
    key = _settings_key(config, templates, model, info.fingerprint)
    done = _resume_state(out, key)
    corpus = Corpus(info)
    chunks = list(corpus.chunks(max_chars=config.chunks.max_chars, min_chars=config.chunks.min_chars))
    planned = _plan(chunks, templates, units=units_wanted, seed=config.chunks.seed)
    if not planned:
        kinds = ", ".join(sorted({t.kind for t in templates}))
        raise UserError(
            f"templates: none of {', '.join(config.templates)} applies to any chunk of {config.dataset} "
            f"(they need {kinds} chunks); choose templates for what the corpus holds"
        )
    if len(planned) < units_wanted:
        log.warning("only %d units (chunk, template) exist for %d requested", len(planned), units_wanted)
    todo = [u for u in planned if u.id not in done]
    log.info(
        "synth: %d units planned, %d finished earlier, %d to run",
        len(planned),
        len(planned) - len(todo),
        len(todo),
    )
    context = _Context(
        config=config,
        corpus=corpus,
        model=model,
        dataset=str(Path(config.dataset).resolve()),
        fingerprint=info.fingerprint,
        out=out,
        key=key,
    )
    context.index(chunks)
    context.decontaminator = Decontaminator(
        (t for _, t in corpus.texts(valid=True)), n=config.decontamination_ngram
    )
    return context, planned, todo


def _generate(
    context: _Context,
    pool: ChatPool,
    *,
    planned: list[_Unit],
    todo: list[_Unit],
    record: _Recorder,
    progress_bar: bool,
) -> None:
    """The units to run, in batches of ``4 x max_concurrency``: generate, verify, write; record each batch."""
    config = context.config
    bars = progress()
    bars.disable = bars.disable or not progress_bar
    batch_size = 4 * config.max_concurrency
    number = sum(1 for _ in read_jsonl(context.out / "batches.jsonl"))
    with (
        bars,
        ThreadPoolExecutor(config.verify_concurrency, thread_name_prefix="synth-verify") as verifiers,
    ):
        task = bars.add_task(
            "synth: chunks x templates", total=len(planned), completed=len(planned) - len(todo)
        )
        iterator = iter(todo)
        while batch := list(islice(iterator, batch_size)):
            summary = _run_batch(context, pool, verifiers, batch, number, lambda: bars.advance(task))
            record(
                kind="tool_result",
                inputs=[u.id for u in batch],
                outputs=summary,
                reason=f"synth batch {number}: {summary['kept']} kept of {summary['candidates']}",
            )
            number += 1


class _Context:
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


def _payload(config: SynthConfig, unit: _Unit) -> dict[str, Any]:
    chunk, template = unit.chunk, unit.template
    values = {
        "chunk": chunk.text,
        "path": chunk.path,
        "language": chunk.language,
        "symbol": chunk.symbol or "",
        "module": MODULE,
    }
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


def _parse(candidate: _Candidate) -> None:
    """Fill the candidate's output and training document from its raw answer, or set why it is dropped."""
    unit, raw = candidate.unit, candidate.raw
    chunk, template = unit.chunk, unit.template
    values = {
        "chunk": chunk.text,
        "path": chunk.path,
        "language": chunk.language,
        "symbol": chunk.symbol or "",
        "module": MODULE,
    }
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


def _run_batch(
    context: _Context,
    pool: ChatPool,
    verifiers: ThreadPoolExecutor,
    batch: list[_Unit],
    number: int,
    advance: Any,
) -> dict[str, Any]:
    config = context.config
    started = time.perf_counter()
    generations: dict[int, Generation] = {}
    for i, generation in pool.generate([_payload(config, u) for u in batch]):
        generations[i] = generation
        advance()
    seconds = time.perf_counter() - started
    candidates: list[_Candidate] = []
    failed_units: list[tuple[_Unit, Generation]] = []
    for i, unit in enumerate(batch):
        generation = generations[i]
        if generation.error is not None:
            failed_units.append((unit, generation))
            continue
        for choice, text in enumerate(generation.texts):
            candidate = _Candidate(unit=unit, choice=choice, raw=text, generation=generation)
            _parse(candidate)
            if candidate.reason is None:
                finish = (
                    generation.finish_reasons[choice] if choice < len(generation.finish_reasons) else None
                )
                problem = quality_problem(candidate.output, finish_reason=finish, config=config.filters)
                if problem is not None:
                    candidate.reason, candidate.detail = problem
            if candidate.reason is None and context.decontaminator is not None:
                overlap = context.decontaminator.overlap(candidate.document)
                if overlap:
                    candidate.reason = "contaminated"
                    candidate.detail = (
                        f"{overlap} runs of {config.decontamination_ngram} words from the valid split"
                    )
            candidates.append(candidate)
    limits = (
        config.verify.sandbox_limits() if any(c.unit.template.verify != "none" for c in candidates) else None
    )
    futures = {
        id(c): verifiers.submit(_verify, context, c, limits)
        for c in candidates
        if c.reason is None and c.unit.template.verify != "none"
    }
    for c in candidates:
        if id(c) in futures:
            c.verdict = futures[id(c)].result()
            if not c.verdict.passed:
                c.reason, c.detail = c.verdict.verdict, c.verdict.detail
            elif c.verdict.novel_text:
                c.dedup_text = c.verdict.novel_text
    # near duplicates last, in unit order, so that only verified samples enter the index
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
    return _write_batch(context, batch, candidates, failed_units, number, seconds)


def _verify(context: _Context, candidate: _Candidate, limits: Any) -> Verdict:
    chunk = candidate.unit.chunk
    module = context.module(chunk.doc)
    if candidate.unit.template.verify == "tests":
        return verify_tests(chunk=chunk, module_source=module, code=candidate.output, limits=limits)
    return verify_docstring(chunk=chunk, module_source=module, code=candidate.output, limits=limits)


def _sample_id(candidate: _Candidate) -> str:
    return hashlib.sha256(f"{candidate.unit.id}\0{candidate.choice}".encode()).hexdigest()[:20]


def _provenance(context: _Context, candidate: _Candidate, number: int) -> dict[str, Any]:
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
    context: _Context,
    batch: list[_Unit],
    candidates: list[_Candidate],
    failed_units: list[tuple[_Unit, Generation]],
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


def _finish(
    config: SynthConfig,
    info: Any,
    context: _Context,
    *,
    model: str,
    planned: int,
    ran: int,
    templates: list[Template],
) -> SynthResult:
    out = config.out
    samples = read_jsonl(out / "samples.jsonl")
    rejects = read_jsonl(out / "rejects.jsonl")
    batches = read_jsonl(out / "batches.jsonl")
    dropped = Counter(r["reason"] for r in rejects)
    requests = sum(b["requests"] for b in batches)
    tokens = sum(b["completion_tokens"] for b in batches)
    seconds = sum(b["seconds"] for b in batches)
    candidates = sum(b["candidates"] for b in batches)
    dataset = None
    if samples:
        synthetic = {
            "source_dataset": context.dataset,
            "source_fingerprint": context.fingerprint,
            "model": model,
            "endpoint": config.llm.url,
            "templates": {t.name: t.version for t in templates},
            "sampling": config.sampling.model_dump(mode="json"),
        }
        write_dataset(
            out,
            samples=samples,
            corpus=info,
            valid_fraction=config.valid_fraction,
            seed=config.seed,
            config=config.model_dump(mode="json"),
            dropped=dict(dropped),
            seen=candidates,
            synthetic=synthetic,
        )
        dataset = out
    else:
        log.warning("synth: no sample was kept; no indexed dataset written (see %s)", out / "rejects.jsonl")
    result = SynthResult(
        out=out,
        samples_path=out / "samples.jsonl",
        rejects_path=out / "rejects.jsonl",
        report_path=out / "report.md",
        dataset=dataset,
        model=model,
        units_planned=planned,
        units_run=ran,
        candidates=candidates,
        kept=len(samples),
        dropped=dict(sorted(dropped.items())),
        requests=requests,
        completion_tokens=tokens,
        generation_seconds=round(seconds, 3),
        samples_per_s=round(candidates / seconds, 4) if seconds else 0.0,
        tokens_per_s=round(tokens / seconds, 2) if seconds else 0.0,
    )
    write_report(
        out / "report.md",
        result=result.model_dump(mode="json"),
        samples=samples,
        rejects=rejects,
        config=config.model_dump(mode="json"),
    )
    return result
