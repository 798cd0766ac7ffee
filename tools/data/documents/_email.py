"""E-mail with the standard library: an ``.eml`` is its headers (kept or dropped by ``email_headers``) and
body text (plain, else the HTML's main content); its attachments come back as children, read as files of
their own. An ``.mbox`` is a container of messages: each comes back as a child ``NNNNN.eml``."""

from __future__ import annotations

import email
import email.policy
import platform
import re
from email.message import EmailMessage

from tools.data.documents._config import DocumentsConfig
from tools.data.documents._html import html_text
from tools.data.documents._types import Child, DocumentProblem, Extraction

__all__ = ["extract_eml", "extract_mbox"]

_HEADERS = ("From", "To", "Cc", "Date", "Subject")
_FROM_LINE = re.compile(rb"^From .*$", re.MULTILINE)
_MAX_CHILDREN = 10_000


def extract_eml(data: bytes, config: DocumentsConfig) -> Extraction:
    result = Extraction(type="eml", extractor="python-email", version=platform.python_version(), paged=False)
    try:
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        lines = []
        if config.email_headers == "keep":
            lines = [f"{name}: {message[name]}" for name in _HEADERS if message[name] is not None]
        body = message.get_body(preferencelist=("plain", "html"))
        text = ""
        if body is not None:
            content = body.get_content()
            text = html_text(content)[0] if body.get_content_type() == "text/html" else content
        for number, part in enumerate(message.iter_attachments(), start=1):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes) and payload:
                result.children.append(Child(_safe_name(part.get_filename(), number, part), payload))
    except (ValueError, TypeError, LookupError, AttributeError, AssertionError) as error:
        raise DocumentProblem("corrupt_document", f"the message cannot be parsed: {error}") from None
    full = "\n".join(lines) + ("\n\n" if lines else "") + (text or "").strip()
    result.pages = [full[: config.max_chars]]
    result.truncated = len(full) > config.max_chars
    return result


def _safe_name(filename: str | None, number: int, part: EmailMessage) -> str:
    """An attachment's name for display: its base name only (no directories), or ``attachment-N.ext``."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip().lstrip(".")
    if name:
        return name.replace("!", "_")
    subtype = part.get_content_subtype()
    return f"attachment-{number}.{subtype if subtype.isalnum() else 'bin'}"


def extract_mbox(data: bytes, config: DocumentsConfig) -> Extraction:
    """Split at the ``From `` lines that start each message (mboxrd's ``>From `` quoting is undone)."""
    starts = [m.start() for m in _FROM_LINE.finditer(data)]
    if not starts or starts[0] != 0:
        raise DocumentProblem("corrupt_document", "not an mbox: it does not start with a 'From ' line")
    if len(starts) > _MAX_CHILDREN:
        raise DocumentProblem("document_limit", f"{len(starts)} messages (more than {_MAX_CHILDREN})")
    result = Extraction(type="mbox", extractor="python-email", version=platform.python_version(), paged=False)
    for number, (start, end) in enumerate(zip(starts, [*starts[1:], len(data)], strict=True), start=1):
        message = data[start:end].split(b"\n", 1)[1] if b"\n" in data[start:end] else b""
        message = re.sub(rb"^>(>*From )", rb"\1", message, flags=re.MULTILINE)
        result.children.append(Child(f"{number:05d}.eml", message))
    return result
