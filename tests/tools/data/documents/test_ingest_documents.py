"""``ingest`` of a folder of documents: their text joins the corpus through the same scan, dedup and
tokenizer; files.jsonl and the manifest say what each document was; images land in the side dataset."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import document_fixtures as make
import pytest
from ingest_corpus import small_config

from tools.data import DatasetInfo, ingest, load_tokenizer


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("documents")
    files = {
        "docs/manual.pdf": make.pdf(
            [["Pump manual", "Chapter one: priming."], ["Credentials", f"key {make.FAKE_AWS_KEY} here"]]
        ),
        "docs/guide.docx": make.docx_file(image_alt="Red square logo"),
        "docs/deck.pptx": make.pptx_file(),
        "docs/sheet.xlsx": make.xlsx_file(),
        "docs/rules.odt": make.odt_file(),
        "wiki/cooling.html": make.html_page(),
        "mail/inbox.mbox": make.mbox(
            [
                make.eml(body="The night shift starts at ten."),
                make.eml(attachment=("report.pdf", make.pdf([["Attached quarterly figures"]]))),
            ]
        ),
        "scans/scan.pdf": make.scanned_pdf([["Scanned delivery note", "Forty valves received."]]),
        "scans/gauge.png": make.png(make.text_image(["Gauge four reads nine bar"]), Description="Gauge four"),
        "icons/folder.png": make.png(make.text_image(["OK"], size=(32, 32))),  # an icon: not worth an OCR run
        "bad/locked.pdf": make.encrypted_pdf(),
        "bad/broken.docx": make.docx_file()[:1500],
        "bad/bomb.docx": make.zip_bomb_docx(8 << 20),
        "bad/huge.pdf": make.many_pages_pdf(20_000),
        "zz/.keep": "",
        "src/app.py": "def main():\n    return 'pumps'\n",
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    with tarfile.open(root / "zz" / "bundle.tar.gz", "w:gz") as tar:  # a document in an archive, read last
        tar.add(root / "docs" / "rules.odt", arcname="copy/rules-v2.odt")
    return root


@pytest.fixture(scope="module")
def ingested(source: Path, tmp_path_factory: pytest.TempPathFactory) -> DatasetInfo:
    out = tmp_path_factory.mktemp("dataset")
    config = small_config([source], out, documents={"max_unpacked_bytes": "4MiB"})
    return ingest(config, progress=False)


@pytest.fixture(scope="module")
def records(ingested: DatasetInfo) -> dict[str, dict]:
    assert ingested.root is not None
    lines = (ingested.root / "files.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["path"].split("/", 1)[1]: r for r in map(json.loads, lines)}


def test_pdf_record_names_type_extractor_pages_and_the_finding_page_and_line(
    records: dict[str, dict],
) -> None:
    record = records["docs/manual.pdf"]
    assert record["status"] == "kept"
    document = record["document"]
    assert (document["type"], document["extractor"], document["pages"]) == ("pdf", "pypdf", 2)
    assert document["version"] and document["chars"] > 40
    assert record["findings"] == [{"kind": "aws_access_key", "line": 2, "action": "redact", "page": 2}]


def test_reflowable_documents_record_lines_without_pages(records: dict[str, dict]) -> None:
    record = records["docs/guide.docx"]
    assert record["document"]["pages"] is None
    assert record["findings"] == [{"kind": "email", "line": 4, "action": "redact"}]


def test_sheet_findings_name_the_sheet_as_page(records: dict[str, dict]) -> None:
    assert records["docs/sheet.xlsx"]["findings"] == [
        {"kind": "aws_access_key", "line": 2, "action": "redact", "page": 2}
    ]


def test_every_kind_of_document_is_kept(records: dict[str, dict]) -> None:
    kept = {
        path: r["document"]["type"]
        for path, r in records.items()
        if r["status"] == "kept" and "document" in r
    }
    assert kept == {
        "docs/manual.pdf": "pdf",
        "docs/guide.docx": "docx",
        "docs/deck.pptx": "pptx",
        "docs/sheet.xlsx": "xlsx",
        "docs/rules.odt": "odf",
        "wiki/cooling.html": "html",
        "mail/inbox.mbox!00001.eml": "eml",
        "mail/inbox.mbox!00002.eml": "eml",
        "mail/inbox.mbox!00002.eml!report.pdf": "pdf",
        "scans/scan.pdf": "pdf",
        "scans/gauge.png": "image",
    }


def test_a_document_in_an_archive_is_read_and_deduplicated(records: dict[str, dict]) -> None:
    copy = records["zz/bundle.tar.gz!copy/rules-v2.odt"]
    assert (copy["status"], copy["reason"], copy["document"]["type"]) == ("dropped", "duplicate", "odf")


def test_mail_headers_are_kept_and_scanned(records: dict[str, dict]) -> None:
    message = records["mail/inbox.mbox!00001.eml"]
    assert {"kind": "email", "line": 1, "action": "redact"} in message["findings"]  # the From: header


def test_scans_record_ocr_confidence(records: dict[str, dict]) -> None:
    ocr = records["scans/scan.pdf"]["document"]["ocr"]
    assert ocr["engine"] == "tesseract" and ocr["confidence"] > 80
    assert [p["page"] for p in ocr["pages"]] == [1]


def test_an_icon_sized_image_is_not_ocrd_and_says_why(records: dict[str, dict]) -> None:
    icon = records["icons/folder.png"]
    assert (icon["status"], icon["reason"]) == ("dropped", "empty")
    assert "32x32 px, under documents.ocr_min_pixels=4096: not OCR'd" in icon["detail"]
    assert icon["document"]["extractor"] == "pillow" and "ocr" not in icon["document"]


@pytest.mark.parametrize(
    ("path", "reason", "detail"),
    [
        ("bad/locked.pdf", "encrypted", "needs a password"),
        ("bad/broken.docx", "corrupt_document", "not a readable zip container"),
        ("bad/bomb.docx", "document_limit", "a zip bomb?"),
        ("bad/huge.pdf", "document_limit", "20000 pages"),
    ],
)
def test_bad_documents_are_recorded_and_the_ingest_goes_on(
    records: dict[str, dict], path: str, reason: str, detail: str
) -> None:
    record = records[path]
    assert (record["status"], record["reason"]) == ("dropped", reason)
    assert detail in record["detail"]
    assert record["document"]["type"] in ("pdf", "docx")


def test_document_text_is_tokenized_and_redacted(ingested: DatasetInfo) -> None:
    assert ingested.root is not None
    staged = b"".join(p.read_bytes() for p in sorted((ingested.root / "staging").glob("text-*.txt")))
    text = staged.decode()
    for phrase in (
        "Chapter one: priming.",
        "Mention the supplier delay",
        "Forty valves received",
        "Wear goggles",
    ):
        assert phrase in text
    assert make.FAKE_AWS_KEY not in text and make.FAKE_EMAIL not in text
    assert "<REDACTED:aws_access_key>" in text
    assert "NAVIGATION-LINK-ZEBRA" not in text
    tokenizer = load_tokenizer(ingested.root)
    assert tokenizer.decode(tokenizer.encode("Forty valves received").ids) == "Forty valves received"


def test_manifest_counts_documents_and_image_pairs(ingested: DatasetInfo) -> None:
    documents = ingested.documents
    assert documents.types == {
        "docx": 3,
        "eml": 2,
        "html": 1,
        "image": 2,
        "mbox": 1,
        "odf": 2,
        "pdf": 5,
        "pptx": 1,
        "xlsx": 1,
    }
    assert documents.image_pairs == 4
    assert documents.image_pairs_path == "images/pairs.jsonl"


def test_image_text_pairs_have_hashes_files_and_scanned_text(ingested: DatasetInfo) -> None:
    assert ingested.root is not None
    lines = (ingested.root / "images" / "pairs.jsonl").read_text(encoding="utf-8").splitlines()
    pairs = {(p["source"].split("/", 1)[1], p["text"]): p for p in map(json.loads, lines)}
    [scan] = [text for source, text in pairs if source == "scans/scan.pdf"]  # the page with its OCR text
    assert "Forty valves received" in scan
    assert set(pairs) == {
        ("docs/guide.docx", "Red square logo"),
        ("docs/deck.pptx", "Bar chart of pump costs"),
        ("scans/gauge.png", "Gauge four"),
        ("scans/scan.pdf", scan),
    }
    for pair in pairs.values():
        image = ingested.root / "images" / pair["image"]
        assert hashlib.sha256(image.read_bytes()).hexdigest() == pair["sha256"]
        assert pair["findings"] == []
    assert pairs[("docs/deck.pptx", "Bar chart of pump costs")]["page"] == 2
    assert pairs[("scans/gauge.png", "Gauge four")]["text_source"] == "metadata"


def test_documents_off_treats_them_as_binary(source: Path, tmp_path: Path) -> None:
    config = small_config([source / "docs", source / "src"], tmp_path / "out", documents={"enabled": False})
    info = ingest(config, progress=False)
    assert info.files.kept == 1 and info.documents.types == {}
    assert info.files.dropped["binary"] == 5  # as before documents: PDF and the zipped formats are binary


def test_cli_drops_mail_headers_by_flag(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from vibe.cli import app

    source = tmp_path / "mail"
    source.mkdir()
    (source / "note.eml").write_bytes(make.eml(body="The crane inspection is on Friday."))
    (source / "app.py").write_text("print('crane')\n")
    out = tmp_path / "out"
    args = ["data", "ingest", str(source), "--out", str(out), "--vocab-size", "300", "--no-progress"]
    result = CliRunner().invoke(app, [*args, "--email-headers", "drop"])
    assert result.exit_code == 0, result.output
    assert "documents: eml" in result.output
    record = json.loads((out / "files.jsonl").read_text(encoding="utf-8").splitlines()[1])
    assert (record["path"], record["findings"]) == ("mail/note.eml", [])  # no From: address left to find
    assert record["document"]["chars"] == len("The crane inspection is on Friday.")


def test_a_dropped_document_names_the_page_and_line(source: Path, tmp_path: Path) -> None:
    config = small_config(
        [source / "docs" / "manual.pdf", source / "src"], tmp_path / "out", actions={"secrets": "drop"}
    )
    ingest(config, progress=False)
    record = json.loads((tmp_path / "out" / "files.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert (record["status"], record["reason"]) == ("dropped", "secret")
    assert record["detail"] == "aws_access_key at page 2 line 2"
