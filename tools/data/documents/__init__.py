"""Documents into text: PDF, DOCX, PPTX, XLSX, ODF, HTML, e-mail (.eml, .mbox) and images (OCR).

:func:`document_type` says whether a file is a document; a :class:`DocumentReader` reads one in a worker
process under the limits of :class:`DocumentsConfig` and returns an :class:`Extraction`: the text page by page,
the images found with their alt text or caption, the embedded files (attachments, messages) to read next,
the OCR confidence, or the ``problem`` that stopped it. :class:`ImagePairs` writes the image side dataset.

What ingest records (``files.jsonl``): a document's line has ``document: {type, extractor, version, pages,
chars, images[, children, truncated, ocr]}`` -- ``pages`` counts PDF pages, slides or sheets and is null for
reflowable formats (DOCX, ODF, HTML, e-mail); ``ocr`` is ``{engine, version, language, confidence, pages:
[{page, confidence, words}], low_confidence_pages}``. Its findings carry ``page`` (paged formats) and the
``line`` on that page. Attachments and an mbox's messages get lines of their own (``inbox.mbox!00002.eml!
report.pdf``). Unreadable documents are dropped with reason ``encrypted``, ``corrupt_document``,
``document_limit``, ``extract_timeout``, ``extract_crashed`` or ``ocr_unavailable`` and a ``detail``.
``images/pairs.jsonl``: ``{image, sha256, format, width, height, bytes, source, page, text, text_source,
findings}`` per pair, the image file at ``images/<image>``; nothing trains on them yet.

Libraries, all permissively licensed: pypdf (BSD-3-Clause), python-docx, python-pptx, openpyxl (MIT),
trafilatura (Apache-2.0) with lxml (BSD-3-Clause), Pillow (MIT-CMU), the ``tesseract`` binary (Apache-2.0);
ODF and e-mail with the standard library.
"""

from tools.data.documents._config import DocumentsConfig
from tools.data.documents._kinds import document_type
from tools.data.documents._pairs import PAIRS, ImagePairs
from tools.data.documents._types import Child, ExtractedImage, Extraction
from tools.data.documents._worker import DocumentReader

__all__ = [
    "PAIRS",
    "Child",
    "DocumentReader",
    "DocumentsConfig",
    "ExtractedImage",
    "Extraction",
    "ImagePairs",
    "document_type",
]
