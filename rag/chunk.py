"""Chunk: token-bounded, sentence-respecting, overlapping slices with exact offsets."""
from __future__ import annotations

from functools import lru_cache

from .models import encoding
from .types import Chunk, Document

# Paragraphs, then lines, then sentences, then clauses, then words.
SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]


@lru_cache(maxsize=8)
def _splitter(chunk_size: int, chunk_overlap: int):
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    enc = encoding("cl100k_base")

    @lru_cache(maxsize=1 << 16)  # the splitter measures each piece twice (split, then merge)
    def tokens(text: str) -> int:
        return len(enc.encode(text, disallowed_special=()))

    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        keep_separator="end",
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        length_function=tokens,
        strip_whitespace=True,
    )


def chunk_document(doc: Document, chunk_size: int = 200, chunk_overlap: int = 40) -> list[Chunk]:
    """Split ``doc.text``; every chunk satisfies ``doc.text[start:end] == chunk.text``.

    A paged document is split page by page, so no chunk straddles two pages and each chunk
    records its 1-based page and the page's span.
    """
    splitter = _splitter(chunk_size, chunk_overlap)
    spans = [(0, len(doc.text))] if not doc.pages else [(start, end) for _, start, end in doc.pages]
    chunks: list[Chunk] = []
    for page, (lo, hi) in enumerate(spans, 1 if doc.pages else 0):
        text = doc.text[lo:hi]
        cursor = 0
        for piece in splitter.split_text(text):
            # Pieces come in order and may overlap: search from just after the previous start.
            start = text.find(piece, cursor)
            if start < 0:  # never expected: pieces are verbatim substrings
                start = text.find(piece)
            if start < 0:
                raise ValueError(f"chunk of {doc.doc_id} not found in its text")
            cursor = start + 1
            chunks.append(Chunk(f"{doc.doc_id}#{len(chunks)}", doc.doc_id, doc.source, doc.title, piece,
                                lo + start, lo + start + len(piece), **doc.page_info(page)))
    return chunks
