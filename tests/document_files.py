"""PDF and Word files for the tests, written by real writers: fpdf2 (PDFs with text, metadata, running headers
and footers, pictures only), pypdf (encrypted and page-less PDFs) and python-docx (.docx)."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

# A report of three pages: the answer to BRIDGE_QUESTION is on page 2 only, and a paragraph runs on from page 2 to 3.
BRIDGE_TITLE = "Wellport Harbour Bridge Report"
BRIDGE_PAGES = [
    [
        (
            "The city council of Wellport commissioned this report on the harbour crossing. It describes the works, the "
            "costs and the traffic expected on the new crossing over the next ten years."
        ),
        (
            "Engineers from three firms surveyed the harbour floor before the first pier was set, and the survey took most "
            "of a year because of the winter storms along the coast."
        ),
    ],
    [
        "The Harbour Bridge in Wellport opened to traffic on 4 March 2024, after six years of construction.",
        # this paragraph runs on to page 3
        (
            "About 21,000 vehicles crossed it in the first week, according to the port authority. Its main span is 780 "
            "metres long and it carries four lanes and a cycle path for commuters from the northern districts of the"
        ),
    ],
    [
        "city, which were cut off from the centre whenever the old ferry stopped running in bad weather.",
        "The council expects the toll to pay for the maintenance of the bridge within twenty years.",
    ],
]
BRIDGE_QUESTION = "When did the Harbour Bridge in Wellport open to traffic?"
BRIDGE_ANSWER_PAGE = 2

# A Word file whose answer is about a lighthouse, in no other article.
LIGHTHOUSE_TITLE = "Restoring the Cape Morrow Lighthouse"
LIGHTHOUSE_PARAGRAPHS = [
    "Volunteers have spent two summers restoring the lighthouse on Cape Morrow, which was built in 1871.",
    "The restored lantern was lit again on 12 August 2023 by the keeper's great-granddaughter, Ellen Marsh.",
    "The trust that owns the tower plans to open a small museum in the keeper's cottage next spring.",
]
LIGHTHOUSE_QUESTION = "Who lit the restored lantern of the Cape Morrow lighthouse?"


def write_pdf(path: Path, pages: list[list[str]], *, heading: str = "", title: str = "", author: str = "",
              created: datetime | None = None, running_header: str = "", page_footer: bool = False) -> Path:  # fmt: skip
    """A PDF with one paragraph per string, a page per list, under a heading in larger type; optional running
    header and "Page N" footer."""
    from fpdf import FPDF

    class Document(FPDF):
        def header(self) -> None:
            if running_header:
                self.set_font("Helvetica", size=8)
                self.cell(0, 8, running_header, align="C")
                self.ln(12)
            self.set_font("Helvetica", size=11)

        def footer(self) -> None:
            if page_footer:
                self.set_y(-15)
                self.set_font("Helvetica", size=8)
                self.cell(0, 8, f"Page {self.page_no()}", align="C")

    pdf = Document()
    pdf.set_auto_page_break(False)
    if title:
        pdf.set_title(title)
    if author:
        pdf.set_author(author)
    pdf.set_creation_date(created or datetime(2020, 1, 1, tzinfo=UTC))
    for number, paragraphs in enumerate(pages):
        pdf.add_page()
        if heading and not number:
            pdf.set_font("Helvetica", "B", size=16)
            pdf.multi_cell(0, 9, heading)
            pdf.ln(4)
            pdf.set_font("Helvetica", size=11)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6, paragraph)
            pdf.ln(4)
    pdf.output(str(path))
    return path


def write_picture_pdf(path: Path) -> Path:
    """A "scan": a page that is only a picture (of a text-like pattern), with no text layer."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw

    picture = Image.new("L", (400, 200), 255)
    draw = ImageDraw.Draw(picture)
    for row in range(10, 190, 20):
        draw.line((20, row, 380, row), fill=0, width=6)
    pdf = FPDF()
    pdf.add_page()
    pdf.image(picture, x=10, y=10, w=180)
    pdf.output(str(path))
    return path


def write_encrypted_pdf(path: Path, source: Path, password: str) -> Path:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=str(source))
    writer.encrypt(user_password=password, owner_password="owner-secret", algorithm="AES-256")
    with path.open("wb") as out:
        writer.write(out)
    return path


def write_pageless_pdf(path: Path) -> Path:
    from pypdf import PdfWriter

    with path.open("wb") as out:
        PdfWriter().write(out)
    return path


def write_docx(path: Path, paragraphs: list[str], *, title: str = "", author: str = "",
               created: datetime | None = None, heading: str = "", table: list[list[str]] | None = None) -> Path:  # fmt: skip
    import docx

    document = docx.Document()
    if heading:
        document.add_heading(heading, 0)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    properties = document.core_properties
    properties.title, properties.author = title, author
    if created:
        properties.created = created
    document.save(str(path))
    return path


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()
