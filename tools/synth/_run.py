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

import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from policies import Gate
from tools.data import MANIFEST, load_dataset_info
from tools.synth._batch import BatchContext, run_batch
from tools.synth._chunks import Corpus
from tools.synth._client import ChatPool
from tools.synth._config import SynthConfig
from tools.synth._dataset import read_jsonl, write_dataset
from tools.synth._filters import Decontaminator
from tools.synth._records import Recorder, check_gate
from tools.synth._report import write_report
from tools.synth._templates import Template, resolve_templates
from tools.synth._units import Unit, plan_units, resume_state, settings_key
from vibe.core.errors import UserError
from vibe.core.log import progress
from vibe.ledger import Ledger

__all__ = ["SynthResult", "synthesize"]

log = logging.getLogger(__name__)


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
    record = Recorder(ledger, thread_id)
    check_gate(gate, ledger, thread_id, "llm.call", {"url": config.llm.url})
    with ChatPool(config.llm, max_concurrency=config.max_concurrency) as pool:
        check_gate(gate, ledger, thread_id, "synth.generate", _generate_attributes(config, pool.model))
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


def _generate_attributes(config: SynthConfig, model: str) -> dict[str, Any]:
    """What ``synth.generate`` is judged on: the generator, the volume, the endpoint and the corpus."""
    dataset = str(Path(config.dataset).resolve())
    return {"generator": model, "volume": config.samples, "url": config.llm.url, "paths": [dataset]}


def _prepare(
    config: SynthConfig, info: Any, templates: list[Template], *, model: str
) -> tuple[BatchContext, list[Unit], list[Unit]]:
    """The output directory, the units planned (chunk x template) and those an earlier run did not finish,
    and the context every batch shares (corpus index, decontaminator)."""
    units_wanted = config.samples // config.sampling.n
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)  # not a finished dataset while samples are added
    key = settings_key(config, templates, model, info.fingerprint)
    done = resume_state(out, key)
    corpus = Corpus(info)
    chunks = list(corpus.chunks(max_chars=config.chunks.max_chars, min_chars=config.chunks.min_chars))
    planned = plan_units(chunks, templates, units=units_wanted, seed=config.chunks.seed)
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
    context = BatchContext(
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
    context: BatchContext,
    pool: ChatPool,
    *,
    planned: list[Unit],
    todo: list[Unit],
    record: Recorder,
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
            summary = run_batch(context, pool, verifiers, batch, number, lambda: bars.advance(task))
            record(
                kind="tool_result",
                inputs=[u.id for u in batch],
                outputs=summary,
                reason=f"synth batch {number}: {summary['kept']} kept of {summary['candidates']}",
            )
            number += 1


def _finish(
    config: SynthConfig,
    info: Any,
    context: BatchContext,
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
    dataset = _write_synthetic_dataset(
        config,
        info,
        context,
        samples=samples,
        dropped=dropped,
        seen=candidates,
        model=model,
        templates=templates,
    )
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


def _write_synthetic_dataset(
    config: SynthConfig,
    info: Any,
    context: BatchContext,
    *,
    samples: list[dict[str, Any]],
    dropped: Counter[str],
    seen: int,
    model: str,
    templates: list[Template],
) -> Path | None:
    """``out`` as an indexed dataset in the ingest's layout (None: no sample was kept, nothing written)."""
    out = config.out
    if not samples:
        log.warning("synth: no sample was kept; no indexed dataset written (see %s)", out / "rejects.jsonl")
        return None
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
        seen=seen,
        synthetic=synthetic,
    )
    return out
