"""The PostgreSQL + pgvector store, against a real server started by the ``pg_url`` fixture."""
from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

import rag
from conftest import ROOT, SEEDS
from rag.config import Settings
from rag.evidence import Weights
from rag.index import Index, IndexUnavailable, open_index
from rag.search import search
from rag.store import migrate, open_store, open_writer
from rag.store.postgres import chunk_terms, connect
from rag.types import Chunk, Document
from test_cli import QUESTION, rag_cli

DIM = 384


@pytest.fixture(scope="module")
def pg_seeds(pg_url, seeds_settings) -> Settings:
    """The seeds index migrated (not re-embedded) into the collection ``seeds``."""
    settings = seeds_settings.replace(store=pg_url, collection="seeds")
    migrate(settings, pg_url, source=seeds_settings.index_dir)
    return settings


def _sql(url: str, query: str, params=()) -> list[tuple]:
    conn = connect(url)
    try:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def test_search_and_weights_match_the_local_store(pg_seeds, seeds_settings):
    local, pg = open_store(seeds_settings), open_store(pg_seeds)
    assert len(pg.documents) == len(local.documents) and pg.chunk_count() == local.chunk_count()
    assert Weights(pg).df == Weights(local).df and Weights(pg).n == Weights(local).n
    for query in (QUESTION, "low earth orbit satellites", "Mayfield Hotel symposium"):
        ours, rel = search(query, pg, pg_seeds, k=5)
        theirs, rel_local = search(query, local, seeds_settings, k=5)
        assert [(p.chunk_id, p.start, p.end, p.text) for p in ours] == [(p.chunk_id, p.start, p.end, p.text) for p in theirs]
        assert [p.score for p in ours] == pytest.approx([p.score for p in theirs], abs=1e-4)
        assert rel == pytest.approx(rel_local, abs=1e-5)
        lex_pg, lex_local = pg.lexical(query), local.lexical(query)
        top = lex_local.top(20)
        rows_pg = lex_pg.top(20)
        assert len(rows_pg) == len(top) > 0
        assert lex_pg.scores(rows_pg) == pytest.approx(np.sort(lex_local.scores(top))[::-1], rel=1e-5)


def test_answers_with_citations_from_postgres(pg_seeds):
    a = rag.answer(QUESTION, settings=pg_seeds.replace(backend="extractive"))
    assert not a.abstained and "Oh Tae-seok" in a.text and a.citations
    doc = open_store(pg_seeds).documents[a.citations[0].doc_id]
    c = a.citations[0]
    assert doc.text[c.quote_start:c.quote_end] == c.quote


def test_migrate_back_to_a_folder_keeps_every_vector(pg_seeds, seeds_settings, tmp_path):
    back = tmp_path / "back"
    done = migrate(pg_seeds, back)
    local, copy = open_index(seeds_settings.index_dir), Index.load(back)
    assert done["chunks"] == len(local.chunks) == len(copy.chunks)
    order = {c.chunk_id: i for i, c in enumerate(copy.chunks)}
    rows = [order[c.chunk_id] for c in local.chunks]
    assert np.array_equal(copy.vectors[rows], local.vectors)
    assert [copy.chunks[r] for r in rows] == local.chunks
    assert copy.documents == local.documents and copy.origins == local.origins


def _synthetic(collection_docs: int, centre: np.ndarray, spread: float, seed: int, prefix: str):
    """Documents of one chunk each, vectors around ``centre`` (unit length)."""
    rng = np.random.default_rng(seed)
    vectors = centre + spread * rng.standard_normal((collection_docs, DIM))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    docs, chunks = {}, []
    for i in range(collection_docs):
        text = f"{prefix} note number {i}"
        doc = Document(f"{prefix}/{i}", f"{i}.txt", f"{prefix} {i}", text, f"h{prefix}{i}")
        docs[doc.doc_id] = doc
        chunks.append(Chunk(f"{doc.doc_id}#0", doc.doc_id, doc.source, doc.title, text, 0, len(text)))
    return docs, chunks, vectors


def _fill(settings: Settings, url: str, docs, chunks, vectors) -> None:
    config = Index.make_config(settings, DIM)
    with open_writer(settings, url, rebuild=True, expect=config) as writer:
        writer.commit(docs, {}, set(), chunks, vectors)


