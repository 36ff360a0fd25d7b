"""What a summary reads: central sentences, collection cards, topic sentences, the documents a
question names. Real embedder over the seeds index; the last test reads the same from PostgreSQL."""
from __future__ import annotations

import time

import numpy as np
import pytest

from rag.answering import summary
from rag.answering.summary import (across_documents, central_sentences, collection_cards, find_documents, topic_of,
                                   topic_sentences)
from rag.generate.prompt import count_tokens
from rag.search import search
from rag.store import migrate, open_store


def doc_of(index, prefix: str) -> str:
    return next(d for d in index.documents if d.rsplit("/", 1)[-1].startswith(prefix))


def assert_exact(evidence, index) -> None:
    """Each sentence is cut from its chunk and from its document at the same offsets."""
    for e in evidence:
        doc = index.documents[e.passage.doc_id]
        assert doc.text[e.passage.start:e.passage.end] == e.passage.text
        assert e.parent.text[e.sentence.start:e.sentence.end] == e.passage.text
        assert doc.text[e.parent.start:e.parent.end] == e.parent.text


# --- without the model ------------------------------------------------------------------------
def test_mmr_prefers_another_fact_to_a_near_copy():
    vectors = np.array([[1, 0, 0], [0.999, 0.0447, 0], [0, 0, 1]], dtype=np.float32)
    relevance = np.array([1.0, 0.99, 0.6], dtype=np.float32)
    assert summary._mmr(relevance, vectors, 2) == [0, 2]
    assert summary._mmr(relevance, vectors, 1, chosen=[2]) == [0]


@pytest.mark.parametrize("question,topic", [
    ("Summarize what Korea and the UK signed", "what Korea and the UK signed"),
    ("Give me an overview of the ROK-US space industry symposium.", "the ROK-US space industry symposium"),
    ("Please summarise: the Quebec meeting, briefly.", "the Quebec meeting"),
    ("Who signed the MoU?", "Who signed the MoU"),
])
def test_topic_of_a_summary_request(question, topic):
    assert topic_of(question) == topic


# --- central sentences ------------------------------------------------------------------------
def test_central_sentences_of_the_uk_release_state_the_signing_and_the_eleven_sectors(seeds_settings):
    index = open_store(seeds_settings)
    uk = doc_of(index, "003")
    evidence = central_sentences(uk, index, seeds_settings, n=5)
    texts = [e.passage.text for e in evidence]
    assert len(texts) == len(set(texts)) == 5
    assert any("announced the signing of" in t and "Digital Partnership" in t for t in texts), texts
    assert any("11 digital sectors" in t for t in texts), texts
    assert [e.passage.start for e in evidence] == sorted(e.passage.start for e in evidence)  # document order
    assert_exact(evidence, index)
    title = index.documents[uk].title
    assert all(len(t.split()) >= summary.MIN_WORDS or t == title for t in texts)
    assert all(e.sentence.coverage == e.sentence.specific == 1.0 and 0 < e.sentence.meaning <= 1 for e in evidence)


def test_central_sentences_skip_menus_bullets_and_links(seeds_settings):
    index = open_store(seeds_settings)
    for prefix in ("001", "002", "003"):
        read = summary._read(doc_of(index, prefix), index, seeds_settings)
        texts = [read.text(i) for i in range(len(read.spans))]
        assert not any(t.startswith("•") or "http" in t or "Phone" in t for t in texts), prefix
        assert len({(s[0], s[1]) for s in read.spans}) == len(texts)  # every sentence once, though chunks overlap
    texts = [e.passage.text for e in central_sentences(doc_of(index, "001"), index, seeds_settings, n=20)]
    deck = 'MSIT and US Department of Commerce co-host "ROK-US Space Industry Symposium"'
    assert deck in texts  # a bullet of the deck, without its bullet


def test_central_sentences_are_cached(seeds_settings, monkeypatch):
    index = open_store(seeds_settings)
    uk = doc_of(index, "003")
    summary._cache.clear()
    cold = central_sentences(uk, index, seeds_settings)

    def no_embedding(*args, **kwargs):
        raise AssertionError("the second call must embed nothing")

    monkeypatch.setattr(summary, "_embedder", no_embedding)
    assert central_sentences(uk, index, seeds_settings) == cold


def test_a_long_document_is_read_through_its_most_central_chunks(seeds_settings, monkeypatch):
    index = open_store(seeds_settings)
    uk = doc_of(index, "003")
    rows = index.rows_of(uk)
    assert len(rows) > 4
    monkeypatch.setattr(summary, "MAX_CHUNKS", 4)
    summary._cache.clear()
    try:
        read = summary._read(uk, index, seeds_settings)
        evidence = central_sentences(uk, index, seeds_settings, n=3)
    finally:
        summary._cache.clear()  # the cache does not know MAX_CHUNKS: later tests read the whole document
    chunks = index.chunks_of(rows)
    assert len(read.parents) == 4 and read.parents[0].chunk_id == chunks[0].chunk_id  # the lead, and 3 more
    vectors = index.vectors_of(rows)
    centre = vectors.mean(axis=0)
    central = [chunks[i].chunk_id for i in np.argsort(-(vectors @ centre)) if i != 0][:3]
    assert sorted(p.chunk_id for p in read.parents[1:]) == sorted(central)
    assert len(evidence) == 3 and {e.parent.chunk_id for e in evidence} <= {p.chunk_id for p in read.parents}
    assert_exact(evidence, index)


