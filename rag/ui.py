"""The Gradio chat UI: a face over the public API, with no retrieval or generation of its own.

Layout (``build_ui``) is kept apart from rendering: the small pure functions at the top of
this module turn answers, citations and ingest reports into escaped HTML and are unit-tested
on their own. Per-visitor chat state lives in ``gr.State``; nothing here is shared between
sessions except the index on disk (serialised by ``rag.indexer``'s write lock).

Start it with ``python app.py`` or ``rag serve``.
"""
from __future__ import annotations

import html
import logging
import os
import re
import shutil
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import rag  # noqa: F401  (sets the offline environment before gradio is imported)
from .config import BACKENDS, MODES, Settings, get_settings
from .types import Answer, Citation, Document, IngestReport

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
CONCURRENCY = 4  # chat requests handled at once; the local model queues its own work
UPLOAD_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".pptx", ".xlsx", ".csv")
MAX_NAME_CHARS = 120
ECHO_CHARS = 600  # a longer question is shown shortened in the chat
PARTIAL = ".part"  # an upload being copied: hidden (.name.part) so no ingest ever reads it
BACKEND_LABELS = {
    "local": "local model (on this machine)",
    "openai": "OpenAI-compatible (hosted)",
    "extractive": "extractive (quotes, no LLM)",
}
NOT_FOUND = "Not in the documents"
BUSY = "Please wait: the previous answer is still being written (or press New chat to stop it)."


# --- escaping ---------------------------------------------------------------------------
# Chat messages go through Gradio's Markdown renderer, so besides HTML we neutralise the
# characters Markdown would act on (links, images, emphasis, autolinks, math, templates).
# Numeric character references are shown as the plain character and never parsed as syntax.
_MARKDOWN_ESCAPES = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'\\`*_{}[]()#+-!|~$:.=@"})
_HTML_ESCAPES = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'`{}$\\"})


def escape_html(text: str) -> str:
    """``html.escape`` plus template characters (``{}`` ``$`` `` ` ``), for HTML panels."""
    return str(text).translate(_HTML_ESCAPES)


def escape_markdown(text: str) -> str:
    """Text that renders literally through Markdown *and* HTML (for chat messages)."""
    return str(text).translate(_MARKDOWN_ESCAPES)


# --- rendering: answers -----------------------------------------------------------------
_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def source_anchor(turn: int, number: int) -> str:
    """The element id of citation ``number`` of chat turn ``turn`` in the Sources panel."""
    return f"rag-src-{turn}-{number}"


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


def render_answer(answer: Answer, turn: int) -> str:
    """The chat message for a final answer: escaped text with ``[n]`` linked, or an abstention."""
    if answer.abstained:
        return render_abstention(answer.text)
    return link_markers(answer.text, [c.number for c in answer.citations], turn)


def render_abstention(text: str = "") -> str:
    """The decline, said once: the answer's own text (``"The documents do not say."``)."""
    return f'<span class="rag-abstain">&#8856; <strong>{escape_markdown(text or NOT_FOUND + ".")}</strong></span>'


def render_error(message: str) -> str:
    return f'<span class="rag-error">&#9888; <strong>Could not answer:</strong> {escape_markdown(message)}</span>'


def render_streaming(text: str) -> str:
    """The partial answer while it streams in (markers are linked once verified)."""
    return escape_markdown(text) + '<span class="rag-cursor">&#9612;</span>'


# --- rendering: sources -----------------------------------------------------------------
def highlight_quote(citation: Citation) -> str:
    """The passage, escaped, with the quoted span wrapped in ``<mark>``."""
    text = citation.text
    lo = min(max(citation.quote_start - citation.start, 0), len(text))
    hi = min(max(citation.quote_end - citation.start, lo), len(text))
    return f"{escape_html(text[:lo])}<mark>{escape_html(text[lo:hi])}</mark>{escape_html(text[hi:])}"


