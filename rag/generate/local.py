"""Local GGUF models through llama.cpp (xllamacpp), fully offline."""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from ..config import Settings
from ..models import LLMS, ModelError, gguf_path
from .base import BackendError, ChatBackend, Declining, declining

_DONE = object()
NONE_TOKENS = ("none", "None", " none", " None", ".none", "NONE")  # spellings of the decline reply


class LocalBackend(ChatBackend):
    """An in-process llama.cpp server; requests from several threads are queued by llama.cpp."""

    name = "local"
    weighs_none = True

    def __init__(self, settings: Settings):
        import xllamacpp as xlc

        try:
            path = gguf_path(settings.llm_model, settings.cache_dir)
        except ModelError as exc:
            raise BackendError(str(exc)) from exc
        model = LLMS.get(settings.llm_model)
        self.context_window = min(settings.n_ctx, model.context_window if model else settings.n_ctx)
        params = xlc.CommonParams()
        params.model.path = str(path)
        params.n_ctx = self.context_window
        params.n_predict = settings.max_tokens
        params.n_parallel = 1
        params.cpuparams.n_threads = settings.threads
        params.cpuparams_batch.n_threads = settings.threads
        params.verbosity = -1
        params.warmup = False
        self.model_name = settings.llm_model
        self._server = xlc.Server(params)

    def chat(self, messages: list[dict], settings: Settings, max_tokens: int,
             weigh_none: bool = False) -> Iterator[str | Declining]:
        request = {
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": settings.temperature,
            "stream": True,
        }
        if weigh_none:  # llama.cpp reports the probabilities before the bias: "none" is weighed, never said
            request.update(logprobs=True, top_logprobs=10, logit_bias=[[t, False] for t in NONE_TOKENS])
        weighed = not weigh_none
        pieces: queue.Queue = queue.Queue()
        cancelled = threading.Event()

        def on_chunk(chunk) -> bool:
            if isinstance(chunk, dict) and "error" in chunk:
                pieces.put(BackendError(f"local model error: {chunk['error']}"))
                return True
            nonlocal weighed
            for choice in (chunk or {}).get("choices", []):
                tokens = (choice.get("logprobs") or {}).get("content") or []
                if not weighed and tokens:
                    pieces.put(declining(tokens[0].get("top_logprobs") or []))
                    weighed = True
                text = (choice.get("delta") or {}).get("content")
                if text:
                    pieces.put(text)
            return cancelled.is_set()  # True stops generation early

        def run() -> None:
            try:
                self._server.handle_chat_completions(request, on_chunk)
            except Exception as exc:  # surfaced to the consumer below
                pieces.put(BackendError(f"local model failed: {exc}"))
            finally:
                pieces.put(_DONE)

        worker = threading.Thread(target=run, daemon=True, name="llama-stream")
        worker.start()
        try:
            while (item := pieces.get()) is not _DONE:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            cancelled.set()
            # llama.cpp stops at its next chunk; a request left running would call back into a
            # finalising interpreter if the process exits now (and abort it)
            worker.join(timeout=settings.timeout)
