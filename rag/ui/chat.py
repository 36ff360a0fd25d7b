"""The Chat tab: the conversation, each answer sentence by sentence with its sources, and the
Sources panel.

The rendering functions are pure (text in, escaped HTML out) and unit-tested on their own;
``Chat`` holds the handlers the page binds to them. Per-visitor chat state is a list of
``Turn`` kept in ``gr.State``.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from ..config import check_question
from ..service import App, Queued, answer_fields, log_failure, readable_error, request_settings
from ..types import Answer, Citation, Claim, Passage
from .render import escape_html, escape_markdown, shorten

log = logging.getLogger(__name__)

ECHO_CHARS = 600  # a longer question is shown shortened in the chat
HEADING_CHARS = 90  # ... and in its heading in the Sources panel
EXCERPT_CHARS = 160  # a closest passage, in the chat under a decline
NOT_FOUND = "Not in the documents"
NOT_AN_ANSWER = "Not an answer"
CLOSEST_NOTE = "The documents may not state this directly; closest passages:"
BUSY = "Please wait: the previous answer is still being written (or press New chat to stop it)."


def waiting_notice(position: int) -> str:
    """What the chat shows while an answer waits its turn."""
    return f"Waiting in line: position {position} (one answer is written at a time)\u2026"


# --- one turn of the chat -------------------------------------------------------------------
@dataclass
class Turn:
    """One question and what became of it (kept per session in ``gr.State``)."""

    question: str
    text: str = ""  # the streamed text, then the authoritative ``Answer.text``
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    error: str = ""
    done: bool = False
    waiting: str = ""  # shown until the first words arrive, e.g. the place in line
    claims: list[Claim] = field(default_factory=list)
    closest: list[Passage] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return self.done and not self.error

    def finish(self, answer: Answer) -> None:
        """Take the final answer: its text replaces whatever was streamed."""
        self.text, self.citations, self.abstained = answer.text, list(answer.citations), answer.abstained
        self.claims = list(answer.claims)
        self.closest = list(answer.closest) if answer.abstained else []


# --- rendering: the answer ------------------------------------------------------------------
_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def source_anchor(turn: int, number: int) -> str:
    """The element id of citation ``number`` of chat turn ``turn`` in the Sources panel."""
    return f"rag-src-{turn}-{number}"


def closest_anchor(turn: int, number: int) -> str:
    """The element id of closest passage ``number`` under the decline of chat turn ``turn``."""
    return f"rag-src-{turn}-p{number}"


def link_markers(text: str, numbers: Iterable[int], turn: int) -> str:
    """Escape ``text`` and turn its ``[n]`` markers into links to the Sources panel.

    Markers that name no known citation stay plain (escaped) text.
    """
    known = set(numbers)
    out: list[str] = []
    pos = 0
    for m in _MARKER.finditer(text):
        nums = [int(n) for n in re.split(r"\s*,\s*", m.group(1))]
        if not any(n in known for n in nums):
            continue
        out.append(escape_markdown(text[pos : m.start()]))
        links = [
            f'<a class="rag-cite" href="#{source_anchor(turn, n)}" title="Show source {n}">&#91;{n}&#93;</a>'
            if n in known else f"&#91;{n}&#93;"
            for n in nums
        ]
        out.append("<sup>" + "".join(links) + "</sup>")
        pos = m.end()
    out.append(escape_markdown(text[pos:]))
    return "".join(out)


def render_claims(claims: Sequence[Claim], numbers: Iterable[int], turn: int) -> str:
    """Each checked sentence on its own line with its own markers; pointing at (or clicking) a
    sentence highlights the sources it cites."""
    known = list(numbers)
    return "".join(f'<span class="rag-claim">{link_markers(c.text, known, turn)}</span>' for c in claims)


def render_abstention(text: str = "", closest: Sequence[Passage] = (), turn: int = 0) -> str:
    """The decline, said once (the answer's own text), then the closest passages, marked as not
    an answer, each linked to its place in the Sources panel."""
    out = f'<span class="rag-abstain">&#8856; <strong>{escape_markdown(text or NOT_FOUND + ".")}</strong></span>'
    if closest:
        items = "".join(
            f'<span class="rag-near-item"><a class="rag-near" href="#{closest_anchor(turn, n)}" '
            f'title="Show passage {n}">&#91;{n}&#93;</a> <code>{escape_markdown(p.source)}</code> '
            f'&#8220;{escape_markdown(shorten(p.text, EXCERPT_CHARS))}&#8221;</span>'
            for n, p in enumerate(closest, 1))
        out += (f'<span class="rag-closest"><span class="rag-not-answer">{NOT_AN_ANSWER}</span> '
                f'{escape_markdown(CLOSEST_NOTE)} {items}</span>')
    return out


def render_error(message: str) -> str:
    return f'<span class="rag-error">&#9888; <strong>Could not answer:</strong> {escape_markdown(message)}</span>'


def render_streaming(text: str) -> str:
    """The partial answer while it streams in (markers are linked once verified)."""
    return escape_markdown(text) + '<span class="rag-cursor">&#9612;</span>'


def render_reply(t: Turn, turn: int) -> str:
    """The chat message of ``t``: its error, its decline, or its answer (sentence by sentence)."""
    if t.error:
        return render_error(t.error)
    if not t.done:
        waiting = escape_markdown(t.waiting or "Searching the documents\u2026")
        return render_streaming(t.text) if t.text else f'<span class="rag-cursor rag-waiting">{waiting}</span>'
    if t.abstained:
        return render_abstention(t.text, t.closest, turn)
    numbers = [c.number for c in t.citations]
    if t.claims:
        return render_claims(t.claims, numbers, turn)
    return link_markers(t.text, numbers, turn)


def render_answer(answer: Answer, turn: int) -> str:
    """The chat message for a final answer."""
    t = Turn(answer.query, done=True)
    t.finish(answer)
    return render_reply(t, turn)


def chat_messages(turns: Sequence[Turn]) -> list[dict]:
    """The Chatbot value (messages format) for the turns of a session."""
    messages = []
    for i, t in enumerate(turns):
        messages.append({"role": "user", "content": escape_markdown(shorten(t.question, ECHO_CHARS))})
        messages.append({"role": "assistant", "content": render_reply(t, i)})
    return messages


def history_of(turns: Sequence[Turn]) -> list[tuple[str, str]]:
    """``(question, answer)`` pairs for ``stream_answer(history=...)``."""
    return [(t.question, t.text) for t in turns if t.answered]


# --- rendering: the Sources panel -----------------------------------------------------------
def highlight_quote(citation: Citation) -> str:
    """The passage, escaped, with the quoted span wrapped in ``<mark>``."""
    text = citation.text
    lo = min(max(citation.quote_start - citation.start, 0), len(text))
    hi = min(max(citation.quote_end - citation.start, lo), len(text))
    return f"{escape_html(text[:lo])}<mark>{escape_html(text[lo:hi])}</mark>{escape_html(text[hi:])}"


def _source_box(anchor: str, number: int, record: Citation | Passage, span: tuple[int, int], body: str,
                extra: str = "", kind: str = "") -> str:
    title = record.title.strip()
    head = f'<span class="rag-title">{escape_html(title)}</span>' if title else ""
    page = f' <span class="rag-page">{escape_html(record.page_label)}</span>' if record.page_label else ""
    return (
        f'<div class="rag-source{kind}" id="{anchor}">'
        f'<div class="rag-source-head"><span class="rag-num">[{number}]</span> '
        f'<code class="rag-doc">{escape_html(record.source)}</code>{page}</div>'
        f'<div class="rag-source-meta">{head}{" &#183; " if head else ""}'
        f"characters {span[0]}&#8211;{span[1]}{extra}</div>"
        f'<blockquote class="rag-passage">{body}</blockquote></div>'
    )


def render_citation(citation: Citation, turn: int, sentences: Sequence[int] = ()) -> str:
    """One cited passage with its quoted sentence highlighted; ``sentences``: the answer sentences
    (1-based) that cite it, named when the answer has several."""
    used = f" &#183; for sentence {', '.join(map(str, sentences))}" if sentences else ""
    return _source_box(source_anchor(turn, citation.number), citation.number, citation,
                       (citation.quote_start, citation.quote_end), highlight_quote(citation), used)


def render_citations(citations: Sequence[Citation], turn: int, claims: Sequence[Claim] = ()) -> str:
    cited_by: dict[int, list[int]] = {}
    if len(claims) > 1:
        for i, claim in enumerate(claims, 1):
            for n in claim.citations:
                cited_by.setdefault(n, []).append(i)
    return "".join(render_citation(c, turn, cited_by.get(c.number, ())) for c in citations)


def render_closest(closest: Sequence[Passage], turn: int) -> str:
    """The passages nearest to a declined question, under a note that they are not an answer."""
    boxes = "".join(_source_box(closest_anchor(turn, n), n, p, (p.start, p.end), escape_html(p.text), kind=" rag-near-source")
                    for n, p in enumerate(closest, 1))
    return (f'<p class="rag-closest-head"><span class="rag-not-answer">{NOT_AN_ANSWER}</span> '
            f'{escape_html(CLOSEST_NOTE)}</p>{boxes}')


def render_sources(turns: Sequence[Turn]) -> str:
    """The Sources panel: newest answer first and open, earlier answers folded."""
    blocks = []
    for i in reversed(range(len(turns))):
        t = turns[i]
        if not t.done:
            continue
        latest = not blocks
        if t.error:
            body = '<p class="rag-empty">No sources: the answer failed.</p>'
        elif t.abstained or not t.citations:
            body = f'<p class="rag-abstain">{NOT_FOUND}: no sources cited.</p>'
            if t.closest:
                body += render_closest(t.closest, i)
        else:
            body = render_citations(t.citations, i, t.claims)
        blocks.append(
            f'<details class="rag-turn"{" open" if latest else ""}>'
            f'<summary>Answer {i + 1}: {escape_html(shorten(t.question, HEADING_CHARS))}</summary>{body}</details>'
        )
    if not blocks:
        return '<div class="rag-sources"><p class="rag-empty">Sources of the answers appear here.</p></div>'
    return '<div class="rag-sources">' + "".join(blocks) + "</div>"


def answer_json(answer: Answer, turn: int = 0) -> dict:
    """An answer as the UI's ``/ask`` endpoint returns it (with the chat's HTML)."""
    return {"text": answer.text, "html": render_answer(answer, turn), "abstained": answer.abstained,
            "query": answer.query, **answer_fields(answer), "timings": answer.timings}


# --- the handlers ---------------------------------------------------------------------------
class Chat:
    """The Chat tab's handlers over the shared ``App``."""

    def __init__(self, app: App):
        self.app = app

    def respond(self, question: str, turns: list[Turn] | None, k=None, mode=None, backend=None,
                temperature=None) -> Iterator[tuple]:
        """Stream one answer into the chat: yields (textbox, chatbot, state, sources).

        The textbox is emptied once, when the question is taken, and then left alone
        (``gr.skip()``), so what the user types while the answer streams stays. An empty
        question, or one sent while this session's previous answer still streams, is refused
        with a notice. A question that cannot be asked (too long) is answered with the reason
        and stays in the box to be shortened.
        """
        import gradio as gr

        skip = (gr.skip(),) * 4
        turns = list(turns or [])
        if turns and not turns[-1].done:
            gr.Warning(BUSY)
            yield skip
            return
        try:
            settings = request_settings(self.app.settings, k, mode, backend, temperature)
            question = check_question(question or "", settings)
        except ValueError as exc:
            log_failure(exc, "a question")
            if not (question or "").strip():
                gr.Warning(readable_error(exc))
                yield skip
                return
            turns.append(Turn(question, error=readable_error(exc), done=True))
            yield gr.skip(), chat_messages(turns), turns, render_sources(turns)
            return
        history = history_of(turns)
        turn = Turn(question)
        turns.append(turn)
        yield "", chat_messages(turns), turns, render_sources(turns)
        try:
            streamed, place = [], None
            for item in self.app.stream(question, history, settings):
                if isinstance(item, Queued):
                    if item.position == place:
                        yield skip  # nothing new; lets "New chat" stop a waiting answer
                        continue
                    place, turn.waiting = item.position, waiting_notice(item.position)
                elif isinstance(item, Answer):
                    turn.finish(item)
                    continue
                else:
                    streamed.append(item)
                    turn.text = "".join(streamed)
                yield gr.skip(), chat_messages(turns), turns, gr.skip()
        except Exception as exc:  # shown in the chat; a traceback goes to the server log for bugs only
            log_failure(exc, f"answering {shorten(question, 200)!r}")
            turn.error = readable_error(exc)
        finally:
            turn.done = True  # also when "New chat" cancels the stream
        yield gr.skip(), chat_messages(turns), turns, render_sources(turns)

    def ask(self, question: str, history: list | None = None, k: int | None = None, mode: str | None = None,
            backend: str | None = None, temperature: float | None = None) -> dict:
        """Answer ``question`` (with optional ``[[question, answer], ...]`` history) as JSON."""
        import gradio as gr

        try:
            settings = request_settings(self.app.settings, k, mode, backend, temperature)
            pairs = [(str(q), str(a)) for q, a in (history or [])]
            return answer_json(self.app.answer(question, pairs, settings))
        except Exception as exc:
            log_failure(exc, "the UI's /ask")
            raise gr.Error(readable_error(exc)) from exc