# --- the collection ---------------------------------------------------------------------------
def test_collection_cards_cover_every_document_within_the_budget(seeds_settings):
    index = open_store(seeds_settings)
    summary._cache.clear()
    started = time.perf_counter()
    collection_cards(index, seeds_settings)
    cold_s = time.perf_counter() - started
    started = time.perf_counter()
    cards = collection_cards(index, seeds_settings, n=2, budget=400)
    warm_s = time.perf_counter() - started
    print(f"collection cards of the seeds: cold {cold_s:.3f} s, warm {warm_s * 1000:.2f} ms")
    assert warm_s < 1.0
    assert_exact(cards, index)
    used = sum(count_tokens(e.passage.text) for e in cards)
    assert used <= 400
    by_doc: dict[str, list[str]] = {}
    for e in cards:
        by_doc.setdefault(e.passage.doc_id, []).append(e.passage.text)
    assert list(by_doc) == list(index.documents)  # every document, in index order
    for doc_id, texts in by_doc.items():
        headline = summary._words(texts[0])  # the card opens with the headline
        assert summary._words(index.documents[doc_id].title)[: len(headline)] == headline
        assert 2 <= len(texts) <= 3
    tight = collection_cards(index, seeds_settings, n=2, budget=80)
    assert list(dict.fromkeys(e.passage.doc_id for e in tight)) == list(index.documents)  # a line per document
    assert len(tight) < len(cards)
    assert sum(count_tokens(e.passage.text) for e in tight) <= 80


# --- a topic ----------------------------------------------------------------------------------
def test_topic_sentences_cover_more_than_one_fact(seeds_settings):
    index = open_store(seeds_settings)
    question = "Summarize what Korea and the UK signed"
    passages, _ = search(topic_of(question), index, seeds_settings, k=seeds_settings.claim_k)
    evidence = topic_sentences(question, passages, index, seeds_settings, n=6)
    assert len(evidence) == 6
    assert_exact(evidence, index)
    assert [(passages.index(e.parent), e.sentence.start) for e in evidence] == sorted(
        (passages.index(e.parent), e.sentence.start) for e in evidence)  # reading order
    assert all(e.passage.doc_id == doc_of(index, "003") for e in evidence)
    said = " ".join(e.passage.text for e in evidence)
    agreements = ["Artemis Accords", "Digital Partnership", "MoU on space cooperation", "joint commission", "startups"]
    assert sum(a in said for a in agreements) >= 3, said
    # MMR (unit-tested above): never more alike than as many best-scored sentences, and the best one kept
    from rag.embed import get_embedder

    def alike(texts: list[str]) -> float:
        v = get_embedder(seeds_settings.embedder, seeds_settings.threads).encode(texts)
        return float(((v @ v.T).sum() - len(texts)) / (len(texts) * (len(texts) - 1)))

    scored = sorted(_scored(question, passages, index, seeds_settings), key=lambda x: -x[0])[:6]
    assert max(e.sentence.score for e in evidence) == pytest.approx(scored[0][0])
    assert alike([e.passage.text for e in evidence]) <= alike([t for _, t in scored]) + 1e-6


def test_a_question_over_the_collection_hears_from_every_document(seeds_settings):
    # "these documents": a search ranks the two releases that name most officials first and leaves
    # the Daejeon article (its mayor) out; each document gives its own share instead
    index = open_store(seeds_settings)
    question = "Which Korean officials are named in these documents?"
    evidence = across_documents(question, index, seeds_settings, n=8)
    assert_exact(evidence, index)
    assert [e.passage.doc_id for e in evidence].count(doc_of(index, "002")) == 2
    assert {e.passage.doc_id for e in evidence} == set(index.documents) and len(evidence) == 8
    said = " ".join(e.passage.text for e in evidence)
    assert "Lee Jang-woo" in said and "Oh Tae-seok" in said, said


def _scored(question, passages, index, settings):
    """(score, text) of every statement of ``passages``, as topic_sentences scores them, once each."""
    from rag.embed import get_embedder
    from rag.evidence import score_sentences, sentence_texts, weights_for

    topic = topic_of(question)
    vectors = get_embedder(settings.embedder, settings.threads).encode_cached([topic, *sentence_texts(passages)])
    out, seen = [], set()
    for s in score_sentences(topic, passages, weights_for(index), vectors[1:], vectors[0]):
        p = passages[s.passage]
        text = p.text[s.start:s.end]
        if (p.doc_id, p.start + s.start) not in seen and summary._statement(text):
            seen.add((p.doc_id, p.start + s.start))
            out.append((s.score, text))
    return out


