"""Load: find input files and read them into cleaned ``Document`` records."""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from .clean import clean_plain, html_to_text, normalize, plain_title
from .readers import READERS, Page, ReadError
from .types import Document

MARKDOWN = {".md", ".markdown"}
SUPPORTED = {".txt", *MARKDOWN, ".html", ".htm", ".jsonl", *READERS}
PAGE_SEP = "\n\n"
# Metadata titles an authoring tool fills in by itself: no title at all.
GENERATED_TITLE = re.compile(r"untitled(?: document)?|document\d*|presentation\d*|powerpoint presentation|slide \d+"
                             r"|book\d*|sheet\d*|title|microsoft (?:word|powerpoint|excel) - .*", re.IGNORECASE)
MAX_BYTES = 200 * 1024 * 1024


class LoadError(ValueError):
    """A file that cannot be ingested; ``str()`` says why."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = str(path), reason


def content_hash(title: str, text: str) -> str:
    return hashlib.sha256(f"{title}\x00{text}".encode()).hexdigest()


def origin_label(root: Path) -> str:
    """``<folder name>-<8 hex of its absolute path>``: the prefix of the ids of a folder's documents."""
    root = Path(root).resolve()
    return f"{root.name or 'root'}-{hashlib.sha256(str(root).encode()).hexdigest()[:8]}"


def document_id(root: Path, source: str, inner: str = "") -> str:
    """A document id unique per origin: ``<origin label>/<source>``, ``#<inner id>`` for a BEIR row."""
    return f"{origin_label(root)}/{source}" + (f"#{inner}" if inner else "")


def short_id(doc_id: str) -> str:
    """What users see of an id: the BEIR ``_id`` of a .jsonl row, else the source path."""
    rest = doc_id.split("/", 1)[-1]
    head, sep, inner = rest.partition(".jsonl#")
    return inner if sep else rest


class OutsideRoot(LoadError):
    """A symbolic link that leads out of the ingested folder (never followed)."""


def iter_files(paths: Iterable[Path | str]) -> Iterator[tuple[Path, Path] | OutsideRoot]:
    """Yield ``(file, root)`` for each input file; a directory is walked recursively.

    ``root`` is the directory that document ids are made relative to. Hidden files and
    folders inside a walked directory are passed over. A symbolic link inside a walked
    directory whose target lies outside it is not followed: an ``OutsideRoot`` is yielded
    in its place, for the caller to report as skipped.
    """
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            real_root = path.resolve()
            for file in sorted(path.rglob("*")):
                rel = file.relative_to(path)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if not file.resolve().is_relative_to(real_root):
                    if file.is_symlink() or file.is_file():
                        yield OutsideRoot(file, f"a symbolic link to {file.resolve()}, outside {path}; not followed")
                    continue
                if file.is_file():
                    yield file, path
        else:
            yield path, path.parent


def read_documents(path: Path, root: Path) -> list[Document]:
    """Read one file into cleaned documents, or raise ``LoadError``."""
    suffix = path.suffix.lower()
    if not path.exists() and not path.is_symlink():  # a broken link is "cannot read" below
        raise LoadError(path, "no such file or folder")
    if suffix not in SUPPORTED:
        raise LoadError(path, f"unsupported file type {suffix or '(none)'}; supported: {', '.join(sorted(SUPPORTED))}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(path, f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > MAX_BYTES:
        raise LoadError(path, f"larger than {MAX_BYTES // 2**20} MiB")
    source = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    doc_id = document_id(root, source)
    if suffix in READERS:
        try:
            title, pages = READERS[suffix](path, data)
        except ReadError as exc:
            raise LoadError(path, str(exc)) from exc
        docs = [_paged_document(doc_id, source, _file_title(path, title), pages)]
    elif suffix == ".jsonl":
        docs = list(_jsonl(path, root, source, _decode(path, data)))
    elif suffix in {".html", ".htm"}:
        title, text, dropped = html_to_text(_decode(path, data))
        docs = [_document(doc_id, source, title, text, dropped)]
    else:
        raw = _decode(path, data)
        text, dropped = clean_plain(raw)
        docs = [_document(doc_id, source, plain_title(raw, text, markdown=suffix in MARKDOWN), text, dropped)]
    docs = [d for d in docs if d.text]
    if not docs:
        raise LoadError(path, "no text after cleaning (empty file?)")
    return docs


def _document(doc_id: str, source: str, title: str, text: str, dropped: int = 0,
              pages: tuple[tuple[str, int, int], ...] = ()) -> Document:
    title = normalize(title)
    return Document(doc_id=doc_id, source=source, title=title, text=text, hash=content_hash(title, text),
                    dropped=dropped, pages=pages)


def _paged_document(doc_id: str, source: str, title: str, pages: list[Page]) -> Document:
    """Pages joined by a blank line, each page's span recorded (an unlabelled single page: unpaged).

    Page text is normalised line by line, not boilerplate-filtered: short lines such as table
    rows are content in these formats.
    """
    parts, spans, at = [], [], 0
    for label, raw in pages:
        text = "\n".join(line.strip() for line in normalize(raw).split("\n") if line.strip())
        if parts:
            at += len(PAGE_SEP)
        spans.append((label, at, at + len(text)))
        parts.append(text)
        at += len(text)
    paged = len(pages) > 1 or (pages and pages[0][0])
    return _document(doc_id, source, title, PAGE_SEP.join(parts), 0, tuple(spans) if paged else ())


def _file_title(path: Path, title: str) -> str:
    """The embedded title, prefixed by the file name when the title does not contain it.

    Retrieval sees the title with every chunk, so a filing named ``3M_2018_10K.pdf`` gives each
    of its chunks the company, year and form even when the page text does not repeat them.
    """
    name = " ".join(path.stem.replace("_", " ").replace("-", " ").split())
    title = normalize(title)
    if not re.search(r"[^\W\d_]{2}", title) or GENERATED_TITLE.fullmatch(title):
        title = ""  # an id like 0001018724-18-000005, or what the authoring tool filled in
    return title if name.lower() in title.lower() else f"{name} — {title}" if title else name


def _decode(path: Path, data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise LoadError(path, "binary content, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(path, f"not valid UTF-8 (byte {exc.start}); convert it to UTF-8 first") from exc


def display_title(document: Document, limit: int = 100) -> str:
    """The title, or for a document without one its first line, shortened: what lists show."""
    text = document.title or document.text.split("\n", 1)[0].strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _jsonl(path: Path, root: Path, source: str, text: str) -> Iterator[Document]:
    """BEIR-style lines: ``_id`` (or ``id``), optional ``title``, ``text``."""
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            doc_id = str(row.get("_id", row.get("id", "")))
            body = row["text"]
        except (json.JSONDecodeError, KeyError, AttributeError, TypeError) as exc:
            raise LoadError(path, f"line {lineno} is not a JSON object with an id and 'text'") from exc
        if not doc_id:
            raise LoadError(path, f"line {lineno} has no '_id' or 'id'")
        yield _document(document_id(root, source, doc_id), source, str(row.get("title") or ""), normalize(str(body)))
