"""The application behind the faces: what the chat UI and the HTTP API share, without the markup
or the wire format of either.

``App`` holds the server's base ``Settings``, the queue answers wait in, the uploads folder and
the document catalogue. ``rag.ui`` renders it as HTML, ``rag.api`` as JSON; ``rag.mcp_server``
uses its records and error messages. Nothing here imports a face.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .config import Settings, check_question
from .types import Answer, Citation, Document, IngestReport

log = logging.getLogger(__name__)

UPLOAD_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".pptx", ".xlsx", ".csv")
MAX_NAME_CHARS = 120
PARTIAL = ".part"  # an upload being copied: hidden (.name.part) so no ingest ever reads it
CANCELLED = "cancelled before it was indexed; the index is unchanged"
# Answers produced at once per backend; the others wait in line. The local model answers one
# question at a time (llama.cpp, one slot) and the extractive backend is CPU-bound on the same
# cores; a hosted server (vLLM, llama.cpp's with --parallel) answers several at once: RAG_LLM_SLOTS.
SLOTS = {"openai": int(os.environ.get("RAG_LLM_SLOTS") or 4)}
POLL = 0.5  # seconds between looks at a waiting answer's place in line


# --- errors --------------------------------------------------------------------------------
def readable_error(exc: BaseException) -> str:
    """A one-line message for users: never a traceback or an exception's class name."""
    from .generate.base import BackendError
    from .index import IndexUnavailable

    if isinstance(exc, ImportError):
        return f"this answer backend is not available in this installation ({exc})"
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    if isinstance(exc, (BackendError, IndexUnavailable, ValueError)) and str(exc):
        return str(exc)
    return f"internal error ({exc or 'no message'}); the server log has the details"


def is_user_error(exc: BaseException) -> bool:
    """The request itself was wrong (``ValueError``: the question, a setting; ``KeyError``: no such
    document): the message says what to change, and the server log needs no traceback."""
    return isinstance(exc, (ValueError, KeyError))


def log_failure(exc: BaseException, what: str) -> None:
    """Log a failed request: user errors and unavailable services in one line, anything else with
    its traceback (a bug)."""
    from .generate.base import BackendError
    from .index import IndexUnavailable

    if is_user_error(exc):
        log.info("%s refused: %s", what, readable_error(exc))
    elif isinstance(exc, (BackendError, IndexUnavailable)):
        log.warning("%s: %s", what, exc)
    else:
        log.error("%s failed", what, exc_info=exc)


# --- records as JSON -----------------------------------------------------------------------
def citation_json(c: Citation) -> dict:
    return {**asdict(c), "quote": c.quote}


def answer_fields(answer: Answer) -> dict:
    """What every face returns besides the text: ``citations`` (what each ``[n]`` points at),
    ``claims`` (each sentence and the numbers of its citations) and ``closest`` (after a decline,
    the passages nearest to the question: *not* an answer)."""
    return {
        "citations": [citation_json(c) for c in answer.citations],
        "claims": [{"text": c.text, "citations": list(c.citations)} for c in answer.claims],
        "closest": [asdict(p) for p in answer.closest],
    }


def answer_rest(answer: Answer) -> dict:
    """The other fields of ``answer`` (``abstained``, ``short``, ``shape``, ``query``, ``passages``,
    ``timings``)."""
    return {k: v for k, v in asdict(answer).items() if k not in ("text", "citations", "claims", "closest")}


# --- the answer queue ----------------------------------------------------------------------
@dataclass(frozen=True)
class Queued:
    """Yielded while an answer waits: ``position`` 1 is next in line."""

    position: int


class AnswerQueue:
    """First come, first served: at most ``slots`` answers at once, the rest wait in line."""

    def __init__(self, slots: int = 1):
        self.slots = slots
        self._line: list[Ticket] = []  # arrival order; the first ``slots`` are being answered
        self._changed = threading.Condition()

    def join(self) -> "Ticket":
        with self._changed:
            ticket = Ticket(self)
            self._line.append(ticket)
            ticket.first = self._position(ticket)
            return ticket

    def position(self, ticket: "Ticket") -> int:
        """0 once ``ticket`` is being answered, else its place in line (1: next)."""
        with self._changed:
            return self._position(ticket)

    def wait(self, ticket: "Ticket", timeout: float) -> int:
        """Wait up to ``timeout`` seconds for ``ticket`` to move up; its position then."""
        with self._changed:
            before = self._position(ticket)
            if before:
                self._changed.wait_for(lambda: self._position(ticket) != before, timeout)
            return self._position(ticket)

    def leave(self, ticket: "Ticket") -> None:
        with self._changed:
            if ticket in self._line:
                self._line.remove(ticket)
                self._changed.notify_all()

    def __len__(self) -> int:
        with self._changed:
            return len(self._line)

    def _position(self, ticket: "Ticket") -> int:
        if ticket not in self._line:
            return 0
        return max(0, self._line.index(ticket) - self.slots + 1)


