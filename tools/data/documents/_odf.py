"""OpenDocument ODT, ODS and ODP: no ODF library is needed, ``content.xml`` is read with the standard library
(expat refuses entity expansion bombs). Headings, paragraphs, tables as ``a | b`` rows, slides in order, and
the pictures with their ``svg:title``/``svg:desc`` alt text."""

from __future__ import annotations

import io
import zipfile
from xml.etree import ElementTree

from tools.data.documents._config import DocumentsConfig
from tools.data.documents._docx import table_text
from tools.data.documents._image import image_of
from tools.data.documents._types import DocumentProblem, Extraction
from tools.data.documents._zipped import check_zip

__all__ = ["ODF_VERSION", "extract_odf"]

ODF_VERSION = "1"  # of this extractor: bump when its output changes
_NS = {
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "svg": "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0",
    "xlink": "http://www.w3.org/1999/xlink",
}


def _tag(prefix: str, name: str) -> str:
    return f"{{{_NS[prefix]}}}{name}"


_P, _H = _tag("text", "p"), _tag("text", "h")
_SPACE, _TAB, _BREAK = _tag("text", "s"), _tag("text", "tab"), _tag("text", "line-break")
_TABLE, _ROW, _CELL = _tag("table", "table"), _tag("table", "table-row"), _tag("table", "table-cell")
_FRAME, _IMAGE = _tag("draw", "frame"), _tag("draw", "image")


def _text_of(element: ElementTree.Element) -> str:
    parts = [element.text or ""]
    for child in element:
        if child.tag == _SPACE:
            parts.append(" " * int(child.get(_tag("text", "c"), "1")))
        elif child.tag == _TAB:
            parts.append("\t")
        elif child.tag == _BREAK:
            parts.append("\n")
        else:
            parts.append(_text_of(child))
        parts.append(child.tail or "")
    return "".join(parts)


def extract_odf(data: bytes, config: DocumentsConfig) -> Extraction:
    check_zip(data, config, needs="content.xml")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            root = ElementTree.fromstring(archive.read("content.xml"))
            result = Extraction(type="odf", extractor="vibe-odf", version=ODF_VERSION, paged=False)
            lines: list[str] = []
            _walk(root, lines, archive, result, config)
    except (ElementTree.ParseError, zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise DocumentProblem("corrupt_document", f"content.xml cannot be read: {error}") from None
    text = "\n".join(lines)
    if len(text) > config.max_chars:
        text, result.truncated = text[: config.max_chars], True
    result.pages = [text]
    return result


def _walk(
    element: ElementTree.Element,
    lines: list[str],
    archive: zipfile.ZipFile,
    result: Extraction,
    config: DocumentsConfig,
) -> None:
    for child in element:
        if child.tag == _TABLE:
            rows = [[_text_of(cell) for cell in row.iter(_CELL)] for row in child.iter(_ROW)]
            text = table_text(rows)
            if text:
                lines.append(text)
        elif child.tag in (_P, _H):
            text = _text_of(child)
            if text.strip():
                lines.append(text)
            _walk(child, [], archive, result, config)  # frames anchored in a paragraph
        elif child.tag == _FRAME:
            _picture(child, archive, result, config)
            _walk(child, lines, archive, result, config)
        else:
            _walk(child, lines, archive, result, config)


def _picture(
    frame: ElementTree.Element, archive: zipfile.ZipFile, result: Extraction, config: DocumentsConfig
) -> None:
    image = frame.find(_IMAGE)
    href = image.get(_tag("xlink", "href"), "") if image is not None else ""
    if (
        not config.images
        or not href
        or href.startswith(("http:", "https:", "/"))
        or len(result.images) >= config.max_images
    ):
        return
    alt = " ".join(
        (node.text or "").strip()
        for node in (frame.find(_tag("svg", "title")), frame.find(_tag("svg", "desc")))
        if node is not None
    ).strip()
    try:
        blob = archive.read(href)
    except KeyError:
        return
    kept = image_of(blob, text=alt, source="alt_text", page=None, config=config)
    if kept is not None:
        result.images.append(kept)
