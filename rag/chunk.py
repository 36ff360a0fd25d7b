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
    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        keep_separator="end",
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        length_function=lambda text: len(enc.encode(text, disallowed_special=())),
        strip_whitespace=True,
    )


def chunk_document(doc: Document, chunk_size: int = 200, chunk_overlap: int = 40) -> list[Chunk]:
    """Split ``doc.text``; every chunk satisfies ``doc.text[start:end] == chunk.text``."""
    chunks: list[Chunk] = []
    cursor = 0
    for piece in _splitter(chunk_size, chunk_overlap).split_text(doc.text):
        # Pieces come in order and may overlap: search from just after the previous start.
        start = doc.text.find(piece, cursor)
        if start < 0:  # never expected: pieces are verbatim substrings
            start = doc.text.find(piece)
        if start < 0:
            raise ValueError(f"chunk of {doc.doc_id} not found in its text")
        end = start + len(piece)
        chunks.append(Chunk(f"{doc.doc_id}#{len(chunks)}", doc.doc_id, doc.source, doc.title, piece, start, end))
        cursor = start + 1
    return chunks