def render_citation(citation: Citation, turn: int) -> str:
    title = citation.title.strip()
    head = f'<span class="rag-title">{escape_html(title)}</span>' if title else ""
    page = f' <span class="rag-page">{escape_html(citation.page_label)}</span>' if citation.page_label else ""
    return (
        f'<div class="rag-source" id="{source_anchor(turn, citation.number)}">'
        f'<div class="rag-source-head"><span class="rag-num">[{citation.number}]</span> '
        f'<code class="rag-doc">{escape_html(citation.source)}</code>'
        f'{page}</div>'
        f'<div class="rag-source-meta">{head}{" &#183; " if head else ""}'
        f"characters {citation.quote_start}&#8211;{citation.quote_end} "
        f"&#183; support {citation.support:.2f}</div>"
        f'<blockquote class="rag-passage">{highlight_quote(citation)}</blockquote></div>'
    )


def render_citations(citations: Sequence[Citation], turn: int) -> str:
    return "".join(render_citation(c, turn) for c in citations)


@dataclass
class Turn:
    """One question and what became of it (kept per session in ``gr.State``)."""

    question: str
    text: str = ""  # the streamed text, then the authoritative ``Answer.text``
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    error: str = ""
    done: bool = False
    waiting: str = ""  # shown until the first words arrive, e.g. how many answers are ahead

    @property
    def answered(self) -> bool:
        return self.done and not self.error


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
        else:
            body = render_citations(t.citations, i)
        blocks.append(
            f'<details class="rag-turn"{" open" if latest else ""}>'
            f'<summary>Answer {i + 1}: {escape_html(_shorten(t.question, 90))}</summary>{body}</details>'
        )
    if not blocks:
        return '<div class="rag-sources"><p class="rag-empty">Sources of the answers appear here.</p></div>'
    return '<div class="rag-sources">' + "".join(blocks) + "</div>"


def chat_messages(turns: Sequence[Turn]) -> list[dict]:
    """The Chatbot value (messages format) for the turns of a session."""
    messages = []
    for i, t in enumerate(turns):
        messages.append({"role": "user", "content": escape_markdown(_shorten(t.question, ECHO_CHARS))})
        if t.error:
            content = render_error(t.error)
        elif not t.done:
            waiting = escape_markdown(t.waiting or "Searching the documents\u2026")
            content = render_streaming(t.text) if t.text else f'<span class="rag-cursor">{waiting}</span>'
        elif t.abstained:
            content = render_abstention(t.text)
        else:
            content = link_markers(t.text, [c.number for c in t.citations], i)
        messages.append({"role": "assistant", "content": content})
    return messages


def history_of(turns: Sequence[Turn]) -> list[tuple[str, str]]:
    """``(question, answer)`` pairs for ``stream_answer(history=...)``."""
    return [(t.question, t.text) for t in turns if t.answered]


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# --- rendering: documents ---------------------------------------------------------------
def render_ingest_report(report: IngestReport | None, rejected: Sequence[tuple[str, str]] = ()) -> str:
    """The upload result: the report summary and every rejected file with its reason."""
    from .load import short_id

    parts = []
    if report is not None:
        parts.append(f'<p class="rag-report">{escape_html(report.summary())}</p>')
        changed = report.added + report.updated
        if changed:
            parts.append("<p>Indexed: " + ", ".join(f"<code>{escape_html(short_id(d))}</code>" for d in changed) + "</p>")
    if rejected:
        items = "".join(
            f"<li><code>{escape_html(name)}</code>: {escape_html(reason)}</li>" for name, reason in rejected
        )
        parts.append(f'<div class="rag-rejected"><strong>Not added:</strong><ul>{items}</ul></div>')
    return "".join(parts) or '<p class="rag-empty">No files.</p>'


DOCUMENT_COLUMNS = ["Document", "Title", "Chars", "Origin"]
DOCUMENT_WIDTHS = ["28%", "44%", "10%", "18%"]


