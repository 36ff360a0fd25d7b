"""The Gradio chat UI: a face over ``rag.service.App``, with no retrieval or generation of its own.

By what the user sees:

chat       the Chat tab: the conversation, answers sentence by sentence with their sources, the
           Sources panel, declines with their closest passages, the place in line while waiting
documents  the Documents tab: uploads, the table of indexed documents, removal
settings   the Settings accordion: per-request retrieval and backend choices
page       the tabs put together (``build_ui``), the style sheet and the page's script
serve      the index prepared, models warmed up, the page mounted next to the HTTP API (``main``)
render     escaping and shortening, shared by the tabs

Rendering is kept apart from layout: pure functions turn answers, citations and ingest reports
into escaped HTML and are unit-tested on their own. Per-visitor chat state lives in ``gr.State``;
sessions share only the ``App`` (its answer queue) and the index on disk. Gradio loads lazily:
importing this package is light. Start it with ``python app.py`` or ``rag serve``.
"""
from .page import build_ui
from .serve import WARMED_UP, main, mount

__all__ = ["WARMED_UP", "build_ui", "main", "mount"]
