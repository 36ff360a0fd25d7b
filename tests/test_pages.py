"""Page citations end to end: a PDF ingested, then searched and answered, shows the right page."""
from __future__ import annotations

import pytest

import rag
from rag.cli import main
from rag.index import Index
from rag.ui.chat import render_citation
from test_readers import PAGES, make_pdf

QUESTION = "What net revenue did the Nautilus Corporation report in fiscal 2019?"


@pytest.fixture(scope="module")
def pdf_settings(tmp_path_factory):
    from rag.config import Settings

    folder = tmp_path_factory.mktemp("pdfs")
    (folder / "nautilus.pdf").write_bytes(make_pdf(PAGES, table_on=3))
    settings = Settings.from_env(index_dir=tmp_path_factory.mktemp("pdf-index"))
    rag.ingest([folder], settings, progress=False)
    return settings


def test_pages_survive_the_index(pdf_settings):
    index = Index.load(pdf_settings.index_dir)
    doc = next(d for d in index.documents.values() if d.source == "nautilus.pdf")
    assert [label for label, _, _ in doc.pages] == ["p. 1", "p. 2", "p. 3"]
    for c in index.chunks:
        assert (c.page_label, c.page_start, c.page_end) == doc.pages[c.page - 1]
        assert doc.text[c.start:c.end] == c.text


def test_search_and_answer_cite_the_page(pdf_settings, capsys):
    [top, *_] = rag.retrieve(QUESTION, k=3, settings=pdf_settings)
    assert (top.source, top.page, top.page_label) == ("nautilus.pdf", 2, "p. 2")
    a = rag.answer(QUESTION, settings=pdf_settings, backend="extractive")
    assert not a.abstained and a.citations
    c = a.citations[0]
    assert (c.page, c.page_label) == (2, "p. 2") and "4,812" in c.quote
    assert c.page_start <= c.quote_start < c.quote_end <= c.page_end
    assert main(["search", QUESTION, "--index", str(pdf_settings.index_dir), "-k", "1"]) == 0
    assert "[1] nautilus.pdf, p. 2 " in capsys.readouterr().out
    assert main(["ask", QUESTION, "--index", str(pdf_settings.index_dir), "--backend", "extractive"]) == 0
    assert "] nautilus.pdf, p. 2 chars" in capsys.readouterr().out
    html = render_citation(c, turn=0)
    assert '<code class="rag-doc">nautilus.pdf</code> <span class="rag-page">p. 2</span>' in html
