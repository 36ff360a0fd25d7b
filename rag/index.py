"""Index: FAISS vectors, a BM25 index and a JSON docstore, saved atomically without pickle.

On disk an index folder holds generations and a pointer::

    index/CURRENT              name of the live generation (replaced atomically)
    index/gen-<time>-<id>/     manifest.json, documents.jsonl, chunks.jsonl,
                               vectors.npy, dense.faiss, bm25/

A save writes a complete new generation, fsyncs it, then swaps ``CURRENT``; a crash at any
point leaves the previous generation live. A replaced generation stays on disk for
``GRACE_SECONDS`` after it stopped being current (its folder's mtime marks that moment), so a
reader that read ``CURRENT`` just before a swap can still read all of it; a reader that was
slower still retries on the new generation. Nothing is ever unpickled.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .types import Chunk, Document

FORMAT = 2  # 2: document ids qualified by their origin folder
GRACE_SECONDS = 60.0  # how long a replaced generation stays readable
LOAD_ATTEMPTS = 5
REBUILD_HINT = "rebuild it with `rag ingest --rebuild PATH...`"
TOKENIZER = "cl100k_base"
# What an index is bound to: a different value in the settings means a rebuild.
BOUND_KEYS = ("format", "embedder", "dimension", "tokenizer", "chunk_size", "chunk_overlap")


class IndexUnavailable(RuntimeError):
    """The index is missing or unreadable; the message says what to do."""


class IndexMismatch(IndexUnavailable):
    """The index was built with another embedder or chunker."""


class Index:
    """Documents, their chunks, chunk vectors, and the FAISS and BM25 structures over them."""

    def __init__(self, config: dict, documents: dict[str, Document], chunks: list[Chunk], vectors: np.ndarray,
                 exact_limit: int = 50_000):
        self.config = config
        self.exact_limit = exact_limit
        self.origins: dict[str, str] = {}  # doc_id -> the ingested folder it came from
        self.documents = documents
        self.chunks = chunks
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(chunks), config["dimension"])
        self.path: Path | None = None
        self.generation = ""
        self._dense = None
        self._bm25 = None
        self._rows_of: dict[str, list[int]] | None = None

    # --- construction ------------------------------------------------------------
    @staticmethod
    def make_config(settings, dimension: int) -> dict:
        """The settings an index is bound to: a different value means a rebuild."""
        return {
            "format": FORMAT,
            "embedder": settings.embedder,
            "dimension": dimension,
            "tokenizer": TOKENIZER,
            "chunk_size": settings.chunk_size,
            "chunk_overlap": settings.chunk_overlap,
        }

    @classmethod
    def empty(cls, config: dict) -> "Index":
        return cls(config, {}, [], np.zeros((0, config["dimension"]), dtype=np.float32))

    @staticmethod
    def chunk_text(chunk: Chunk) -> str:
        """What is embedded and BM25-indexed for a chunk: its title, then its text."""
        return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text

    # --- search structures (built lazily) -----------------------------------------
    @property
    def dense(self):
        if self._dense is None:
            self._dense = _build_faiss(self.vectors, self.exact_limit)
        return self._dense

    @property
    def bm25(self):
        if self._bm25 is None:
            self._bm25 = _build_bm25([self.chunk_text(c) for c in self.chunks])
        return self._bm25

    def search_dense(self, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        if not self.chunks:
            return []
        scores, rows = self.dense.search(query_vector.reshape(1, -1).astype(np.float32), min(k, len(self.chunks)))
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    # --- the Store protocol (rag.store) -------------------------------------------------
    def chunk_count(self) -> int:
        return len(self.chunks)

    def lexical(self, query: str) -> "LocalLexical":
        return LocalLexical(self.bm25_scores(query))

    def vectors_of(self, rows) -> np.ndarray:
        return self.vectors[rows]

    def chunks_of(self, rows) -> list[Chunk]:
        return [self.chunks[row] for row in rows]

    def rows_of(self, doc_id: str) -> list[int]:
        if self._rows_of is None:  # a generation never changes once built: computed once
            rows: dict[str, list[int]] = {}
            for row, chunk in enumerate(self.chunks):
                rows.setdefault(chunk.doc_id, []).append(row)
            self._rows_of = {d: sorted(r, key=lambda i: self.chunks[i].start) for d, r in rows.items()}
        return list(self._rows_of.get(doc_id, ()))

    def stats(self) -> dict:
        return {"store": "local", "path": str(self.path or ""), "generation": self.generation,
                "documents": len(self.documents), "chunks": len(self.chunks),
                "dense": type(self.dense).__name__ if self.chunks else "", **self.config}

    def export(self) -> tuple[dict[str, Document], dict[str, str], list[Chunk], np.ndarray]:
        return dict(self.documents), dict(self.origins), list(self.chunks), self.vectors

    def bm25_scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for ``query`` (zeros when no query term is indexed)."""
        tokens = tokenize([query], show_progress=False)
        words = {i: w for w, i in tokens.vocab.items()}
        known = [words[i] for i in (tokens.ids[0] if tokens.ids else [])
                 if words.get(i) and self.chunks and words[i] in self.bm25.vocab_dict]
        if not known:
            return np.zeros(len(self.chunks), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)

    # --- persistence ----------------------------------------------------------------
    def save(self, root: Path) -> Path:
        """Write a new generation under ``root`` and make it current, atomically."""
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        name = f"gen-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
        tmp = root / f".{name}.tmp"
        tmp.mkdir()
        try:
            manifest = {
                **self.config,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "counts": {"documents": len(self.documents), "chunks": len(self.chunks)},
                "documents": {
                    d.doc_id: {"hash": d.hash, "source": d.source, "origin": self.origins.get(d.doc_id, "")}
                    for d in self.documents.values()
                },
            }
            _write_jsonl(tmp / "documents.jsonl", (asdict(d) for d in self.documents.values()))
            _write_jsonl(
                tmp / "chunks.jsonl",
                ({"chunk_id": c.chunk_id, "doc_id": c.doc_id, "start": c.start, "end": c.end,
                  **({"page": c.page} if c.page else {})} for c in self.chunks),
            )
            with open(tmp / "vectors.npy", "wb") as f:
                np.save(f, self.vectors, allow_pickle=False)
            import faiss

            faiss.write_index(self.dense, str(tmp / "dense.faiss"))
            if self.chunks:
                self.bm25.save(str(tmp / "bm25"), allow_pickle=False)
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
            _fsync_tree(tmp)
            os.rename(tmp, root / name)
            previous = current_generation(root)
            _replace_text(root / "CURRENT", name)
            if previous:
                os.utime(root / previous)  # the moment it was replaced: GRACE_SECONDS count from here
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.path, self.generation = root, name
        _collect_garbage(root, keep=name)
        return root / name

    @classmethod
    def load(cls, root: Path, expect: dict | None = None) -> "Index":
        """Open the current generation; if ``expect`` is given, check it was built the same way.

        Never fails because a writer replaced the generation meanwhile: it then loads the new one.
        """
        root = Path(root)
        for attempt in range(LOAD_ATTEMPTS):
            gen = current_generation(root)
            if gen is None:
                raise IndexUnavailable(f"no index at {root}: build one with `rag ingest PATH --index {root}`")
            try:
                index = cls._load_generation(root, gen)
            except IndexUnavailable:
                if attempt + 1 < LOAD_ATTEMPTS and current_generation(root) != gen:
                    continue  # a writer swapped generations while this one was read
                raise
            if expect is not None:
                check_compatible(index.config, expect, root)
            return index
        raise AssertionError("unreachable")

    @classmethod
    def _load_generation(cls, root: Path, gen: str) -> "Index":
        folder = root / gen
        manifest = _read_file(folder / "manifest.json", lambda p: json.loads(p.read_text()))
        docs = _read_file(folder / "documents.jsonl",
                          lambda p: {d["doc_id"]: Document(**{**d, "pages": tuple(map(tuple, d.get("pages", ())))})
                                     for d in _read_jsonl(p)})

        def read_chunks(path: Path) -> list[Chunk]:
            chunks = []
            for row in _read_jsonl(path):
                doc = docs[row["doc_id"]]
                chunks.append(Chunk(row["chunk_id"], doc.doc_id, doc.source, doc.title,
                                    doc.text[row["start"]:row["end"]], row["start"], row["end"],
                                    **doc.page_info(row.get("page", 0))))
            return chunks

        chunks = _read_file(folder / "chunks.jsonl", read_chunks)
        vectors = _read_file(folder / "vectors.npy", lambda p: np.load(p, allow_pickle=False))
        try:
            config = {k: manifest[k] for k in BOUND_KEYS}
        except KeyError as exc:
            raise IndexUnavailable(f"index file {folder / 'manifest.json'} lacks {exc}; {REBUILD_HINT}") from exc
        if vectors.shape[0] != len(chunks):
            raise IndexUnavailable(f"index file {folder / 'vectors.npy'} holds {vectors.shape[0]} vectors for "
                                   f"{len(chunks)} chunks; {REBUILD_HINT}")
        index = cls(config, docs, chunks, vectors)
        index.path, index.generation = root, gen
        index.origins = {k: v.get("origin", "") for k, v in manifest.get("documents", {}).items()}

        def read_faiss(path: Path):
            import faiss

            return faiss.read_index(str(path))

        index._dense = _read_file(folder / "dense.faiss", read_faiss)
        if hasattr(index._dense, "hnsw"):  # an index written with a narrower search keeps none of it
            index._dense.hnsw.efSearch = HNSW_EF_SEARCH
        if index._dense.ntotal != len(chunks) or index._dense.d != config["dimension"]:
            raise IndexUnavailable(f"index file {folder / 'dense.faiss'} does not match the chunks; {REBUILD_HINT}")
        if chunks:
            import bm25s

            index._bm25 = _read_file(folder / "bm25", lambda p: bm25s.BM25.load(str(p), allow_pickle=False))
        return index


