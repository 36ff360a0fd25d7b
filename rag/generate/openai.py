"""Hosted LLMs behind any OpenAI-compatible endpoint: OpenAI, vLLM, llama.cpp's server, Ollama's /v1.

The endpoint is checked once on construction (``GET /models``) so a server that is down, a
rejected key or a model the server does not serve fail immediately with a readable
``BackendError`` instead of on the first question. Every request has a timeout and a bounded
number of retries, so nothing hangs.
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import openai
from openai import OpenAI

from ..config import Settings
from ..models import LLMS
from .base import BackendError, ChatBackend, yes_no_request, p_yes

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Local servers (llama.cpp, vLLM, Ollama) usually need no key, but the client insists on one.
PLACEHOLDER_KEY = "sk-no-key-required"
CHECK_TIMEOUT = 10.0  # seconds for the start-up check of the endpoint
CONNECT_TIMEOUT = 5.0


class OpenAIBackend(ChatBackend):
    """Streams chat completions from an OpenAI-compatible server with the official client."""

    name = "openai"

    def __init__(self, settings: Settings):
        self._has_key = bool(os.environ.get("OPENAI_API_KEY"))
        if not settings.openai_base_url and not self._has_key:
            # Nothing configured: do not send a request off the machine by default.
            raise BackendError("the hosted backend needs OPENAI_BASE_URL (a local or private server) "
                               f"or OPENAI_API_KEY (for {DEFAULT_BASE_URL})")
        self.base_url = (settings.openai_base_url or DEFAULT_BASE_URL).rstrip("/")
        self._client = OpenAI(
            base_url=self.base_url,
            api_key=os.environ.get("OPENAI_API_KEY") or PLACEHOLDER_KEY,
            timeout=openai.Timeout(settings.timeout, connect=min(settings.timeout, CONNECT_TIMEOUT)),
            max_retries=max(0, settings.retries),
        )
        self._timeout = settings.timeout
        served = self._served_models(min(settings.timeout, CHECK_TIMEOUT))
        self.model_name, server_ctx = self._choose_model(settings.llm_model, served)
        # The server may report its context size (llama.cpp does): never budget beyond it.
        self.context_window = min(settings.n_ctx, server_ctx) if server_ctx > 0 else settings.n_ctx

    # -- start-up check -------------------------------------------------------------------

    def _served_models(self, timeout: float) -> list[tuple[str, set[str], int]]:
        """``(id, names, context size or 0)`` of each model the endpoint serves; BackendError if unusable."""
        client = self._client.with_options(
            timeout=openai.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)), max_retries=0
        )
        try:
            models = list(client.models.list().data or ())
        except openai.OpenAIError as exc:
            raise self._error(exc, during="checking", timeout=timeout) from exc
        except Exception as exc:  # e.g. a web page instead of JSON
            raise BackendError(f"{self.base_url}/models did not answer like an OpenAI-compatible server "
                               f"({type(exc).__name__}): is OPENAI_BASE_URL right?") from exc
        served = []
        for model in models:
            extra = model.model_extra or {}
            meta = extra.get("meta") if isinstance(extra.get("meta"), dict) else {}
            n_ctx = meta.get("n_ctx") if isinstance(meta.get("n_ctx"), int) else 0
            aliases = {a for a in extra.get("aliases") or () if isinstance(a, str)}  # llama.cpp's --alias names
            served.append((model.id, {model.id} | aliases, n_ctx))
        return served

    def _choose_model(self, wanted: str, served: list[tuple[str, set[str], int]]) -> tuple[str, int]:
        """The model id to request and its context size: ``wanted`` exactly, or the only one served
        when ``wanted`` is a local alias such as the default ``qwen-0.5b``."""
        for _id, names, n_ctx in served:
            if wanted in names:
                return wanted, n_ctx
        if wanted in LLMS and len(served) == 1:
            return served[0][0], served[0][2]
        if not served:
            raise BackendError(f"the hosted LLM at {self.base_url} serves no models")
        ids = sorted(model_id for model_id, _, _ in served)
        shown = ", ".join(ids[:20]) + (f", … ({len(ids)} in all)" if len(ids) > 20 else "")
        raise BackendError(
            f"model {wanted!r} is not served by the hosted LLM at {self.base_url}; it serves: {shown}. "
            f"Set RAG_LLM_MODEL (or --model) to one of them."
        )

    # -- chat -----------------------------------------------------------------------------

    def chat(self, messages: list[dict], settings: Settings, max_tokens: int) -> Iterator[str]:
        request = dict(model=self.model_name, messages=messages, temperature=settings.temperature, stream=True)
        stream = None
        started = False
        try:
            try:
                stream = self._client.chat.completions.create(max_tokens=max_tokens, **request)
            except openai.BadRequestError as exc:
                if "max_completion_tokens" not in str(exc):
                    raise
                # Newer OpenAI models take max_completion_tokens instead of max_tokens.
                stream = self._client.chat.completions.create(max_completion_tokens=max_tokens, **request)
            for chunk in stream:
                for choice in chunk.choices or ():
                    text = choice.delta.content if choice.delta else None
                    if text:
                        started = True
                        yield text
        except BackendError:
            raise
        except Exception as exc:  # API errors, or the transport failing (server died, timeout)
            if started:
                raise BackendError(f"the hosted LLM at {self.base_url} stopped in the middle of the answer: "
                                   f"{_reason(exc)}") from exc
            raise self._error(exc, during="answering") from exc
        finally:
            if stream is not None:
                stream.close()

    def yes_probability(self, messages: list[dict], settings: Settings) -> float | None:
        """P(yes) from the first reply token's log probabilities; None when the endpoint does not
        return them (the answer then stands)."""
        try:
            reply = self._client.chat.completions.create(model=self.model_name, **yes_no_request(messages))
        except openai.BadRequestError:  # e.g. a model that takes no logprobs or no max_tokens
            return None
        except Exception as exc:
            raise self._error(exc, during="checking an answer") from exc
        choice = reply.choices[0] if reply.choices else None
        tokens = choice.logprobs.content if choice is not None and choice.logprobs else None
        if not tokens:
            return None
        return p_yes([{"token": t.token, "logprob": t.logprob} for t in tokens[0].top_logprobs or ()])

    # -- errors ---------------------------------------------------------------------------

    def _error(self, exc: Exception, during: str, timeout: float | None = None) -> BackendError:
        url, timeout = self.base_url, timeout or self._timeout
        if isinstance(exc, openai.APITimeoutError):
            if "Connect" in type(exc.__cause__).__name__:
                return BackendError(f"cannot reach the hosted LLM at {url}: connection timed out")
            return BackendError(f"the hosted LLM at {url} did not answer in time while {during} "
                                f"(timeout {timeout:g}s; raise RAG_TIMEOUT if the server is just slow)")
        if isinstance(exc, openai.APIConnectionError):
            return BackendError(f"cannot reach the hosted LLM at {url}: {_reason(exc)}. "
                                f"Is the server running? (a local one: `rag llm-server`)")
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            problem = "rejected the key in OPENAI_API_KEY" if self._has_key else "requires an API key"
            return BackendError(f"the hosted LLM at {url} {problem} (HTTP {exc.status_code} {_api_message(exc)}): "
                                f"set OPENAI_API_KEY to a valid key")
        if isinstance(exc, openai.NotFoundError) and during == "checking":
            return BackendError(f"{url}/models was not found (HTTP 404): is OPENAI_BASE_URL right? "
                                f"OpenAI-compatible servers usually end in /v1")
        if isinstance(exc, openai.APIStatusError):
            return BackendError(f"the hosted LLM at {url} failed while {during}: HTTP {exc.status_code} "
                                f"{_api_message(exc)}".rstrip())
        return BackendError(f"the hosted LLM at {url} failed while {during}: {_reason(exc)}")


def _api_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        body = body.get("error", body)
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])
        if isinstance(body, str):
            return body
    return str(getattr(exc, "message", "") or "")


def _reason(exc: BaseException) -> str:
    """The innermost cause, e.g. ``[Errno 111] Connection refused`` rather than ``Connection error.``."""
    seen = exc
    while seen.__cause__ is not None and seen.__cause__ is not seen:
        seen = seen.__cause__
    return str(seen) or type(seen).__name__
