"""Images: standalone PNG/JPEG/TIFF/... files (OCR text into the corpus, the image into the side dataset) and
the helpers the other extractors use to open, check and OCR the images they find."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from typing import Any

import PIL
from PIL import Image, ImageSequence

from tools.data.documents._config import DocumentsConfig
from tools.data.documents._ocr import ocr_image, tesseract_version
from tools.data.documents._types import DocumentProblem, ExtractedImage, Extraction, TextSource

__all__ = ["OcrPages", "extract_image", "image_of", "open_image"]

_MAX_PIXELS = 60_000_000  # a decompression bomb past this is refused, not decoded
Image.MAX_IMAGE_PIXELS = _MAX_PIXELS


def open_image(data: bytes) -> Image.Image:
    """Open (and fully decode) an image; a corrupt one or a decompression bomb is a DocumentProblem."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DocumentProblem("document_limit", f"image too large to decode: {error}") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise DocumentProblem("corrupt_document", f"not a readable image: {error}") from None
    return image


def image_of(
    data: bytes, *, text: str, source: TextSource, page: int | None, config: DocumentsConfig
) -> ExtractedImage | None:
    """An image found in a document, if it opens and is not an icon-sized sliver; else None."""
    try:
        image = open_image(data)
    except DocumentProblem:
        return None
    if min(image.size) < config.min_image_side:
        return None
    fmt = (image.format or "png").lower()
    return ExtractedImage(data, fmt, text.strip(), source if text.strip() else "none", page, *image.size)


@dataclass
class OcrPages:
    """OCR of a document's pages: each page's confidence, the mean, and which pages fall below the minimum."""

    config: DocumentsConfig
    pages: list[dict[str, Any]] = field(default_factory=list)

    def read(self, image: Image.Image, page: int) -> str:
        result = ocr_image(image, language=self.config.ocr_language, timeout=self.config.timeout_seconds)
        self.pages.append({"page": page, "confidence": result.confidence, "words": result.words})
        return result.text

    def summary(self) -> dict[str, Any] | None:
        if not self.pages:
            return None
        words = sum(p["words"] for p in self.pages)
        mean = sum(p["confidence"] * p["words"] for p in self.pages) / words if words else 0.0
        low = [p["page"] for p in self.pages if p["confidence"] < self.config.ocr_min_confidence]
        return {
            "engine": "tesseract",
            "version": tesseract_version(),
            "language": self.config.ocr_language,
            "confidence": round(mean, 1),
            "pages": self.pages,
            "low_confidence_pages": low,
        }


def _caption(image: Image.Image) -> str:
    """A description stored in the file itself: PNG text chunks, TIFF/EXIF ImageDescription, JPEG comment."""
    for key in ("Description", "Title", "Caption", "comment"):
        value = image.info.get(key)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value.strip():
            return value.strip()
    description = image.getexif().get(0x010E)
    return description.strip() if isinstance(description, str) else ""


def extract_image(data: bytes, config: DocumentsConfig) -> Extraction:
    """A standalone image: each frame OCR'd as a page; the image kept with its caption (or its OCR text)."""
    image = open_image(data)
    result = Extraction(type="image", extractor="pillow", version=PIL.__version__)
    ocr = OcrPages(config)
    if config.ocr and image.width * image.height < config.ocr_min_pixels:
        result.detail = (  # an icon holds no text worth a Tesseract run (a second each, on a code archive's many)
            f"{image.width}x{image.height} px, under documents.ocr_min_pixels={config.ocr_min_pixels}: not OCR'd"
        )
    elif config.ocr:
        for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
            if number > config.max_pages:
                raise DocumentProblem(
                    "document_limit", f"more than documents.max_pages={config.max_pages} frames"
                )
            result.pages.append(ocr.read(frame, number))
        result.extractor, result.version = "tesseract", tesseract_version()
        result.ocr = ocr.summary()
    caption = _caption(image)
    text, source = (caption, "metadata") if caption else ("\n\n".join(result.pages).strip(), "ocr")
    kept = image_of(data, text=text, source=source, page=None, config=config)
    if kept is not None:
        result.images.append(kept)
    return result
