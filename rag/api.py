"""The HTTP API served next to the chat UI: OpenAI-compatible chat completions with citations,
search, and document management. A face over the public API, like the UI and the CLI.

Routes (all under ``/v1``; the schema is at ``/openapi.json``):

- ``POST /v1/chat/completions`` -- OpenAI-compatible, streamed (SSE) or not. ``messages`` is the
  conversation: the last user message is the question, earlier user/assistant pairs are the
  history that follow-ups are condensed with. ``choices[0].message.content`` is the *verified*
  answer text with its ``[n]`` markers. Extra top-level fields carry the structure:
  ``citations`` lists what each marker points at (document, title, character span, quote, and
  any other field of ``rag.Citation``); ``claims`` are the answer's sentences, each
  ``{"text", "citations": [n, ...]}`` with the numbers it cites; ``closest`` is, after a decline,
  the passages nearest to the question (``rag.Passage`` fields) -- *not* an answer: shown so the
  reader can look for themselves. ``rag`` carries the rest of the ``rag.Answer``
  (``abstained``, ``short``, ``shape``, ``query``, ``passages``, ``timings``) and ``queue``,
  ``{"position", "waited"}``: the place in line on arrival (0: answered at once) and the seconds
  spent waiting. A decline is an ordinary answer with ``citations: []``, ``rag.abstained: true``
  and the ``closest`` passages.

  One answer is written at a time (per answer backend; a hosted ``RAG_LLM=openai`` server with
  parallel slots takes several): other requests wait in line, first come first served. A
  streamed request is told its place while it waits, as SSE comment lines
  ``: queued, position N`` (1: next) before its first chunk; a non-streamed request cannot be
  (its headers are sent with the answer), so it reports ``rag.queue`` afterwards.

  Streaming: the model's raw draft is not shown as the answer, because verification may drop
  sentences and renumber markers. While the model writes, chunks carry the draft in the extra
  delta field ``rag_draft`` (ordinary clients ignore it); once verified, the answer text arrives
  as ordinary ``delta.content`` chunks, and the last chunk (``finish_reason: "stop"``) carries
  ``citations``, ``claims``, ``closest`` and ``rag`` like the non-streamed response. Concatenating ``delta.content``
  gives exactly the non-streamed ``message.content``. An error after the stream started is sent
  as an SSE event ``{"error": {...}}`` (what OpenAI clients raise on), then ``[DONE]``.
- ``GET /v1/models`` -- one model, ``rag``.
- ``POST /v1/search`` -- passages with scores and character spans.
- ``GET /v1/documents``, ``GET /v1/documents/{doc_id}``, ``POST /v1/documents`` (multipart
  ``files``; the same checks as uploads in the UI), ``DELETE /v1/documents/{doc_id}``.

Security: on a loopback address no key is needed. Anywhere else ``RAG_API_KEY`` must be set
(the server refuses to start otherwise) and every ``/v1`` request must send
``Authorization: Bearer <key>``; when a key is set the chat UI asks for it as its password too.
Request bodies are limited (``RAG_MAX_REQUEST_BYTES``, ``RAG_MAX_UPLOAD_BYTES`` for uploads).
Every error is JSON ``{"error": {"message", "type", "code"}}``; tracebacks go to the server log
only.
"""
from __future__ import annotations

import ipaddress
import json
import re
import logging
import os
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

import rag  # noqa: F401  (offline environment first)
from fastapi import FastAPI, File, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .config import MODES, Settings, check_question, package_version
from .service import (App, Queued, Ticket, UploadRejected, answer_fields, answer_rest, log_failure, readable_error,
                      safe_upload_name, uploaded_file)
from .types import Answer, Document, IngestReport

log = logging.getLogger(__name__)

MODEL_ID = "rag"
API_KEY_ENV = "RAG_API_KEY"
MAX_REQUEST_BYTES = int(os.environ.get("RAG_MAX_REQUEST_BYTES") or 1_000_000)
MAX_UPLOAD_BYTES = int(os.environ.get("RAG_MAX_UPLOAD_BYTES") or 50 * 2**20)
MAX_MESSAGES = 200
UPLOAD_PATH = "/v1/documents"
KEEPALIVE = 15.0  # seconds between repeated "queued" comments while the place in line stays the same


