"""Documents written in the tests, with the libraries of their field (reportlab, pypdf, python-docx, ...)."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage

import docx
import openpyxl
import pptx
import pypdf
from docx.shared import Inches
from PIL import Image, ImageDraw, ImageFont
from reportlab.pdfgen import canvas

FAKE_AWS_KEY = "AKIAQYLPMN5HFIQR7XYZ"  # matches the scanner's AWS access key id pattern; not a real key
FAKE_EMAIL = "jane.doe@acme-corp.com"


def pdf(pages: list[list[str]]) -> bytes:
    """A text PDF: each page a list of lines, top to bottom."""
    out = io.BytesIO()
    sheet = canvas.Canvas(out)
    for lines in pages:
        for number, line in enumerate(lines):
            sheet.drawString(72, 760 - 18 * number, line)
        sheet.showPage()
    sheet.save()
    return out.getvalue()


def encrypted_pdf(password: str = "s3cret") -> bytes:
    reader = pypdf.PdfReader(io.BytesIO(pdf([["Board minutes, confidential"]])))
    writer = pypdf.PdfWriter(clone_from=reader)
    writer.encrypt(user_password=password, owner_password=password, algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def many_pages_pdf(count: int) -> bytes:
    """A valid PDF of ``count`` blank pages, written object by object (pypdf takes seconds for 20,000)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = b" ".join(b"%d 0 R" % (3 + i) for i in range(count))
    objects.append(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count))
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"] * count
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def text_image(lines: list[str], *, size: tuple[int, int] = (1240, 420)) -> Image.Image:
    """White page, black text in Pillow's scalable default font: what a scanner would see."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=36)
    for number, line in enumerate(lines):
        draw.text((60, 50 + 70 * number), line, fill=0, font=font)
    return image


def png(image: Image.Image, **info: str) -> bytes:
    from PIL import PngImagePlugin

    meta = PngImagePlugin.PngInfo()
    for key, value in info.items():
        meta.add_text(key, value)
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=meta)
    return out.getvalue()


def scanned_pdf(pages: list[list[str]]) -> bytes:
    """A PDF of page images and no text layer, as a scanner writes it (Pillow's PDF writer)."""
    images = [text_image(lines).convert("RGB") for lines in pages]
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:], resolution=150)
    return out.getvalue()


def docx_file(*, image_alt: str = "", caption: str = "") -> bytes:
    document = docx.Document()
    document.add_heading("Onboarding guide", level=1)
    document.add_paragraph("Welcome to the plant. Badges are issued on the first day.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Room", "Owner"
    table.cell(1, 0).text, table.cell(1, 1).text = "B-12", FAKE_EMAIL
    picture = io.BytesIO(png(Image.new("RGB", (64, 48), (200, 30, 30))))
    document.add_picture(picture, width=Inches(1))
    if image_alt:
        props = document.inline_shapes[0]._inline.docPr
        props.set("descr", image_alt)
    if caption:
        document.add_paragraph(caption, style="Caption")
    document.add_paragraph("Questions go to the front desk.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_bomb_docx(unpacked: int) -> bytes:
    """A real DOCX with one more member of ``unpacked`` zero bytes (deflates to a thousandth of that)."""
    out = io.BytesIO(docx_file())
    with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/media/padding.bin", b"\0" * unpacked)
    return out.getvalue()


def pptx_file() -> bytes:
    presentation = pptx.Presentation()
    first = presentation.slides.add_slide(presentation.slide_layouts[1])
    first.shapes.title.text = "Roadmap 2027"
    first.placeholders[1].text = "Ship the new pump controller"
    first.notes_slide.notes_text_frame.text = "Mention the supplier delay"
    second = presentation.slides.add_slide(presentation.slide_layouts[5])
    second.shapes.title.text = "Budget"
    rows = second.shapes.add_table(
        2, 2, pptx.util.Inches(1), pptx.util.Inches(2), pptx.util.Inches(4), pptx.util.Inches(1)
    )
    rows.table.cell(0, 0).text, rows.table.cell(0, 1).text = "Item", "Cost"
    rows.table.cell(1, 0).text, rows.table.cell(1, 1).text = "Pumps", "1200"
    picture = second.shapes.add_picture(
        io.BytesIO(png(Image.new("RGB", (80, 60), (10, 120, 200)))), pptx.util.Inches(1), pptx.util.Inches(4)
    )
    picture._element._nvXxPr.cNvPr.set("descr", "Bar chart of pump costs")
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def xlsx_file() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Inventory"
    sheet.append(["part", "count"])
    sheet.append(["valve", 12])
    other = workbook.create_sheet("Keys")
    other.append(["aws", FAKE_AWS_KEY])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def odt_file() -> bytes:
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
        ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0">'
        "<office:body><office:text>"
        "<text:h>Safety rules</text:h><text:p>Wear<text:s/>goggles<text:tab/>always.</text:p>"
        "<table:table><table:table-row><table:table-cell><text:p>Zone</text:p></table:table-cell>"
        "<table:table-cell><text:p>Red</text:p></table:table-cell></table:table-row></table:table>"
        "</office:text></office:body></office:document-content>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", content)
    return out.getvalue()


def html_page() -> bytes:
    paragraphs = "".join(
        f"<p>The cooling loop of line {n} is flushed every spring, and the filters are changed by the night "
        f"shift so that production keeps running while the maintenance crew works on it.</p>"
        for n in range(1, 6)
    )
    return (
        "<html><head><title>Cooling</title></head><body>"
        "<nav><ul><li><a href='/'>Home</a></li><li><a href='/x'>NAVIGATION-LINK-ZEBRA</a></li></ul></nav>"
        f"<main><article><h1>Cooling loop maintenance</h1>{paragraphs}</article></main>"
        "<footer>FOOTER-BOILERPLATE-QUOKKA</footer></body></html>"
    ).encode()


def eml(*, attachment: tuple[str, bytes] | None = None, body: str = "See the attached report.") -> bytes:
    message = EmailMessage()
    message["From"] = f"Jane Doe <{FAKE_EMAIL}>"
    message["To"] = "ops@plant.example.com"
    message["Subject"] = "Weekly report"
    message["Date"] = "Mon, 30 Nov 2026 09:00:00 +0000"
    message.set_content(body)
    if attachment is not None:
        name, data = attachment
        maintype, subtype = (
            ("application", "pdf") if name.endswith(".pdf") else ("application", "octet-stream")
        )
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def mbox(messages: list[bytes]) -> bytes:
    return b"".join(
        b"From sender@example.com Mon Nov 30 09:00:00 2026\n" + m.rstrip(b"\n") + b"\n\n" for m in messages
    )