# --- the documents a question names -----------------------------------------------------------
NAMED = [  # (question, seeds it names, in the order it names them)
    ("What is the Global Economic Times article about?", ["002"]),
    ("Summarize the Global Economic Times article.", ["002"]),
    ("Summarize the article from Global Economic Times", ["002"]),
    ("Summarize the Quebec document.", ["002"]),
    ("What does the UK press release say?", ["003"]),
    ("Give me an overview of the British press release.", ["003"]),
    ("Overview of the ROK-UK press release please", ["003"]),
    ("Summarize the Korea–UK digital partnership release", ["003"]),
    ("What is the press release about the ROK-US symposium about?", ["001"]),
    ("Summarize the US press release", ["001"]),
    ("Summarize the symposium release", ["001"]),
    ("Which points does the Korea-US space industry press release make?", ["001"]),
    ("Give me the key points of the MSIT press release on the symposium", ["001"]),
    ("What is the article about the symposium at the Mayfield Hotel about?", ["001"]),
    ("What is the Korea-Canada MOU document about?", ["000"]),
    ("Summarize the document about the Canadian Space Agency MOU", ["000"]),
    ("What does the KASA document say?", ["000"]),
    ("What's the Oh Tae-seok article about?", ["000"]),
    ("Summarize the document about Lisa Campbell", ["000"]),
    ("Summarize the article on the Daejeon meeting", ["002"]),
    ("Tell me about the Daejeon article", ["002"]),
    ("What is the news story about Quebec and Daejeon?", ["002"]),
    ("What is the story about the mayor's trip to Montreal about?", ["002"]),
    ("Summarize 002_b1ecd3794d3bbbb8.txt", ["002"]),
    ("What is 'ROK-UK Digital Partnership and MoU on space cooperation signed' about?", ["003"]),
    ("Compare the UK press release with the Quebec article", ["003", "002"]),
    ("Compare the Canada MOU document and the UK press release", ["000", "003"]),
    # naming no document
    ("What is this collection of documents about?", []),
    ("What are these documents about?", []),
    ("Summarize the documents", []),
    ("Summarize the main points of all the documents", []),
    ("What do the documents say about satellites?", []),
    ("What does the collection say about Canada?", []),
    ("Summarize what Korea and the UK signed", []),
    ("Which Korean officials are named in these documents?", []),
    ("Which Korean officials are named in the documents?", []),
    ("Who signed the MOU with the Canadian Space Agency?", []),
    ("Which conference did Daejeon Mayor Lee Jang-woo attend in Montreal?", []),
    ("Who is the Minister of Science and ICT?", []),
    ("Which document mentions the Artemis Accords?", []),
    ("What documents mention Canada?", []),
    ("Is there a document about Mars?", []),
    ("What is the space document about?", []),  # every seed is about space: it names none of them
]


def test_find_documents_on_a_labelled_list(seeds_settings):
    index = open_store(seeds_settings)
    wrong = []
    for question, wanted in NAMED:
        got = [d.rsplit("/", 1)[-1][:3] for d in find_documents(question, index, seeds_settings)]
        if got != wanted:
            wrong.append((question, got, wanted))
    accuracy = 1 - len(wrong) / len(NAMED)
    print(f"find_documents: {len(NAMED) - len(wrong)}/{len(NAMED)} = {accuracy:.3f}; wrong: {wrong}")
    assert accuracy >= 0.9, wrong
    quebec = [doc_of(index, "002")]
    assert find_documents("What is the Global Economic Times article about?", index, seeds_settings) == quebec
    assert find_documents("What is this collection of documents about?", index, seeds_settings) == []


# --- the PostgreSQL store ---------------------------------------------------------------------
def test_summaries_read_the_same_from_postgres(pg_url, seeds_settings):
    local = open_store(seeds_settings)
    settings = seeds_settings.replace(store=pg_url, collection="summary")
    migrate(settings, pg_url, source=seeds_settings.index_dir)
    pg = open_store(settings)
    for doc_id in local.documents:
        assert [c.chunk_id for c in pg.chunks_of(pg.rows_of(doc_id))] == \
               [c.chunk_id for c in local.chunks_of(local.rows_of(doc_id))]
    assert pg.rows_of("no such document") == [] == local.rows_of("no such document")
    uk = doc_of(local, "003")
    expected = central_sentences(uk, local, seeds_settings)
    cards = collection_cards(local, seeds_settings)
    summary._cache.clear()  # read again, from the database
    assert [(e.passage.start, e.passage.end) for e in central_sentences(uk, pg, settings)] == \
           [(e.passage.start, e.passage.end) for e in expected]
    assert [(e.passage.doc_id, e.passage.start) for e in collection_cards(pg, settings)] == \
           [(e.passage.doc_id, e.passage.start) for e in cards]
    assert find_documents("Summarize the Quebec document.", pg, settings) == [doc_of(local, "002")]
    started = time.perf_counter()
    collection_cards(pg, settings)
    warm_s = time.perf_counter() - started
    print(f"collection cards from PostgreSQL, warm: {warm_s * 1000:.1f} ms")
    assert warm_s < 1.0