def document_rows(documents: Sequence[Document], origins: dict[str, str], uploads_dir: Path) -> list[list[Any]]:
    """Rows of the Documents table: short id, title (or first line), length, and where it came from."""
    from .load import display_title, short_id

    return [
        [short_id(d.doc_id), display_title(d), len(d.text),
         "upload" if uploaded_file(d, origins, uploads_dir) else Path(origins.get(d.doc_id, "")).name or "index"]
        for d in documents
    ]


def only_these(report: IngestReport, doc_ids: set[str]) -> IngestReport:
    """``report`` narrowed to ``doc_ids`` (an upload's report leaves out earlier uploads)."""
    from dataclasses import replace

    return replace(report, added=[d for d in report.added if d in doc_ids],
                   updated=[d for d in report.updated if d in doc_ids],
                   unchanged=[d for d in report.unchanged if d in doc_ids], removed=[])


# --- uploads ----------------------------------------------------------------------------
class UploadRejected(ValueError):
    """An uploaded file that is not accepted; ``reason`` is for the user."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name, self.reason = name, reason


_UNSAFE_CHARS = re.compile(r"[^\w .()+,=@\-]+", re.UNICODE)


def safe_upload_name(name: str) -> str:
    """A file name that is safe inside the uploads folder, or ``UploadRejected``.

    Only the last path component is kept (``/`` and ``\\`` both separate), hidden names,
    ``.`` and ``..`` are refused, unusual characters become ``_`` and the suffix must be
    one of ``UPLOAD_SUFFIXES``.
    """
    base = re.split(r"[/\\]", str(name))[-1].strip()
    shown = base or str(name)
    if "\x00" in base:
        raise UploadRejected(shown, "the name contains a NUL character")
    if base in ("", ".", ".."):
        raise UploadRejected(shown, "not a file name")
    if base.startswith("."):
        raise UploadRejected(shown, "hidden files (names starting with '.') are not accepted")
    stem, dot, suffix = base.rpartition(".")
    if not dot or not stem:
        raise UploadRejected(shown, f"no file extension; accepted: {', '.join(UPLOAD_SUFFIXES)}")
    suffix = "." + suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise UploadRejected(shown, f"unsupported file type {suffix}; accepted: {', '.join(UPLOAD_SUFFIXES)}")
    stem = _UNSAFE_CHARS.sub("_", stem).strip(" .") or "upload"
    stem = stem[: MAX_NAME_CHARS - len(suffix)]
    clean = stem + suffix
    if clean.startswith(".") or ".." == clean:
        raise UploadRejected(shown, "not a file name")
    return clean


def uploads_dir_for(settings: Settings) -> Path:
    return settings.index_dir.parent / "uploads"


def upload_target(uploads_dir: Path, name: str) -> Path:
    """``uploads_dir / safe_upload_name(name)``, checked to stay inside ``uploads_dir``."""
    target = (uploads_dir / safe_upload_name(name)).resolve()
    if target.parent != uploads_dir.resolve():
        raise UploadRejected(name, "the name points outside the uploads folder")
    return target


def uploaded_file(document: Document, origins: dict[str, str], uploads_dir: Path) -> Path | None:
    """The uploaded file a document came from, if it is one."""
    root = uploads_dir.resolve()
    if origins.get(document.doc_id) != str(root):
        return None
    candidate = (root / document.source).resolve()
    return candidate if candidate.parent == root and candidate.is_file() else None


def clean_partial_uploads(uploads_dir: Path) -> None:
    """Delete uploads a killed server left half-copied (``.name.part``)."""
    if uploads_dir.is_dir():
        for leftover in uploads_dir.glob(f".*{PARTIAL}"):
            leftover.unlink(missing_ok=True)


def discard_temp_upload(path: str | Path) -> None:
    """Delete Gradio's temporary copy of an uploaded file (and its folder once empty), so it is
    not kept or served after it was ingested, rejected or removed. Paths outside Gradio's
    upload folder are never touched."""
    from gradio.utils import get_upload_folder

    folder = Path(get_upload_folder()).resolve()
    path = Path(str(path)).resolve()
    if not path.is_relative_to(folder) or path == folder:
        return
    path.unlink(missing_ok=True)
    if path.parent != folder:
        try:
            path.parent.rmdir()
        except OSError:
            pass  # not empty


def save_uploads(paths: Iterable[str | Path], uploads_dir: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """Copy uploaded temp files into ``uploads_dir``; return the copies and the rejected files.

    Each copy is written under a hidden temporary name and renamed when complete, so a copy
    cut short by a crash is never ingested (``clean_partial_uploads`` deletes it).
    """
    uploads_dir.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    rejected: list[tuple[str, str]] = []
    for raw in paths:
        original = Path(str(raw)).name
        try:
            target = upload_target(uploads_dir, original)
            if not Path(raw).is_file():
                raise UploadRejected(original, "the upload did not arrive")
        except UploadRejected as exc:
            rejected.append((exc.name, exc.reason))
            continue
        partial = target.with_name(f".{target.name}{PARTIAL}")
        shutil.copyfile(raw, partial)
        os.replace(partial, target)
        saved.append(target)
    return saved, rejected


# --- actions (called by the UI and the API; all logic is in rag.*) ------------------------
def request_settings(base: Settings, k: Any = None, mode: Any = None, backend: Any = None,
                     temperature: Any = None) -> Settings:
    """``base`` with the per-request choices of the Settings accordion."""
    return base.replace(
        k=int(k) if k not in (None, "") else None,
        mode=mode or None,
        backend=backend or None,
        temperature=float(temperature) if temperature not in (None, "") else None,
    )


def readable_error(exc: BaseException) -> str:
    """A one-line message for users (no traceback)."""
    from .generate.base import BackendError
    from .index import IndexUnavailable

    if isinstance(exc, (BackendError, IndexUnavailable)):
        return str(exc)
    if isinstance(exc, ImportError):
        return f"this answer backend is not available in this installation ({exc})"
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return f"{type(exc).__name__}: {exc}"


def citation_json(c: Citation) -> dict:
    return {**asdict(c), "quote": c.quote}


def answer_json(answer: Answer, turn: int = 0) -> dict:
    return {
        "text": answer.text,
        "html": render_answer(answer, turn),
        "abstained": answer.abstained,
        "query": answer.query,
        "citations": [citation_json(c) for c in answer.citations],
        "timings": answer.timings,
    }


_WRITE_LOCK = threading.Lock()  # in-process guard; rag.indexer also locks across processes
CANCELLED = "cancelled before it was indexed; the index is unchanged"


class IngestCancelled(Exception):
    """Raised from an upload's progress callback once Cancel is pressed: the ingest stops before it
    saves, so the previous index stays as it was."""


class App:
    """The handlers behind the Blocks, bound to the server's base ``Settings``."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.uploads_dir = uploads_dir_for(settings)
        self._active = 0  # answers being produced, all sessions together (for the waiting notice)
        self._active_lock = threading.Lock()
        self._cancel = threading.Event()  # set by Cancel; the upload in progress stops at its next step
        clean_partial_uploads(self.uploads_dir)

    # chat
    def respond(self, question: str, turns: list[Turn] | None, k=None, mode=None, backend=None,
                temperature=None) -> Iterator[tuple]:
        """Stream one answer into the chat: yields (textbox, chatbot, state, sources).

        The textbox is emptied once, when the question is taken, and then left alone
        (``KEEP``), so what the user types while the answer streams stays. A question sent
        while this session's previous answer still streams is refused with a notice and
        stays in the box.
        """
        import gradio as gr
        import rag as api
        from .generate.base import BackendError

        turns = list(turns or [])
        question = (question or "").strip()
        if not question:
            yield "", chat_messages(turns), turns, render_sources(turns)
            return
        if turns and not turns[-1].done:
            gr.Warning(BUSY)
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        history = history_of(turns)
        turn = Turn(question)
        turns.append(turn)
        with self._active_lock:
            ahead, self._active = self._active, self._active + 1
        if ahead:
            turn.waiting = f"Waiting: {ahead} other answer{'s' if ahead > 1 else ''} in progress\u2026"
        yield "", chat_messages(turns), turns, render_sources(turns)
        try:
            settings = request_settings(self.settings, k, mode, backend, temperature)
            streamed = []
            for item in api.stream_answer(question, history=history, settings=settings):
                if isinstance(item, Answer):
                    turn.text, turn.citations, turn.abstained = item.text, list(item.citations), item.abstained
                else:
                    streamed.append(item)
                    turn.text = "".join(streamed)
                    yield gr.skip(), chat_messages(turns), turns, render_sources(turns)
        except BackendError as exc:
            turn.error = readable_error(exc)
        except Exception as exc:  # shown in the chat; the traceback goes to the server log only
            log.exception("answering %r failed", _shorten(question, 200))
            turn.error = readable_error(exc)
        finally:
            turn.done = True  # also when "New chat" cancels the stream
            with self._active_lock:
                self._active -= 1
        yield gr.skip(), chat_messages(turns), turns, render_sources(turns)

    def ask(self, question: str, history: list | None = None, k: int | None = None, mode: str | None = None,
            backend: str | None = None, temperature: float | None = None) -> dict:
        """Answer ``question`` (with optional ``[[question, answer], ...]`` history) as JSON."""
        import gradio as gr
        import rag as api
        from .generate.base import BackendError

        try:
            settings = request_settings(self.settings, k, mode, backend, temperature)
            pairs = [(str(q), str(a)) for q, a in (history or [])]
            return answer_json(api.answer(question, history=pairs, settings=settings))
        except BackendError as exc:
            log.warning("API ask: %s", exc)
            raise gr.Error(readable_error(exc)) from exc
        except Exception as exc:
            log.exception("API ask failed")
            raise gr.Error(readable_error(exc)) from exc

    # documents
    def documents(self) -> list[Document]:
        return self.catalogue()[0]

    def catalogue(self) -> tuple[list[Document], dict[str, str]]:
        """The indexed documents (sorted by id) and the folder each was ingested from."""
        from .index import IndexUnavailable
        from .store import open_store

        try:
            index = open_store(self.settings)
        except IndexUnavailable:
            return [], {}
        return sorted(index.documents.values(), key=lambda d: d.doc_id), dict(index.origins)

    def document_table(self):
        import gradio as gr
        from .load import short_id

        docs, origins = self.catalogue()
        return (
            document_rows(docs, origins, self.uploads_dir),
            gr.update(choices=[(short_id(d.doc_id), d.doc_id) for d in docs], value=None),
        )

    def upload(self, files: list[str] | str | None, progress=None) -> tuple:
        """Copy uploads into the uploads folder and ingest it: (status, files, table, choices).

        The report counts only the files of this upload; Gradio's temporary copies are deleted.
        """
        paths = [files] if isinstance(files, str) else list(files or [])
        try:
            report, rejected = self.add_files(paths, progress)
        finally:
            for path in paths:
                discard_temp_upload(path)
        table, choices = self.document_table()
        return render_ingest_report(report, rejected), None, table, choices

    def add_files(self, paths: Sequence[str | Path], progress=None) -> tuple[IngestReport | None, list[tuple[str, str]]]:
        """Check and copy files into the uploads folder, then ingest it (the UI and the HTTP API).

        Returns the ingest report of these files (``None`` when nothing was saved) and
        ``(name, reason)`` for every file that was not added.
        """
        report, rejected = None, []
        if paths:
            with _WRITE_LOCK:
                self._cancel.clear()  # a Cancel pressed while no upload ran does not stop this one
                if progress is not None:
                    progress(0.0, desc="Saving uploads")
                saved, rejected = save_uploads(paths, self.uploads_dir)
                if saved:
                    report, more = self._ingest_uploads(saved, progress)
                    rejected += more
        return report, rejected

    def _ingest_uploads(self, saved: list[Path], progress) -> tuple[IngestReport | None, list[tuple[str, str]]]:
        import rag as api
        from .load import document_id

        def callback(fraction: float, message: str) -> None:  # called after each file and each embedded batch
            if progress is not None:
                progress(fraction, desc=message)
            if self._cancel.is_set():
                raise IngestCancelled

        try:
            report = api.ingest([self.uploads_dir], self.settings, prune=False, progress=callback)
        except IngestCancelled:
            for path in saved:
                path.unlink(missing_ok=True)  # not indexed: the next upload must not ingest it
            return None, [(p.name, CANCELLED) for p in saved]
        except Exception as exc:
            log.exception("ingest of uploads failed")
            return None, [("(ingest)", readable_error(exc))]
        rejected = []
        for skipped in report.skipped:
            rejected.append((Path(skipped.path).name, skipped.reason))
            bad = Path(skipped.path).resolve()
            if bad in saved:
                bad.unlink(missing_ok=True)  # do not leave unreadable files behind
        mine = {document_id(self.uploads_dir, p.name) for p in saved}
        return only_these(report, mine), rejected

    def cancel_ingest(self) -> None:
        """Stop the upload being ingested at its next file or batch; its files are not kept."""
        self._cancel.set()

    def remove(self, name: str | None) -> tuple:
        """Remove a document by id or name (and its uploaded file): (status, table, choices)."""
        from .load import short_id

        if not name:
            table, choices = self.document_table()
            return '<p class="rag-empty">Choose a document to remove.</p>', table, choices
        try:
            removed, files = self.delete(name)
        except Exception as exc:
            status = f'<p class="rag-error">Could not remove {escape_html(name)}: {escape_html(readable_error(exc))}</p>'
        else:
            status = "<p>Removed " + ", ".join(f"<code>{escape_html(short_id(d))}</code>" for d in removed) + (
                " and its uploaded file." if files else ".") + "</p>"
        table, choices = self.document_table()
        return status, table, choices

    def delete(self, name: str) -> tuple[list[str], list[Path]]:
        """Remove documents by id or name and the uploaded files they came from: (removed ids, deleted files)."""
        import rag as api

        with _WRITE_LOCK:
            docs, origins = self.catalogue()
            removed = api.remove([name], self.settings)
            files = [f for d in docs if d.doc_id in removed
                     for f in [uploaded_file(d, origins, self.uploads_dir)] if f is not None]
            for file in files:
                file.unlink(missing_ok=True)
        return removed, files


