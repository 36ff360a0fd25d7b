"""Search: dense and BM25 candidates from the store, fused by normalised-score convex combination.

Each retriever proposes its top ``fetch_k`` chunks; every candidate in the union gets its exact
score from both retrievers (cosine, BM25), each score is min-max normalised over that union,
and the fused score is their weighted mean (``dense_weight``, ``bm25_weight``). Reciprocal rank
fusion (``fusion="rrf"``) and Rocchio pseudo-relevance feedback (``prf=n``) are options. Only candidate
rows are ever scored or read, so the same code runs over the local index and a database store.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from . import places
from .config import Settings, get_settings
from .embed import get_embedder
from .index import Index, IndexMismatch
from .store import Store, adopt_embedder, open_store
from .types import Passage, page_fields

FUSIONS = ("convex", "rrf")
PRF_BETA = 0.3  # weight of the feedback centroid added to the query vector
VOTE_BAND = 0.5  # likely_documents: candidates this close to the best fused score vote for their document
LEXICAL_THREADS = 16  # searches whose database lexical side runs beside their dense side at once


def resolve(settings: Settings | None, index: Store | Path | str | None, **overrides) -> tuple[Settings, Store]:
    """Settings with ``overrides`` applied, and the store (a ``Store``, a folder, a
    ``postgresql://`` URL, or the one the settings name)."""
    settings = (settings or get_settings()).replace(**overrides)
    if isinstance(index, Store):
        return settings, index
    try:
        return settings, open_store(settings, index, expect=_bound_config(settings))
    except IndexMismatch:  # built by an embedder of another vector space: search in that space
        adopted = adopt_embedder(settings, index)
        if adopted is settings:
            raise
        return adopted, open_store(adopted, index, expect=_bound_config(adopted))


def _bound_config(settings: Settings) -> dict:
    return Index.make_config(settings, get_embedder(settings.embedder, settings.threads).dimension)


def search(query: str, index: Store, settings: Settings, k: int | None = None, mode: str | None = None, *,
           fusion: str = "convex", prf: int = 0) -> tuple[list[Passage], float]:
    """Fused passages for ``query`` and the best dense cosine among them (a relevance signal)."""
    k = k or settings.k
    if not index.chunk_count() or not query.strip():
        return [], 0.0
    if settings.statement_terms:
        from .statements import expand

        query = expand(query)
    qvec, rows, scores = _rank(query, index, settings, mode or settings.mode, fusion, prf, settings.fetch_k)
    if settings.scope_docs > 0 and len(index.documents) > 1 and (mode or settings.mode) == "hybrid":
        ranked = _scoped(query, qvec, index, settings, rows, scores, k)
    else:
        ranked = _reranked(query, index, settings, rows, scores, k)
    kept = [row for row, _ in ranked]
    relevance = float(max(index.vectors_of(kept) @ qvec)) if kept else 0.0
    return [p for _, p in ranked], relevance


def _reranked(query: str, index: Store, settings: Settings, rows: list[int], scores: dict[int, float],
              k: int) -> list[tuple[int, Passage]]:
    """The ``k`` best ``(row, passage)``: the fused top ``rerank_depth`` (near-duplicates dropped)
    re-scored by their best sentence window (``rag.evidence.rerank``), then the top
    ``meaning_depth`` of those by their best sentence judged by meaning as well (embedded sentences)."""
    kept = _dedup(index, rows, max(k, settings.rerank_depth) if settings.rerank_depth else k, settings.dedup_threshold)
    passages = [_passage(c, scores[row]) for row, c in zip(kept, index.chunks_of(kept))]
    if settings.rerank_depth and len(passages) > 1:
        from .evidence import rerank, weights_for

        row_of = {p.chunk_id: row for row, p in zip(kept, passages)}
        passages = rerank(query, passages, weights_for(index), settings.rerank_fused_weight)
        if settings.meaning_depth:
            head, depth = passages[: settings.meaning_depth], settings.meaning_depth
            embedder = get_embedder(settings.embedder, settings.threads)
            passages = rerank(query, head, weights_for(index), 1 - settings.meaning_weight, embedder) + passages[depth:]
        kept = [row_of[p.chunk_id] for p in passages]
    return list(zip(kept, passages))[:k]


def likely_documents(index: Store, settings: Settings, rows: list[int], scores: dict[int, float],
                     head: list[tuple[int, Passage]]) -> list[str]:
    """Documents best first by two signals of the fused ranking, each normalised to sum 1: the
    share of the fused score of the top ``rerank_depth`` candidates scoring at least ``VOTE_BAND``
    of the best that is the document's (a document the question names has many passages holding
    its name; the band keeps a long document's many middling passages from outvoting a clear best), and 1/(1+i) for the i-th
    document to appear in the reranked ``head`` (max-passage)."""
    best = max(scores[rows[0]], 0.0) if rows else 0.0
    top = [row for row in rows[: max(settings.rerank_depth, 1)] if scores[row] >= VOTE_BAND * best]
    vote: dict[str, float] = {}
    for row, chunk in zip(top, index.chunks_of(top)):
        vote[chunk.doc_id] = vote.get(chunk.doc_id, 0.0) + max(scores[row], 0.0)
    first = {}
    for _, p in head:
        first.setdefault(p.doc_id, 1.0 / (1 + len(first)))
    total: dict[str, float] = {}
    for signal in (vote, first):
        norm = sum(signal.values()) or 1.0
        for doc, v in signal.items():
            total[doc] = total.get(doc, 0.0) + v / norm
    return sorted(total, key=total.__getitem__, reverse=True)


def _within(query: str, qvec: np.ndarray, index: Store, settings: Settings, rows: list[int]) -> tuple[list[int], dict[int, float]]:
    """``rows`` (the passages of a few documents) ranked for ``query``: dense (``scope_dense_weight``)
    and BM25 (``bm25_weight``) scores of every row, each min-max normalised over its own top
    ``fetch_k`` of them, as ``_fuse`` does over the whole store."""
    rows_ = np.asarray(rows, dtype=np.int64)
    if not len(rows_):
        return [], {}
    parts = [(index.vectors_of(rows_) @ qvec, settings.scope_dense_weight),
             (np.asarray(index.lexical(places.expand(query)).scores(rows_), dtype=np.float64), settings.bm25_weight)]
    values = np.zeros(len(rows_))
    for s, weight in parts:
        values += weight * _scaled(s, s[np.argsort(-s, kind="stable")[: settings.fetch_k]])
    values /= sum(w for _, w in parts) or 1.0
    order = np.argsort(-values, kind="stable")[: settings.fetch_k]
    return [int(rows_[i]) for i in order], {int(rows_[i]): float(values[i]) for i in order}


def _scoped(query: str, qvec: np.ndarray, index: Store, settings: Settings, rows: list[int], scores: dict[int, float],
            k: int) -> list[tuple[int, Passage]]:
    """Two-stage, document-scoped search: the fused ranking names the likely documents
    (``likely_documents``); the ``scope_docs`` best of them are searched again on their own
    (``_within``: every passage of theirs scored, the dense side weighted ``scope_dense_weight``), and
    those passages, reranked as usual, come first; the whole-store ranking fills the rest of ``k``."""
    head = _reranked(query, index, settings, rows, scores, max(k, settings.rerank_depth))
    docs = likely_documents(index, settings, rows, scores, head)[: settings.scope_docs]
    inner, inner_scores = _within(query, qvec, index, settings, [r for d in docs for r in index.rows_of(d)])
    scoped = _reranked(query, index, settings, inner, inner_scores, k) if inner else []
    seen = {row for row, _ in scoped}
    return (scoped + [(row, p) for row, p in head if row not in seen])[:k]


def search_documents(query: str, index: Store, settings: Settings, n: int = 100, mode: str | None = None, *,
                     fusion: str = "convex", prf: int = 0) -> list[tuple[str, float]]:
    """The ``n`` best documents for ``query``, each ranked by its best passage (max-passage).

    The ranking is the fused passage ranking of ``search`` read in order of first appearance of
    each document, from a candidate pool deep enough to reach ``n`` documents.
    """
    chunks = index.chunk_count()
    if not chunks or not query.strip():
        return []
    pool = max(settings.fetch_k, 2 * n * -(-chunks // max(len(index.documents), 1)))
    _, rows, scores = _rank(query, index, settings, mode or settings.mode, fusion, prf, pool)
    docs: dict[str, float] = {}
    head = _reranked(query, index, settings, rows, scores, settings.rerank_depth) if settings.rerank_depth else []
    for _, p in head:
        docs.setdefault(p.doc_id, p.score + 1.0)  # reranked passages lead the ranking
    rest = _dedup(index, rows, len(rows), settings.dedup_threshold)
    for row, chunk in zip(rest, index.chunks_of(rest)):
        if len(docs) >= n:
            break
        docs.setdefault(chunk.doc_id, scores[row])
    return list(docs.items())[:n]


def retrieve(query: str, k: int = 5, index: Store | Path | str | None = None, settings: Settings | None = None,
             mode: str | None = None) -> list[Passage]:
    """The ``k`` best passages for ``query`` (hybrid dense + BM25 by default)."""
    settings, idx = resolve(settings, index)
    return search(query, idx, settings, k=k, mode=mode)[0]


# --- ranking ----------------------------------------------------------------------------------
def _rank(query: str, index: Store, settings: Settings, mode: str, fusion: str, prf: int,
          pool: int) -> tuple[np.ndarray, list[int], dict[int, float]]:
    """The query vector, candidate rows best first, and their fused scores."""
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {FUSIONS}, not {fusion!r}")
    bm25 = pending = None
    if mode in ("hybrid", "bm25"):
        if mode == "hybrid" and getattr(index, "concurrent_lexical", False):
            pending = _lexical_pool().submit(_lexical_top, index, places.expand(query), pool)
        else:
            bm25 = index.lexical(places.expand(query))
    qvec = get_embedder(settings.embedder, settings.threads).encode_cached([query])[0]
    dense = index.search_dense(qvec, pool) if mode in ("hybrid", "dense") else None
    if pending is not None:
        bm25 = pending.result()
    rows, scores = _fuse(qvec, bm25, index, settings, mode, fusion, pool, dense)
    if prf > 0 and mode != "bm25" and rows:
        centroid = index.vectors_of(rows[:prf]).mean(axis=0)
        expanded = qvec + PRF_BETA * centroid
        rows, scores = _fuse(expanded / np.linalg.norm(expanded), bm25, index, settings, mode, fusion, pool)
    return qvec, rows, scores


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _lexical_pool() -> ThreadPoolExecutor:
    """Threads that run a database store's lexical search while the caller embeds the query and
    runs the dense search: the two wait on the database at once (each thread has its own connection)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=LEXICAL_THREADS, thread_name_prefix="rag-lexical")
        return _pool


def _lexical_top(index: Store, query: str, pool: int):
    bm25 = index.lexical(query)
    bm25.top(pool)  # kept by the lexical object: _fuse's call returns it
    return bm25


def _fuse(qvec: np.ndarray, bm25, index: Store, settings: Settings, mode: str, fusion: str,
          pool: int, dense: list[tuple[int, float]] | None = None) -> tuple[list[int], dict[int, float]]:
    """Fused candidates; ``dense``: the dense top ``pool`` of ``qvec`` if already searched."""
    lists: list[tuple[np.ndarray, float]] = []  # (rows best first, weight) per retriever
    exact = []  # the retriever's score of any row
    if mode in ("hybrid", "dense"):
        hits = dense if dense is not None else index.search_dense(qvec, pool)
        lists.append((np.array([r for r, _ in hits], dtype=np.int64), settings.dense_weight))
        exact.append(lambda rows: index.vectors_of(rows) @ qvec)
    if mode in ("hybrid", "bm25") and bm25 is not None:
        lists.append((np.asarray(bm25.top(pool), dtype=np.int64), settings.bm25_weight))
        exact.append(bm25.scores)
    if fusion == "rrf":
        fused: dict[int, float] = {}
        for rows, weight in lists:
            for rank, row in enumerate(rows):
                fused[int(row)] = fused.get(int(row), 0.0) + weight / (settings.rrf_k + rank + 1)
    else:
        # Normalise over the union of the top fetch_k of each list; deeper pool rows may fall below 0.
        head = np.unique(np.concatenate([rows[: settings.fetch_k] for rows, _ in lists] or [np.zeros(0, np.int64)]))
        cand = np.unique(np.concatenate([rows for rows, _ in lists] or [np.zeros(0, np.int64)]))
        total = sum(w for _, w in lists) or 1.0
        values = np.zeros(len(cand))
        for (_, weight), score in zip(lists, exact):
            values += weight * _scaled(score(cand), score(head))
        fused = {int(r): float(v) / total for r, v in zip(cand, values)}
    order = sorted(fused, key=fused.__getitem__, reverse=True)
    return order, fused


def _scaled(s: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``s`` min-max normalised by the range of ``ref`` (all ones when that range is empty or flat)."""
    lo, hi = (float(ref.min()), float(ref.max())) if len(ref) else (0.0, 0.0)
    return (s - lo) / (hi - lo) if hi > lo else np.ones(len(s))


def _dedup(index: Store, order: list[int], k: int, threshold: float) -> list[int]:
    """The first ``k`` rows of ``order`` that are not near-duplicates of a row kept before them."""
    kept: list[int] = []
    candidates = index.vectors_of(order)
    vectors = np.empty((min(k, len(order)), index.config["dimension"]), dtype=np.float32)
    for row, vec in zip(order, candidates):
        if kept and float((vectors[: len(kept)] @ vec).max()) >= threshold:
            continue  # near-duplicate of a better passage
        vectors[len(kept)] = vec
        kept.append(row)
        if len(kept) == k:
            break
    return kept


def _passage(c, score: float) -> Passage:
    return Passage(c.doc_id, c.source, c.title, c.text, c.start, c.end, round(score, 6), c.chunk_id, **page_fields(c))
