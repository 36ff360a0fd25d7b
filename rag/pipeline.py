"""The public API: retrieve passages, then answer with verified citations (or abstain)."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from .cite import MARKER, Verifier, content_words, is_abstention
from .config import Settings, check_question
from .embed import get_embedder
from .generate.base import get_backend
from .generate.prompt import ABSTAIN, condense_messages
from .index import Index
from .search import resolve, search
from .types import Answer

log = logging.getLogger(__name__)

History = Sequence[tuple[str, str]] | Sequence[dict]


def condense(question: str, history: History | None, settings: Settings) -> str:
    """Turn a follow-up into a standalone question using the chat history."""
    turns = _turns(history)
    if not turns:
        return question
    try:
        rewritten = get_backend(settings).rewrite(condense_messages(question, turns), settings)
    except Exception:  # condensing is best-effort; retrieval still gets the fallback below
        rewritten = None
    if rewritten:
        rewritten = rewritten.strip().strip('"').splitlines()[0].strip()
        words, asked = content_words(rewritten), content_words(question)
        context = content_words(" ".join(q for q, _ in turns[-2:])) - asked
        # keep the rewrite only if it stays on the question and brings in context from the chat
        if 3 <= len(rewritten.split()) <= 60 and words & asked and words & context:
            return rewritten
    # Fallback: the question first, the previous one as its context (retrieval sees both).
    return f"{question} (follow-up to: {turns[-1][0]})"


def _turns(history: History | None) -> list[tuple[str, str]]:
    if not history:
        return []
    if isinstance(history[0], dict):
        turns, pending = [], None
        for msg in history:
            content = msg.get("content") if isinstance(msg.get("content"), str) else ""
            if msg.get("role") == "user":
                pending = content
            elif msg.get("role") == "assistant" and pending is not None:
                turns.append((pending, MARKER.sub("", content)))
                pending = None
        return turns
    return [(str(q), MARKER.sub("", str(a or ""))) for q, a in history]


def stream_answer(question: str, index: Index | Path | str | None = None, k: int | None = None,
                  history: History | None = None, settings: Settings | None = None,
                  **overrides) -> Iterator[str | Answer]:
    """Yield answer text pieces as they are generated, then the final verified ``Answer``.

    The final ``Answer.text`` is authoritative: unsupported sentences and markers that the
    model produced are removed from it during verification.
    """
    started = time.perf_counter()
    settings, idx = resolve(settings, index, k=k, **overrides)
    question = check_question(question, settings)
    backend = get_backend(settings)  # an unreachable endpoint fails here, before any retrieval work
    query = condense(question, history, settings)
    passages, relevance = _search_all([query, question] if query != question else [query], idx, settings)
    timings = {"retrieve": time.perf_counter() - started}
    if not passages or relevance < settings.min_relevance:
        yield ABSTAIN
        yield Answer(ABSTAIN, [], passages, abstained=True, query=query, timings=_total(timings, started))
        return
    raw = []
    for piece in backend.stream_answer(query, passages, settings):
        if not raw:
            timings["first_token"] = time.perf_counter() - started
        raw.append(piece)
        yield piece
    raw_text = "".join(raw).strip()
    timings["generate"] = time.perf_counter() - started - timings["retrieve"]
    verifier = Verifier(get_embedder(settings.embedder, settings.threads), settings.min_support)
    text, citations, unsupported = verifier.verify(raw_text, passages, query) if not is_abstention(raw_text) else ("", [], [])
    log.debug("raw answer %r; unsupported sentences dropped: %r", raw_text, unsupported)
    if not citations:
        yield Answer(ABSTAIN, [], passages, abstained=True, query=query, timings=_total(timings, started))
        return
    yield Answer(text, citations, passages, abstained=False, query=query, timings=_total(timings, started))


def _search_all(queries: list[str], index: Index, settings: Settings) -> tuple[list, float]:
    """Search each query (a condensed follow-up and its literal wording) and fuse the rankings."""
    if len(queries) == 1:
        return search(queries[0], index, settings)
    fused, by_id, relevance = {}, {}, 0.0
    for query in queries:
        passages, rel = search(query, index, settings)
        relevance = max(relevance, rel)
        for rank, p in enumerate(passages):
            by_id[p.chunk_id] = p
            fused[p.chunk_id] = fused.get(p.chunk_id, 0.0) + 1 / (settings.rrf_k + rank + 1)
    order = sorted(fused, key=fused.__getitem__, reverse=True)[: settings.k]
    return [by_id[c] for c in order], relevance


def answer(question: str, index: Index | Path | str | None = None, k: int | None = None,
           history: History | None = None, settings: Settings | None = None, **overrides) -> Answer:
    """Answer ``question`` from the index with numbered, verified citations, or abstain."""
    for item in stream_answer(question, index=index, k=k, history=history, settings=settings, **overrides):
        if isinstance(item, Answer):
            return item
    raise RuntimeError("stream_answer ended without an Answer")


def _total(timings: dict[str, float], started: float) -> dict[str, float]:
    timings["total"] = time.perf_counter() - started
    return {k: round(v, 4) for k, v in timings.items()}
