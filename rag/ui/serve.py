"""Serving the page: the index prepared, the models warmed up, the UI mounted on the HTTP API's
app so both share one ``App`` (one answer queue)."""
from __future__ import annotations

import logging
import os
import sys
import threading

from ..config import Settings, get_settings
from ..service import App

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
CONCURRENCY = 4  # chat requests Gradio runs at once; they wait in the App's answer queue
WARMED_UP = "Models loaded."  # printed once the warm-up is done (llama.cpp holds the GIL for seconds while it loads)


def prepare_index(settings: Settings) -> None:
    """Build or refresh the seeds index before serving, with progress on the console."""
    from ..index import IndexUnavailable
    from ..indexer import ensure_index

    print(f"Preparing the index at {settings.index_dir} …", file=sys.stderr, flush=True)
    try:
        report = ensure_index(settings, progress=True)
    except IndexUnavailable as exc:
        print(f"warning: {exc}; upload documents in the Documents tab.", file=sys.stderr, flush=True)
        return
    print(f"Index ready: {report.summary()}" if report else "Index ready.", file=sys.stderr, flush=True)


def _warm_up(settings: Settings, host: str, port: int) -> None:
    """Once the server accepts connections, load the embedder and the default answer backend in the
    background (the first answer is faster; loading them sooner would hold up serving the page)."""
    def run():
        import socket
        import time

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1" if host in ("", "0.0.0.0", "::") else host, port), 1).close()
                break
            except OSError:
                time.sleep(0.2)
        try:
            from ..embed import get_embedder
            from ..generate.registry import get_backend

            get_embedder(settings.embedder, settings.threads).encode_cached(["warm-up"])
            get_backend(settings)
            print(WARMED_UP, file=sys.stderr, flush=True)
        except Exception as exc:  # the chat shows the error when it is used
            log.warning("warm-up of the %s backend failed: %s", settings.backend, exc)

    threading.Thread(target=run, daemon=True, name="rag-warm-up").start()


def mount(app, demo, key: str | None = None):
    """Mount the UI at ``/`` of the FastAPI ``app`` (the HTTP API's); with a key, the UI asks for it."""
    import secrets

    import gradio as gr

    from .page import CSS, HEAD, theme

    auth = None if key is None else (lambda user, password: secrets.compare_digest(password.encode(), key.encode()))
    return gr.mount_gradio_app(
        app, demo.queue(default_concurrency_limit=CONCURRENCY), path="/", theme=theme(), css=CSS, head=HEAD,
        footer_links=["api", "settings"], ssr_mode=False, pwa=False, mcp_server=False, enable_monitoring=False,
        auth=auth, auth_message="Log in with any user name and the server's RAG_API_KEY as the password.",
    )


def main(host: str | None = None, port: int | None = None, settings: Settings | None = None, **launch_kwargs):
    """Prepare the index and serve the UI and the HTTP API (blocks until interrupted)."""
    from .. import api
    from .page import build_ui

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = settings or get_settings()
    host = host or os.environ.get("RAG_HOST") or DEFAULT_HOST
    port = int(port or os.environ.get("RAG_PORT") or DEFAULT_PORT)
    try:
        key = api.api_key_for(host)
    except api.RefusedToStart as exc:
        raise SystemExit(f"error: {exc}") from None
    prepare_index(settings)
    _warm_up(settings, host, port)
    print(f"Serving the chat UI on http://{host}:{port} and the API on http://{host}:{port}/v1"
          + (" (API key required)" if key else ""), file=sys.stderr, flush=True)
    shared = App(settings)
    app = mount(api.create_app(settings, key, shared=shared), build_ui(settings, shared), key)
    return api.serve(app, host, port, key, **launch_kwargs)
