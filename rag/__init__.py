"""Offline retrieval-augmented question answering with verified citations.

>>> from rag import answer
>>> answer("Who signed the space MoU with the Canadian Space Agency?").text
"""
from __future__ import annotations

import os

# Nothing may reach a model hub or an analytics endpoint: set before any heavy import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from .config import Settings, get_settings  # noqa: E402
from .types import Answer, Chunk, Citation, Document, IngestReport, Passage  # noqa: E402

__all__ = [
    "Answer", "Chunk", "Citation", "Document", "IngestReport", "Passage", "Settings",
    "answer", "stream_answer", "retrieve", "ingest", "remove", "list_documents",
    "get_settings",
]

_LAZY = {
    "answer": "pipeline", "stream_answer": "pipeline", "retrieve": "search",
    "ingest": "indexer", "remove": "indexer", "list_documents": "indexer",
}


def __getattr__(name: str):
    # Heavy libraries (torch, faiss, llama.cpp) load only when the API is first used.
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