def test_filtered_search_returns_k_from_a_small_collection(pg_url, tmp_settings):
    """One shared HNSW graph: the big collection crowds the query's neighbourhood, and without
    iterative scans a filter on the small one keeps only what the first ef_search candidates
    held (the Open WebUI #30135 failure). Sorting is disabled so the planner walks the HNSW
    graph, as it does on a table too large to sort, instead of sorting the small collection."""
    rng = np.random.default_rng(0)
    query = rng.standard_normal(DIM)
    query /= np.linalg.norm(query)
    far = rng.standard_normal(DIM)
    far /= np.linalg.norm(far)
    _fill(tmp_settings.replace(collection="big"), pg_url, *_synthetic(3000, query, 0.03, 1, "big"))
    _fill(tmp_settings.replace(collection="small"), pg_url, *_synthetic(25, far, 0.03, 2, "small"))
    _sql(pg_url, "ALTER DATABASE postgres SET enable_sort = off")
    try:
        small = open_store(tmp_settings.replace(store=pg_url, collection="small"))
        small.ef_search = 40  # a narrow walk (the default, 1000, would reach the small collection anyway)
        hits = small.search_dense(query, 10)
        conn = connect(pg_url)
        try:
            with conn.transaction():
                conn.execute("SET LOCAL hnsw.iterative_scan = off")
                sql = "SELECT id FROM rag_chunks WHERE collection = 'small' ORDER BY embedding <=> %s LIMIT 10"
                plan = " ".join(r[0] for r in conn.execute("EXPLAIN " + sql, (query.astype(np.float32),)))
                plain = conn.execute(sql, (query.astype(np.float32),)).fetchall()
        finally:
            conn.close()
    finally:
        _sql(pg_url, "ALTER DATABASE postgres RESET enable_sort")
    assert "rag_chunks_embedding" in plan  # the HNSW index was used
    assert len(plain) < 10  # what a filtered HNSW search returns without iterative scans
    assert len(hits) == 10
    assert {c.doc_id.split("/")[0] for c in small.chunks_of([r for r, _ in hits])} == {"small"}
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    big = open_store(tmp_settings.replace(store=pg_url, collection="big"))
    assert len(big.search_dense(query, 10)) == 10 and big.chunk_count() == 3000


def test_a_failed_write_leaves_the_previous_state(pg_url, tmp_settings):
    settings = tmp_settings.replace(collection="crash")
    docs, chunks, vectors = _synthetic(5, np.ones(DIM) / DIM ** 0.5, 0.1, 3, "crash")
    _fill(settings, pg_url, docs, chunks, vectors)
    more = _synthetic(3, np.ones(DIM) / DIM ** 0.5, 0.1, 4, "more")
    with pytest.raises(RuntimeError, match="power cut"):
        with open_writer(settings, pg_url, expect=Index.make_config(settings, DIM)) as writer:
            writer.commit({**docs, **more[0]}, {}, set(), more[1], more[2])
            raise RuntimeError("power cut")
    store = open_store(settings.replace(store=pg_url))
    assert sorted(store.documents) == sorted(docs) and store.chunk_count() == 5


def test_bad_urls_and_collections_say_what_to_do(pg_url, tmp_settings):
    with pytest.raises(IndexUnavailable, match=r"cannot connect to the PostgreSQL store postgresql://rag:\*\*\*@127\.0\.0\.1:1/x.*RAG_STORE"):
        open_store(tmp_settings.replace(store="postgresql://rag:secret@127.0.0.1:1/x"))
    with pytest.raises(IndexUnavailable, match="no collection 'nothing-here'.*rag ingest PATH --store"):
        open_store(tmp_settings.replace(store=pg_url, collection="nothing-here"))


def _consistent(url: str, collection: str) -> None:
    """Counts and BM25 statistics agree with the chunks actually stored."""
    (n, tokens), = _sql(url, "SELECT chunks, tokens FROM rag_collections WHERE name = %s", (collection,))
    assert _sql(url, "SELECT count(*), sum(tokens) FROM rag_chunks WHERE collection = %s", (collection,))[0] == (n, tokens)
    stored = dict(_sql(url, "SELECT term, df FROM rag_terms WHERE collection = %s", (collection,)))
    recount = Counter(t for (terms,) in _sql(url, "SELECT terms FROM rag_chunks WHERE collection = %s", (collection,))
                      for t in terms)
    assert stored == dict(recount)


