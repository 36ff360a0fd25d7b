"""Readers: PDF, Word, PowerPoint, Excel and CSV files as ``(title, pages)``.

A page is ``(label, text)``: ``"p. 3"`` for PDF pages, ``"slide 2"`` for slides, ``"sheet Sales"``
for worksheets; formats without pages (.docx, .csv) give one page labelled ``""``. Tables come
out a row per line with cells separated by `` | ``. PDF pages without a text layer are OCR'd
when Debian's ``tesseract-ocr`` is installed, and reported as scanned otherwise.
"""
from __future__ import annotations

import csv
import io
import logging
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

log = logging.getLogger(__name__)

Page = tuple[str, str]
CELL_SEP = " | "
OCR_DPI = 300
MIN_TEXT_CHARS = 16  # a page with less text than this and an image is treated as scanned


class ReadError(ValueError):
    """The file cannot be read; ``str()`` says why."""


def read_pdf(path: Path, data: bytes) -> tuple[str, list[Page]]:
    """PDF pages with pdfium (fast, opens empty-password encrypted files); OCR for scanned pages."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ReadError(f"unreadable PDF: {exc}") from exc
    try:
        title = str((pdf.get_metadata_dict(skip_empty=True) or {}).get("Title", ""))
        pages: list[Page] = []
        scanned: list[int] = []
        ocr = shutil.which("tesseract")
        for n in range(len(pdf)):
            page = pdf[n]
            textpage = page.get_textpage()
            text = textpage.get_text_range()
            textpage.close()
            if len(text.strip()) < MIN_TEXT_CHARS and _has_image(page):
                if ocr:
                    text = _ocr(page, ocr) or text
                else:
                    scanned.append(n + 1)
            page.close()
            pages.append((f"p. {n + 1}", text))
    finally:
        pdf.close()
    if scanned:
        log.warning("%s: page%s %s ha%s no text layer (scanned?); install tesseract-ocr "
                    "(sudo apt-get install tesseract-ocr) to OCR %s", path, "s" if len(scanned) > 1 else "",
                    _ranges(scanned), "ve" if len(scanned) > 1 else "s", "them" if len(scanned) > 1 else "it")
    return title, pages


def _has_image(page) -> bool:
    """Whether the page shows an image (a blank page is not a scanned one)."""
    import pypdfium2.raw as pdfium_c

    return next(iter(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2)), None) is not None


def _ocr(page, tesseract: str) -> str:
    """The page rendered at ``OCR_DPI`` and read by the tesseract command."""
    image = page.render(scale=OCR_DPI / 72).to_pil()
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    try:
        run = subprocess.run([tesseract, "stdin", "stdout"], input=buf.getvalue(), capture_output=True,
                             timeout=120, check=True)
    except (subprocess.SubprocessError, OSError) as exc:
        log.warning("OCR failed: %s", exc)
        return ""
    return run.stdout.decode("utf-8", "replace")


def read_docx(path: Path, data: bytes) -> tuple[str, list[Page]]:
    """Paragraphs and tables in document order (one unpaged page)."""
    import docx
    from docx.table import Table

    try:
        doc = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises zipfile/KeyError/ValueError flavours
        raise ReadError(f"unreadable Word file: {exc}") from exc
    blocks = []
    for block in doc.iter_inner_content():
        if isinstance(block, Table):
            blocks.append(_table(row.cells for row in block.rows))
        else:
            blocks.append(block.text)
    return doc.core_properties.title or "", [("", "\n".join(b for b in blocks if b.strip()))]


def read_pptx(path: Path, data: bytes) -> tuple[str, list[Page]]:
    """One page per slide (text frames, tables, then speaker notes), labelled ``slide N``."""
    from pptx import Presentation

    try:
        deck = Presentation(io.BytesIO(data))
    except Exception as exc:  # python-pptx raises zipfile/KeyError/ValueError flavours
        raise ReadError(f"unreadable PowerPoint file: {exc}") from exc
    pages = []
    for n, slide in enumerate(deck.slides, 1):
        parts = []
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
            elif getattr(shape, "has_table", False) and shape.has_table:
                parts.append(_table(row.cells for row in shape.table.rows))
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            parts.append(slide.notes_slide.notes_text_frame.text)
        pages.append((f"slide {n}", "\n".join(p for p in parts if p.strip())))
    return deck.core_properties.title or "", pages


def read_xlsx(path: Path, data: bytes) -> tuple[str, list[Page]]:
    """One page per worksheet, labelled ``sheet NAME``; rows as ``header: value`` lines."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile/KeyError/ValueError flavours
        raise ReadError(f"unreadable Excel file: {exc}") from exc
    try:
        pages = [(f"sheet {sheet.title}", _rows(sheet.iter_rows(values_only=True))) for sheet in book.worksheets]
        return book.properties.title or "", pages
    finally:
        book.close()


def read_csv(path: Path, data: bytes) -> tuple[str, list[Page]]:
    """Rows as ``header: value`` lines (one unpaged page)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReadError(f"not valid UTF-8 (byte {exc.start}); convert it to UTF-8 first") from exc
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    return "", [("", _rows(csv.reader(io.StringIO(text), dialect)))]


def _rows(rows: Iterable[Iterable]) -> str:
    """A table whose first non-empty row is its header: each later row as ``h1: v1 | h2: v2``."""
    header: list[str] | None = None
    lines = []
    for row in rows:
        cells = ["" if v is None else str(v).strip() for v in row]
        if not any(cells):
            continue
        if header is None:
            header = cells
            lines.append(CELL_SEP.join(c for c in cells if c))
            continue
        names = header + [""] * (len(cells) - len(header))
        lines.append(CELL_SEP.join(f"{h}: {c}" if h else c for h, c in zip(names, cells) if c))
    return "\n".join(lines)


def _table(rows: Iterable[Iterable]) -> str:
    """Table rows one per line, cells separated (merged cells repeated once)."""
    lines = []
    for row in rows:
        cells: list[str] = []
        for cell in row:
            text = " ".join(cell.text.split())
            if text and (not cells or cells[-1] != text):
                cells.append(text)
        if cells:
            lines.append(CELL_SEP.join(cells))
    return "\n".join(lines)


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 7]`` → ``"1-3, 7"``."""
    out, start = [], numbers[0]
    for prev, cur in zip(numbers, numbers[1:] + [None]):
        if cur is None or cur != prev + 1:
            out.append(f"{start}-{prev}" if prev > start else str(start))
            start = cur
    return ", ".join(out)


READERS: dict[str, Callable[[Path, bytes], tuple[str, list[Page]]]] = {
    ".pdf": read_pdf,
    ".docx": read_docx,
    ".pptx": read_pptx,
    ".xlsx": read_xlsx,
    ".csv": read_csv,
}