# --- binding and keys ----------------------------------------------------------------------
class RefusedToStart(ValueError):
    """The server would be reachable from other machines without a key."""


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_key_for(host: str, env: dict[str, str] | None = None) -> str | None:
    """The key requests must carry (``RAG_API_KEY``), or None; refuses a non-loopback host without one."""
    env = os.environ if env is None else env
    key = (env.get(API_KEY_ENV) or "").strip() or None
    if key is None and not is_loopback(host):
        raise RefusedToStart(
            f"refusing to listen on {host} without an API key: set {API_KEY_ENV} (clients then send "
            f"'Authorization: Bearer <key>'), or listen on 127.0.0.1")
    return key


def error_body(message: str, status: int, kind: str | None = None, code: str | None = None, **extra) -> dict:
    kind = kind or ("invalid_request_error" if status < 500 else "server_error")
    return {"error": {"message": message, "type": kind, "code": code or str(status), **extra}}


class Guard:
    """ASGI middleware: bearer key on protected paths, and request body size limits.

    ``protect(path)`` says which paths need the key (all of them for the MCP server, ``/v1``
    for ``rag serve``, whose UI has its own login). Bodies are limited by their declared length
    and, for chunked requests, by counting what arrives.
    """

    def __init__(self, app, key: str | None, protect: Callable[[str], bool],
                 limit: Callable[[str], int | None] = lambda path: MAX_REQUEST_BYTES):
        self.app, self.key, self.protect, self.limit = app, key, protect, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.key is not None and self.protect(path):
            scheme, _, token = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip().encode(), self.key.encode()):
                return await _send_json(send, 401, error_body(
                    "missing or wrong API key: send 'Authorization: Bearer <RAG_API_KEY>'", 401,
                    code="invalid_api_key"), [(b"www-authenticate", b"Bearer")])
        limit = self.limit(path)
        if limit is None:
            return await self.app(scope, receive, send)
        try:
            declared = int(headers.get("content-length") or 0)
        except ValueError:
            return await _send_json(send, 400, error_body("invalid Content-Length", 400))
        if declared > limit:
            return await _send_json(send, 413, _too_large(limit))
        received, over, started = 0, False, False

        async def limited_receive():
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message):
            # Frameworks may turn the aborted read into their own error: answer 413 instead.
            nonlocal started
            if over:
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await _send_json(send, 413, _too_large(limit))
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if not started:
                await _send_json(send, 413, _too_large(limit))


class BodyTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


def _too_large(limit: int) -> dict:
    return error_body(f"request body too large (limit {limit} bytes)", 413, code="request_too_large")


