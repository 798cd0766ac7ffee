"""Which document type a file is, from its name (and, for PDF, its first bytes)."""

from __future__ import annotations

from pathlib import PurePosixPath

__all__ = ["document_type"]

_TYPES: dict[str, tuple[str, ...]] = {
    "pdf": (".pdf",),
    "docx": (".docx", ".docm"),
    "pptx": (".pptx", ".pptm"),
    "xlsx": (".xlsx", ".xlsm"),
    "odf": (".odt", ".ods", ".odp"),
    "html": (".html", ".htm", ".xhtml"),
    "eml": (".eml",),
    "mbox": (".mbox", ".mbx"),
    "image": (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif", ".bmp", ".webp"),
}
_BY_SUFFIX = {suffix: kind for kind, suffixes in _TYPES.items() for suffix in suffixes}


def document_type(name: str, head: bytes, *, html: bool = True) -> str | None:
    """``pdf``, ``docx``, ``pptx``, ``xlsx``, ``odf``, ``html``, ``eml``, ``mbox`` or ``image``; None for others.

    ``html=False`` leaves HTML to the text path (read as markup). A file starting ``%PDF-`` is a PDF whatever
    its name.
    """
    kind = _BY_SUFFIX.get(PurePosixPath(name.lower()).suffix)
    if kind is None and head.startswith(b"%PDF-"):
        return "pdf"
    if kind == "html" and not html:
        return None
    return kind
