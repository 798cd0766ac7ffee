"""OCR with the ``tesseract`` binary (Debian ``tesseract-ocr``): text, and the mean word confidence (0-100)."""

from __future__ import annotations

import csv
import functools
import io
import os
import shutil
import subprocess
from typing import NamedTuple

from PIL import Image

from tools.data.documents._types import DocumentProblem

__all__ = ["OcrText", "ocr_image", "tesseract_version"]

_INSTALL = (
    "install Debian's tesseract-ocr and tesseract-ocr-eng (scripts/setup.sh does), or set documents.ocr false"
)


class OcrText(NamedTuple):
    text: str
    confidence: float  # mean confidence of the recognised words, 0-100; 0.0 when there are none
    words: int


@functools.cache
def tesseract_version() -> str:
    binary = shutil.which("tesseract")
    if binary is None:
        raise DocumentProblem("ocr_unavailable", f"tesseract is not on PATH: {_INSTALL}")
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30, check=False)
    first = (out.stdout or out.stderr).split("\n", 1)[0].split()
    return first[-1] if first else "unknown"


def ocr_image(image: Image.Image, *, language: str, timeout: float) -> OcrText:
    """The text of ``image`` in reading order (lines by Tesseract's blocks and paragraphs)."""
    tesseract_version()  # names what to install when it is missing
    png = io.BytesIO()
    image.convert("L").save(png, format="PNG")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # one core per page: the machine is shared
    try:
        out = subprocess.run(
            ["tesseract", "stdin", "stdout", "-l", language, "--psm", "3", "tsv"],
            input=png.getvalue(),
            capture_output=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DocumentProblem("extract_timeout", f"OCR of one page took over {timeout:.0f} s") from None
    if out.returncode != 0:
        message = out.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DocumentProblem(
            "ocr_unavailable", f"tesseract failed: {message[-1] if message else out.returncode}"
        )
    return _parse_tsv(out.stdout.decode("utf-8", "replace"))


def _parse_tsv(tsv: str) -> OcrText:
    lines: dict[tuple[str, str, str], list[str]] = {}
    confidences: list[float] = []
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        word = (row.get("text") or "").strip()
        if row.get("level") != "5" or not word:
            continue
        confidence = float(row.get("conf") or -1)
        if confidence >= 0:
            confidences.append(confidence)
        key = (row["block_num"], row["par_num"], row["line_num"])
        lines.setdefault(key, []).append(word)
    out: list[str] = []
    last_paragraph = None
    for (block, par, _), words in lines.items():
        if last_paragraph is not None and (block, par) != last_paragraph:
            out.append("")
        out.append(" ".join(words))
        last_paragraph = (block, par)
    mean = sum(confidences) / len(confidences) if confidences else 0.0
    return OcrText("\n".join(out), round(mean, 1), len(confidences))
