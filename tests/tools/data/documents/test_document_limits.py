"""A document that hangs, bombs or kills its extractor is stopped, recorded, and costs only itself."""

from __future__ import annotations

import io
import os
import signal
import threading
import time

import document_fixtures as make
import pytest
from PIL import Image

from tools.data.documents import DocumentReader, DocumentsConfig


def test_a_20000_page_pdf_is_a_document_limit() -> None:
    with DocumentReader(DocumentsConfig()) as reader:
        result = reader.read("pdf", make.many_pages_pdf(20_000))
    assert result.problem == "document_limit"
    assert result.detail == "20000 pages, more than documents.max_pages=2000"


def test_a_zip_bomb_inside_a_docx_is_refused_before_inflating() -> None:
    with DocumentReader(DocumentsConfig(max_unpacked_bytes="1MiB")) as reader:
        result = reader.read("docx", make.zip_bomb_docx(8 << 20))
    assert result.problem == "document_limit"
    assert "a zip bomb?" in result.detail and "max_unpacked_bytes=1,048,576" in result.detail


def test_a_document_past_its_time_is_stopped_and_the_next_one_is_read() -> None:
    with DocumentReader(DocumentsConfig(timeout_seconds=0.3)) as reader:
        reader.read("odf", make.odt_file())  # the worker is up: its start is not the document's time
        started = time.monotonic()
        slow = reader.read("pdf", make.scanned_pdf([["OCR takes seconds"]] * 3))
        assert time.monotonic() - started < 10
        assert (slow.problem, slow.type) == ("extract_timeout", "pdf")
        assert "documents.timeout_seconds" in slow.detail
        assert reader.pid is None  # the worker (and its tesseract) were killed
        after = reader.read("pdf", make.pdf([["still reading"]]))
    assert after.problem is None and after.pages[0].strip() == "still reading"


def test_an_image_that_needs_more_than_the_memory_limit_is_stopped() -> None:
    big = io.BytesIO()
    Image.new("RGB", (5000, 5000), (255, 255, 255)).save(big, format="PNG")  # 75 MB decoded, 100 kB stored
    with DocumentReader(DocumentsConfig(memory_mb=64)) as reader:
        result = reader.read("image", big.getvalue())
        after = reader.read("html", make.html_page())
    assert result.problem == "document_limit"
    assert "documents.memory_mb=64" in result.detail
    assert after.problem is None


def test_a_killed_worker_is_recorded_as_crashed_and_replaced() -> None:
    with DocumentReader(DocumentsConfig()) as reader:
        reader.read("html", make.html_page())  # the worker is up
        pid = reader.pid
        assert pid is not None
        threading.Timer(0.5, os.kill, (pid, signal.SIGKILL)).start()  # as the kernel's OOM killer would
        crashed = reader.read("pdf", make.scanned_pdf([["a long scan"]] * 4))
        after = reader.read("odf", make.odt_file())
    assert crashed.problem == "extract_crashed"
    assert "signal 9" in crashed.detail
    assert after.problem is None and reader.pid != pid


def test_the_worker_gets_no_secrets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-for-extractors")
    with DocumentReader(DocumentsConfig()) as reader:
        reader.read("odf", make.odt_file())
        assert reader.pid is not None
        with open(f"/proc/{reader.pid}/environ", "rb") as environ:
            names = {entry.split(b"=", 1)[0] for entry in environ.read().split(b"\0") if entry}
    assert b"AWS_SECRET_ACCESS_KEY" not in names
    assert b"PATH" in names and b"OMP_THREAD_LIMIT" in names


def test_without_tesseract_a_scan_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with DocumentReader(DocumentsConfig()) as reader:
        result = reader.read("image", make.png(make.text_image(["hello"])))
    assert result.problem == "ocr_unavailable"
    assert "tesseract-ocr" in result.detail and "documents.ocr false" in result.detail
