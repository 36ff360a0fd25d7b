"""The ``rag`` command: a thin face over the public API."""
from __future__ import annotations

import argparse
import errno
import json
import os
import socket
import sys
from collections.abc import Iterable
from dataclasses import asdict, fields
from pathlib import Path

from . import __name__ as _pkg  # noqa: F401  (sets the offline environment first)
from .config import BACKENDS, MODES, Settings, check_question
from .types import Answer


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        index_dir=getattr(args, "index", None),
        store=getattr(args, "store", None) or (str(args.index) if getattr(args, "index", None) else None),
        collection=getattr(args, "collection", None),
        k=getattr(args, "k", None),
        mode=getattr(args, "mode", None),
        backend=getattr(args, "backend", None),
        llm_model=getattr(args, "model", None),
        openai_base_url=getattr(args, "base_url", None),
        threads=getattr(args, "threads", None),
        chunk_size=getattr(args, "chunk_size", None),
        chunk_overlap=getattr(args, "chunk_overlap", None),
    )


def cmd_ingest(args) -> int:
    from .indexer import ingest
    from .load import short_id

    missing = [str(p) for p in args.paths if not p.expanduser().exists()]
    if missing:  # refused before anything is read: a typo must not half-update (or prune) the index
        print(f"error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    report = ingest(args.paths, _settings(args), rebuild=args.rebuild, prune=not args.no_prune)
    for skipped in report.skipped:
        print(f"skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    if args.verbose:
        for doc_id in sorted(report.added + report.updated + report.unchanged):
            print(f"{short_id(doc_id)}: {report.dropped.get(doc_id, 0)} characters dropped as page chrome")
    print(report.summary())
    return 0 if not report.skipped or report.changed or report.unchanged else 1


def cmd_remove(args) -> int:
    from .indexer import remove

    for doc_id in remove(args.names, _settings(args)):
        print(f"removed {doc_id}")
    return 0


def cmd_list(args) -> int:
    from .indexer import list_documents

    from .load import display_title, short_id

    for doc in list_documents(_settings(args)):
        print(f"{short_id(doc.doc_id)}\t{len(doc.text)} chars\t{display_title(doc)}\t{doc.doc_id}")
    return 0


def cmd_migrate(args) -> int:
    from .store import migrate

    done = migrate(_settings(args), args.to if str(args.to).startswith(("postgresql://", "postgres://"))
                   else Path(args.to).expanduser())
    print(f"copied {done['documents']} documents and {done['chunks']} chunks from {done['from']} to {done['to']} "
          "(nothing re-embedded)")
    return 0


def cmd_search(args) -> int:
    from .indexer import ensure_index
    from .search import retrieve

    settings = _settings(args)
    query = check_question(args.query, settings)
    ensure_index(settings)
    passages = retrieve(query, k=settings.k, settings=settings)
    if args.json:
        print(json.dumps([asdict(p) for p in passages], indent=1, ensure_ascii=False))
        return 0
    for n, p in enumerate(passages, 1):
        print(f"[{n}] {_where(p)} {p.start}-{p.end} score={p.score:.4f}\n    {p.text[:300].replace(chr(10), ' ')}")
    return 0


def show_answer(items: Iterable[str | Answer], as_json: bool = False, verbose: bool = False) -> Answer:
    """Print the final, checked answer of ``items`` (text pieces, then the ``Answer``) with its
    citations, or under a decline the passages closest to the question (not citations).

    The pieces are a draft that checking may still withdraw: they are never printed as the answer,
    and with ``verbose`` they stream to stderr as they come.
    """
    result, drafted = None, False
    for item in items:
        if isinstance(item, Answer):
            result = item
        elif verbose and item:
            print("" if drafted else "draft: ", item, sep="", end="", file=sys.stderr, flush=True)
            drafted = True
    if drafted:
        print(file=sys.stderr)
    if result is None:
        raise RuntimeError("the answer stream ended without an answer")
    if as_json:
        print(json.dumps(asdict(result), indent=1, ensure_ascii=False))
        return result
    print(result.text)
    _print_citations(result.citations)
    if result.abstained and result.closest:
        _print_closest(result.closest)
    return result


def _print_citations(citations) -> None:
    from .load import short_id

    for c in citations:
        where = _where(c, short_id(c.doc_id))
        print(f"  [{c.number}] {where} chars {c.quote_start}-{c.quote_end}: \"{c.quote}\"")


CLOSEST_CHARS = 200  # of a closest passage, shown under a decline


def _print_closest(passages) -> None:
    """The passages nearest to a declined question: marked as not an answer, and unlike a citation
    line (no character span, no colon)."""
    from .load import short_id
    from .ui.chat import CLOSEST_NOTE
    from .ui.render import shorten

    print(CLOSEST_NOTE)
    for n, p in enumerate(passages, 1):
        page = f" ({p.page_label})" if p.page_label else ""
        print(f'  [{n}] {short_id(p.doc_id)}{page} "{shorten(p.text, CLOSEST_CHARS)}"')


def _where(hit, name: str | None = None) -> str:
    """``name, p. 12`` for a passage or citation of a paged document, else ``name`` (default: its source)."""
    name = hit.source if name is None else name
    return f"{name}, {hit.page_label}" if hit.page_label else name


def _ask_one(question: str, settings: Settings, history, args) -> Answer:
    from .pipeline import stream_answer

    return show_answer(stream_answer(question, settings=settings, history=history), args.json, args.verbose)


# --- a running `rag serve` answers instead (its model is loaded already) ------------------------
ANSWER_OPTIONS = ("backend", "model", "threads", "base_url")  # given: the answer must be made here
SERVER_TIMEOUT = 600.0  # seconds a served answer may take (it may wait in the server's queue)


def served_answer(question: str, settings: Settings, args) -> Answer | None:
    """The answer of a ``rag serve`` running at ``settings.host:settings.port`` (``RAG_HOST``,
    ``RAG_PORT``) over the same documents as the index asked here, or None: none is running, it
    serves other documents, ``--no-server`` or an answer option (``--backend`` ...) was given, or
    it failed (the question is then answered here). A question the server refuses raises ``ValueError``."""
    if args.no_server or any(getattr(args, name, None) is not None for name in ANSWER_OPTIONS):
        return None
    local = _indexed_documents(settings)
    if not local:
        return None
    import httpx

    host = "127.0.0.1" if settings.host in ("", "0.0.0.0", "::") else settings.host.strip("[]")
    base = f"http://{f'[{host}]' if ':' in host else host}:{settings.port}/v1"
    key = (os.environ.get("RAG_API_KEY") or "").strip()
    body = {"model": "rag", "messages": [{"role": "user", "content": question}],
            **{name: getattr(args, name) for name in ("k", "mode") if getattr(args, name, None) is not None}}
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"} if key else {},
                          timeout=httpx.Timeout(SERVER_TIMEOUT, connect=1.0), trust_env=False) as client:
            listed = client.get("/documents", timeout=10)
            if listed.status_code != 200 or {d["doc_id"]: d.get("hash") for d in listed.json()["data"]} != local:
                return None
            reply = client.post("/chat/completions", json=body)
            if reply.status_code == 400:
                raise ValueError(reply.json()["error"]["message"])
            if reply.status_code != 200:
                return None
            answer = answer_from_completion(reply.json())
    except (httpx.HTTPError, KeyError, TypeError, IndexError, json.JSONDecodeError):
        return None
    if args.verbose:
        print(f"(answered by the rag serve at {base})", file=sys.stderr)
    return answer


def _indexed_documents(settings: Settings) -> dict[str, str] | None:
    """``{doc_id: content hash}`` of the local index's current generation (its manifest: no index is
    loaded), or None for a database store or a missing index."""
    from .index import current_generation
    from .store import is_postgres, store_location

    where = store_location(settings)
    generation = None if is_postgres(where) else current_generation(where)
    if generation is None:
        return None
    try:
        manifest = json.loads((Path(where) / generation / "manifest.json").read_text())
        return {doc_id: d["hash"] for doc_id, d in manifest["documents"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def answer_from_completion(body: dict) -> Answer:
    """The ``Answer`` of a chat completion of ``rag serve`` (``rag.api``: the message content, then
    ``citations``, ``claims``, ``closest`` and the other fields under ``rag``)."""
    from .types import Citation, Claim, Passage

    def record(cls, row: dict):
        return cls(**{f.name: row[f.name] for f in fields(cls) if f.name in row})

    rest = {**body.get("rag", {}), **{k: body[k] for k in ("claims", "closest") if k in body}}
    known = {f.name for f in fields(Answer)} - {"text", "citations", "passages", "claims", "closest"}
    return Answer(
        text=body["choices"][0]["message"]["content"],
        citations=[record(Citation, c) for c in body.get("citations", [])],
        passages=[record(Passage, p) for p in rest.get("passages", [])],
        claims=[Claim(c["text"], tuple(c.get("citations", ()))) for c in rest.get("claims", [])],
        closest=[record(Passage, p) for p in rest.get("closest", [])],
        **{k: v for k, v in rest.items() if k in known},
    )


def cmd_ask(args) -> int:
    from .config import QuestionError
    from .generate.base import BackendError
    from .indexer import ensure_index

    settings = _settings(args)
    question = check_question(" ".join(args.question), settings) if args.question else None
    if question is not None and (served := served_answer(question, settings, args)) is not None:
        show_answer([served], args.json, args.verbose)
        return 0
    ensure_index(settings)
    try:
        if question is not None:
            _ask_one(question, settings, None, args)
            return 0
        history: list[tuple[str, str]] = []
        print("Ask about the documents (empty line or Ctrl-D to quit).", file=sys.stderr)
        while True:
            try:
                line = input("> ").strip()
            except EOFError:
                break
            if not line:
                break
            try:
                result = _ask_one(line, settings, history, args)
            except QuestionError as exc:
                print(f"error: {exc}", file=sys.stderr)
                continue
            history.append((line, result.text))
    except BackendError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def busy_port(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be served because something listens there already, or None."""
    address = host.strip("[]") or "0.0.0.0"
    with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: a closing port is free
        try:
            s.bind((address, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (f"port {port} on {host} is in use (another `rag serve`?): pick another with "
                        "--port PORT or RAG_PORT=PORT")
    return None  # other failures (no such address, a privileged port) are the server's to report


def cmd_serve(args) -> int:
    settings = _settings(args)
    host, port = args.host or settings.host, args.port or settings.port
    if message := busy_port(host, port):  # before the index is prepared or a model loaded
        print(f"error: {message}", file=sys.stderr)
        return 2
    if args.workers > 1:
        return serve_workers(settings, host, port, args.workers)
    from .ui import main as serve

    serve(host=host, port=port, settings=settings)
    return 0


def serve_workers(settings: Settings, host: str, port: int, workers: int) -> int:
    """``workers`` uvicorn processes serving the HTTP API (``/v1``) on one port, over one PostgreSQL
    store; their answers wait in one line kept in the database (``rag.store.postgres.SharedLine``).
    The chat UI keeps each visitor's state in its process, so it is served by a single-worker
    ``rag serve`` (on the same store, in the same line)."""
    from .api import RefusedToStart, api_key_for
    from .store import is_postgres
    from .ui.serve import prepare_index

    if not is_postgres(settings.store):
        print("error: --workers needs a PostgreSQL store (RAG_STORE or --store postgresql://…): the workers "
              "share its index and the line of questions waiting for the LLM", file=sys.stderr)
        return 2
    try:
        key = api_key_for(host)
    except RefusedToStart as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    prepare_index(settings)
    defaults = Settings.from_env()
    os.environ.update({f"RAG_{f.name.upper()}": str(getattr(settings, f.name)) for f in fields(Settings)
                       if getattr(settings, f.name) != getattr(defaults, f.name)})  # what the options changed
    os.environ.update(RAG_HOST=host, RAG_PORT=str(port))
    import uvicorn

    print(f"Serving the API on http://{host}:{port}/v1 with {workers} workers" + (" (API key required)" if key else "")
          + f"; answers by {settings.backend}" + (f" at {settings.openai_base_url}" if settings.backend == "openai" else ""),
          file=sys.stderr, flush=True)
    uvicorn.run("rag.cli:api_worker", factory=True, host=host, port=port, workers=workers, log_level="warning",
                timeout_graceful_shutdown=5)
    return 0


def api_worker():
    """The app of one ``rag serve --workers`` process (uvicorn imports it by name): the HTTP API
    behind its key and body limits, with the settings the parent put in the environment; the
    embedder and the answer backend load once it listens."""
    from . import api
    from .ui.serve import _warm_up

    settings = Settings.from_env()
    key = api.api_key_for(settings.host)
    _warm_up(settings, settings.host, settings.port)
    return api.Guard(api.create_app(settings, key), key, api.is_v1, api.upload_limit)


def cmd_mcp(args) -> int:
    from .mcp_server import run

    return run(_settings(args), args.transport, args.host, args.port)


def cmd_llm_server(args) -> int:
    from .generate.server import run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Offline question answering over your documents, with citations.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index", type=Path, help="index folder (default: ./index of the project, or $RAG_INDEX_DIR)")
    common.add_argument("--store", help="postgresql://user@host/db for a PostgreSQL + pgvector store, or a folder "
                                        "(default: $RAG_STORE, else the index folder)")
    common.add_argument("--collection", help="collection of a PostgreSQL store (default: $RAG_COLLECTION or default)")
    common.add_argument("-v", "--verbose", action="store_true",
                        help="show library messages and warnings (model loading, ONNX export, PDF warnings) and, for ask, "
                             "the draft answer as it streams; for ingest: characters dropped per document")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", parents=[common], help="add or update documents (files or folders)")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--rebuild", action="store_true", help="discard the existing index and build anew")
    p.add_argument("--no-prune", action="store_true", help="keep documents whose files left an ingested folder")
    p.add_argument("--chunk-size", type=int)
    p.add_argument("--chunk-overlap", type=int)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("remove", parents=[common], help="remove documents by id, source path or absolute path")
    p.add_argument("names", nargs="+")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("list", parents=[common], help="list indexed documents")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("migrate", parents=[common],
                       help="copy the store (documents, chunks, vectors) into another one, without re-embedding")
    p.add_argument("--to", required=True,
                   help="postgresql://… (the same --collection) or an index folder; its current content is replaced")
    p.set_defaults(func=cmd_migrate)

    ask_about = ("answer a question with citations; without a question it is interactive and keeps the model "
                 "loaded between questions. `rag ask QUESTION` loads the model each time, unless a `rag serve` is "
                 "running on $RAG_HOST:$RAG_PORT (default 127.0.0.1:7860) over the same documents: that server then "
                 "answers, with its own settings (--no-server: never)")
    for name, func, helptext, about in (
            ("search", cmd_search, "show the passages retrieved for a query", None),
            ("ask", cmd_ask, "answer a question with citations (no question: interactive, the model stays loaded)",
             ask_about)):
        p = sub.add_parser(name, parents=[common], help=helptext, description=about or helptext)
        p.add_argument("query" if name == "search" else "question", nargs=None if name == "search" else "*")
        p.add_argument("-k", type=int, help="passages to retrieve")
        p.add_argument("--mode", choices=MODES)
        p.add_argument("--json", action="store_true", help="print JSON")
        if name == "ask":
            p.add_argument("--backend", choices=BACKENDS)
            p.add_argument("--model", help="local model name (qwen-0.5b, qwen-1.5b, a .gguf path) or hosted model id")
            p.add_argument("--threads", type=int)
            p.add_argument("--base-url", help="OpenAI-compatible endpoint for --backend openai (default $OPENAI_BASE_URL)")
            p.add_argument("--no-server", action="store_true",
                           help="answer here even when a `rag serve` is running (as --backend, --model, --threads "
                                "and --base-url do)")
        p.set_defaults(func=func)

    p = sub.add_parser("serve", parents=[common], help="start the chat UI and the HTTP API (/v1, OpenAI-compatible)")
    p.add_argument("--host", help="interface to listen on (default: $RAG_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: $RAG_PORT or 7860)")
    p.add_argument("--workers", type=int, default=1,
                   help="processes serving the HTTP API on the port (default 1: the API and the chat UI); more need "
                        "a PostgreSQL store, and serve the API only (docs/scaling.md)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("mcp", parents=[common], help="serve the documents to AI agents over MCP (stdio or HTTP)")
    p.add_argument("--transport", choices=("stdio", "http"), default="stdio",
                   help="stdio (for desktop agents; the default) or streamable HTTP at /mcp")
    p.add_argument("--host", default="127.0.0.1", help="HTTP interface (default 127.0.0.1; any other needs RAG_API_KEY)")
    p.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    p.set_defaults(func=cmd_mcp)

    from .generate.server import add_arguments as server_arguments

    p = sub.add_parser("llm-server", help="serve a local GGUF model over an OpenAI-compatible HTTP API")
    server_arguments(p)
    p.set_defaults(func=cmd_llm_server)

    sub.add_parser("eval", help="run the evaluation suite (see `rag eval --help`)", add_help=False)  # see main()
    return parser


def main(argv: list[str] | None = None) -> int:
    from .generate.base import BackendError
    from .index import IndexUnavailable
    from .log import configure

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["eval"]:  # the eval suite parses its own options
        from eval.__main__ import main as run_eval

        return run_eval(argv[1:])
    args = build_parser().parse_args(argv)
    configure(getattr(args, "verbose", False))
    try:
        return args.func(args)
    except (IndexUnavailable, BackendError, KeyError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