@dataclass(eq=False)
class Ticket:
    """One answer's place in an ``AnswerQueue``; leave it when the answer is done (or use ``with``)."""

    line: AnswerQueue
    first: int = 0  # the position on arrival
    joined: float = field(default_factory=time.monotonic)
    served: float | None = None  # when its turn came

    def positions(self, poll: float = POLL) -> Iterator[int]:
        """The position, now and then every ``poll`` seconds (or sooner when it changes), while the
        answer waits; the turn has come when this ends."""
        position = self.line.position(self)
        while position:
            yield position
            position = self.line.wait(self, poll)
        if self.served is None:
            self.served = time.monotonic()

    @property
    def waited(self) -> float:
        """Seconds spent in line."""
        return round((self.served or time.monotonic()) - self.joined, 3)

    def leave(self) -> None:
        self.line.leave(self)

    def __enter__(self) -> "Ticket":
        return self

    def __exit__(self, *exc) -> None:
        self.leave()


# --- uploads ---------------------------------------------------------------------------------
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


def only_these(report: IngestReport, doc_ids: set[str]) -> IngestReport:
    """``report`` narrowed to ``doc_ids`` (an upload's report leaves out earlier uploads)."""
    return replace(report, added=[d for d in report.added if d in doc_ids],
                   updated=[d for d in report.updated if d in doc_ids],
                   unchanged=[d for d in report.unchanged if d in doc_ids], removed=[])


# --- the app ---------------------------------------------------------------------------------
def request_settings(base: Settings, k: Any = None, mode: Any = None, backend: Any = None,
                     temperature: Any = None) -> Settings:
    """``base`` with a request's own choices (``ValueError`` for one that is not allowed)."""
    return base.replace(
        k=int(k) if k not in (None, "") else None,
        mode=mode or None,
        backend=backend or None,
        temperature=float(temperature) if temperature not in (None, "") else None,
    )


_WRITE_LOCK = threading.Lock()  # in-process guard; rag.indexer also locks across processes


class IngestCancelled(Exception):
    """Raised from an upload's progress callback once Cancel is pressed: the ingest stops before it
    saves, so the previous index stays as it was."""


class App:
    """One server's state and actions, bound to its base ``Settings``; shared by the UI and the API."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.uploads_dir = uploads_dir_for(settings)
        self._queues: dict[str, AnswerQueue] = {}
        self._queues_lock = threading.Lock()
        self._cancel = threading.Event()  # set by Cancel; the upload in progress stops at its next step
        clean_partial_uploads(self.uploads_dir)

    # answering
    def queue(self, backend: str) -> AnswerQueue:
        """The line answers by ``backend`` wait in (one answer at a time unless ``SLOTS`` says more).
        With a PostgreSQL store, the line for a shared LLM server (``openai``) is kept in the database,
        so every server and worker on the store waits in one line (``rag.store.postgres.SharedLine``)."""
        from .store import is_postgres

        with self._queues_lock:
            if backend not in self._queues:
                if backend == "openai" and is_postgres(self.settings.store):
                    from .store.postgres import SharedLine

                    self._queues[backend] = SharedLine(self.settings.store, f"openai {self.settings.openai_base_url}",
                                                       SLOTS[backend])
                else:
                    self._queues[backend] = AnswerQueue(SLOTS.get(backend, 1))
            return self._queues[backend]

    def stream(self, question: str, history: Sequence = (), settings: Settings | None = None,
               ticket: Ticket | None = None) -> Iterator[Queued | str | Answer]:
        """``Queued(position)`` while the answer waits its turn, then ``rag.stream_answer``'s pieces
        and the final ``Answer``. ``ValueError`` at once for a question that cannot be asked."""
        import rag

        settings = settings or self.settings
        question = check_question(question, settings)
        ticket = ticket or self.queue(settings.backend).join()
        with ticket:
            for position in ticket.positions():
                yield Queued(position)
            yield from rag.stream_answer(question, history=list(history), settings=settings)

    def answer(self, question: str, history: Sequence = (), settings: Settings | None = None,
               ticket: Ticket | None = None) -> Answer:
        """The final ``Answer`` of ``stream``."""
        for item in self.stream(question, history, settings, ticket):
            if isinstance(item, Answer):
                return item
        raise RuntimeError("the answer stream ended without an answer")

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

    def add_files(self, paths: Sequence[str | Path], progress: Callable[..., None] | None = None,
                  ) -> tuple[IngestReport | None, list[tuple[str, str]]]:
        """Check and copy files into the uploads folder, then ingest it.

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
        import rag
        from .load import document_id

        def callback(fraction: float, message: str) -> None:  # called after each file and each embedded batch
            if progress is not None:
                progress(fraction, desc=message)
            if self._cancel.is_set():
                raise IngestCancelled

        try:
            report = rag.ingest([self.uploads_dir], self.settings, prune=False, progress=callback)
        except IngestCancelled:
            for path in saved:
                path.unlink(missing_ok=True)  # not indexed: the next upload must not ingest it
            return None, [(p.name, CANCELLED) for p in saved]
        except Exception as exc:
            log_failure(exc, "ingest of uploads")
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

    def delete(self, name: str) -> tuple[list[str], list[Path]]:
        """Remove documents by id or name and the uploaded files they came from: (removed ids, deleted files)."""
        import rag

        with _WRITE_LOCK:
            docs, origins = self.catalogue()
            removed = rag.remove([name], self.settings)
            files = [f for d in docs if d.doc_id in removed
                     for f in [uploaded_file(d, origins, self.uploads_dir)] if f is not None]
            for file in files:
                file.unlink(missing_ok=True)
        return removed, files

