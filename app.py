"""Serve the chat UI and the HTTP API: ``python app.py [--host HOST] [--port PORT] [--index DIR] [-v]``.

Defaults: 127.0.0.1:7860 (or ``$RAG_HOST``/``$RAG_PORT``); every other setting comes from
``RAG_*`` environment variables (see ``rag/config.py``). The seeds are indexed on first start
into an index that does not exist yet (``rag serve`` does so only for the default index).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import rag  # noqa: F401  (offline environment first: before gradio is imported)
from rag.config import Settings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = Settings.from_env()
    parser = argparse.ArgumentParser(description="Chat with your documents, offline, with citations.")
    parser.add_argument("--host", default=defaults.host, help="interface to listen on (default: $RAG_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, default=defaults.port, help="port (default: $RAG_PORT or 7860)")
    parser.add_argument("--index", type=Path, help="index folder (default: ./index or $RAG_INDEX_DIR)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show library messages and warnings")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from rag.cli import busy_port
    from rag.log import configure

    args = parse_args(argv)
    configure(args.verbose)
    settings = Settings.from_env(index_dir=args.index)
    from rag import api

    try:
        api.api_key_for(args.host)
    except api.RefusedToStart as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if message := busy_port(args.host, args.port):  # before the index is built or a model loaded
        print(f"error: {message}", file=sys.stderr)
        return 2
    seed(settings)
    from rag.ui import main as serve

    serve(host=args.host, port=args.port, settings=settings)
    return 0


def seed(settings: Settings) -> None:
    """Index the seeds when the index does not exist yet (whichever folder it is)."""
    from rag.index import IndexUnavailable
    from rag.indexer import ensure_index

    try:
        report = ensure_index(settings, progress=True, seeds=True)
    except IndexUnavailable as exc:  # no seeds folder: the UI says how to add documents
        print(f"warning: {exc}", file=sys.stderr, flush=True)
        return
    if report is not None:
        print(f"Indexed the seeds into {settings.index_dir}: {report.summary()}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
