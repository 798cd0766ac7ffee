"""``ingest``: inputs -> a dataset directory, in three resumable stages.

1. collect   read every file (streaming), detect type/language/encoding, normalise, drop duplicates and near
             duplicates, scan for secrets and personal data, stage kept text on disk, assign splits by file;
             writes ``files.jsonl``. Documents (PDF, Office, ODF, HTML, e-mail, images) are extracted by
             :mod:`tools.data.documents` in a worker process first; their images go to ``images/``.
2. tokenizer train a byte-level BPE on (a capped, deterministic sample of) the staged train text, or copy
             the given one.
3. tokenize  encode the staged text in batches into Megatron indexed datasets, one document per file.

Each stage is keyed by a fingerprint of what it depends on (settings, and every input's size and mtime). A
stage whose marker holds the same fingerprint is skipped; anything else rebuilds it and every later stage.
Every output is written to a temporary name and renamed; ``manifest.json`` is written last.
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import hashlib
import json
import logging
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from rich.progress import Progress
from tokenizers import Tokenizer

from tools.data._config import IngestConfig
from tools.data._dedup import ExactDuplicates, NearDuplicates
from tools.data._detect import BINARY_SUFFIXES, decode, is_binary, language_of, normalise
from tools.data._indexed import IndexedWriter
from tools.data._manifest import (
    MANIFEST,
    SPLITS,
    DatasetInfo,
    atomic_copy,
    atomic_write_text,
    load_dataset_info,
)
from tools.data._report import summary_markdown
from tools.data._scan import decide, scan_text
from tools.data._sources import Admit, InputListing, RawFile, archive_kind, iter_files, list_inputs
from tools.data._staging import StagedDocs, StagingWriter, finish_staging, split_score
from tools.data._tokenizer import EOD, check_tokenizer, resolve_tokenizer_path, train_tokenizer
from tools.data.documents import PAIRS, DocumentReader, Extraction, ImagePairs, document_type
from vibe.core.errors import UserError
from vibe.core.log import progress

__all__ = ["ingest"]

log = logging.getLogger(__name__)

PIPELINE_VERSION = 2  # bump when a stage's output changes for the same inputs and settings
STAGES = ("collect", "tokenizer", "tokenize")
_TOKENIZE_BATCH_BYTES = 1 << 20  # bigger batches are no faster here and hold ~70 MB per MB of text
_TOKENIZE_BATCH_DOCS = 512
_MAX_DOCUMENT_NESTING = 4  # an mbox's message's attachment's attachment...


def ingest(
    config: IngestConfig, *, progress: bool = True, admit: Admit | None = None, admit_key: str = ""
) -> DatasetInfo:
    """Run (or resume) the ingest described by ``config``; returns the finished dataset's manifest.

    ``admit`` is asked about every file's resolved real path before it is read (the policy, per file; see
    :func:`iter_files`); ``admit_key`` names what it judges by (the policy files' hashes), so a collection
    made under another policy is never reused.
    """
    started = time.perf_counter()
    out = config.out
    if out.exists() and not out.is_dir():
        raise UserError(f"out: {out} is a file; pass a directory for the dataset")
    listing = list_inputs(config.inputs, exclude=config.exclude, skip=out)
    if not listing.entries:
        shown = ", ".join(map(str, config.inputs))
        raise UserError(
            f"no input files in {shown} (after excluding {', '.join(config.exclude)}); nothing to ingest"
        )
    staging = out / "staging"
    staging.mkdir(parents=True, exist_ok=True)

    key = {
        "version": PIPELINE_VERSION,
        **_collect_key(config, listing),
        **({"admit": admit_key} if admit_key else {}),
    }
    fingerprints = {"collect": _hash(key)}
    stages: dict[str, dict[str, Any]] = {}
    with _bars(progress) as bars:
        collected = _run_stage(
            out,
            "collect",
            fingerprints["collect"],
            stages,
            lambda: _collect(config, listing, bars, admit),
            outputs=[out / "files.jsonl", staging / "docs.npy", out / "images" / PAIRS],
        )
        fingerprints["tokenizer"] = _hash({"collect": fingerprints["collect"], **_tokenizer_key(config)})
        tokenizer = _run_stage(
            out,
            "tokenizer",
            fingerprints["tokenizer"],
            stages,
            lambda: _tokenizer(config, bars),
            outputs=[out / "tokenizer" / "tokenizer.json"],
        )
        fingerprints["tokenize"] = _hash(
            {"tokenizer": fingerprints["tokenizer"], "sha256": tokenizer["sha256"]}
            | ({"canaries": config.canaries, "repeats": config.canary_repeats} if config.canaries else {})
        )
        splits = _run_stage(
            out,
            "tokenize",
            fingerprints["tokenize"],
            stages,
            lambda: _tokenize(config, bars),
            outputs=[out / f"{split}_text_document{ext}" for split in SPLITS for ext in (".bin", ".idx")],
        )

    manifest = {
        "version": 1,
        "created": datetime.now(UTC).isoformat(),
        "config": config.model_dump(mode="json"),
        "fingerprint": fingerprints["tokenize"],
        "tokenizer": tokenizer,
        "splits": {split: splits[split] for split in SPLITS},
        **({"canaries": splits["canaries"]} if "canaries" in splits else {}),
        "files": {"seen": collected["seen"], "kept": collected["kept"], "dropped": collected["dropped"]},
        "findings": collected["findings"],
        "documents": collected["documents"],
        "stages": stages,
        "seconds": round(time.perf_counter() - started, 3),
    }
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    info = load_dataset_info(out)
    atomic_write_text(out / "report.md", summary_markdown(info))
    log.info("dataset written to %s in %.1f s", out, info.seconds)
    return info


# -- fingerprints and stages -------------------------------------------------------------------------------


def _hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _collect_key(config: IngestConfig, listing: InputListing) -> dict[str, Any]:
    return {
        "inputs": [str(p.resolve()) for p in config.inputs],
        "files": _hash(listing.entries),
        **config.model_dump(mode="json", include={"valid_fraction", "seed", "max_file_bytes", "exclude"}),
        "actions": config.actions.model_dump(mode="json"),
        "dedup": config.dedup.model_dump(mode="json"),
        "documents": config.documents.model_dump(mode="json"),
    }


def _tokenizer_key(config: IngestConfig) -> dict[str, Any]:
    given = config.tokenizer.path
    if given is not None:
        path = resolve_tokenizer_path(given)
        return {"given": hashlib.sha256(path.read_bytes()).hexdigest()}
    return {
        "vocab_size": config.tokenizer.vocab_size,
        "train_bytes": config.tokenizer.train_bytes,
        "seed": config.seed,
    }


def _run_stage(
    out: Path,
    name: str,
    fingerprint: str,
    stages: dict[str, dict[str, Any]],
    build: Callable[[], Any],
    *,
    outputs: list[Path],
) -> Any:
    """Reuse a finished stage with the same fingerprint and all its outputs, or (re)build it and
    invalidate the later ones."""
    marker = out / "staging" / f"{name}.done.json"
    if marker.is_file():
        done = json.loads(marker.read_text(encoding="utf-8"))
        missing = [str(p.relative_to(out)) for p in outputs if not p.is_file()]
        if done.get("fingerprint") != fingerprint:
            log.info("%s: inputs or settings changed (fingerprint %s): rebuilding", name, fingerprint[:12])
        elif missing:
            log.info("%s: finished earlier, but %s is missing: rebuilding", name, ", ".join(missing))
        else:
            log.info("%s: finished earlier with the same fingerprint %s: skipping", name, fingerprint[:12])
            stages[name] = {"reused": True, "seconds": 0.0}
            return done["result"]
    (out / MANIFEST).unlink(missing_ok=True)  # the directory is no longer a finished dataset
    for later in STAGES[STAGES.index(name) :]:
        (out / "staging" / f"{later}.done.json").unlink(missing_ok=True)
    started = time.perf_counter()
    result = build()
    _return_freed_memory()
    seconds = round(time.perf_counter() - started, 3)
    atomic_write_text(marker, json.dumps({"fingerprint": fingerprint, "seconds": seconds, "result": result}))
    stages[name] = {"reused": False, "seconds": seconds}
    return result


def _return_freed_memory() -> None:
    """Hand the memory a finished stage freed back to the OS, so that the stages' peaks do not add up.

    glibc keeps freed heap (the tokenizer trainer's, the dedup tables') mapped; malloc_trim releases it.
    """
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _bars(enabled: bool) -> Progress:
    bars = progress()
    bars.disable = bars.disable or not enabled
    return bars


# -- stage 1: collect --------------------------------------------------------------------------------------


class _Collector:
    """Decides the fate of each file and stages the kept text; one instance per collect stage."""

    def __init__(self, config: IngestConfig, staging: Path) -> None:
        self.config = config
        self.exact = ExactDuplicates()
        dedup = config.dedup
        self.near = (
            NearDuplicates(
                threshold=dedup.near_dup_threshold,
                num_perm=dedup.num_perm,
                shingle_words=dedup.shingle_words,
                seed=config.seed + 1,  # datasketch wants a seed; any fixed one will do
                signatures=staging / "minhash.bin",
            )
            if dedup.near_dup_threshold < 1.0
            else None
        )
        self.writer = StagingWriter(staging)
        self.reader = DocumentReader(config.documents)
        self.pairs = ImagePairs(config.out / "images")
        self.dropped: Counter[str] = Counter()
        self.findings: Counter[str] = Counter()
        self.types: Counter[str] = Counter()
        self.low_confidence_pages = 0
        self.seen = 0

    def close(self) -> None:
        self.writer.close()
        self.reader.close()
        self.pairs.close()
        if self.near is not None:
            self.near.close()

    def examine(self, raw: RawFile, depth: int = 0) -> Iterator[dict[str, Any]]:
        """The files.jsonl records of one file (and of the files inside it, when it is an e-mail or mbox); a
        kept file's text is staged and its index recorded as ``doc``. A pure container (an mbox) has no record
        of its own, as an archive has none."""
        record: dict[str, Any] = {"path": raw.path, "sha256": raw.sha256, "size": raw.size}
        record |= {"language": None, "encoding": None, "status": "dropped", "findings": []}
        children: list[RawFile] = []
        reason, detail = self._fate(raw, record, children, depth)
        if reason != "container":
            self.seen += 1
            if reason is not None:
                record["reason"] = reason
                if detail:
                    record["detail"] = detail
                self.dropped[reason] += 1
            self.findings.update(f["kind"] for f in record["findings"])
            yield record
        for child in children:
            yield from self.examine(child, depth + 1)

    def _fate(
        self, raw: RawFile, record: dict[str, Any], children: list[RawFile], depth: int
    ) -> tuple[str | None, str]:
        if raw.problem is not None:
            return raw.problem, raw.detail
        data = raw.data
        assert data is not None
        if not data:
            return "empty", ""
        documents = self.config.documents
        name = raw.path.rsplit("!", 1)[-1]
        kind = (
            document_type(name, data[:8], html=documents.html == "main_content")
            if documents.enabled
            else None
        )
        if kind is not None:
            return self._document(raw, kind, record, children, depth)
        if raw.size > self.config.max_file_bytes:  # read because documents may be larger
            return "too_large", ""
        if PurePosixPath(raw.path.lower()).suffix in BINARY_SUFFIXES or is_binary(data):
            return "binary", ""
        language = language_of(name, data[:256])
        if language is None:
            return "unsupported_type", f"no text or code type for {PurePosixPath(raw.path).suffix!r}"
        record["language"] = language
        decoded = decode(data)
        if decoded is None:
            return "undecodable", "not UTF-8/16/32 and no legacy encoding fits"
        record["encoding"] = decoded.encoding
        text = normalise(decoded.text)
        if not text.strip():
            return "empty", "only whitespace"
        return self._keep(raw, text, language, record)

    def _keep(
        self, raw: RawFile, text: str, language: str, record: dict[str, Any], pages: list[int] | None = None
    ) -> tuple[str | None, str]:
        """Deduplicate, scan and stage one file's normalised text. ``pages``: the offset at which each page
        of a paged document starts; its findings then name the page and the line on that page."""
        same = self.exact.check_and_add(raw.path, text)
        if same is not None:
            return "duplicate", f"same text as {same}"
        findings = scan_text(text, language=language)
        decision = decide(raw.path, text, findings, self.config.actions)
        if pages is not None:
            for finding, kept in zip(findings, decision.findings, strict=True):
                page = bisect.bisect_right(pages, finding.start)
                kept["page"] = page
                kept["line"] = text.count("\n", pages[page - 1], finding.start) + 1
        record["findings"] = decision.findings
        if decision.text is None:
            return decision.reason, ", ".join(map(_where, decision.findings))
        if self.near is not None:
            similar = self.near.check_and_add(raw.path, decision.text)
            if similar is not None:
                return "near_duplicate", f"{similar[1]:.2f} similar to {similar[0]}"
        record["status"] = "kept"
        record["doc"] = self.writer.add(decision.text, split_score(raw.path, self.config.seed))
        return None, ""

    def _document(
        self, raw: RawFile, kind: str, record: dict[str, Any], children: list[RawFile], depth: int
    ) -> tuple[str | None, str]:
        """A document: extracted in the worker, its images kept as pairs, its children (attachments, an
        mbox's messages) queued as files of their own, its text scanned and staged like any text."""
        documents = self.config.documents
        if raw.size > documents.max_bytes:
            return (
                "too_large",
                f"{raw.size:,} bytes, more than documents.max_bytes={int(documents.max_bytes):,}",
            )
        assert raw.data is not None
        result = self.reader.read(kind, raw.data)
        record["document"] = _document_record(result)
        self.types[kind] += 1
        if result.problem is not None:
            return result.problem, result.detail
        if result.ocr is not None:
            self.low_confidence_pages += len(result.ocr["low_confidence_pages"])
        pairs_before = self.pairs.pairs
        for image in result.images if documents.images else []:
            alt = normalise(image.text)
            if not alt.strip():
                continue  # a pair needs text: an image without alt text, caption or OCR text is not kept
            decision = decide(raw.path, alt, scan_text(alt, language="text"), self.config.actions)
            if decision.text is not None:
                self.pairs.add(image, source=raw.path, text=decision.text, findings=decision.findings)
        if result.children and depth >= _MAX_DOCUMENT_NESTING:
            record["document"]["skipped_children"] = len(result.children)
        elif result.children:
            for child in result.children:
                digest = hashlib.sha256(child.data).hexdigest()
                children.append(RawFile(f"{raw.path}!{child.name}", len(child.data), digest, data=child.data))
            if kind == "mbox":
                return "container", ""
        pages = [normalise(page) for page in result.pages]
        starts = [0]
        for page in pages[:-1]:
            starts.append(starts[-1] + len(page) + 2)  # the pages joined by blank lines
        text = "\n\n".join(pages)
        if not text.strip():
            pairs = self.pairs.pairs - pairs_before
            return "empty", "no text extracted" + (
                f" ({pairs} image-text pairs kept in images/)" if pairs else ""
            ) + (f" ({result.detail})" if result.detail else "")
        record["language"] = "text"
        return self._keep(raw, text, "text", record, pages=starts if result.paged else None)


def _collect(
    config: IngestConfig, listing: InputListing, bars: Progress, admit: Admit | None = None
) -> dict[str, Any]:
    out = config.out
    staging = out / "staging"  # holds no finished stage now: start it afresh
    shutil.rmtree(staging)
    staging.mkdir()
    spool = staging / "spool"
    spool.mkdir()
    part = staging / "files.part.jsonl"
    files_task = bars.add_task("scanning files", total=None)
    bytes_task = bars.add_task("reading input bytes", total=listing.total_bytes)
    collector = _Collector(config, staging)
    if _may_hold_documents(config, listing):
        collector.reader.start()  # the extractors import while the text files ahead of the documents are read
    try:
        with part.open("w", encoding="utf-8") as records:
            for raw in iter_files(
                config.inputs,
                max_file_bytes=_read_limit(config),
                exclude=config.exclude,
                on_bytes=lambda n: bars.advance(bytes_task, n),
                spool_dir=spool,
                skip=out,
                admit=admit,
            ):
                for record in collector.examine(raw):
                    records.write(json.dumps(record, ensure_ascii=False) + "\n")
                bars.advance(files_task)
    finally:
        collector.close()
        shutil.rmtree(spool, ignore_errors=True)
    bars.update(files_task, total=collector.seen, completed=collector.seen)
    bars.update(bytes_task, completed=listing.total_bytes)

    kept = collector.writer.documents
    docs = finish_staging(staging, valid_fraction=config.valid_fraction)
    _write_files_jsonl(part, out / "files.jsonl", docs["valid"])
    dropped = dict(sorted(collector.dropped.items()))
    if kept == 0:
        why = ", ".join(f"{n} {reason}" for reason, n in dropped.items()) or "none"
        raise UserError(
            f"nothing usable in {', '.join(map(str, config.inputs))}: saw {collector.seen} files, dropped all "
            f"({why}); see {out / 'files.jsonl'} for each file's reason, then add text or code files"
        )
    log.info("collect: %d files seen, %d kept, dropped %s", collector.seen, kept, dropped or "none")
    if kept == 1:
        log.warning("only one file kept: it goes to train and the valid split is empty (no held-out loss)")
    return {
        "seen": collector.seen,
        "kept": kept,
        "dropped": dropped,
        "findings": dict(sorted(collector.findings.items())),
        "documents": {
            "types": dict(sorted(collector.types.items())),
            "image_pairs": collector.pairs.pairs,
            "image_pairs_path": f"images/{PAIRS}",
            "ocr_low_confidence_pages": collector.low_confidence_pages,
        },
    }


def _may_hold_documents(config: IngestConfig, listing: InputListing) -> bool:
    """Whether an input file is a document by its name, or an archive that may hold one."""
    documents = config.documents
    if not documents.enabled:
        return False
    html = documents.html == "main_content"
    return any(
        document_type(path, b"", html=html) is not None or archive_kind(path) is not None
        for path, _, _ in listing.entries
    )


def _where(finding: dict[str, Any]) -> str:
    """``aws_access_key at page 2 line 3`` (paged documents) or ``email at line 4``."""
    page = f"page {finding['page']} " if "page" in finding else ""
    return f"{finding['kind']} at {page}line {finding['line']}"


def _read_limit(config: IngestConfig) -> int:
    """Files up to this size are read: text and code up to ``max_file_bytes``, documents up to theirs."""
    documents = config.documents
    return int(max(config.max_file_bytes, documents.max_bytes if documents.enabled else 0))


def _document_record(result: Extraction) -> dict[str, Any]:
    """What files.jsonl says of a document: its type, extractor and version, pages, characters, images, OCR."""
    record: dict[str, Any] = {
        "type": result.type,
        "extractor": result.extractor,
        "version": result.version,
        "pages": len(result.pages) if result.paged else None,
        "chars": result.chars,
        "images": len(result.images),
    }
    if result.children:
        record["children"] = len(result.children)
    if result.truncated:
        record["truncated"] = True
    if result.ocr is not None:
        record["ocr"] = result.ocr
    return record


def _write_files_jsonl(part: Path, target: Path, valid: np.ndarray) -> None:
    """Final files.jsonl: the staged records with each kept file's split in place of its doc index."""
    tmp = target.with_name(f".{target.name}.tmp")
    with part.open(encoding="utf-8") as source, tmp.open("w", encoding="utf-8") as sink:
        for line in source:
            record = json.loads(line)
            doc = record.pop("doc", None)
            if doc is not None:
                record["split"] = "valid" if valid[doc] else "train"
            sink.write(json.dumps(record, ensure_ascii=False) + "\n")
    tmp.replace(target)
    part.unlink()


# -- stage 2: tokenizer ------------------------------------------------------------------------------------


def _tokenizer(config: IngestConfig, bars: Progress) -> dict[str, Any]:
    target = config.out / "tokenizer" / "tokenizer.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    if config.tokenizer.path is not None:
        source = resolve_tokenizer_path(config.tokenizer.path)
        tokenizer = check_tokenizer(source)
        atomic_copy(source, target)
        log.info("tokenizer: reusing %s (vocab %d)", source, tokenizer.get_vocab_size())
        trained = False
    else:
        docs = StagedDocs(config.out / "staging")
        chosen = _tokenizer_sample(docs, cap=int(config.tokenizer.train_bytes), seed=config.seed)
        total = int(docs.docs["nbytes"][chosen].sum())
        task = bars.add_task("training tokenizer: reading text", total=total)
        log.info(
            "tokenizer: training vocab %d on %d documents (%d bytes)",
            config.tokenizer.vocab_size,
            len(chosen),
            total,
        )
        texts = docs.texts(chosen, on_bytes=lambda n: bars.advance(task, n))
        tokenizer = train_tokenizer(texts, vocab_size=config.tokenizer.vocab_size, length=len(chosen))
        tmp = target.with_name(f".{target.name}.tmp")
        tokenizer.save(str(tmp))
        tmp.replace(target)
        trained = True
    return {
        "path": "tokenizer/tokenizer.json",
        "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
        "vocab_size": tokenizer.get_vocab_size(),
        "eod_id": tokenizer.token_to_id(EOD),
        "trained": trained,
    }


def _tokenizer_sample(docs: StagedDocs, *, cap: int, seed: int) -> np.ndarray:
    """Train documents for the tokenizer: all of them, or a seeded random subset of about ``cap`` bytes."""
    train = np.flatnonzero(docs.docs["valid"] == 0)
    if len(train) == 0:  # a single kept document: it is in train, but guard anyway
        train = np.arange(len(docs.docs))
    sizes = docs.docs["nbytes"][train]
    total = int(sizes.sum())
    if total <= cap:
        return train
    keep = np.random.default_rng(seed).random(len(train)) < cap / total
    chosen = train[keep]
    within = np.cumsum(docs.docs["nbytes"][chosen]) <= cap
    return chosen[within] if within.any() else train[:1]


# -- stage 3: tokenize -------------------------------------------------------------------------------------


def _tokenize(config: IngestConfig, bars: Progress) -> dict[str, Any]:
    out = config.out
    tokenizer = Tokenizer.from_file(str(out / "tokenizer" / "tokenizer.json"))
    # a literal "<|endoftext|>" in the data is text, not the end of a document
    tokenizer.encode_special_tokens = True
    eod = tokenizer.token_to_id(EOD)
    vocab = tokenizer.get_vocab_size()
    docs = StagedDocs(out / "staging")
    writers = {
        split: IndexedWriter(out_dir=out, prefix=f"{split}_text_document", vocab_size=vocab)
        for split in SPLITS
    }
    task = bars.add_task("tokenizing", total=int(docs.docs["nbytes"].sum()))
    batches = docs.batches(batch_bytes=_TOKENIZE_BATCH_BYTES, max_docs=_TOKENIZE_BATCH_DOCS)
    for indices, encodings in _encode_ahead(tokenizer, batches):
        for i, encoding in zip(indices, encodings, strict=True):
            text_ids = encoding.ids  # a new list on every access: read it once
            ids = np.empty(len(text_ids) + 1, dtype=np.int64)  # (n_tokens + 1,): the text, then eod
            ids[:-1] = text_ids
            ids[-1] = eod
            writers["valid" if docs.docs["valid"][i] else "train"].add(ids)
        bars.advance(task, int(docs.docs["nbytes"][indices].sum()))
    canaries = plant_canaries(writers["train"], tokenizer, n=config.canaries, repeats=config.canary_repeats)
    for writer in writers.values():
        writer.finish()
    result: dict[str, Any] = {
        split: {
            "prefix": writer.prefix,
            "documents": writer.documents,
            "tokens": writer.tokens,
            "bytes": docs.bytes_of(split == "valid"),
        }
        for split, writer in writers.items()
    }
    log.info(
        "tokenize: %s",
        ", ".join(f"{s} {r['tokens']:,} tokens in {r['documents']} docs" for s, r in result.items()),
    )
    if canaries:
        result["canaries"] = canaries
    return result


def _encode_ahead(
    tokenizer: Tokenizer, batches: Iterator[tuple[np.ndarray, list[str]]]
) -> Iterator[tuple[np.ndarray, list[Any]]]:
    """(indices, encodings) of every batch, in order; the next batch is read and encoded while the caller
    writes this one.

    ``encode_batch_fast`` releases the GIL and runs on the tokenizer's own threads, so reading staged text,
    converting ids and writing the indexed dataset (Python, in this thread) no longer leave the cores idle
    between batches. At most two batches are in memory at once (one encoding, one being written).
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="encode") as pool:
        pending: tuple[np.ndarray, Future[list[Any]]] | None = None
        for indices, texts in batches:
            future = pool.submit(tokenizer.encode_batch_fast, texts, add_special_tokens=False)
            if pending is not None:
                yield pending[0], pending[1].result()
            pending = (indices, future)
        if pending is not None:
            yield pending[0], pending[1].result()


# -- canaries (the memorisation evaluation) -----------------------------------------------------------------

CANARY_ALPHABET, CANARY_LENGTH = "0123456789", 10


def plant_canaries(
    writer: IndexedWriter, tokenizer: Tokenizer, *, n: int, repeats: int
) -> dict[str, Any] | None:
    """Add ``n`` random canaries (``repeats`` documents each) to the train split; returns the manifest entry.

    A canary is ``"vibe canary NN code:" + 10 random digits`` (from the OS's randomness, so that nothing in
    the repository or the config can reproduce it); ``tools.eval`` ranks it among random candidates of the
    same format (exposure) and tries to extract it from its prefix."""
    if n == 0:
        return None
    import secrets

    eod = tokenizer.token_to_id(EOD)
    values = []
    for i in range(n):
        prefix = f"vibe canary {i:02d} code:"
        secret = "".join(secrets.choice(CANARY_ALPHABET) for _ in range(CANARY_LENGTH))
        ids = np.array(
            [*tokenizer.encode(prefix + secret, add_special_tokens=False).ids, eod], dtype=np.int64
        )
        for _ in range(repeats):
            writer.add(ids)
        values.append({"prefix": prefix, "secret": secret})
    log.info("planted %d canaries x %d in the train split (listed in manifest.json)", n, repeats)
    return {"alphabet": CANARY_ALPHABET, "length": CANARY_LENGTH, "repeats": repeats, "values": values}
