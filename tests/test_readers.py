"""PDF pages, office formats and scanned pages, on real files the tests build themselves."""
from __future__ import annotations

import io
import logging
import shutil
import subprocess

import pytest

from rag import readers
from rag.chunk import chunk_document
from rag.load import read_documents

PAGES = [
    "Octopuses have three hearts and blue blood. " * 3,
    "The Nautilus Corporation reported net revenue of 4,812 million dollars in fiscal 2019. " * 2,
    "Giant squid eyes are the size of dinner plates. " * 3,
]
TABLE = [("Segment", "2019", "2018"), ("Consumer", "1,204", "1,150"), ("Industrial", "3,608", "3,402")]


def make_pdf(pages: list[str], table_on: int | None = None) -> bytes:
    """A PDF with one paragraph per page (reportlab), and a small table on page ``table_on``."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter)
    c.setTitle("Nautilus annual report")
    for n, text in enumerate(pages, 1):
        y = 720
        words, line = text.split(), ""
        for word in words:  # wrap at ~80 characters
            if len(line) + len(word) > 80:
                c.drawString(72, y, line)
                y, line = y - 14, ""
            line = f"{line} {word}".strip()
        c.drawString(72, y, line)
        if n == table_on:
            y -= 40
            for row in TABLE:
                for x, cell in zip((72, 250, 350), row):
                    c.drawString(x, y, cell)
                y -= 14
        c.showPage()
    c.save()
    return buf.getvalue()


def test_pdf_pages_are_recorded_and_chunks_stay_on_their_page(tmp_path):
    (tmp_path / "annual-2019.pdf").write_bytes(make_pdf(PAGES, table_on=2))
    [doc] = read_documents(tmp_path / "annual-2019.pdf", tmp_path)
    assert [label for label, _, _ in doc.pages] == ["p. 1", "p. 2", "p. 3"]
    assert doc.title == "annual 2019 — Nautilus annual report"
    for (_, start, end), text in zip(doc.pages, PAGES):
        assert doc.text[start:end].split()[: len(text.split())] == text.split()
    chunks = chunk_document(doc, chunk_size=40, chunk_overlap=8)
    assert len(chunks) > 3
    for c in chunks:
        assert doc.text[c.start:c.end] == c.text
        assert c.page_start <= c.start < c.end <= c.page_end  # never straddles a page
        assert (c.page_label, c.page_start, c.page_end) == doc.pages[c.page - 1]
    assert {c.page for c in chunks if "Nautilus Corporation" in c.text} == {2}
    # The table comes out a row per line, label next to its figures.
    assert "Consumer 1,204 1,150" in doc.text and "Industrial 3,608 3,402" in doc.text


def test_encrypted_pdf_with_empty_password_opens(tmp_path):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(PAGES))))
    writer.encrypt(user_password="", owner_password="owner-secret", algorithm="AES-256")
    buf = io.BytesIO()
    writer.write(buf)
    assert PdfReader(io.BytesIO(buf.getvalue())).is_encrypted
    (tmp_path / "locked.pdf").write_bytes(buf.getvalue())
    [doc] = read_documents(tmp_path / "locked.pdf", tmp_path)
    assert len(doc.pages) == 3 and "three hearts" in doc.text


def test_docx_paragraphs_and_tables(tmp_path):
    import docx

    d = docx.Document()
    d.core_properties.title = "Field notes"
    d.add_heading("Cephalopods", level=1)
    d.add_paragraph("Cuttlefish change colour in milliseconds.")
    table = d.add_table(rows=0, cols=3)
    for row in TABLE:
        cells = table.add_row().cells
        for cell, value in zip(cells, row):
            cell.text = value
    d.add_paragraph("Squid jet through the water.")
    d.save(tmp_path / "ocean.docx")
    [doc] = read_documents(tmp_path / "ocean.docx", tmp_path)
    assert doc.pages == ()  # Word files have no fixed pages
    assert doc.title == "ocean — Field notes"
    assert doc.text.split("\n") == ["Cephalopods", "Cuttlefish change colour in milliseconds.",
                                    "Segment | 2019 | 2018", "Consumer | 1,204 | 1,150", "Industrial | 3,608 | 3,402",
                                    "Squid jet through the water."]


def test_pptx_slides_are_pages(tmp_path):
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for n, (title, body) in enumerate([("Intro", "Why octopuses matter"), ("Results", "Revenue grew 12 percent")], 1):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        slide.notes_slide.notes_text_frame.text = f"Speaker note {n}"
    shape = deck.slides[1].shapes.add_table(2, 2, Inches(1), Inches(4), Inches(4), Inches(1))
    for r, row in enumerate([("Region", "Growth"), ("Europe", "9%")]):
        for col, value in enumerate(row):
            shape.table.cell(r, col).text = value
    deck.save(tmp_path / "deck.pptx")
    [doc] = read_documents(tmp_path / "deck.pptx", tmp_path)
    assert [label for label, _, _ in doc.pages] == ["slide 1", "slide 2"]
    second = doc.text[doc.pages[1][1]:doc.pages[1][2]]
    assert second.split("\n") == ["Results", "Revenue grew 12 percent", "Region | Growth", "Europe | 9%", "Speaker note 2"]
    [chunk] = [c for c in chunk_document(doc) if "Revenue" in c.text]
    assert (chunk.page, chunk.page_label) == (2, "slide 2")


def test_xlsx_sheets_are_pages_and_rows_carry_headers(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Revenue"
    for row in TABLE:
        book.active.append(row)
    other = book.create_sheet("Staff")
    other.append(["Team", "People"])
    other.append(["Research", 42])
    book.save(tmp_path / "figures.xlsx")
    [doc] = read_documents(tmp_path / "figures.xlsx", tmp_path)
    assert [label for label, _, _ in doc.pages] == ["sheet Revenue", "sheet Staff"]
    assert "Segment: Consumer | 2019: 1,204 | 2018: 1,150" in doc.text
    assert doc.text[doc.pages[1][1]:doc.pages[1][2]] == "Team | People\nTeam: Research | People: 42"


def test_csv_rows_carry_headers(tmp_path):
    (tmp_path / "t.csv").write_text("city,population\nOslo,709000\nBergen,291000\n")
    [doc] = read_documents(tmp_path / "t.csv", tmp_path)
    assert doc.text == "city | population\ncity: Oslo | population: 709000\ncity: Bergen | population: 291000"


def _scanned_pdf(pages: list[str]) -> bytes:
    """An image-only PDF: each text page rendered to a bitmap by pdfium, saved as a PDF by Pillow."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(make_pdf(pages))
    images = [page.render(scale=200 / 72).to_pil().convert("RGB") for page in pdf]
    pdf.close()
    buf = io.BytesIO()
    images[0].save(buf, format="PDF", save_all=True, append_images=images[1:], resolution=200)
    return buf.getvalue()


