import pytest

from rag.chunk import chunk_document
from rag.load import read_documents
from rag.models import encoding
from conftest import SEEDS

SEED_FILES = sorted(SEEDS.glob("*.txt"))


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("size,overlap", [(200, 40), (64, 16)])
def test_offsets_are_exact_and_chunks_bounded(path, size, overlap):
    doc = read_documents(path, SEEDS)[0]
    chunks = chunk_document(doc, size, overlap)
    enc = encoding()
    assert chunks, "every seed yields chunks"
    for c in chunks:
        assert doc.text[c.start:c.end] == c.text
        assert len(enc.encode(c.text)) <= size
        assert (c.doc_id, c.source, c.title) == (doc.doc_id, doc.source, doc.title)
    # consecutive chunks cover the document: no gap of real text between them
    for a, b in zip(chunks, chunks[1:]):
        assert b.start <= a.end or not doc.text[a.end:b.start].strip()
    assert not doc.text[chunks[-1].end:].strip()


def test_chunks_overlap_and_respect_sentences():
    doc = read_documents(SEEDS / "003_27fea56bcbbbd058.txt", SEEDS)[0]
    chunks = chunk_document(doc, 120, 30)
    assert any(b.start < a.end for a, b in zip(chunks, chunks[1:])), "overlap expected"
    # chunks end at word boundaries, mostly at the end of a sentence
    assert all(c.end == len(doc.text) or doc.text[c.end].isspace() for c in chunks)
    assert sum(c.text[-1] in ".!?" for c in chunks) >= len(chunks) // 2