# --- layout -------------------------------------------------------------------------------
CSS = """
.rag-sources { font-size: 0.92em; }
.rag-turn > summary { cursor: pointer; font-weight: 600; margin: 0.3em 0; }
.rag-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.5em 0.7em; margin: 0.5em 0; scroll-margin: 4em; }
.rag-source.rag-flash { animation: rag-flash 1.6s ease-out; }
@keyframes rag-flash { from { background: #fde68a; } to { background: transparent; } }
.rag-source-head { font-weight: 600; }
.rag-page { font-weight: 400; color: var(--body-text-color-subdued); }
.rag-num { color: var(--color-accent); margin-right: 0.2em; }
.rag-source-meta { color: var(--body-text-color-subdued); font-size: 0.9em; margin: 0.15em 0 0.35em; }
.rag-passage { margin: 0; padding-left: 0.7em; border-left: 3px solid var(--border-color-primary); white-space: pre-wrap; }
.rag-passage mark { background: #fde68a; color: inherit; padding: 0 1px; border-radius: 2px; }
#rag-chat a.rag-cite, a.rag-cite { color: var(--color-accent) !important; text-decoration: none; font-weight: 700; padding: 0 1px; cursor: pointer; }
.rag-abstain { color: #92400e; }
.rag-error { color: #b91c1c; }
.rag-empty { color: var(--body-text-color-subdued); }
.rag-rejected li { margin: 0.2em 0; }
"""

