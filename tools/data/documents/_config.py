"""What ingest does with documents (PDF, Office, ODF, HTML, e-mail, images) and the limits it reads them under."""

from __future__ import annotations

from typing import Literal

from pydantic import ByteSize, Field

from vibe.core.config import VibeConfig

__all__ = ["DocumentsConfig"]


class DocumentsConfig(VibeConfig):
    """Document extraction: which formats, OCR, e-mail headers, the image side dataset, and per-document limits.

    Every document is read in a worker process under ``memory_mb`` of address space and ``timeout_seconds`` of
    wall time; one that passes a limit is stopped and recorded (``document_limit``, ``extract_timeout``,
    ``extract_crashed``), and the ingest goes on with the next file.
    """

    enabled: bool = Field(True, description="read documents; False treats them as binary files, as before")
    max_bytes: ByteSize = Field(ByteSize(64 * 1024 * 1024), ge=1, description="larger documents are skipped")
    max_pages: int = Field(2000, ge=1, description="PDF pages, slides or sheets; more is a document_limit")
    max_chars: int = Field(20_000_000, ge=1, description="characters extracted from one document")
    max_unpacked_bytes: ByteSize = Field(
        ByteSize(512 * 1024 * 1024),
        ge=1,
        description="uncompressed size of a DOCX/PPTX/XLSX/ODF's zip members",
    )
    max_images: int = Field(100, ge=0, description="images kept (and OCR'd) per document")
    timeout_seconds: float = Field(60.0, gt=0, description="wall time for one document")
    memory_mb: int = Field(1024, ge=64, description="address space the extractor may add for one document")
    ocr: bool = Field(True, description="OCR scanned PDF pages and images with Tesseract")
    ocr_language: str = Field("eng", pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$", description="Tesseract -l")
    ocr_min_pixels: int = Field(
        4096, ge=0, description="images with fewer pixels (icons: 64x64 is 4096) are not OCR'd"
    )
    ocr_min_confidence: float = Field(60.0, ge=0, le=100, description="pages below it are flagged")
    email_headers: Literal["keep", "drop"] = Field("keep", description="From/To/Cc/Date/Subject in the text")
    html: Literal["main_content", "source"] = Field(
        "main_content", description="HTML: the main content (no navigation), or the markup as code"
    )
    images: bool = Field(True, description="keep image-text pairs in images/pairs.jsonl")
    min_image_side: int = Field(16, ge=1, description="smaller images (icons, spacers) are not kept")
