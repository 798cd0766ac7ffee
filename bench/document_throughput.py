"""Document extraction throughput per type: documents/s, pages/s and MB/s through the worker process.

    python bench/document_throughput.py                 # 40 of each type (8 scanned pages), a row per type
    python bench/document_throughput.py --count 10 --no-record

Each document is generated here (reportlab for PDFs, python-docx, python-pptx, openpyxl, the standard library
for ODT, HTML and e-mail, Pillow for scans), deterministic and over a made-up vocabulary, then read one at a
time by :class:`tools.data.documents.DocumentReader` exactly as ``vibe data ingest`` reads it (one worker
process, JSON frames). Results go to ``bench/results/document_throughput.json`` and, unless ``--no-record``,
as rows of the "Document extraction throughput" table in ``BENCHMARKS.md``. ``make_documents`` is also what
``bench/ingest_memory.py --documents N`` puts into its archive.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "bench" / "results" / "document_throughput.json"
BENCHMARKS = ROOT / "BENCHMARKS.md"
SECTION = "## Document extraction throughput"
HEADER = (
    "| date | type | extractor | documents | pages | MB in | chars out | documents/s | pages/s | MB/s |\n"
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
)
INTRO = (
    "`python bench/document_throughput.py` (raw numbers: `bench/results/document_throughput.json`). Generated\n"
    "documents (4-page text PDFs, DOCX of 30 paragraphs and a table, 6-slide PPTX with notes, XLSX of 3 sheets x\n"
    "300 rows, ODT, HTML with navigation, e-mail, one-page A4 scans at 150 dpi) read one at a time through the\n"
    "worker process, as `vibe data ingest` reads them; time per document includes the JSON framing. Machine:\n"
    "2-core VM shared with other jobs (the 1-minute load average is in the JSON file)."
)
TYPES = ("pdf", "docx", "pptx", "xlsx", "odf", "html", "eml", "scanned pdf")
_SUFFIX = {"pdf": ".pdf", "docx": ".docx", "pptx": ".pptx", "xlsx": ".xlsx", "odf": ".odt", "html": ".html"}
_SUFFIX |= {"eml": ".eml", "scanned pdf": ".pdf"}


class Words:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        syllables = [a + b for a in "bcdfghklmnprstvz" for b in ("a", "e", "i", "o", "u", "ar", "en", "on")]
        self.words = sorted(
            {"".join(self.rng.choices(syllables, k=self.rng.randint(1, 4))) for _ in range(4000)}
        )

    def sentence(self) -> str:
        return " ".join(self.rng.choices(self.words, k=self.rng.randint(6, 14))).capitalize() + "."

    def paragraph(self) -> str:
        return " ".join(self.sentence() for _ in range(self.rng.randint(3, 6)))


def _pdf(words: Words, pages: int) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    sheet = canvas.Canvas(out, pagesize=A4)
    for _ in range(pages):
        text = sheet.beginText(60, 780)
        for _ in range(40):
            text.textLine(words.sentence()[:95])
        sheet.drawText(text)
        sheet.showPage()
    sheet.save()
    return out.getvalue()


def _docx(words: Words) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(words.sentence(), level=1)
    for _ in range(30):
        document.add_paragraph(words.paragraph())
    table = document.add_table(rows=10, cols=4)
    for row in table.rows:
        for cell in row.cells:
            cell.text = words.rng.choice(words.words)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _pptx(words: Words, slides: int) -> bytes:
    import pptx

    presentation = pptx.Presentation()
    for _ in range(slides):
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = words.sentence()
        slide.placeholders[1].text = "\n".join(words.sentence() for _ in range(5))
        slide.notes_slide.notes_text_frame.text = words.paragraph()
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def _xlsx(words: Words) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    for number in range(3):
        sheet = workbook.active if number == 0 else workbook.create_sheet()
        for row in range(300):
            sheet.append([row, words.rng.choice(words.words), words.rng.random(), words.sentence()])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _odt(words: Words) -> bytes:
    paragraphs = "".join(f"<text:p>{words.paragraph()}</text:p>" for _ in range(30))
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content'
        ' xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:text>'
        f"<text:h>{words.sentence()}</text:h>{paragraphs}</office:text></office:body></office:document-content>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", content)
    return out.getvalue()


def _html(words: Words) -> bytes:
    nav = "".join(f"<li><a href='/{w}'>{w}</a></li>" for w in words.rng.choices(words.words, k=30))
    body = "".join(f"<p>{words.paragraph()}</p>" for _ in range(25))
    return (
        f"<html><head><title>{words.sentence()}</title></head><body><nav><ul>{nav}</ul></nav>"
        f"<main><article><h1>{words.sentence()}</h1>{body}</article></main><footer>(c) wiki</footer></body></html>"
    ).encode()


def _eml(words: Words, attachment: bytes | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = "ops@plant.example.com"
    message["To"] = "team@plant.example.com"
    message["Subject"] = words.sentence()
    message.set_content("\n\n".join(words.paragraph() for _ in range(8)))
    if attachment is not None:
        message.add_attachment(attachment, maintype="application", subtype="pdf", filename="figures.pdf")
    return message.as_bytes()


def _scan(words: Words) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (1240, 1754), 255)  # A4 at 150 dpi
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=30)
    for line in range(20):
        draw.text((80, 80 + 70 * line), words.sentence()[:60], fill=0, font=font)
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PDF", resolution=150)
    return out.getvalue()


def make_document(kind: str, words: Words, index: int) -> tuple[str, bytes]:
    """(file name, bytes) of one generated document of ``kind`` (one of ``TYPES``)."""
    data = {
        "pdf": lambda: _pdf(words, pages=4),
        "docx": lambda: _docx(words),
        "pptx": lambda: _pptx(words, slides=6),
        "xlsx": lambda: _xlsx(words),
        "odf": lambda: _odt(words),
        "html": lambda: _html(words),
        "eml": lambda: _eml(words, _pdf(words, pages=1) if index % 4 == 0 else None),
        "scanned pdf": lambda: _scan(words),
    }[kind]()
    return f"{kind.replace(' ', '_')}_{index:05d}{_SUFFIX[kind]}", data


def make_documents(count: int, *, seed: int, scanned: bool = False) -> Iterator[tuple[str, bytes]]:
    """``count`` documents, the types in turn (scanned PDFs only when ``scanned``: OCR is slow)."""
    words = Words(seed)
    kinds = [k for k in TYPES if scanned or k != "scanned pdf"]
    for index in range(count):
        yield make_document(kinds[index % len(kinds)], words, index)


def record_rows(rows: list[dict]) -> str:
    lines = [
        f"| {r['date'][:10]} | {r['type']} | {r['extractor']} | {r['documents']} | {r['pages']:,} "
        f"| {r['bytes'] / 1e6:.1f} | {r['chars']:,} | {r['documents_per_s']:.1f} | {r['pages_per_s']:.1f} "
        f"| {r['mb_per_s']:.2f} |"
        for r in rows
    ]
    text = BENCHMARKS.read_text(encoding="utf-8") if BENCHMARKS.exists() else "# Benchmarks\n"
    if SECTION not in text:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n{INTRO}\n\n{HEADER}\n"
    head, tail = text.split(SECTION, 1)
    body, sep, rest = tail.partition("\n## ")
    body = body.rstrip("\n") + "\n" + "\n".join(lines) + "\n"
    BENCHMARKS.write_text(
        head + SECTION + body + (("\n" + sep.lstrip("\n") + rest) if sep else ""), encoding="utf-8"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=40, help="documents of each type (default 40)")
    parser.add_argument("--scanned", type=int, default=8, help="scanned one-page PDFs, OCR'd (default 8)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-record", action="store_true", help="don't add rows to BENCHMARKS.md")
    args = parser.parse_args()

    from tools.data.documents import DocumentReader, DocumentsConfig, document_type

    words = Words(args.seed)
    rows = []
    load_before = os.getloadavg()[0]
    with DocumentReader(DocumentsConfig()) as reader:
        reader.read("html", _html(words))  # start the worker: its start-up is not a document's time
        for kind in TYPES:
            count = args.scanned if kind == "scanned pdf" else args.count
            documents = [make_document(kind, words, i) for i in range(count)]
            seconds = pages = chars = 0.0
            extractor = ""
            for name, data in documents:
                started = time.perf_counter()
                result = reader.read(document_type(name, data[:8]) or "", data)
                seconds += time.perf_counter() - started
                if result.problem is not None:
                    raise SystemExit(f"{kind} {name}: {result.problem}: {result.detail}")
                pages += len(result.pages)
                chars += result.chars
                extractor = result.extractor + (" + tesseract" if result.ocr else "")
            size = sum(len(data) for _, data in documents)
            rows.append(
                {
                    "date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "type": kind,
                    "extractor": extractor,
                    "documents": count,
                    "pages": int(pages),
                    "bytes": size,
                    "chars": int(chars),
                    "seconds": round(seconds, 3),
                    "documents_per_s": count / seconds,
                    "pages_per_s": pages / seconds,
                    "mb_per_s": size / 1e6 / seconds,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "rows": rows,
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    if not args.no_record:
        print(record_rows(rows))


if __name__ == "__main__":
    main()
