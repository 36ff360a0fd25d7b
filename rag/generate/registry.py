"""The backend factory: ``get_backend(settings)`` creates each configured backend once.

It sits above the backends (it imports them; none of them imports it), so ``base`` holds only
the interface they share.
"""
from __future__ import annotations

import hashlib
import os
import threading

from ..config import Settings
from .base import Backend

_backends: dict[tuple, Backend] = {}
_lock = threading.Lock()


def get_backend(settings: Settings) -> Backend:
    """The backend chosen by ``settings.backend``, created once per configuration."""
    key = (settings.backend, settings.llm_model, settings.openai_base_url, settings.n_ctx, settings.threads,
           settings.timeout, settings.retries)
    if settings.backend == "openai":  # the client holds the key: a new key needs a new client
        key += (hashlib.sha256(os.environ.get("OPENAI_API_KEY", "").encode()).hexdigest(),)
    with _lock:
        if key not in _backends:
            _backends[key] = _create(settings)
        return _backends[key]


def _create(settings: Settings) -> Backend:
    if settings.backend == "extractive":
        from .extractive import ExtractiveBackend

        return ExtractiveBackend()
    if settings.backend == "openai":
        from .openai import OpenAIBackend

        return OpenAIBackend(settings)
    from .local import LocalBackend

    return LocalBackend(settings)