# Citation links scroll the Sources panel in place (Gradio would open links in a new tab).
HEAD = """<script>
document.addEventListener('click', function (ev) {
  var a = ev.target && ev.target.closest ? ev.target.closest('a[href^="#rag-src-"]') : null;
  if (!a) return;
  var el = document.getElementById(a.getAttribute('href').slice(1));
  if (!el) return;
  ev.preventDefault(); ev.stopPropagation();
  for (var d = el.parentElement; d; d = d.parentElement) { if (d.tagName === 'DETAILS') d.open = true; }
  el.scrollIntoView({behavior: 'smooth', block: 'center'});
  el.classList.remove('rag-flash'); void el.offsetWidth; el.classList.add('rag-flash');
}, true);
</script>"""


def theme():
    import gradio as gr

    # System fonts only: no font file is fetched from anywhere.
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                             font_mono=["ui-monospace", "monospace"])


def build_ui(settings: Settings | None = None):
    """The Blocks of the app (not launched)."""
    import gradio as gr

    app = App(settings or get_settings())
    base = app.settings
    with gr.Blocks(title="Ask the documents", analytics_enabled=False) as demo:
        gr.Markdown("## Ask the documents\nAnswers come only from the indexed documents, with numbered sources.")
        with gr.Tab("Chat", id="chat"):
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
                    with gr.Accordion("Settings", open=False, elem_id="rag-settings"):
                        k = gr.Slider(1, 10, value=min(max(base.k, 1), 10), step=1, label="Passages to retrieve (top-k)")
                        mode = gr.Radio(list(MODES), value=base.mode, label="Retrieval mode")
                        backend = gr.Radio([(BACKEND_LABELS[b], b) for b in BACKENDS], value=base.backend,
                                           label="Answer backend", elem_id="rag-backend")
                        temperature = gr.Slider(0.0, 1.5, value=base.temperature, step=0.05, label="Temperature")
                with gr.Column(scale=2):
                    gr.Markdown("### Sources")
                    sources = gr.HTML(render_sources([]), label="Sources", elem_id="rag-sources", js_on_load=None)
            ask_inputs = [question, turns, k, mode, backend, temperature]
            ask_outputs = [question, chatbot, turns, sources]
            # "minimal" progress shows the queue position when the server is busy, without an overlay.
            asked = [
                question.submit(app.respond, ask_inputs, ask_outputs, api_name="chat", show_progress="minimal",
                                show_progress_on=[chatbot],
                                api_description="Ask in this session's chat (history is kept per session). Streams "
                                                "(question box, chat messages, Sources panel HTML)."),
                send.click(app.respond, ask_inputs, ask_outputs, api_name="chat_button", show_progress="minimal",
                           show_progress_on=[chatbot], api_visibility="undocumented"),
            ]
            # "New chat" stops a streaming answer, so its end cannot bring the old chat back.
            clear.click(lambda: ("", [], [], render_sources([])), None, ask_outputs, api_visibility="private",
                        cancels=asked)
            # The Chatbot's own clear (trash) button must forget the session's history too.
            chatbot.clear(lambda: ([], render_sources([])), None, [turns, sources], api_visibility="private",
                          cancels=asked)

        with gr.Tab("Documents", id="documents"):
            gr.Markdown(f"Upload {', '.join(UPLOAD_SUFFIXES)} files to add them to the index. "
                        "They are copied into the uploads folder next to the index.")
            files = gr.File(label="Upload documents", file_count="multiple", elem_id="rag-upload")
            status = gr.HTML(label="Status", elem_id="rag-upload-status", js_on_load=None)
            table = gr.Dataframe(headers=DOCUMENT_COLUMNS, datatype=["str", "str", "number", "str"],
                                 interactive=False, label="Indexed documents", elem_id="rag-documents",
                                 column_widths=DOCUMENT_WIDTHS, wrap=False)
            with gr.Row():
                doomed = gr.Dropdown(label="Document to remove", choices=[], elem_id="rag-remove-choice", scale=3,
                                     allow_custom_value=True)
                remove = gr.Button("Remove document", variant="stop", scale=1, elem_id="rag-remove")
                refresh = gr.Button("Refresh list", scale=1, elem_id="rag-refresh")
                cancel = gr.Button("Cancel upload", scale=1, elem_id="rag-cancel-upload")

            def upload(paths, progress=gr.Progress()):
                return app.upload(paths, progress)

            files.upload(upload, files, [status, files, table, doomed], api_name="upload",
                         api_description="Add .txt/.md/.html/.pdf/.docx/.pptx/.xlsx/.csv files to the index (other files are "
                                         "rejected with a reason).",
                         concurrency_limit=1, concurrency_id="index-write", show_progress_on=[status])
            remove.click(app.remove, doomed, [status, table, doomed], api_name="remove",
                         api_description="Remove a document by id (and its uploaded file, if it is one).",
                         concurrency_limit=1, concurrency_id="index-write")
            # Not queued behind the upload (its own concurrency group): it only raises a flag the
            # ingest checks after each file and each embedded batch.
            cancel.click(app.cancel_ingest, None, None, api_name="cancel_upload", queue=False,
                         api_description="Stop the upload being ingested; the index stays as it was.")
            refresh.click(app.document_table, None, [table, doomed], api_name="documents",
                          api_description="The table of indexed documents.")
            demo.load(app.document_table, None, [table, doomed], api_visibility="private")

        def ask(question: str, history: list[list[str]] | None = None, k: int = base.k, mode: str = base.mode,
                backend: str = base.backend, temperature: float = base.temperature) -> dict:
            """Answer a question from the documents: JSON with text, citations (with quotes) and timings."""
            return app.ask(question, history, k, mode, backend, temperature)

        def list_documents() -> list[dict]:
            """The indexed documents: doc_id, source, title and length."""
            return [{"doc_id": d.doc_id, "source": d.source, "title": d.title, "chars": len(d.text)}
                    for d in app.documents()]

        gr.api(ask, api_name="ask")
        gr.api(list_documents, api_name="list_documents")
    return demo


