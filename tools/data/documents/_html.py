"""HTML with trafilatura (Apache-2.0): the main content (article text, tables), not the navigation, headers,
footers or comments; a page trafilatura finds no main content in falls back to all of its visible text.
Images embedded as ``data:`` URIs are kept with their alt text (linked ones are not fetched: no network)."""

from __future__ import annotations

import base64
import binascii
import re
from importlib.metadata import version

import lxml.html
import trafilatura

from tools.data.documents._config import DocumentsConfig
from tools.data.documents._image import image_of
from tools.data.documents._types import DocumentProblem, Extraction

__all__ = ["extract_html", "html_text"]

_DATA_URI = re.compile(r"^data:image/[a-z0-9.+-]+;base64,", re.IGNORECASE)


def html_text(html: str | bytes) -> tuple[str, str]:
    """(text, how): the main content by trafilatura, or (``"fallback"``) all visible text via lxml."""
    text = trafilatura.extract(
        html,
        include_comments=False,
        include_tables=True,
        include_images=False,
        favor_precision=True,
        deduplicate=False,
    )
    if text and text.strip():
        return text, "trafilatura"
    try:
        tree = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return "", "fallback"
    for node in tree.xpath("//script|//style|//noscript|//template"):
        node.drop_tree()
    return "\n".join(line.strip() for line in tree.text_content().splitlines() if line.strip()), "fallback"


def extract_html(data: bytes, config: DocumentsConfig) -> Extraction:
    try:
        text, how = html_text(data)
    except (ValueError, lxml.etree.ParserError) as error:
        raise DocumentProblem("corrupt_document", f"the HTML cannot be parsed: {error}") from None
    extractor = "trafilatura" if how == "trafilatura" else "lxml"
    result = Extraction(
        type="html",
        extractor=extractor,
        version=version(extractor),
        paged=False,
        pages=[text[: config.max_chars]],
    )
    result.truncated = len(text) > config.max_chars
    if config.images:
        _embedded_images(data, result, config)
    return result


def _embedded_images(data: bytes, result: Extraction, config: DocumentsConfig) -> None:
    try:
        tree = lxml.html.fromstring(data)
    except (ValueError, lxml.etree.ParserError):
        return
    for img in tree.iter("img"):
        src = img.get("src") or ""
        match = _DATA_URI.match(src)
        if match is None or len(result.images) >= config.max_images:
            continue
        try:
            blob = base64.b64decode(src[match.end() :], validate=False)
        except (binascii.Error, ValueError):
            continue
        alt = img.get("alt") or img.get("title") or ""
        kept = image_of(blob, text=alt, source="alt_text", page=None, config=config)
        if kept is not None:
            result.images.append(kept)
