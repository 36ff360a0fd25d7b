"""Plain data records passed between the stages of the pipeline."""
from __future__ import annotations

from dataclasses import dataclass, field

PAGE_FIELDS = ("page", "page_label", "page_start", "page_end")


def page_fields(record) -> dict:
    """The page fields of a ``Chunk``, ``Passage`` or ``Citation``, to pass on to the next record."""
    return {name: getattr(record, name) for name in PAGE_FIELDS}


@dataclass(frozen=True)
class Document:
    """A cleaned source document. ``text`` is the cleaned text every offset refers to."""

    doc_id: str
    source: str
    title: str
    text: str
    hash: str
    dropped: int = 0  # characters the cleaner removed from the file's text (page chrome)
    # Paged formats (PDF pages, slides, sheets): ``(label, start, end)`` per page, in order;
    # page ``n`` (1-based) is ``text[pages[n-1][1]:pages[n-1][2]]``. Empty for unpaged text.
    pages: tuple[tuple[str, int, int], ...] = ()

    def page_info(self, page: int) -> dict:
        """``page``, ``page_label``, ``page_start``, ``page_end`` of 1-based ``page`` (0: none)."""
        if not page:
            return {}
        label, start, end = self.pages[page - 1]
        return {"page": page, "page_label": label, "page_start": start, "page_end": end}


@dataclass(frozen=True)
class Chunk:
    """A token-bounded slice of a document: ``document.text[start:end] == text``."""

    chunk_id: str
    doc_id: str
    source: str
    title: str
    text: str
    start: int
    end: int
    page: int = 0  # 1-based page (slide, sheet) of a paged document; 0 when unpaged
    page_label: str = ""  # how the page is cited: "p. 12", "slide 3", "sheet Revenue"
    page_start: int = 0  # the page's span in the document text
    page_end: int = 0


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its fused retrieval score."""

    doc_id: str
    source: str
    title: str
    text: str
    start: int
    end: int
    score: float
    chunk_id: str = ""
    page: int = 0  # as in ``Chunk``
    page_label: str = ""
    page_start: int = 0
    page_end: int = 0


@dataclass(frozen=True)
class Citation:
    """One numbered citation: the passage ``[number]`` refers to and the quoted span.

    ``start``/``end`` locate the passage in the cleaned document text;
    ``quote_start``/``quote_end`` locate the sentence of that passage that supports
    the claim (a sub-span of ``start:end``).
    """

    number: int
    doc_id: str
    source: str
    title: str
    text: str
    start: int
    end: int
    quote_start: int
    quote_end: int
    support: float = 0.0
    page: int = 0  # as in ``Chunk``: the cited passage's page, its label and span
    page_label: str = ""
    page_start: int = 0
    page_end: int = 0

    @property
    def quote(self) -> str:
        return self.text[self.quote_start - self.start : self.quote_end - self.start]


@dataclass(frozen=True)
class Claim:
    """One checked sentence of an answer: its text (with its ``[n]`` markers) and the numbers of
    the citations that support it."""

    text: str
    citations: tuple[int, ...] = ()


@dataclass(frozen=True)
class Answer:
    """The answer text with inline ``[n]`` markers, its citations and the passages used.

    ``short`` is the span that answers (a name, a date, a number, a place), "" when abstained.
    ``claims`` are the answer's sentences, each checked against the citations it names.
    ``shape`` is the kind of question it was taken for (``rag.answer.route.SHAPES``).
    ``closest`` are, when it abstained, the passages nearest to the question: shown to the user
    as *not* an answer (``citations`` stays empty).
    """

    text: str
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    abstained: bool = False
    query: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    short: str = ""
    claims: list[Claim] = field(default_factory=list)
    shape: str = "factoid"
    closest: list[Passage] = field(default_factory=list)


@dataclass(frozen=True)
class Skipped:
    """An input that was not ingested, and why."""

    path: str
    reason: str


@dataclass
class IngestReport:
    """What an ingest changed."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)  # doc_id -> characters cleaned away
    chunks_embedded: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.removed)} removed, "
            f"{len(self.skipped)} skipped; {self.chunks_embedded} chunks embedded "
            f"in {self.seconds:.1f}s"
        )