async def _send_json(send, status: int, body: dict, headers: list | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": data})


# --- records as JSON -------------------------------------------------------------------------
def completion_extras(answer: Answer, ticket: Ticket | None = None) -> dict:
    """The extra top-level fields of a completion: ``citations``, ``claims``, ``closest``, ``rag``."""
    rest = answer_rest(answer)
    if ticket is not None:
        rest["queue"] = {"position": ticket.first, "waited": ticket.waited}
    return {**answer_fields(answer), "rag": rest}


def document_json(d: Document, origins: dict[str, str], uploads_dir: Path, text: bool = False) -> dict:
    body = {k: v for k, v in asdict(d).items() if text or k != "text"}
    return {**body, "chars": len(d.text), "uploaded": uploaded_file(d, origins, uploads_dir) is not None}


def split_text(text: str) -> list[str]:
    """``text`` in word-sized pieces whose concatenation is ``text``."""
    return [piece for piece in re.findall(r"\S*\s*", text) if piece]


def status_of(exc: BaseException) -> int:
    from .generate.base import BackendError
    from .index import IndexUnavailable

    if isinstance(exc, BackendError):
        return 502
    if isinstance(exc, IndexUnavailable):
        return 503
    if isinstance(exc, KeyError):
        return 404
    if isinstance(exc, ValueError):
        return 400
    return 500


# --- request bodies ----------------------------------------------------------------------
class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """OpenAI chat completion request; ``k`` and ``mode`` are extras (``extra_body``)."""

    model_config = ConfigDict(extra="allow")  # clients send options we do not use (top_p, user, ...)
    model: str = MODEL_ID
    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(None, ge=1, le=4096)
    n: int = Field(1, ge=1, le=1)
    k: int | None = Field(None, ge=1, le=20, description="passages given to the model")
    mode: Literal[MODES] | None = Field(None, description="retrieval mode")  # type: ignore[valid-type]


class SearchRequest(BaseModel):
    query: str = Field(description="checked like a question: not empty, at most max_question_chars")
    k: int = Field(5, ge=1, le=100)
    mode: Literal[MODES] | None = None  # type: ignore[valid-type]


# --- the routes ------------------------------------------------------------------------------
def create_app(settings: Settings, key: str | None = None, title: str = "rag", shared: App | None = None):
    """The FastAPI app with the ``/v1`` routes over ``shared`` (the UI's ``App`` when ``rag.ui``
    mounts itself on it, so both wait in one answer queue) or an ``App`` of its own."""
    actions = shared or App(settings)
    app = FastAPI(
        title=f"{title} API", version=package_version(),
        description="Answers from the indexed documents with verified citations (OpenAI-compatible "
                    "chat completions), passage search and document management. See the module "
                    "docstring of rag.api for the citation fields and the streaming format.",
        docs_url=None, redoc_url=None,  # the interactive docs load scripts from a CDN: not offline
        openapi_url="/openapi.json",
    )

    # errors: always JSON, never a traceback
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return JSONResponse(error_body(detail, exc.status_code), exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg', 'invalid')}"
            for e in exc.errors())
        return JSONResponse(error_body(f"invalid request: {problems}", 400), 400)

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: Request, exc: BodyTooLarge):
        return JSONResponse(_too_large(exc.limit), 413)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log_failure(exc, f"{request.method} {request.url.path}")
        status = status_of(exc)
        return JSONResponse(error_body(readable_error(exc), status), status)

    def fail(exc: Exception, what: str) -> HTTPException:
        log_failure(exc, what)
        return HTTPException(status_of(exc), readable_error(exc))

    # models
    model_card = {"id": MODEL_ID, "object": "model", "created": int(time.time()), "owned_by": "rag"}

    @app.get("/v1/models", summary="The assistant as the one model, `rag`")
    def models() -> dict:
        return {"object": "list", "data": [model_card]}

    @app.get("/v1/models/{model}", summary="One model")
    def model(model: str) -> dict:
        if model != MODEL_ID:
            raise HTTPException(404, f"no model {model!r}: the model is {MODEL_ID!r}")
        return model_card

    # chat
    def conversation(req: ChatRequest) -> tuple[str, list[tuple[str, str]]]:
        if req.model != MODEL_ID:
            raise HTTPException(404, f"no model {req.model!r}: the model is {MODEL_ID!r}")
        turns = [(m.role, _text(m.content)) for m in req.messages if m.role in ("user", "assistant")]
        if not turns or turns[-1][0] != "user":
            raise HTTPException(400, "the last message must be the user's question")
        try:
            question = check_question(turns[-1][1], request_settings(req))
        except ValueError as exc:
            raise fail(exc, "a chat completion") from exc
        history, pending = [], None
        for role, text in turns[:-1]:
            if role == "user":
                pending = text
            elif pending is not None:
                history.append((pending, text))
                pending = None
        return question, history

    def request_settings(req: ChatRequest) -> Settings:
        try:
            return settings.replace(k=req.k, mode=req.mode, temperature=req.temperature,
                                    max_tokens=req.max_completion_tokens or req.max_tokens)
        except ValueError as exc:
            raise fail(exc, "a chat completion") from exc

    @app.post("/v1/chat/completions", summary="Answer the conversation's last question, with citations")
    async def chat_completions(req: ChatRequest):
        question, history = conversation(req)
        s = request_settings(req)
        cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        ticket = actions.queue(s.backend).join()  # in line from now on, first come first served
        if req.stream:
            stream = actions.stream(question, history, s, ticket)
            return StreamingResponse(_sse(stream, ticket, cid, created), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        try:
            answer = await run_in_threadpool(actions.answer, question, history, s, ticket)
        except Exception as exc:
            raise fail(exc, "a chat completion") from exc
        finally:
            ticket.leave()
        return {
            "id": cid, "object": "chat.completion", "created": created, "model": MODEL_ID,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                         "finish_reason": "stop", "logprobs": None}],
            **completion_extras(answer, ticket),
        }

    # search
    @app.post("/v1/search", summary="The passages retrieval finds, with scores and character spans")
    def search(req: SearchRequest) -> dict:
        try:
            query = check_question(req.query, settings)
            passages = rag.retrieve(query, k=req.k, settings=settings, mode=req.mode)
        except Exception as exc:
            raise fail(exc, "a search") from exc
        return {"object": "list", "query": req.query,
                "data": [{"rank": i, **asdict(p)} for i, p in enumerate(passages, 1)]}

    # documents
    @app.get("/v1/documents", summary="The indexed documents (without their text)")
    def documents() -> dict:
        docs, origins = actions.catalogue()
        return {"object": "list", "data": [document_json(d, origins, actions.uploads_dir) for d in docs]}

    @app.get("/v1/documents/{doc_id:path}", summary="One document with its cleaned text")
    def document(doc_id: str) -> dict:
        docs, origins = actions.catalogue()
        for d in docs:
            if d.doc_id == doc_id:
                return document_json(d, origins, actions.uploads_dir, text=True)
        raise HTTPException(404, f"not in the index: {doc_id}")

    @app.post("/v1/documents", summary="Upload files (.txt .md .html .pdf) into the index")
    def upload(files: list[UploadFile] = File(..., description="the files (multipart field `files`)")) -> dict:
        rejected: list[tuple[str, str]] = []
        with tempfile.TemporaryDirectory(prefix="rag-upload-") as tmp:
            paths = []
            for i, f in enumerate(files):
                try:
                    name = safe_upload_name(f.filename or "")
                except UploadRejected as exc:
                    rejected.append((exc.name, exc.reason))
                    continue
                folder = Path(tmp) / str(i)  # one folder per file: equal names do not overwrite
                folder.mkdir()
                with open(folder / name, "wb") as out:
                    shutil.copyfileobj(f.file, out)
                paths.append(folder / name)
            report, more = actions.add_files(paths)
            rejected += more
        body = {**(asdict(report) if report else asdict(IngestReport())),
                "rejected": [{"name": n, "reason": r} for n, r in rejected]}
        if report is None or not (report.added or report.updated or report.unchanged):
            reasons = "; ".join(f"{n}: {r}" for n, r in rejected) or "no file"
            raise HTTPException(400, f"nothing was added: {reasons}")
        return body

    @app.delete("/v1/documents/{doc_id:path}", summary="Remove a document (and its uploaded file)")
    def delete(doc_id: str) -> dict:
        try:
            removed, files = actions.delete(doc_id)
        except Exception as exc:
            raise fail(exc, f"removing {doc_id!r}") from exc
        return {"removed": removed, "deleted_file": bool(files)}

    @app.api_route("/v1/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def unknown(rest: str):
        # without this, an unknown /v1 path would fall through to the UI mounted at /
        raise HTTPException(404, f"Not Found: no API route /v1/{rest}")

    return app


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") in ("text", None))
    return ""


async def _sse(stream, ticket: Ticket, cid: str, created: int):
    """The SSE body of a streamed completion (see the module docstring): ``: queued, position N``
    comments while ``ticket`` waits its turn, then the chunks of ``stream`` (``App.stream``)."""
    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    try:
        said, last = None, 0.0
        async for position in iterate_in_threadpool(ticket.positions()):
            if position != said or time.monotonic() - last >= KEEPALIVE:
                yield f": queued, position {position}\n\n"
                said, last = position, time.monotonic()
        yield chunk({"role": "assistant", "content": ""})
        answer = None
        try:
            async for item in iterate_in_threadpool(stream):
                if isinstance(item, Answer):
                    answer = item
                elif item and not isinstance(item, Queued):
                    yield chunk({"rag_draft": item})
            if answer is None:
                raise RuntimeError("the answer stream ended without an answer")
        except Exception as exc:
            log_failure(exc, "a streamed answer")
            yield f"data: {json.dumps(error_body(readable_error(exc), status_of(exc)))}\n\n"
            yield "data: [DONE]\n\n"
            return
        for piece in split_text(answer.text):
            yield chunk({"content": piece})
        yield chunk({}, "stop", **completion_extras(answer, ticket))
        yield "data: [DONE]\n\n"
    finally:
        ticket.leave()  # also when the client went away while waiting


# --- serving ---------------------------------------------------------------------------------
def is_v1(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


def upload_limit(path: str) -> int | None:
    """Body limit of a path of ``rag serve``: the UI's own routes keep Gradio's limits."""
    if not is_v1(path):
        return None
    return MAX_UPLOAD_BYTES if path.rstrip("/") == UPLOAD_PATH else MAX_REQUEST_BYTES


def serve(app, host: str, port: int, key: str | None, protect: Callable[[str], bool] = is_v1,
          limit: Callable[[str], int | None] = upload_limit) -> None:
    """Run ``app`` behind ``Guard`` with uvicorn (blocks until interrupted)."""
    import uvicorn

    uvicorn.run(Guard(app, key, protect, limit), host=host, port=port, log_level="warning",
                timeout_graceful_shutdown=5)


