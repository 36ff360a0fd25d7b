"""Local GGUF models through llama.cpp (xllamacpp), fully offline."""
from __future__ import annotations

import json
import queue
import threading
from collections import OrderedDict
from collections.abc import Iterator

from ..config import Settings
from ..models import LLMS, ModelError, gguf_path
from .base import BackendError, ChatBackend, Declining, declining, p_yes, yes_no_request

_DONE = object()
NONE_TOKENS = ("none", "None", " none", " None", ".none", "NONE")  # spellings of the decline reply
REPLAYS = 256  # replies kept per backend, by exact request


class LocalBackend(ChatBackend):
    """An in-process llama.cpp server; requests from several threads are queued by llama.cpp."""

    name = "local"
    weighs_none = True
    takes_grammar = True

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
        self._replies: OrderedDict[str, tuple[list, bool]] = OrderedDict()
        self._replies_lock = threading.Lock()

    def chat(self, messages: list[dict], settings: Settings, max_tokens: int,
             weigh_none: bool = False, grammar: str | None = None) -> Iterator[str | Declining]:
        request = {
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": settings.temperature,
            "stream": True,
        }
        if grammar:
            request["grammar"] = grammar
        if weigh_none:  # llama.cpp reports the probabilities before the bias: "none" is weighed, never said
            request.update(logprobs=True, top_logprobs=10, logit_bias=[[t, False] for t in NONE_TOKENS])
        if settings.temperature > 0:
            yield from self._generate(request, settings)
            return
        # The same request gets the same reply: llama.cpp's logits for one prompt differ slightly
        # with what its prompt cache held before, which can flip a close decline between two asks.
        key = json.dumps(request, sort_keys=True)
        with self._replies_lock:
            items, complete = self._replies.get(key, ([], False))
        yield from items
        if complete:
            return
        seen, done = [], False
        try:
            for item in self._generate(request, settings):
                seen.append(item)
                if len(seen) > len(items):
                    yield item
            done = True
        finally:
            if len(seen) >= len(items):
                self._remember(key, seen, done)

    def _remember(self, key: str, items: list, complete: bool) -> None:
        with self._replies_lock:
            self._replies[key] = (items, complete)
            self._replies.move_to_end(key)
            while len(self._replies) > REPLAYS:
                self._replies.popitem(last=False)

    def yes_probability(self, messages: list[dict], settings: Settings) -> float | None:
        """The model's P(yes) as the first token of its reply to ``messages`` (one token, weighed)."""
        request = {**yes_no_request(messages), "stream": False}
        key = json.dumps(request, sort_keys=True)
        with self._replies_lock:
            if key in self._replies:
                return self._replies[key][0][0]
        try:
            reply = self._server.handle_chat_completions(request)
            if "error" in reply:
                raise BackendError(f"local model error: {reply['error']}")
            content = reply["choices"][0]["logprobs"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise BackendError(f"local model gave no probabilities: {exc}") from exc
        found = p_yes(content[0].get("top_logprobs") or []) if content else None
        self._remember(key, [found], True)
        return found

    def _generate(self, request: dict, settings: Settings) -> Iterator[str | Declining]:
        """Stream one request from llama.cpp: a ``Declining`` first when "none" is weighed, then text."""
        weighed = "logit_bias" not in request
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
