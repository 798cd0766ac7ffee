"""What an extractor returns: the text page by page, the images with their text, and embedded files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Child", "DocumentProblem", "ExtractedImage", "Extraction", "Problem"]

Problem = Literal[
    "encrypted", "corrupt_document", "document_limit", "extract_timeout", "extract_crashed", "ocr_unavailable"
]
TextSource = Literal["alt_text", "caption", "metadata", "ocr", "none"]


class DocumentProblem(Exception):
    """A document that cannot be read: ``problem`` is the reason recorded in files.jsonl, ``detail`` why."""

    def __init__(self, problem: Problem, detail: str) -> None:
        super().__init__(f"{problem}: {detail}")
        self.problem = problem
        self.detail = detail


@dataclass(slots=True)
class ExtractedImage:
    """An image found in a document (or the document itself) with the text that describes it."""

    data: bytes
    format: str  # file extension without the dot: png, jpeg, tiff, ...
    text: str  # the alt text, caption, metadata description or OCR text; "" if none
    text_source: TextSource
    page: int | None = None  # 1-based, in paged documents
    width: int = 0
    height: int = 0


@dataclass(slots=True)
class Child:
    """A file inside a document: an e-mail's attachment, an mbox's message. It is read as a file of its own."""

    name: str
    data: bytes


@dataclass(slots=True)
class Extraction:
    """One document's text: ``pages`` (PDF pages, slides, sheets; a single page when ``paged`` is False)."""

    type: str  # pdf, docx, pptx, xlsx, odt, html, eml, mbox, image
    extractor: str  # the library that read it
    version: str  # its version
    pages: list[str] = field(default_factory=list)
    paged: bool = True
    images: list[ExtractedImage] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)
    ocr: dict[str, Any] | None = None  # {"pages": [...], "confidence": mean, "low_confidence_pages": [...]}
    truncated: bool = False  # stopped at max_chars
    problem: Problem | None = None
    detail: str = ""

    @property
    def chars(self) -> int:
        return sum(map(len, self.pages))