def chat_tab(app: App, settings_panel) -> None:
    """The Chat tab's components and events (inside a ``gr.Blocks``); ``settings_panel()`` adds the
    Settings accordion and returns its inputs."""
    import gradio as gr

    chat = Chat(app)
    turns = gr.State([])
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(label="Chat", elem_id="rag-chat", height=520, sanitize_html=True,
                                 feedback_options=None, buttons=[], latex_delimiters=[],
                                 placeholder="Ask a question about the documents.")
            with gr.Row():
                question = gr.Textbox(label="Question", placeholder="Ask a question…", show_label=False, scale=5,
                                      elem_id="rag-question", autofocus=True, submit_btn=False)
                send = gr.Button("Ask", variant="primary", scale=1, elem_id="rag-send")
                clear = gr.Button("New chat", scale=1, elem_id="rag-clear")
            choices = settings_panel()
        with gr.Column(scale=2):
            gr.Markdown("### Sources")
            sources = gr.HTML(render_sources([]), label="Sources", elem_id="rag-sources", js_on_load=None)
    ask_inputs = [question, turns, *choices]
    ask_outputs = [question, chatbot, turns, sources]
    # "minimal" progress shows Gradio's own queue position when all its workers are busy.
    asked = [
        question.submit(chat.respond, ask_inputs, ask_outputs, api_name="chat", show_progress="minimal",
                        show_progress_on=[chatbot],
                        api_description="Ask in this session's chat (history is kept per session). Streams "
                                        "(question box, chat messages, Sources panel HTML)."),
        send.click(chat.respond, ask_inputs, ask_outputs, api_name="chat_button", show_progress="minimal",
                   show_progress_on=[chatbot], api_visibility="undocumented"),
    ]
    # "New chat" stops a streaming answer, so its end cannot bring the old chat back.
    clear.click(lambda: ("", [], [], render_sources([])), None, ask_outputs, api_visibility="private",
                cancels=asked)
    # The Chatbot's own clear (trash) button must forget the session's history too.
    chatbot.clear(lambda: ([], render_sources([])), None, [turns, sources], api_visibility="private",
                  cancels=asked)
    return chat
