"""The page: its tabs put together (``build_ui``), its style sheet and its one script."""
from __future__ import annotations

from ..config import Settings, get_settings
from ..service import App

CSS = """
.rag-sources { font-size: 0.92em; overflow-wrap: anywhere; }
.rag-turn > summary { cursor: pointer; font-weight: 600; margin: 0.3em 0; overflow-wrap: anywhere; }
.rag-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.5em 0.7em; margin: 0.5em 0; scroll-margin: 4em; }
.rag-source.rag-flash { animation: rag-flash 1.6s ease-out; }
.rag-source.rag-lit { border-color: var(--color-accent); box-shadow: 0 0 0 2px var(--color-accent); }
@keyframes rag-flash { from { background: #fde68a; } to { background: transparent; } }
.rag-source-head { font-weight: 600; }
.rag-page { font-weight: 400; color: var(--body-text-color-subdued); }
.rag-num { color: var(--color-accent); margin-right: 0.2em; }
.rag-source-meta { color: var(--body-text-color-subdued); font-size: 0.9em; margin: 0.15em 0 0.35em; }
.rag-passage { margin: 0; padding-left: 0.7em; border-left: 3px solid var(--border-color-primary); white-space: pre-wrap; overflow-wrap: anywhere; }
.rag-passage mark { background: #fde68a; color: inherit; padding: 0 1px; border-radius: 2px; }
#rag-chat a.rag-cite, a.rag-cite, #rag-chat a.rag-near, a.rag-near { color: var(--color-accent) !important; text-decoration: none; font-weight: 700; padding: 0 1px; cursor: pointer; }
#rag-chat .message, #rag-chat .message-content { overflow-wrap: anywhere; }
.rag-claim { display: block; border-radius: 4px; padding: 1px 3px; margin: 0 -3px 0.25em; cursor: pointer; }
.rag-claim:hover, .rag-claim.rag-lit { background: rgba(253, 230, 138, 0.45); }
.rag-abstain { color: #92400e; }
.rag-closest { display: block; margin-top: 0.5em; padding: 0.4em 0.6em; border: 1px dashed #b45309; border-radius: 6px; font-size: 0.92em; }
.rag-near-item { display: block; margin-top: 0.25em; }
.rag-not-answer { display: inline-block; font-weight: 700; font-size: 0.8em; text-transform: uppercase; letter-spacing: 0.04em; color: #92400e; border: 1px solid #b45309; border-radius: 4px; padding: 0 4px; margin-right: 0.3em; }
.rag-closest-head { margin: 0.6em 0 0.2em; }
.rag-near-source { border-style: dashed; }
.rag-error { color: #b91c1c; }
.rag-empty { color: var(--body-text-color-subdued); }
.rag-rejected li { margin: 0.2em 0; }
"""

# Citation links scroll the Sources panel in place (Gradio would open links in a new tab);
# pointing at an answer sentence lights up the sources it cites, clicking it shows the first.
HEAD = """<script>
(function () {
  function target(a) { return document.getElementById(a.getAttribute('href').slice(1)); }
  function show(el) {
    for (var d = el.parentElement; d; d = d.parentElement) { if (d.tagName === 'DETAILS') d.open = true; }
    el.scrollIntoView({behavior: 'smooth', block: 'center'});
    el.classList.remove('rag-flash'); void el.offsetWidth; el.classList.add('rag-flash');
  }
  function cited(claim) {
    return Array.prototype.map.call(claim.querySelectorAll('a.rag-cite'), target).filter(Boolean);
  }
  document.addEventListener('click', function (ev) {
    var t = ev.target && ev.target.closest ? ev.target : null;
    if (!t) return;
    var a = t.closest('a[href^="#rag-src-"]');
    var claim = a ? null : t.closest('.rag-claim');
    var el = a ? target(a) : (claim ? cited(claim)[0] : null);
    if (!el) return;
    ev.preventDefault(); ev.stopPropagation();
    show(el);
  }, true);
  document.addEventListener('mouseover', function (ev) {
    var claim = ev.target && ev.target.closest ? ev.target.closest('.rag-claim') : null;
    document.querySelectorAll('.rag-lit').forEach(function (e) { e.classList.remove('rag-lit'); });
    if (!claim) return;
    claim.classList.add('rag-lit');
    cited(claim).forEach(function (e) { e.classList.add('rag-lit'); });
  });
})();
</script>"""


def theme():
    import gradio as gr

    # System fonts only: no font file is fetched from anywhere.
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                             font_mono=["ui-monospace", "monospace"])


def build_ui(settings: Settings | None = None, app: App | None = None):
    """The Blocks of the page (not launched), over ``app`` (shared with the HTTP API) or a new one."""
    import gradio as gr

    from .chat import chat_tab
    from .documents import documents_tab
    from .settings import settings_panel

    app = app or App(settings or get_settings())
    base = app.settings
    with gr.Blocks(title="Ask the documents", analytics_enabled=False) as demo:
        gr.Markdown("## Ask the documents\nAnswers come only from the indexed documents, with numbered sources.")
        with gr.Tab("Chat", id="chat"):
            chat = chat_tab(app, lambda: settings_panel(base))
        with gr.Tab("Documents", id="documents"):
            documents_tab(app, demo)

        def ask(question: str, history: list[list[str]] | None = None, k: int = base.k, mode: str = base.mode,
                backend: str = base.backend, temperature: float = base.temperature) -> dict:
            """Answer a question from the documents: JSON with text, citations (with quotes), claims,
            closest passages (after a decline) and timings."""
            return chat.ask(question, history, k, mode, backend, temperature)

        def list_documents() -> list[dict]:
            """The indexed documents: doc_id, source, title and length."""
            return [{"doc_id": d.doc_id, "source": d.source, "title": d.title, "chars": len(d.text)}
                    for d in app.documents()]

        gr.api(ask, api_name="ask")
        gr.api(list_documents, api_name="list_documents")
    return demo
