"""Each extractor on a document written in the test, read through the worker process as ingest reads it."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator

import document_fixtures as make
import pytest

from tools.data.documents import DocumentReader, DocumentsConfig, document_type


@pytest.fixture(scope="module")
def reader() -> Iterator[DocumentReader]:
    with DocumentReader(DocumentsConfig()) as reader:
        yield reader


@pytest.mark.parametrize(
    ("name", "head", "kind"),
    [
        ("a/report.PDF", b"", "pdf"),
        ("scan", b"%PDF-1.7\n", "pdf"),
        ("notes.docx", b"PK", "docx"),
        ("deck.pptx", b"PK", "pptx"),
        ("sheet.xlsx", b"PK", "xlsx"),
        ("rules.odt", b"PK", "odf"),
        ("wiki/page.html", b"<", "html"),
        ("mail.eml", b"", "eml"),
        ("archive.mbox", b"From ", "mbox"),
        ("scan.tiff", b"", "image"),
        ("main.py", b"import os", None),
        ("README.md", b"# hi", None),
    ],
)
def test_document_type_by_name_and_magic(name: str, head: bytes, kind: str | None) -> None:
    assert document_type(name, head) == kind


def test_html_as_source_is_left_to_the_text_path() -> None:
    assert document_type("index.html", b"<html>", html=False) is None


def test_pdf_text_page_by_page(reader: DocumentReader) -> None:
    data = make.pdf([["Introduction", "Pumps move water."], ["Second page", "Valves stop it."]])
    result = reader.read("pdf", data)
    assert result.problem is None
    assert (result.type, result.extractor, result.paged) == ("pdf", "pypdf", True)
    assert [page.split() for page in result.pages] == [
        ["Introduction", "Pumps", "move", "water."],
        ["Second", "page", "Valves", "stop", "it."],
    ]
    assert result.version.split(".")[0].isdigit()
    assert result.ocr is None  # a text layer: no OCR


def test_encrypted_pdf_is_recorded_as_encrypted(reader: DocumentReader) -> None:
    result = reader.read("pdf", make.encrypted_pdf())
    assert (result.problem, result.pages) == ("encrypted", [])
    assert "password" in result.detail


def test_corrupt_pdf_is_recorded_with_the_reason(reader: DocumentReader) -> None:
    result = reader.read("pdf", make.pdf([["fine"]])[:300])
    assert result.problem == "corrupt_document"
    assert "pypdf" in result.detail


def test_scanned_pdf_is_read_by_ocr_with_its_confidence(reader: DocumentReader) -> None:
    data = make.scanned_pdf([["Quarterly maintenance report", "The pump in hall seven was replaced."]])
    result = reader.read("pdf", data)
    assert result.problem is None
    assert "maintenance report" in result.pages[0]
    assert "hall seven" in result.pages[0]
    assert result.ocr is not None
    assert result.ocr["engine"] == "tesseract"
    assert result.ocr["pages"][0]["page"] == 1
    assert result.ocr["confidence"] > 80  # clean rendered text
    assert result.ocr["low_confidence_pages"] == []


def test_low_confidence_pages_are_flagged() -> None:
    with DocumentReader(DocumentsConfig(ocr_min_confidence=99.9)) as strict:
        result = strict.read("pdf", make.scanned_pdf([["Noisy scan"], ["Another page"]]))
    assert result.ocr is not None
    assert result.ocr["low_confidence_pages"] == [1, 2]


def test_a_worker_started_ahead_is_the_one_that_reads() -> None:
    with DocumentReader(DocumentsConfig()) as early:
        early.start()  # returns at once; the extractors import in the worker meanwhile
        pid = early.pid
        assert pid is not None
        early.start()  # already running: no second worker
        assert early.pid == pid
        result = early.read("html", make.html_page())
        assert result.problem is None and "cooling" in result.pages[0].lower()
        assert early.pid == pid
    assert early.pid is None


def test_image_is_ocrd_and_kept_with_its_caption(reader: DocumentReader) -> None:
    data = make.png(make.text_image(["Pressure gauge reading"]), Description="Photo of gauge 4")
    result = reader.read("image", data)
    assert result.problem is None
    assert "Pressure gauge reading" in result.pages[0]
    [image] = result.images
    assert (image.text, image.text_source, image.format) == ("Photo of gauge 4", "metadata", "png")
    assert (image.width, image.height) == (1240, 420)
    assert image.data == data


def test_docx_paragraphs_tables_and_picture_alt_text(reader: DocumentReader) -> None:
    result = reader.read("docx", make.docx_file(image_alt="Red square logo"))
    assert result.problem is None and result.paged is False
    [text] = result.pages
    assert text.splitlines() == [
        "Onboarding guide",
        "Welcome to the plant. Badges are issued on the first day.",
        "Room | Owner",
        f"B-12 | {make.FAKE_EMAIL}",
        "Questions go to the front desk.",
    ]
    [image] = result.images
    assert (image.text, image.text_source, image.width) == ("Red square logo", "alt_text", 64)


def test_docx_picture_without_alt_text_takes_its_caption(reader: DocumentReader) -> None:
    result = reader.read("docx", make.docx_file(caption="Figure 1: the logo"))
    [image] = result.images
    assert (image.text, image.text_source) == ("Figure 1: the logo", "caption")


def test_malformed_docx_is_corrupt(reader: DocumentReader) -> None:
    broken = make.docx_file()[:2000]  # the central directory is gone
    assert reader.read("docx", broken).problem == "corrupt_document"
    not_word = _zip({"word/other.xml": b"<x/>"})
    result = reader.read("docx", not_word)
    assert (result.problem, result.detail) == (
        "corrupt_document",
        "the zip container has no word/document.xml",
    )


def test_pptx_slides_tables_notes_and_picture(reader: DocumentReader) -> None:
    result = reader.read("pptx", make.pptx_file())
    assert result.problem is None
    first, second = result.pages
    assert first.splitlines() == [
        "Roadmap 2027",
        "Ship the new pump controller",
        "",
        "Notes:",
        "Mention the supplier delay",
    ]
    assert second.splitlines()[0] == "Budget"
    assert "Item | Cost" in second and "Pumps | 1200" in second
    [image] = result.images
    assert (image.text, image.page) == ("Bar chart of pump costs", 2)


def test_xlsx_one_page_per_sheet(reader: DocumentReader) -> None:
    result = reader.read("xlsx", make.xlsx_file())
    assert result.pages == [
        "Sheet: Inventory\npart\tcount\nvalve\t12",
        f"Sheet: Keys\naws\t{make.FAKE_AWS_KEY}",
    ]


def test_odt_headings_paragraphs_and_tables(reader: DocumentReader) -> None:
    result = reader.read("odf", make.odt_file())
    assert result.pages == ["Safety rules\nWear goggles\talways.\nZone | Red"]


def test_html_main_content_without_navigation(reader: DocumentReader) -> None:
    result = reader.read("html", make.html_page())
    [text] = result.pages
    assert result.extractor == "trafilatura"
    assert "cooling loop of line 3 is flushed" in text
    assert "NAVIGATION-LINK-ZEBRA" not in text
    assert "FOOTER-BOILERPLATE-QUOKKA" not in text


def test_eml_headers_body_and_attachment(reader: DocumentReader) -> None:
    attachment = make.pdf([["Attached figures"]])
    result = reader.read("eml", make.eml(attachment=("../../etc/report.pdf", attachment)))
    [text] = result.pages
    assert text.splitlines()[:2] == [f"From: Jane Doe <{make.FAKE_EMAIL}>", "To: ops@plant.example.com"]
    assert "Subject: Weekly report" in text and text.endswith("See the attached report.")
    [child] = result.children
    assert (child.name, child.data) == ("report.pdf", attachment)  # the base name only


def test_eml_headers_can_be_dropped() -> None:
    with DocumentReader(DocumentsConfig(email_headers="drop")) as reader:
        result = reader.read("eml", make.eml())
    assert result.pages == ["See the attached report."]


def test_mbox_is_split_into_messages(reader: DocumentReader) -> None:
    result = reader.read("mbox", make.mbox([make.eml(body="first"), make.eml(body="second")]))
    assert [child.name for child in result.children] == ["00001.eml", "00002.eml"]
    assert result.children[1].data.rstrip().endswith(b"second")
    assert reader.read("mbox", b"not a mailbox").problem == "corrupt_document"


def _zip(members: dict[str, bytes]) -> bytes:
    import io

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()
