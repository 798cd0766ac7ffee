"""The image side dataset: ``images/files/<sha256[:2]>/<sha256>.<ext>`` and ``images/pairs.jsonl``, one line
per (image, text) pair with the image's hash and path, where it was found and the text's findings."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from tools.data.documents._types import ExtractedImage

__all__ = ["PAIRS", "ImagePairs"]

PAIRS = "pairs.jsonl"


class ImagePairs:
    """Writes the side dataset under ``directory`` (emptied first); an exact repeat of a pair is skipped."""

    def __init__(self, directory: Path) -> None:
        shutil.rmtree(directory, ignore_errors=True)
        (directory / "files").mkdir(parents=True)
        self.directory = directory
        self._part = (directory / f"{PAIRS}.part").open("w", encoding="utf-8")
        self._seen: set[bytes] = set()
        self.pairs = 0

    def add(self, image: ExtractedImage, *, source: str, text: str, findings: list[dict[str, Any]]) -> None:
        """Keep ``image`` (from the document ``source``) with ``text``, already scanned and redacted."""
        sha = hashlib.sha256(image.data).hexdigest()
        key = hashlib.sha256(f"{sha}\0{text}".encode("utf-8", "surrogatepass")).digest()[:16]
        if key in self._seen:
            return
        self._seen.add(key)
        relative = Path("files", sha[:2], f"{sha}.{image.format}")
        target = self.directory / relative
        if not target.exists():
            target.parent.mkdir(exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_bytes(image.data)
            tmp.replace(target)
        record = {
            "image": relative.as_posix(),
            "sha256": sha,
            "format": image.format,
            "width": image.width,
            "height": image.height,
            "bytes": len(image.data),
            "source": source,
            "page": image.page,
            "text": text,
            "text_source": image.text_source,
            "findings": findings,
        }
        self._part.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.pairs += 1

    def close(self) -> None:
        """Finish ``pairs.jsonl`` (renamed into place)."""
        self._part.close()
        (self.directory / f"{PAIRS}.part").replace(self.directory / PAIRS)
