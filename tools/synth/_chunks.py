"""Chunks of an ingested corpus: the pieces of source text a prompt is about.

The ingest keeps every kept file's normalised (and redacted) text in ``staging/`` and lists the files in
``files.jsonl`` (kept files in staging order, each with its split). A Python file is cut at its top-level
functions and classes (each chunk names its ``symbol``); other code and documents are cut at blank lines
into pieces of at most ``max_chars``. A chunk's id is ``PATH:FIRST-LAST`` (1-based lines) and its hash is
the sha256 of its text, so a sample can always be traced back to exactly what it was made from.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from tools.data import DatasetInfo, StagedDocs
from vibe.core.errors import UserError

__all__ = ["DOCUMENT_LANGUAGES", "Chunk", "Corpus", "chunk_text"]

DOCUMENT_LANGUAGES = frozenset({"markdown", "rst", "text", "latex", "asciidoc", "org"})


@dataclass(frozen=True, kw_only=True)
class Chunk:
    id: str
    sha256: str
    doc: int  # index of the document in the ingest's staging
    path: str
    language: str
    kind: str  # "code" or "document"
    text: str
    first_line: int
    last_line: int
    symbol: str | None = None  # the top-level function or class of a Python chunk


class Corpus:
    """The kept documents of an ingested dataset, with their paths, languages and splits."""

    def __init__(self, info: DatasetInfo) -> None:
        root = info.root
        assert root is not None
        staging = root / "staging"
        if not (staging / "docs.npy").is_file() or not (root / "files.jsonl").is_file():
            raise UserError(
                f"dataset: {root} has no staged text (staging/docs.npy or files.jsonl is missing); "
                f"re-run `vibe data ingest ... --out {root}` to restore it"
            )
        self.info = info
        self._docs = StagedDocs(staging)
        self.paths: list[str] = []
        self.languages: list[str] = []
        with (root / "files.jsonl").open(encoding="utf-8") as records:
            for line in records:
                record = json.loads(line)
                if record.get("status") == "kept":
                    self.paths.append(record["path"])
                    self.languages.append(record.get("language") or "text")
        if len(self.paths) != len(self._docs.docs):
            raise UserError(
                f"dataset: {root}: files.jsonl lists {len(self.paths)} kept files but staging holds "
                f"{len(self._docs.docs)}; re-run the ingest"
            )
        self.valid = self._docs.docs["valid"].astype(bool)

    def texts(self, *, valid: bool) -> Iterator[tuple[int, str]]:
        """(doc index, text) of every document of one split."""
        indices = np.flatnonzero(self.valid == valid)
        yield from zip(indices.tolist(), self._docs.texts(indices), strict=True)

    def chunks(self, *, max_chars: int, min_chars: int) -> Iterator[Chunk]:
        """Every chunk of the train split, in document order."""
        for doc, text in self.texts(valid=False):
            yield from chunk_text(
                text,
                doc=doc,
                path=self.paths[doc],
                language=self.languages[doc],
                max_chars=max_chars,
                min_chars=min_chars,
            )

    def text(self, doc: int) -> str:
        return next(self._docs.texts(np.array([doc])))


def _make(
    text: str, *, doc: int, path: str, language: str, first: int, last: int, symbol: str | None
) -> Chunk:
    return Chunk(
        id=f"{path}:{first}-{last}",
        sha256=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
        doc=doc,
        path=path,
        language=language,
        kind="document" if language in DOCUMENT_LANGUAGES else "code",
        text=text,
        first_line=first,
        last_line=last,
        symbol=symbol,
    )


def chunk_text(
    text: str, *, doc: int, path: str, language: str, max_chars: int, min_chars: int
) -> Iterator[Chunk]:
    """The chunks of one document (see the module docstring)."""
    lines = text.splitlines(keepends=True)
    if language == "python":
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            tree = None
        if tree is not None:
            for node in tree.body:
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    continue
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                last = node.end_lineno or node.lineno
                piece = "".join(lines[first - 1 : last])
                if min_chars <= len(piece) <= max_chars:
                    yield _make(
                        piece, doc=doc, path=path, language=language, first=first, last=last, symbol=node.name
                    )
            return
    yield from _paragraph_chunks(
        lines, doc=doc, path=path, language=language, max_chars=max_chars, min_chars=min_chars
    )


def _paragraph_chunks(
    lines: list[str], *, doc: int, path: str, language: str, max_chars: int, min_chars: int
) -> Iterator[Chunk]:
    """Blank-line separated blocks packed into chunks of at most ``max_chars`` (a longer block is cut)."""

    def flush(start: int, end: int) -> Iterator[Chunk]:
        piece = "".join(lines[start:end]).strip("\n")[:max_chars]
        if len(piece) >= min_chars:
            yield _make(piece, doc=doc, path=path, language=language, first=start + 1, last=end, symbol=None)

    blocks: list[tuple[int, int]] = []  # [first, end) line indices of non-blank runs
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        j = i
        while j < len(lines) and lines[j].strip():
            j += 1
        blocks.append((i, j))
        i = j
    start: int | None = None
    end, size = 0, 0
    for a, b in blocks:
        block = sum(len(line) for line in lines[a:b])
        if start is not None and size + block > max_chars:
            yield from flush(start, end)
            start, size = None, 0
        if block > max_chars:  # one long block: cut it at line boundaries
            s, size = a, 0
            for k in range(a, b):
                if size and size + len(lines[k]) > max_chars:
                    yield from flush(s, k)
                    s, size = k, 0
                size += len(lines[k])
            start, end = s, b
            continue
        start = a if start is None else start
        end, size = b, size + block
    if start is not None:
        yield from flush(start, end)
