"""Serve a local GGUF model over llama.cpp's OpenAI-compatible HTTP API.

    python -m rag.generate.server --host 127.0.0.1 --port 8080 [--model qwen-0.5b|qwen-1.5b|path.gguf] [--api-key KEY]
    rag llm-server --port 8080 [--parallel 4]

Then point the hosted backend at it:

    RAG_LLM=openai OPENAI_BASE_URL=http://127.0.0.1:8080/v1 rag ask "..."

The server answers ``/v1/models``, ``/v1/chat/completions`` (streaming too) and ``/health``;
the model is served under its short name (``qwen-0.5b``) or the file stem of a ``.gguf`` path.
``--parallel N`` gives it N slots: N requests are answered at once (continuous batching), each
with a window of ``--ctx-size`` tokens (the KV cache holds N windows); more wait in llama.cpp's
own queue. Tell ``rag serve`` how many with ``RAG_LLM_SLOTS=N``.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from ..config import Settings
from ..models import LLMS, ModelError, gguf_path


class ServerError(RuntimeError):
    """The server could not start; the message is for users."""


def model_id(model: str) -> str:
    """The id the server reports in ``/v1/models`` for ``model``."""
    return model if model in LLMS else Path(model).stem


def _check_port(host: str, port: int) -> None:
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ServerError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def start(model: str = "qwen-0.5b", host: str = "127.0.0.1", port: int = 8080, api_key: str | None = None,
          n_ctx: int | None = None, threads: int | None = None, settings: Settings | None = None, parallel: int = 1,
          metrics: bool = False):
    """Start llama.cpp's HTTP server in this process; return ``(server, base_url)``.

    The server listens as soon as this returns and stops when ``server`` is garbage-collected.
    ``port=0`` picks a free port (read it from the returned URL). ``parallel`` slots answer at
    once, each with a window of ``n_ctx`` tokens.
    """
    import xllamacpp as xlc

    settings = settings or Settings.from_env()
    try:
        path = gguf_path(model, settings.cache_dir)
    except ModelError as exc:
        raise ServerError(str(exc)) from exc
    _check_port(host, port)
    known = LLMS.get(model)
    params = xlc.CommonParams()
    params.model.path = str(path)
    params.model_alias = {model_id(model)}
    if parallel < 1:
        raise ServerError(f"--parallel must be at least 1, not {parallel}")
    params.n_ctx = min(n_ctx or settings.n_ctx, known.context_window if known else 1 << 20) * parallel
    params.n_parallel = parallel
    params.kv_unified = False  # each slot its own window of n_ctx tokens
    params.endpoint_metrics = metrics  # /metrics: Prometheus counters (tokens, requests)
    params.cpuparams.n_threads = threads or settings.threads
    params.cpuparams_batch.n_threads = threads or settings.threads
    params.verbosity = -1
    params.warmup = False
    params.hostnames = [host]
    params.port = port
    if api_key:
        params.api_keys = [api_key]
    try:
        server = xlc.Server(params)
    except RuntimeError as exc:
        raise ServerError(f"llama.cpp could not start serving {path} on {host}:{port}: {exc}") from exc
    return server, server.listening_address.rstrip("/") + "/v1"


def serve(model: str = "qwen-0.5b", host: str = "127.0.0.1", port: int = 8080, api_key: str | None = None,
          n_ctx: int | None = None, threads: int | None = None, parallel: int = 1,
          metrics: bool = False) -> int:
    """Start the server, print the base URL, and block until SIGINT or SIGTERM."""
    try:
        server, base_url = start(model, host, port, api_key, n_ctx, threads, parallel=parallel, metrics=metrics)  # noqa: F841 (kept alive)
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    stop = threading.Event()
    # Installed after start(): llama.cpp sets handlers of its own while it starts.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda signum, frame: stop.set())
    print(f"serving {model_id(model)}" + (f" with {parallel} slots" if parallel > 1 else "") + f" at {base_url}", flush=True)
    print(f"use it with: RAG_LLM=openai OPENAI_BASE_URL={base_url}"
          + (" OPENAI_API_KEY=..." if api_key else "") + (f" RAG_LLM_SLOTS={parallel}" if parallel > 1 else "")
          + ' rag ask "..."', flush=True)
    while not stop.wait(0.5):
        pass
    print("stopping", file=sys.stderr, flush=True)
    # Leave at once: llama.cpp's own shutdown waits (about 30 s, holding the GIL) for open
    # streams, while exiting closes every connection so clients fail fast instead of hanging.
    sys.stdout.flush()
    os._exit(0)


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    parser.add_argument("--model", default="qwen-0.5b", help=f"{', '.join(LLMS)} or a .gguf path (default qwen-0.5b)")
    parser.add_argument("--api-key", default=None, help="require this bearer key from clients")
    parser.add_argument("--ctx-size", type=int, default=None, help="context window in tokens (default $RAG_N_CTX or 4096)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default $RAG_THREADS)")
    parser.add_argument("--parallel", type=int, default=1,
                        help="slots: requests answered at once, each with a --ctx-size window (default 1); "
                             "give rag serve the same number as RAG_LLM_SLOTS")
    parser.add_argument("--metrics", action="store_true", help="serve Prometheus counters at /metrics (tokens, requests)")
    return parser


def run(args: argparse.Namespace) -> int:
    return serve(args.model, args.host, args.port, args.api_key, args.ctx_size, args.threads, args.parallel, args.metrics)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.generate.server",
                                     description="Serve a local GGUF model over an OpenAI-compatible HTTP API.")
    try:
        return run(add_arguments(parser).parse_args(argv))
    except KeyboardInterrupt:  # Ctrl-C while the model loads
        return 130


if __name__ == "__main__":
    sys.exit(main())
