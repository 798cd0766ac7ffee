"""One document in, one :class:`Extraction` out: the dispatch by type. Runs inside the worker process."""

from __future__ import annotations

import platform
from collections.abc import Callable
from importlib.metadata import version

from tools.data.documents._config import DocumentsConfig
from tools.data.documents._docx import extract_docx
from tools.data.documents._email import extract_eml, extract_mbox
from tools.data.documents._html import extract_html
from tools.data.documents._image import extract_image
from tools.data.documents._odf import ODF_VERSION, extract_odf
from tools.data.documents._pdf import extract_pdf
from tools.data.documents._pptx import extract_pptx
from tools.data.documents._types import DocumentProblem, Extraction
from tools.data.documents._xlsx import extract_xlsx

__all__ = ["EXTRACTORS", "extract"]

Extractor = Callable[[bytes, DocumentsConfig], Extraction]
# type -> (function, library, its version)
EXTRACTORS: dict[str, tuple[Extractor, str, str]] = {
    "pdf": (extract_pdf, "pypdf", version("pypdf")),
    "docx": (extract_docx, "python-docx", version("python-docx")),
    "pptx": (extract_pptx, "python-pptx", version("python-pptx")),
    "xlsx": (extract_xlsx, "openpyxl", version("openpyxl")),
    "odf": (extract_odf, "vibe-odf", ODF_VERSION),
    "html": (extract_html, "trafilatura", version("trafilatura")),
    "eml": (extract_eml, "python-email", platform.python_version()),
    "mbox": (extract_mbox, "python-email", platform.python_version()),
    "image": (extract_image, "pillow", version("pillow")),
}


def extract(kind: str, data: bytes, config: DocumentsConfig) -> Extraction:
    """The text, images and children of one document; a document that cannot be read carries ``problem``."""
    function, library, library_version = EXTRACTORS[kind]
    try:
        return function(data, config)
    except DocumentProblem as problem:
        return Extraction(kind, library, library_version, problem=problem.problem, detail=problem.detail)
    except RecursionError:
        return Extraction(
            kind, library, library_version, problem="corrupt_document", detail="nested too deeply"
        )