class LocalLexical:
    """BM25 scores of one query over every chunk of a local index."""

    def __init__(self, scores: np.ndarray):
        self.all = scores

    def top(self, n: int) -> np.ndarray:
        n = min(n, len(self.all))
        part = np.argpartition(-self.all, n - 1)[:n] if n < len(self.all) else np.arange(len(self.all))
        top = part[np.argsort(-self.all[part], kind="stable")]
        return top[self.all[top] > 0]

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return self.all[rows]


def check_compatible(found: dict, expect: dict, root: Path) -> None:
    from .embed import vector_space

    def bound(key: str, value):  # embedders are bound by the vectors they make, not their runtime
        return vector_space(str(value)) if key == "embedder" else value

    diffs = [f"{k}: index has {found.get(k)!r}, settings say {expect[k]!r}"
             for k in BOUND_KEYS
             if bound(k, found.get(k)) != bound(k, expect.get(k))]
    if diffs:
        raise IndexMismatch(
            f"the index at {root} was built differently ({'; '.join(diffs)}); "
            f"rebuild it with `rag ingest PATH --index {root} --rebuild`"
        )


def current_generation(root: Path) -> str | None:
    try:
        name = (Path(root) / "CURRENT").read_text().strip()
    except OSError:
        return None
    return name if name and (Path(root) / name / "manifest.json").exists() else None


