"""The store behind retrieval: the local folder index (default) or PostgreSQL + pgvector.

``Store`` is what search, the indexer, the UI and the eval suite use; ``rag.index.Index`` (the
local FAISS + BM25 folder) and ``rag.store.postgres.PostgresStore`` implement it. Rows are
integer chunk keys (positions in the local index, primary keys in PostgreSQL); search works on
candidate sets (dense top-k, lexical top-k, then vectors and scores of those candidates only),
so a large database store is never read into memory.

``RAG_STORE`` (or ``--store``) selects the store: empty or a folder for the local index,
``postgresql://…`` for a database; ``RAG_COLLECTION`` (``--collection``) names the collection.
"""
from __future__ import annotations

from collections.abc import Mapping, Sized
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..types import Chunk, Document

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class Lexical(Protocol):
    """BM25 scores of one query."""

    def top(self, n: int) -> np.ndarray:
        """Rows of the ``n`` best-scoring chunks with a score above 0, best first."""

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """The score of each of ``rows`` (0 where no query term occurs)."""


@runtime_checkable
class Store(Protocol):
    """Documents, chunks and their vectors, searchable densely and lexically."""

    config: dict  # the settings the store is bound to (rag.index.BOUND_KEYS)
    documents: Mapping[str, Document]
    origins: Mapping[str, str]  # doc_id -> the folder it was ingested from
    chunks: Sized  # how many chunks (a list of them in the local store)
    bm25: object  # BM25 statistics as rag.evidence.Weights reads them (vocab_dict, scores["indptr"])

    def chunk_count(self) -> int: ...

    def search_dense(self, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` nearest rows by cosine, with their cosine, best first."""

    def lexical(self, query: str) -> Lexical: ...

    def vectors_of(self, rows) -> np.ndarray:
        """Unit vectors of ``rows``, in their order."""

    def chunks_of(self, rows) -> list[Chunk]:
        """The chunks of ``rows``, in their order."""

    def rows_of(self, doc_id: str) -> list[int]:
        """The rows of ``doc_id``'s chunks, in document order (none for an unknown id)."""

    def stats(self) -> dict: ...

    def export(self) -> tuple[dict[str, Document], dict[str, str], list[Chunk], np.ndarray]:
        """Every document, origin, chunk and vector (for ``rag migrate``)."""


def is_postgres(url: str | Path | None) -> bool:
    return str(url or "").startswith(POSTGRES_SCHEMES)


def store_location(settings, index: Path | str | None = None) -> str | Path:
    """Where the store lives: ``index`` if given, else ``settings.store``, else ``settings.index_dir``."""
    if index is not None:
        return str(index) if is_postgres(index) else Path(index).expanduser()
    if is_postgres(settings.store):
        return settings.store
    return Path(settings.store).expanduser() if settings.store else settings.index_dir


def open_store(settings, index: Path | str | None = None, expect: dict | None = None) -> Store:
    """The store ``settings`` (or ``index``) point at, checked against ``expect`` when given."""
    where = store_location(settings, index)
    if isinstance(where, str):
        from .postgres import PostgresStore

        return PostgresStore.open(where, settings.collection, expect=expect)
    from ..index import open_index

    return open_index(where, expect=expect)


def adopt_embedder(settings, index: Path | str | None = None):
    """``settings`` with the embedder the existing store was built with, when that one makes vectors
    of another space than the configured embedder: a store is searched and extended in the space it
    was built in (``rag ingest --rebuild`` moves it to the configured embedder)."""
    import json

    from ..embed import vector_space
    from ..index import IndexUnavailable, current_generation

    where = store_location(settings, index)
    try:
        if isinstance(where, str):
            from .postgres import PostgresStore

            built = PostgresStore.open(where, settings.collection).config.get("embedder")
        else:
            generation = current_generation(where)
            built = generation and json.loads((where / generation / "manifest.json").read_text()).get("embedder")
    except (IndexUnavailable, OSError, ValueError):
        return settings
    if built and vector_space(built) != vector_space(settings.embedder):
        return settings.replace(embedder=built)
    return settings


@contextmanager
def open_writer(settings, index: Path | str | None = None, rebuild: bool = False, expect: dict | None = None):
    """A writer of the store ``settings`` (or ``index``) point at: ``documents`` and ``origins``
    as they are, ``commit(keep, origins, replaced, new_chunks, new_vectors)`` to change them.

    Writers of one store queue (a file lock, or a database advisory lock); readers never wait;
    nothing changes unless ``commit`` is called and the block ends without an error.
    """
    from ..embed import get_embedder
    from ..index import Index

    if expect is None:
        expect = Index.make_config(settings, get_embedder(settings.embedder, settings.threads).dimension)
    where = store_location(settings, index)
    if isinstance(where, str):
        from .postgres import postgres_writer

        with postgres_writer(where, settings.collection, expect, rebuild, settings.cache_dir) as writer:
            yield writer
    else:
        from .local import local_writer

        with local_writer(where, expect, rebuild, settings.exact_limit) as writer:
            yield writer


def migrate(settings, target: str | Path, source: Store | str | Path | None = None) -> dict:
    """Copy every document, chunk and vector of ``source`` (a store, or where one is; default:
    the store ``settings`` name) into ``target`` (a folder or a ``postgresql://`` URL, same
    collection), replacing what is there. Nothing is embedded again."""
    if not isinstance(source, Store) and str(store_location(settings, source)) == str(store_location(settings, target)):
        raise ValueError(f"rag migrate: the source and the target are both {store_location(settings, target)}")
    store = source if isinstance(source, Store) else open_store(settings, source)
    documents, origins, chunks, vectors = store.export()
    with open_writer(settings, target, rebuild=True, expect=store.config) as writer:
        writer.commit(documents, origins, set(), chunks, vectors)
    return {"documents": len(documents), "chunks": len(chunks), "from": str(store.path), "to": str(target)}