def test_scanned_pages_are_reported_without_ocr(tmp_path, monkeypatch, caplog):
    text_pdf = make_pdf(PAGES)
    scanned = _scanned_pdf(PAGES[1:2])
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()  # pages 1 and 3 have text, page 2 is only an image
    for reader, n in ((PdfReader(io.BytesIO(text_pdf)), 0), (PdfReader(io.BytesIO(scanned)), 0),
                      (PdfReader(io.BytesIO(text_pdf)), 2)):
        writer.add_page(reader.pages[n])
    buf = io.BytesIO()
    writer.write(buf)
    (tmp_path / "mixed.pdf").write_bytes(buf.getvalue())
    monkeypatch.setattr(readers.shutil, "which", lambda name: None)
    with caplog.at_level(logging.WARNING, logger="rag.readers"):
        [doc] = read_documents(tmp_path / "mixed.pdf", tmp_path)
    assert "mixed.pdf: page 2 has no text layer" in caplog.text and "apt-get install tesseract-ocr" in caplog.text
    assert [label for label, _, _ in doc.pages] == ["p. 1", "p. 2", "p. 3"]
    assert doc.pages[1][1] == doc.pages[1][2]  # the scanned page is there, empty
    assert all(c.page != 2 for c in chunk_document(doc))


@pytest.fixture(scope="module")
def tesseract():
    """Debian's tesseract-ocr, installed with apt-get if it is missing."""
    if shutil.which("tesseract") is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "tesseract-ocr"], check=True, capture_output=True, timeout=900)
    return shutil.which("tesseract")


def test_scanned_pdf_is_ocrd(tmp_path, tesseract):
    assert tesseract
    (tmp_path / "scan.pdf").write_bytes(_scanned_pdf(PAGES[:2]))
    [doc] = read_documents(tmp_path / "scan.pdf", tmp_path)
    assert [label for label, _, _ in doc.pages] == ["p. 1", "p. 2"]
    first, second = (doc.text[s:e].lower() for _, s, e in doc.pages)
    assert "three hearts" in first and "blue blood" in first
    assert "nautilus corporation" in second and "4,812" in second


def test_blank_pages_are_not_reported_as_scanned(tmp_path, caplog):
    (tmp_path / "blank.pdf").write_bytes(make_pdf([PAGES[0], ""]))
    with caplog.at_level(logging.WARNING, logger="rag.readers"):
        [doc] = read_documents(tmp_path / "blank.pdf", tmp_path)
    assert len(doc.pages) == 2 and "no text layer" not in caplog.text
