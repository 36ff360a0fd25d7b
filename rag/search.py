"""Search: dense (FAISS) and BM25 candidates fused by reciprocal rank fusion."""
from __future__ import annotations

from pathlib import Path

from .config import Settings, get_settings
from .embed import get_embedder
from .index import Index, open_index
from .types import Passage


def resolve(settings: Settings | None, index: Index | Path | str | None, **overrides) -> tuple[Settings, Index]:
    """Settings with ``overrides`` applied, and the index (an ``Index``, a folder, or the default)."""
    settings = (settings or get_settings()).replace(**overrides)
    if isinstance(index, Index):
        return settings, index
    root = Path(index).expanduser() if index is not None else settings.index_dir
    embedder = get_embedder(settings.embedder, settings.threads)
    return settings, open_index(root, expect=Index.make_config(settings, embedder.dimension))


def search(query: str, index: Index, settings: Settings, k: int | None = None, mode: str | None = None) -> tuple[list[Passage], float]:
    """Fused passages for ``query`` and the best dense cosine among them (a relevance signal)."""
    k = k or settings.k
    mode = mode or settings.mode
    if not index.chunks or not query.strip():
        return [], 0.0
    qvec = get_embedder(settings.embedder, settings.threads).encode([query])[0]
    ranked: list[list[tuple[int, float]]] = []
    weights: list[float] = []
    if mode in ("hybrid", "dense"):
        ranked.append(index.search_dense(qvec, settings.fetch_k))
        weights.append(settings.dense_weight)
    if mode in ("hybrid", "bm25"):
        ranked.append(index.search_bm25(query, settings.fetch_k))
        weights.append(settings.bm25_weight)
    fused: dict[int, float] = {}
    for hits, weight in zip(ranked, weights):
        for rank, (row, _) in enumerate(hits):
            fused[row] = fused.get(row, 0.0) + weight / (settings.rrf_k + rank + 1)
    order = sorted(fused, key=fused.__getitem__, reverse=True)
    kept: list[int] = []
    for row in order:
        vec = index.vectors[row]
        if any(float(vec @ index.vectors[other]) >= settings.dedup_threshold for other in kept):
            continue  # near-duplicate of a better passage
        kept.append(row)
        if len(kept) == k:
            break
    passages = [_passage(index, row, fused[row]) for row in kept]
    relevance = float(max(index.vectors[kept] @ qvec)) if kept else 0.0
    return passages, relevance


def _passage(index: Index, row: int, score: float) -> Passage:
    c = index.chunks[row]
    return Passage(c.doc_id, c.source, c.title, c.text, c.start, c.end, round(score, 6), c.chunk_id)


def retrieve(query: str, k: int = 5, index: Index | Path | str | None = None, settings: Settings | None = None,
             mode: str | None = None) -> list[Passage]:
    """The ``k`` best passages for ``query`` (hybrid dense + BM25 by default)."""
    settings, idx = resolve(settings, index)
    return search(query, idx, settings, k=k, mode=mode)[0]