def prepare_index(settings: Settings) -> None:
    """Build or refresh the seeds index before serving, with progress on the console."""
    from .index import IndexUnavailable
    from .indexer import ensure_index

    print(f"Preparing the index at {settings.index_dir} …", file=sys.stderr, flush=True)
    try:
        report = ensure_index(settings, progress=True)
    except IndexUnavailable as exc:
        print(f"warning: {exc}; upload documents in the Documents tab.", file=sys.stderr, flush=True)
        return
    print(f"Index ready: {report.summary()}" if report else "Index ready.", file=sys.stderr, flush=True)


WARMED_UP = "Models loaded."  # printed once the warm-up is done (llama.cpp holds the GIL for seconds while it loads)


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
            from .embed import get_embedder
            from .generate.base import get_backend

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

    auth = None if key is None else (lambda user, password: secrets.compare_digest(password.encode(), key.encode()))
    return gr.mount_gradio_app(
        app, demo.queue(default_concurrency_limit=CONCURRENCY), path="/", theme=theme(), css=CSS, head=HEAD,
        footer_links=["api", "settings"], ssr_mode=False, pwa=False, mcp_server=False, enable_monitoring=False,
        auth=auth, auth_message="Log in with any user name and the server's RAG_API_KEY as the password.",
    )


def main(host: str | None = None, port: int | None = None, settings: Settings | None = None, **launch_kwargs):
    """Prepare the index and serve the UI and the HTTP API (blocks until interrupted)."""
    from . import api

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
    app = mount(api.create_app(settings, key), build_ui(settings), key)
    return api.serve(app, host, port, key, **launch_kwargs)
