"""The zip container under DOCX, PPTX, XLSX and ODF: checked for bombs before any library inflates it."""

from __future__ import annotations

import io
import zipfile

from tools.data.documents._config import DocumentsConfig
from tools.data.documents._types import DocumentProblem

__all__ = ["check_zip"]

_MAX_MEMBERS = 10_000


def check_zip(data: bytes, config: DocumentsConfig, *, needs: str) -> None:
    """Raise a DocumentProblem for a file that is not a zip holding ``needs``, or that unpacks too large.

    The sizes in the central directory are what a library is about to inflate; a lie there (a member that
    inflates past its declared size) is still caught by the worker's memory limit.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as error:
        raise DocumentProblem("corrupt_document", f"not a readable zip container: {error}") from None
    if len(members) > _MAX_MEMBERS:
        raise DocumentProblem("document_limit", f"{len(members)} zip members (more than {_MAX_MEMBERS})")
    unpacked = sum(member.file_size for member in members)
    if unpacked > config.max_unpacked_bytes:
        raise DocumentProblem(
            "document_limit",
            f"zip members unpack to {unpacked:,} bytes, more than documents.max_unpacked_bytes="
            f"{int(config.max_unpacked_bytes):,} (a zip bomb?)",
        )
    if needs not in {member.filename for member in members}:
        raise DocumentProblem("corrupt_document", f"the zip container has no {needs}")