def test_concurrent_ingests_and_readers_lose_nothing(pg_url, seeds_settings, tmp_path):
    """Two CLI ingests of different folders into one collection while another process reads."""
    folders = []
    for name in ("alpha", "beta"):
        folder = tmp_path / name
        folder.mkdir()
        for i in range(6):
            (folder / f"{name}{i}.md").write_text(f"# {name} {i}\n\nThe {name} lighthouse number {i} was "
                                                   f"painted colour {i * 7} in {1900 + i}.\n")
        folders.append(folder)
    settings = seeds_settings.replace(store=pg_url, collection="shared")
    migrate(settings, pg_url, source=seeds_settings.index_dir)  # the collection exists before the race
    env = {**os.environ, "RAG_STORE": pg_url, "RAG_COLLECTION": "shared"}
    reader = subprocess.Popen([sys.executable, "-c", (
        "import time, numpy as np\nfrom rag.store import open_store\nfrom rag.config import Settings\n"
        "s = Settings.from_env()\nend = time.time() + 900\nn = docs = 0\nq = np.ones(384, np.float32) / 384 ** 0.5\n"
        "while time.time() < end and docs != 16:\n"
        "    store = open_store(s)\n    docs = len(store.documents)\n"
        "    assert len(store.search_dense(q, 5)) == 5 and store.chunks_of(store.lexical('space').top(3))\n"
        "    n += 1\nprint(n, docs)")], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    writers = [subprocess.Popen([sys.executable, "-m", "rag.cli", "ingest", str(f)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in folders]
    for w in writers:
        out, err = w.communicate(timeout=900)
        assert w.returncode == 0, err
    searches, seen = reader.communicate(timeout=900)[0].split()
    assert reader.returncode == 0 and int(seen) == 16 and int(searches) >= 1
    store = open_store(settings)
    assert len(store.documents) == 16  # 4 seeds + 6 + 6
    rows = _sql(pg_url, "SELECT chunk_id FROM rag_chunks WHERE collection = 'shared'")
    assert len(rows) == len({r for (r,) in rows}) == store.chunk_count()
    _consistent(pg_url, "shared")
    # re-ingest unchanged: nothing embedded, nothing changed; then remove one document
    again = rag.ingest([folders[0]], settings, progress=False)
    assert len(again.unchanged) == 6 and not again.changed and again.chunks_embedded == 0
    doomed = [d for d in store.documents if d.endswith("/alpha0.md")]
    assert len(doomed) == 1 and rag.remove(["alpha0.md"], settings) == doomed
    assert len(open_store(settings).documents) == 15
    _consistent(pg_url, "shared")


def test_cli_ingest_then_ask_on_postgres(pg_url):
    env = {"RAG_STORE": pg_url, "RAG_COLLECTION": "cli"}
    ingested = rag_cli("ingest", str(SEEDS), env=env, timeout=900)
    assert ingested.returncode == 0, ingested.stderr
    out = rag_cli("ask", QUESTION, "--backend", "extractive", env=env, timeout=900)
    assert out.returncode == 0 and "Oh Tae-seok" in out.stdout and "[1]" in out.stdout, out.stderr
    listed = rag_cli("list", "--store", pg_url, "--collection", "cli")
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 4


def test_chunk_terms_are_the_local_bm25_tokens():
    chunk = Chunk("d#0", "d", "d.txt", "Lighthouses", "The lighthouses were painted; the painter painted them.", 0, 5)
    (terms, tfs, n), = chunk_terms([chunk])
    assert dict(zip(terms, tfs)) == {"lighthous": 2, "paint": 2, "painter": 1, "were": 1, "them": 1} and n == 7


def test_the_ui_lists_and_answers_from_postgres(pg_seeds, tmp_path):
    from rag.service import App
    from rag.ui.chat import Chat

    app = App(pg_seeds.replace(index_dir=tmp_path / "index", backend="extractive"))
    docs, origins = app.catalogue()
    assert len(docs) == 4 and set(origins) == {d.doc_id for d in docs} and all(d.text for d in docs)
    reply = Chat(app).ask(QUESTION)
    assert "Oh Tae-seok" in reply["text"] and reply["citations"], reply


# --- lexical search: index candidates, exact BM25 -----------------------------------------------
LEXICAL_QUERIES = [
    "Who signed the space MoU with the Canadian Space Agency?", "Where was the 41st Space Symposium held?",
    "What did Daejeon discuss with Quebec?", "Mayfield Hotel symposium", "low earth orbit satellites",
    "Korea AeroSpace Administration administrator bilateral meeting", "space agency cooperation", "the city",
]


def _lexical_corpus(n: int = 1500, seed: int = 5):
    """``n`` one-chunk documents of 20-80 words drawn from the seeds' words at their own frequencies:
    a fixed corpus where the seeds' common words are common and their rare words rare."""
    import re

    words = re.findall(r"[A-Za-z]{3,}", " ".join(p.read_text() for p in sorted(SEEDS.glob("*.txt"))).lower())
    vocab, counts = np.unique(words, return_counts=True)
    rng = np.random.default_rng(seed)
    docs, chunks = {}, []
    for i in range(n):
        text = " ".join(rng.choice(vocab, size=int(rng.integers(20, 80)), p=counts / counts.sum()))
        doc = Document(f"lex/{i}", f"{i}.txt", "", text, f"hlex{i}")
        docs[doc.doc_id] = doc
        chunks.append(Chunk(f"{doc.doc_id}#0", doc.doc_id, doc.source, "", text, 0, len(text)))
    vectors = rng.standard_normal((n, DIM))
    return docs, chunks, (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def lexical_pair(pg_url, tmp_path_factory):
    """The fixed corpus as a folder index (in memory) and as the PostgreSQL collection ``lexical``."""
    settings = Settings.from_env(index_dir=tmp_path_factory.mktemp("lexical") / "index", collection="lexical")
    docs, chunks, vectors = _lexical_corpus()
    _fill(settings, pg_url, docs, chunks, vectors)
    local = Index(Index.make_config(settings, DIM), docs, chunks, vectors)
    return local, open_store(settings.replace(store=pg_url))


def _ranked(store, lexical, rows) -> list[tuple[str, float]]:
    return [(c.chunk_id, float(s)) for c, s in zip(store.chunks_of(rows), lexical.scores(rows))]


def _same_ranking(ours: list[tuple[str, float]], theirs: list[tuple[str, float]]) -> None:
    """Equal scores, best first, and the same chunks at each score (ties may be broken differently)."""
    assert [s for _, s in ours] == pytest.approx([s for _, s in theirs], rel=1e-5)
    cut = ours[-1][1] + 1e-6  # chunks tied with the last one may be cut differently
    assert sorted((round(s, 4), c) for c, s in ours if s > cut) == sorted((round(s, 4), c) for c, s in theirs if s > cut)


def test_indexed_lexical_search_ranks_as_the_folder_index(lexical_pair):
    """Candidates from the GIN index on the rarest terms, capped, then exact BM25: the same top as
    bm25s over every chunk, on a corpus where the cap leaves common terms out of the probe."""
    local, pg = lexical_pair
    capped = certified = 0
    try:
        for cap in (0, 40):  # 0: every chunk holding a query term; 40: at least 10 n = 200 of 1,500 chunks
            pg.lexical_candidates = cap
            for query in LEXICAL_QUERIES:
                lex_pg, lex_local = pg.lexical(query), local.lexical(query)
                ours, theirs = lex_pg.top(20), lex_local.top(20)
                assert len(ours) == len(theirs) == 20, query
                _same_ranking(_ranked(pg, lex_pg, ours), _ranked(local, lex_local, theirs))
                singles, pairs = lex_pg.probe(20)
                if cap and len(singles) < len(lex_pg.terms):
                    capped += 1
                    certified += bool(lex_pg.exact)
                    held = {t for c in pg.chunks_of(ours) for t in chunk_terms([c])[0][0]}
                    assert held & set(singles or pairs[0])  # what the probe found
        assert capped >= 4 and certified >= 2, (capped, certified)
    finally:
        pg.lexical_candidates = type(pg).lexical_candidates


def test_lexical_candidates_scored_in_parts_rank_as_in_one(lexical_pair):
    """Scoring the candidates in parts, each on its own connection, changes nothing: the same rows
    in the same order (ties broken by row), the same candidates counted, the same certificate."""
    local, pg = lexical_pair
    try:
        for cap in (0, 40):
            pg.lexical_candidates = cap
            for query in LEXICAL_QUERIES:
                seen = []
                for parts in (1, 2, 3):
                    pg.lexical_parts = parts
                    lex = pg.lexical(query)
                    seen.append((list(lex.top(20)), lex.candidates, lex.exact, list(lex.scores(lex.top(20)))))
                assert seen[0][0] and seen[0] == seen[1] == seen[2], (query, cap)
    finally:
        pg.lexical_candidates = type(pg).lexical_candidates
        pg.lexical_parts = type(pg).lexical_parts


def test_lexical_search_of_a_collection_returns_k_among_a_bigger_one(lexical_pair, pg_url, tmp_settings):
    """One GIN index holds every collection: a small collection whose chunks share every term with
    a big one still gets its own k best, and only its own."""
    local, big = lexical_pair
    settings = tmp_settings.replace(collection="lexical-small")
    docs, chunks, vectors = _lexical_corpus(25, seed=9)
    docs = {f"small/{k}": Document(f"small/{k}", d.source, d.title, d.text, d.hash + "s") for k, d in docs.items()}
    chunks = [Chunk(f"small/{c.chunk_id}", f"small/{c.doc_id}", c.source, "", c.text, c.start, c.end) for c in chunks]
    _fill(settings, pg_url, docs, chunks, vectors)
    small = open_store(settings.replace(store=pg_url))
    alone = Index(Index.make_config(settings, DIM), docs, chunks, vectors)  # the small collection as a folder index
    small.lexical_candidates = big.lexical_candidates = 1  # the smallest probe: 10 k chunks
    try:
        for query in ("space agency cooperation", "Korea Canada space agency administrator"):
            lex = small.lexical(query)
            rows = lex.top(10)
            assert len(rows) == 10 and {c.doc_id.split("/")[0] for c in small.chunks_of(rows)} == {"small"}
            _same_ranking(_ranked(small, lex, rows), _ranked(alone, alone.lexical(query), alone.lexical(query).top(10)))
            assert len(big.lexical(query).top(10)) == 10
    finally:
        small.lexical_candidates = big.lexical_candidates = type(big).lexical_candidates


def test_a_query_of_common_words_only_probes_pairs_of_them(lexical_pair):
    """When even the rarest query term is commoner than the budget, the candidates are the chunks
    holding two of the rarest terms together, still scored exactly."""
    local, pg = lexical_pair
    pg.lexical_candidates = 1
    try:
        lex = pg.lexical("space agency korea canada")
        assert all(lex.df[t] > 10 * 5 for t in lex.terms)  # every term in more chunks than 10 k
        singles, pairs = lex.probe(5)
        assert not singles and pairs and all(len(p) == 2 for p in pairs)
        rows = lex.top(5)
        assert len(rows) == 5 and lex.exact is False
        for chunk in pg.chunks_of(rows):
            held = set(chunk_terms([chunk])[0][0])
            assert any(set(p) <= held for p in pairs)
        row_of = {c.chunk_id: i for i, c in enumerate(local.chunks)}
        rows_local = [row_of[c.chunk_id] for c in pg.chunks_of(rows)]
        assert lex.scores(rows) == pytest.approx(local.lexical("space agency korea canada").scores(rows_local), rel=1e-5)
    finally:
        pg.lexical_candidates = type(pg).lexical_candidates


# --- the answer line of servers sharing the store ------------------------------------------------
def test_servers_on_one_store_wait_in_one_line(pg_url):
    """Two servers (two SharedLine objects, two database sessions) and two LLM slots: first come,
    first served across both; a server that dies leaves the line."""
    from rag.store.postgres import SharedLine

    a, b = SharedLine(pg_url, "openai test", 2), SharedLine(pg_url, "openai test", 2)
    other = SharedLine(pg_url, "openai elsewhere", 1)
    t1, t2, t3, t4 = a.join(), b.join(), a.join(), b.join()
    assert [t.first for t in (t1, t2, t3, t4)] == [0, 0, 1, 2] and len(a) == len(b) == 4
    assert other.join().first == 0  # another LLM server's line
    t1.leave()
    assert [b.position(t2), a.position(t3), b.position(t4)] == [0, 0, 1]
    b._conn.close()  # server b stops: its rows no longer count
    assert a.position(t3) == 0 and len(a) == 1
    t5 = a.join()
    assert t5.first == 0
    waited = list(t5.positions())
    assert waited == [] and t5.served is not None
