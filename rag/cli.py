"""The ``rag`` command: a thin face over the public API."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import asdict
from pathlib import Path

from . import __name__ as _pkg  # noqa: F401  (sets the offline environment first)
from .config import BACKENDS, MODES, Settings
from .indexer import ensure_index


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
    from .search import retrieve

    settings = _settings(args)
    ensure_index(settings)
    passages = retrieve(args.query, k=settings.k, settings=settings)
    if args.json:
        print(json.dumps([asdict(p) for p in passages], indent=1, ensure_ascii=False))
        return 0
    for n, p in enumerate(passages, 1):
        print(f"[{n}] {_where(p)} {p.start}-{p.end} score={p.score:.4f}\n    {p.text[:300].replace(chr(10), ' ')}")
    return 0


def _print_answer(result, as_json: bool) -> None:
    if as_json:
        print(json.dumps(asdict(result), indent=1, ensure_ascii=False))
        return
    print(result.text)
    _print_citations(result.citations)


def _print_citations(citations) -> None:
    from .load import short_id

    for c in citations:
        where = _where(c, short_id(c.doc_id))
        print(f"  [{c.number}] {where} chars {c.quote_start}-{c.quote_end}: \"{c.quote}\"")


def _where(hit, name: str | None = None) -> str:
    """``name, p. 12`` for a passage or citation of a paged document, else ``name`` (default: its source)."""
    name = hit.source if name is None else name
    return f"{name}, {hit.page_label}" if hit.page_label else name


def _ask_one(question: str, settings: Settings, history, as_json: bool):
    """Print the answer as it streams, then its verified citations; the verified text is printed
    too (after a note) only when verification changed what was streamed."""
    from .pipeline import stream_answer
    from .types import Answer

    result, streamed = None, []
    for item in stream_answer(question, settings=settings, history=history):
        if isinstance(item, Answer):
            result = item
        elif not as_json:
            streamed.append(item)
            print(item, end="", flush=True)
    if as_json:
        _print_answer(result, as_json)
        return result
    print()
    if "".join(streamed).strip() == result.text.strip():
        _print_citations(result.citations)
    else:
        print("-" * 40 + "\nVerified answer (the streamed reply did not hold up against the documents):")
        _print_answer(result, False)
    return result


def cmd_ask(args) -> int:
    from .generate.base import BackendError

    settings = _settings(args)
    ensure_index(settings)
    try:
        if args.question:
            _ask_one(" ".join(args.question), settings, None, args.json)
            return 0
        history: list[tuple[str, str]] = []
        print("Ask about the documents (empty line or Ctrl-D to quit).", file=sys.stderr)
        while True:
            try:
                question = input("> ").strip()
            except EOFError:
                break
            if not question:
                break
            result = _ask_one(question, settings, history, args.json)
            history.append((question, result.text))
    except BackendError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_serve(args) -> int:
    from .ui import main as serve

    serve(host=args.host, port=args.port, settings=_settings(args))
    return 0


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
                        help="show library messages (model loading, BM25, PDF warnings); for ingest: characters "
                             "dropped per document")
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

    for name, func, helptext in (("search", cmd_search, "show the passages retrieved for a query"),
                                 ("ask", cmd_ask, "answer a question with citations (no question: interactive)")):
        p = sub.add_parser(name, parents=[common], help=helptext)
        p.add_argument("query" if name == "search" else "question", nargs=None if name == "search" else "*")
        p.add_argument("-k", type=int, help="passages to retrieve")
        p.add_argument("--mode", choices=MODES)
        p.add_argument("--json", action="store_true", help="print JSON")
        if name == "ask":
            p.add_argument("--backend", choices=BACKENDS)
            p.add_argument("--model", help="local model name (qwen-0.5b, qwen-1.5b, a .gguf path) or hosted model id")
            p.add_argument("--threads", type=int)
            p.add_argument("--base-url", help="OpenAI-compatible endpoint for --backend openai (default $OPENAI_BASE_URL)")
        p.set_defaults(func=func)

    p = sub.add_parser("serve", parents=[common], help="start the chat UI and the HTTP API (/v1, OpenAI-compatible)")
    p.add_argument("--host", help="interface to listen on (default: $RAG_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: $RAG_PORT or 7860)")
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


NOISY_LOGGERS = ("bm25s", "pypdf", "sentence_transformers", "transformers", "faiss", "httpx")


def quiet_libraries(verbose: bool) -> None:
    """Library chatter (weight-loading bars, bm25s debug lines, pypdf notes) only with ``-v``.

    Warnings of ``rag`` itself always show, each naming its file.
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if verbose:
        return
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    from .generate.base import BackendError
    from .index import IndexUnavailable

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["eval"]:  # the eval suite parses its own options
        from eval.__main__ import main as run_eval

        return run_eval(argv[1:])
    args = build_parser().parse_args(argv)
    quiet_libraries(getattr(args, "verbose", False))
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