@contextmanager
def write_lock(root: Path):
    """Serialise writers of one index (CLI, UI uploads) across processes."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


_cache: dict[Path, Index] = {}
_cache_lock = threading.Lock()


def open_index(root: Path, expect: dict | None = None) -> Index:
    """The current generation of ``root``, loaded once per generation and shared."""
    root = Path(root).resolve()
    with _cache_lock:
        cached = _cache.get(root)
        if cached is None or cached.generation != current_generation(root):
            cached = _cache[root] = Index.load(root)
    if expect is not None:
        check_compatible(cached.config, expect, root)
    return cached


# --- helpers ----------------------------------------------------------------------------
# HNSW candidates per search: recall@10 against exact search at 1M vectors (scripts/bench_store.py
# scale) 0.86 at 100, 0.92 at 200, 0.95 at 400 (p50 0.9 ms), 0.97 at 800.
HNSW_EF_SEARCH = 400


def _build_faiss(vectors: np.ndarray, exact_limit: int):
    import faiss

    n, dim = vectors.shape
    if n > exact_limit:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(dim)
    if n:
        index.add(vectors)
    return index


def tokenize(texts: list[str], show_progress: bool = False):
    """BM25 tokens: English stop words removed, Snowball-stemmed (queries and chunks alike)."""
    import bm25s

    from .models import english_stemmer

    return bm25s.tokenize(texts, stopwords="en", stemmer=english_stemmer(), show_progress=show_progress)


def _build_bm25(texts: list[str]):
    import bm25s

    retriever = bm25s.BM25(k1=0.9, b=0.4)
    if texts:
        retriever.index(tokenize(texts), show_progress=False)
    return retriever


def _read_file(path: Path, read):
    """``read(path)``; any failure becomes one ``IndexUnavailable`` naming the file and the fix."""
    try:
        return read(path)
    except Exception as exc:  # noqa: BLE001  (faiss, numpy, json, bm25s each raise their own)
        what = "is missing" if isinstance(exc, FileNotFoundError) else f"is corrupt ({type(exc).__name__}: {exc})"
        raise IndexUnavailable(f"index file {path} {what}; {REBUILD_HINT}") from exc


def _write_jsonl(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())


def _replace_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _collect_garbage(root: Path, keep: str, grace: float | None = None) -> None:
    """Remove generations and abandoned temporary folders replaced more than ``grace`` seconds ago."""
    grace = GRACE_SECONDS if grace is None else grace
    cutoff = time.time() - grace
    for child in root.iterdir():
        if child.is_dir() and child.name != keep and (child.name.startswith("gen-") or child.name.endswith(".tmp")):
            try:
                if child.stat().st_mtime < cutoff:
                    shutil.rmtree(child, ignore_errors=True)
            except FileNotFoundError:
                pass
