"""Embed: sentence-transformers over the packaged all-MiniLM-L6-v2, L2-normalised."""
from __future__ import annotations

import json
import threading
from functools import lru_cache

import numpy as np

from .models import embedder_path


class Embedder:
    """Lazily loaded sentence encoder; vectors are unit length, so inner product = cosine."""

    def __init__(self, name: str = "all-MiniLM-L6-v2", threads: int | None = None):
        self.name = name
        self.threads = threads
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                import torch
                from sentence_transformers import SentenceTransformer

                if self.threads:
                    torch.set_num_threads(self.threads)
                self._model = SentenceTransformer(str(embedder_path(self.name)), device="cpu")
        return self._model

    @property
    def dimension(self) -> int:
        """Read from the model folder's pooling config, so asking does not load torch."""
        pooling = embedder_path(self.name) / "1_Pooling" / "config.json"
        if self._model is None and pooling.exists():
            return int(json.loads(pooling.read_text())["word_embedding_dimension"])
        model = self.model
        return int(getattr(model, "get_embedding_dimension", model.get_sentence_embedding_dimension)())

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


@lru_cache(maxsize=4)
def get_embedder(name: str = "all-MiniLM-L6-v2", threads: int | None = None) -> Embedder:
    """One shared embedder per model name."""
    return Embedder(name, threads)
