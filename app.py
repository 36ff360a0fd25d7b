"""Start the chat UI: ``python app.py [--host HOST] [--port PORT] [--index DIR]``.

Defaults: 127.0.0.1:7860 (or ``$RAG_HOST``/``$RAG_PORT``); every other setting comes from
``RAG_*`` environment variables (see ``rag/config.py``). The seeds index is built on first start.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import rag  # noqa: F401  (offline environment first: before gradio is imported)
from rag.config import Settings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Chat with your documents, offline, with citations.")
    parser.add_argument("--host", default=os.environ.get("RAG_HOST") or "127.0.0.1",
                        help="interface to listen on (default: $RAG_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("RAG_PORT") or 7860),
                        help="port (default: $RAG_PORT or 7860)")
    parser.add_argument("--index", type=Path, help="index folder (default: ./index or $RAG_INDEX_DIR)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    from rag.ui import main as serve

    args = parse_args(argv)
    serve(host=args.host, port=args.port, settings=Settings.from_env(index_dir=args.index))


if __name__ == "__main__":
    main()
