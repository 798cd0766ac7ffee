"""PowerPoint PPTX with python-pptx (MIT): one page per slide (title first, then text frames and tables in
shape order, then the speaker notes), and the pictures with their alt text."""

from __future__ import annotations

import io
from importlib.metadata import version

import pptx
from pptx.enum.shapes import MSO_SHAPE_TYPE

from tools.data.documents._config import DocumentsConfig
from tools.data.documents._docx import table_text
from tools.data.documents._image import image_of
from tools.data.documents._types import DocumentProblem, Extraction
from tools.data.documents._zipped import check_zip

__all__ = ["extract_pptx"]


def extract_pptx(data: bytes, config: DocumentsConfig) -> Extraction:
    check_zip(data, config, needs="ppt/presentation.xml")
    try:
        presentation = pptx.Presentation(io.BytesIO(data))
        slides = list(presentation.slides)
    except Exception as error:  # python-pptx raises KeyError, ValueError, lxml errors...: all mean "broken"
        raise DocumentProblem("corrupt_document", f"python-pptx cannot read it: {error}") from None
    if len(slides) > config.max_pages:
        raise DocumentProblem(
            "document_limit", f"{len(slides)} slides, more than documents.max_pages={config.max_pages}"
        )
    result = Extraction(type="pptx", extractor="python-pptx", version=version("python-pptx"))
    chars = 0
    for number, slide in enumerate(slides, start=1):
        lines: list[str] = []
        title = slide.shapes.title
        for shape in sorted(slide.shapes, key=lambda s: s is not title):  # the title first
            _shape_text(shape, lines, result, number, config)
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                lines += ["", "Notes:", notes.text]
        text = "\n".join(lines)
        chars += len(text)
        if chars > config.max_chars:
            result.truncated = True
            break
        result.pages.append(text)
    return result


def _shape_text(shape, lines: list[str], result: Extraction, page: int, config: DocumentsConfig) -> None:
    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        for inner in shape.shapes:
            _shape_text(inner, lines, result, page, config)
        return
    if shape.has_text_frame and shape.text_frame.text.strip():
        lines.append(shape.text_frame.text)
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
        lines.append(table_text(rows))
    if (
        shape.shape_type == MSO_SHAPE_TYPE.PICTURE
        and config.images
        and len(result.images) < config.max_images
    ):
        props = shape._element._nvXxPr.cNvPr
        alt = props.get("descr") or props.get("title") or ""
        try:
            blob = shape.image.blob
        except (KeyError, ValueError, AttributeError):
            return
        image = image_of(blob, text=alt, source="alt_text", page=page, config=config)
        if image is not None:
            result.images.append(image)
