"""Word DOCX with python-docx (MIT): paragraphs and tables (rows as ``a | b | c``) in document order, and the
pictures with their alt text (or the Caption paragraph after them)."""

from __future__ import annotations

import io
from importlib.metadata import version

import docx
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph

from tools.data.documents._config import DocumentsConfig
from tools.data.documents._image import image_of
from tools.data.documents._types import DocumentProblem, ExtractedImage, Extraction
from tools.data.documents._zipped import check_zip

__all__ = ["extract_docx", "table_text"]


def table_text(rows: list[list[str]]) -> str:
    """A table as text: one line per row, cells joined by `` | `` (a merged cell repeated once)."""
    lines = []
    for row in rows:
        cells = [c for i, c in enumerate(row) if i == 0 or c != row[i - 1]]
        if any(cell.strip() for cell in cells):
            lines.append(" | ".join(" ".join(cell.split()) for cell in cells))
    return "\n".join(lines)


def extract_docx(data: bytes, config: DocumentsConfig) -> Extraction:
    check_zip(data, config, needs="word/document.xml")
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as error:  # python-docx raises KeyError, ValueError, lxml errors...: all mean "broken"
        raise DocumentProblem("corrupt_document", f"python-docx cannot read it: {error}") from None
    result = Extraction(type="docx", extractor="python-docx", version=version("python-docx"), paged=False)
    parts: list[str] = []
    waiting: list[tuple[bytes, str]] = []  # pictures of the last paragraph without alt text: (blob, "")
    chars = 0
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            text = table_text([[cell.text for cell in row.cells] for row in block.rows])
        else:
            text = block.text
            style = block.style.name if block.style is not None else ""
            caption = text if style.lower().startswith("caption") else ""
            _keep(result, waiting, caption, config)
            waiting = _pictures(document, block) if config.images else []
        if text.strip():
            parts.append(text)
            chars += len(text)
        if chars > config.max_chars:
            result.truncated = True
            break
    _keep(result, waiting, "", config)
    result.pages = ["\n".join(parts)]
    return result


def _pictures(document: docx.document.Document, paragraph: Paragraph) -> list[tuple[bytes, str]]:
    """(image bytes, alt text) of each picture drawn in ``paragraph``."""
    found = []
    for drawing in paragraph._p.iter(qn("w:drawing")):
        props = next(drawing.iter(qn("wp:docPr")), None)
        blip = next(drawing.iter(qn("a:blip")), None)
        rid = blip.get(qn("r:embed")) if blip is not None else None
        part = document.part.related_parts.get(rid) if rid else None
        if part is None:
            continue
        alt = (props.get("descr") or props.get("title") or "") if props is not None else ""
        found.append((part.blob, alt))
    return found


def _keep(
    result: Extraction, pictures: list[tuple[bytes, str]], caption: str, config: DocumentsConfig
) -> None:
    for blob, alt in pictures:
        if len(result.images) >= config.max_images:
            return
        text, source = (alt, "alt_text") if alt.strip() else (caption, "caption")
        image: ExtractedImage | None = image_of(blob, text=text, source=source, page=None, config=config)
        if image is not None:
            result.images.append(image)
