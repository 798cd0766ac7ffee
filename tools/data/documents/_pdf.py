"""PDF with pypdf (BSD-3-Clause): text page by page in content order; pages without a text layer are OCR'd
from their images (a scan is one image per page); encrypted and corrupt files are named as such."""

from __future__ import annotations

import io
import logging

import pypdf
from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError, PdfStreamError

from tools.data.documents._config import DocumentsConfig
from tools.data.documents._image import OcrPages, image_of, open_image
from tools.data.documents._types import DocumentProblem, Extraction

__all__ = ["extract_pdf"]

_SCANNED_CHARS = 8  # a page with fewer characters of text than this is taken for a scan
logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed files warn on every object


def extract_pdf(data: bytes, config: DocumentsConfig) -> Extraction:
    result = Extraction(type="pdf", extractor="pypdf", version=pypdf.__version__)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not _opens_without_password(reader):
            raise DocumentProblem("encrypted", "the PDF is encrypted and needs a password to open")
        count = _declared_pages(reader)  # before pypdf walks the page tree: a 20,000-page file stops here
        if count <= config.max_pages:
            count = len(reader.pages)
    except DocumentProblem:
        raise
    except (PdfReadError, PdfStreamError, ValueError, KeyError, TypeError, AttributeError, OSError) as error:
        raise DocumentProblem("corrupt_document", f"pypdf cannot read it: {error}") from None
    if count > config.max_pages:
        raise DocumentProblem(
            "document_limit", f"{count} pages, more than documents.max_pages={config.max_pages}"
        )
    ocr = OcrPages(config)
    chars = 0
    for number, page in enumerate(reader.pages, start=1):
        try:
            text = page.extract_text() or ""
        except (PdfReadError, PdfStreamError, ValueError, KeyError, TypeError) as error:
            raise DocumentProblem("corrupt_document", f"page {number}: {error}") from None
        images = _page_images(page, number) if config.images or config.ocr else []
        scan = None
        if len(text.strip()) < _SCANNED_CHARS and config.ocr and images:
            scan = max(images, key=len)  # the page itself
            text = ocr.read(open_image(scan), number)
        for blob in images:
            if config.images and len(result.images) < config.max_images:
                caption, source = (text, "ocr") if blob is scan else ("", "none")
                kept = image_of(blob, text=caption, source=source, page=number, config=config)
                if kept is not None:
                    result.images.append(kept)
        chars += len(text)
        if chars > config.max_chars:
            result.truncated = True
            break
        result.pages.append(text)
    result.ocr = ocr.summary()
    return result


def _declared_pages(reader: pypdf.PdfReader) -> int:
    """The page count the page tree's root declares (0 if it declares none)."""
    count = reader.root_object["/Pages"].get_object().get("/Count", 0)
    return int(count) if isinstance(count, int) else 0


def _opens_without_password(reader: pypdf.PdfReader) -> bool:
    """An owner-password-only PDF (printing or copying restricted) opens with the empty user password."""
    try:
        return bool(reader.decrypt(""))
    except (FileNotDecryptedError, DependencyError, NotImplementedError, PdfReadError):
        return False


def _page_images(page: pypdf.PageObject, number: int) -> list[bytes]:
    """The encoded bytes of a page's images; a page whose images do not decode has none."""
    try:
        return [image.data for image in page.images]
    except Exception:  # pypdf raises many kinds on damaged image streams: the text still counts
        logging.getLogger(__name__).debug("page %d: images unreadable", number, exc_info=True)
        return []
