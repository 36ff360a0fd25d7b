"""The Settings accordion: per-request choices of retrieval and answer backend (the server's own
``Settings`` are the defaults; nothing here changes them)."""
from __future__ import annotations

from ..config import BACKENDS, MODES, Settings

BACKEND_LABELS = {
    "local": "local model (on this machine)",
    "openai": "OpenAI-compatible (hosted)",
    "extractive": "extractive (quotes, no LLM)",
}


def settings_panel(base: Settings) -> list:
    """The accordion's inputs, in the order ``Chat.respond`` takes them: k, mode, backend, temperature."""
    import gradio as gr

    with gr.Accordion("Settings", open=False, elem_id="rag-settings"):
        k = gr.Slider(1, 10, value=min(max(base.k, 1), 10), step=1, label="Passages to retrieve (top-k)")
        mode = gr.Radio(list(MODES), value=base.mode, label="Retrieval mode")
        backend = gr.Radio([(BACKEND_LABELS[b], b) for b in BACKENDS], value=base.backend,
                           label="Answer backend", elem_id="rag-backend")
        temperature = gr.Slider(0.0, 1.5, value=base.temperature, step=0.05, label="Temperature")
    return [k, mode, backend, temperature]
