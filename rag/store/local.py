"""The local store's writer: the folder index of ``rag.index`` under its file lock."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..index import Index, current_generation, write_lock
from ..types import Chunk, Document


class LocalWriter:
    """One write to a folder index: the old state, then ``commit`` saves a new generation."""

    def __init__(self, root: Path, old: Index):
        self.root, self.index = root, old
        self.documents: dict[str, Document] = old.documents
        self.origins: dict[str, str] = old.origins
        self.is_new = old.generation == ""
        self.dimension = old.config["dimension"]
        self.partial_root: Path | None = root  # where an interrupted ingest's embeddings are kept

    def commit(self, keep: dict[str, Document], origins: dict[str, str], replaced: set[str],
               new_chunks: list[Chunk], new_vectors: np.ndarray) -> None:
        """Old chunks of documents still kept (and not replaced), plus the new ones, saved atomically."""
        old = self.index
        rows = [i for i, c in enumerate(old.chunks) if c.doc_id in keep and c.doc_id not in replaced]
        chunks = [old.chunks[i] for i in rows] + new_chunks
        vectors = np.concatenate([old.vectors[rows], new_vectors]) if rows else new_vectors
        index = Index(old.config, keep, chunks, vectors, old.exact_limit)
        index.origins = origins
        index.save(self.root)


@contextmanager
def local_writer(root: Path, expect: dict, rebuild: bool, exact_limit: int):
    """A ``LocalWriter`` over ``root``, holding its write lock throughout."""
    with write_lock(root):
        if rebuild or current_generation(root) is None:
            old = Index.empty(expect)
        else:
            old = Index.load(root, expect=expect)  # IndexMismatch tells the user to --rebuild
        old.exact_limit = exact_limit
        yield LocalWriter(root, old)
