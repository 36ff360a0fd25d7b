"""``rag mcp``: the documents as a Model Context Protocol server (official ``mcp`` SDK).

Tools: ``search_documents`` (passages with scores and character spans), ``ask`` (a verified
answer with its citations and its sentences' claims, or a decline with the closest passages,
which are not an answer) and ``list_documents``. Every indexed document is
also a resource, ``rag://documents/<url-quoted doc_id>``, whose content is its cleaned text (the
text all character offsets refer to).

Transports: stdio (the default, for desktop agents) and streamable HTTP (``--transport http``,
endpoint ``/mcp``). Over HTTP the same rule as ``rag serve`` holds: no key on a loopback address;
anywhere else ``RAG_API_KEY`` must be set and every request must carry it as a bearer token.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import asdict
from typing import Any
from urllib.parse import quote, unquote

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp_types import Resource as MCPResource
from mcp_types import ToolAnnotations

import rag
from .config import MODES, Settings, check_question, package_version
from .service import answer_fields, answer_rest, log_failure, readable_error
from .types import Answer

log = logging.getLogger(__name__)

RESOURCE_PREFIX = "rag://documents/"
INSTRUCTIONS = (
    "Answers questions from a local collection of documents. Use `ask` for an answer whose every "
    "sentence is checked against the documents and carries numbered citations (it says plainly when "
    "the documents do not hold the answer), `search_documents` for the raw passages, and "
    "`list_documents` or the rag://documents/ resources for the documents themselves."
)


READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def resource_uri(doc_id: str) -> str:
    return RESOURCE_PREFIX + quote(doc_id, safe="")


class RagMCP(MCPServer):
    """``MCPServer`` whose resource list is the index's current documents."""

    def __init__(self, settings: Settings):
        super().__init__("rag", instructions=INSTRUCTIONS, version=package_version())
        self.rag_settings = settings

    async def list_resources(self) -> list[MCPResource]:
        docs = await anyio.to_thread.run_sync(_documents, self.rag_settings)
        listed = [
            MCPResource(uri=resource_uri(d.doc_id), name=d.doc_id, title=d.title or d.source,
                        description=f"{d.source} ({len(d.text)} characters of cleaned text)",
                        mime_type="text/plain", size=len(d.text.encode()))
            for d in docs
        ]
        return listed + await super().list_resources()


def build_server(settings: Settings) -> RagMCP:
    server = RagMCP(settings)

    @server.tool(structured_output=True, annotations=READ_ONLY)
    async def search_documents(query: str, k: int = 5, mode: str | None = None) -> dict[str, Any]:
        """Find the passages of the documents that match `query`, best first.

        Each passage has its document (doc_id, source, title), its text, its character span
        (start, end) in the document's cleaned text and its retrieval score. `mode` is one of
        hybrid (default), dense or bm25.
        """
        query = query.strip()
        if not query:
            raise ToolError("the query is empty")
        if not 1 <= k <= 100:
            raise ToolError("k must be between 1 and 100")
        if mode is not None and mode not in MODES:
            raise ToolError(f"mode must be one of {', '.join(MODES)}")
        passages = await _in_thread(
            lambda: rag.retrieve(query, k=k, settings=settings, mode=mode))
        return {"query": query, "passages": [{"rank": i, **asdict(p)} for i, p in enumerate(passages, 1)]}

    @server.tool(structured_output=True, annotations=READ_ONLY)
    async def ask(question: str, history: list[list[str]] | None = None) -> dict[str, Any]:
        """Answer `question` from the documents only, with verified numbered citations.

        `text` carries [n] markers; `citations[n-1]` names the document, the passage, its
        character span and the supporting `quote`; `claims` are the answer's sentences, each with
        the numbers of the citations that support it. When the documents do not hold the answer,
        `abstained` is true, there are no citations, and `closest` lists the passages nearest to
        the question: NOT an answer (the documents may not state it), only where to look.
        `history` is the earlier conversation as [question, answer] pairs, used to understand
        follow-up questions.
        """
        try:
            question = check_question(question, settings)
        except ValueError as exc:
            raise ToolError(readable_error(exc)) from exc
        pairs = [(str(q), str(a)) for q, a, *_ in (history or [])]
        answer = await _in_thread(
            lambda: rag.answer(question, history=pairs, settings=settings))
        return ask_result(answer)

    @server.tool(structured_output=True, annotations=READ_ONLY)
    async def list_documents() -> dict[str, Any]:
        """The indexed documents: doc_id, source, title, length and their resource URI."""
        docs = await anyio.to_thread.run_sync(_documents, settings)
        return {"documents": [
            {**{k: v for k, v in asdict(d).items() if k != "text"}, "chars": len(d.text),
             "uri": resource_uri(d.doc_id)}
            for d in docs
        ]}

    @server.resource(RESOURCE_PREFIX + "{doc_id}", name="document", mime_type="text/plain",
                     description="An indexed document's cleaned text (what character spans refer to).")
    async def document(doc_id: str) -> str:
        wanted = unquote(doc_id)
        for d in await anyio.to_thread.run_sync(_documents, settings):
            if d.doc_id == wanted:
                return d.text
        raise ResourceError(f"not in the index: {wanted}")

    return server


def ask_result(answer: Answer) -> dict[str, Any]:
    """The ``ask`` tool's result: the answer's text and fields, its citations, claims and (after a
    decline) closest passages; the passages it read are left out."""
    rest = {k: v for k, v in answer_rest(answer).items() if k != "passages"}
    return {"text": answer.text, **rest, **answer_fields(answer)}


async def _in_thread(call):
    """Run blocking pipeline work off the event loop; failures become readable tool errors."""
    try:
        return await anyio.to_thread.run_sync(call)
    except Exception as exc:
        log_failure(exc, "a tool call")
        raise ToolError(readable_error(exc)) from exc


def _documents(settings: Settings):
    from .index import IndexUnavailable

    try:
        return rag.list_documents(settings)
    except IndexUnavailable:
        return []


def _prepare(settings: Settings) -> None:
    """Build the seeds index if needed and load the embedder (before clients connect)."""
    from .embed import get_embedder
    from .index import IndexUnavailable
    from .indexer import ensure_index

    try:
        ensure_index(settings, progress=False)
    except IndexUnavailable as exc:
        print(f"warning: {exc}", file=sys.stderr, flush=True)
    get_embedder(settings.embedder, settings.threads)


def run(settings: Settings, transport: str = "stdio", host: str = "127.0.0.1", port: int = 8765) -> int:
    """Serve until the client disconnects (stdio) or until interrupted (HTTP)."""
    from . import api

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    key = None
    if transport == "http":
        try:
            key = api.api_key_for(host)
        except api.RefusedToStart as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    _prepare(settings)
    server = build_server(settings)
    if transport == "stdio":
        server.run("stdio")  # the SDK points fd 1 at stderr while serving: stray output cannot corrupt the wire
        return 0
    from mcp.server.transport_security import TransportSecuritySettings

    security = None if api.is_loopback(host) else TransportSecuritySettings(enable_dns_rebinding_protection=False)
    app = server.streamable_http_app(host=host, transport_security=security,
                                     max_request_body_size=api.MAX_REQUEST_BYTES)
    print(f"MCP server (streamable HTTP) on http://{host}:{port}/mcp" + (" (API key required)" if key else ""),
          file=sys.stderr, flush=True)
    api.serve(app, host, port, key, protect=lambda path: True, limit=lambda path: api.MAX_REQUEST_BYTES)
    return 0
