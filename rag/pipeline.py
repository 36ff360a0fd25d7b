"""The public API: retrieve, select the evidence, answer from it with verified citations — or abstain.

Select-then-phrase: retrieval finds passages; their sentences are scored against the question
and the best few, each with its exact offsets, are all the answer backend sees. The backend
names the short answer and the sentence that states it; the answer is accepted only if that
span really occurs in the sentence and the sentence (with its neighbours) is about what was
asked — the question's rarer words and every name and number in it. The answer text is the
short answer and the quoted sentence, cited; anything else becomes "The documents do not say."
"""
from __future__ import annotations

import difflib
import logging
import re
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from .cite import MARKER, content_words, is_abstention, make_citation
from .config import Settings, check_question
from .embed import get_embedder
from .evidence import Sentence, as_passage, score_sentences, sentence_texts, specific_terms, terms_of, weights_for
from .generate.base import Declining, get_backend
from .generate.prompt import ABSTAIN, NONE, condense_messages, count_tokens
from .index import Index
from .search import resolve, search
from .types import Answer, Citation, Passage

log = logging.getLogger(__name__)

History = Sequence[tuple[str, str]] | Sequence[dict]

# A question that leans on the conversation: opens with a connective or refers back with a pronoun.
_FOLLOW_UP = re.compile(
    r"^\s*(?:and|but|also|so|then|what about|how about)\b"
    r"|\b(?:he|she|him|his|her|hers|it|its|they|them|their|theirs|there|this one|that one|the same)\b",
    re.IGNORECASE,
)
_QUOTES = "\"'“”‘’`"
# A yes/no question opens with an auxiliary verb; "yes" to it is grounded by the sentence it cites.
_YES_NO = re.compile(r"^\s*(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|should)\b", re.IGNORECASE)


def is_follow_up(question: str) -> bool:
    """Whether ``question`` needs the chat to be understood (else it is answered as if asked alone)."""
    if _FOLLOW_UP.search(question):
        return True
    return not specific_terms(question) and len(content_words(question)) <= 2


def condense(question: str, history: History | None, settings: Settings) -> str:
    """Turn a follow-up into a standalone question using the chat history; other questions stay as asked."""
    turns = _turns(history)
    if not turns or not is_follow_up(question):
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


# --- evidence ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Evidence:
    """A selected sentence: as a passage of its own, the passage it came from, and its scores."""

    passage: Passage
    parent: Passage
    sentence: Sentence


def select_evidence(question: str, passages: list[Passage], index: Index, settings: Settings,
                    shown: Sequence[Evidence] = ()) -> list[Evidence]:
    """The best sentences of ``passages`` for ``question`` that fit ``settings.evidence_tokens``
    (at most ``settings.evidence``), read in context: grouped by passage, in document order.
    A sentence of a higher-ranked passage is preferred (``evidence_rank_weight`` / (1 + its rank));
    the sentences of ``shown`` (an earlier selection) are left out."""
    texts = sentence_texts(passages)
    if not texts:
        return []
    vectors = get_embedder(settings.embedder, settings.threads).encode_cached([question, *texts])
    scored = score_sentences(question, passages, weights_for(index), vectors[1:], vectors[0])
    seen = {(e.parent.chunk_id, e.sentence.start) for e in shown}
    scored = [s for s in scored if (passages[s.passage].chunk_id, s.start) not in seen]
    scored.sort(key=lambda s: s.score + settings.evidence_rank_weight / (1 + s.passage), reverse=True)
    chosen, used = [], 0
    for s in scored:
        cost = count_tokens(passages[s.passage].text[s.start:s.end])
        if chosen and used + cost > settings.evidence_tokens:
            continue
        chosen.append(s)
        used += cost
        if len(chosen) == settings.evidence:
            break
    rank = {}
    for s in chosen:
        rank.setdefault(s.passage, len(rank))
    chosen.sort(key=lambda s: (rank[s.passage], s.start))
    return [Evidence(as_passage(passages[s.passage], s.start, s.end, s.score), passages[s.passage], s)
            for s in chosen]


# --- composing the answer ------------------------------------------------------------------------
def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w%$€£.,:/-]+", " ", text.lower()).replace(" ,", ",").split()).strip(" .,:")


def _segments(raw: str) -> list[tuple[str, list[int]]]:
    """``(short answer, cited sentence numbers)`` for each part of the backend's reply."""
    out = []
    for part in re.split(r"\s*;\s*|\n+", raw.strip()):
        numbers = [int(n) for m in MARKER.finditer(part) for n in re.split(r"\s*[,;]\s*", m.group(1))]
        short = MARKER.sub("", part).strip().strip(_QUOTES).strip().rstrip(".").strip().strip(_QUOTES)
        short = re.sub(r"^(?:the answer is|answer:)\s*", "", short, flags=re.IGNORECASE)
        if short or numbers:
            out.append((short, numbers))
    return out


def _grounded(short: str, text: str) -> bool:
    """``short`` occurs in ``text``: verbatim (normalised), or all its words and numbers do."""
    if not short:
        return True
    if _norm(short) and _norm(short) in _norm(text):
        return True
    words = terms_of(short)
    return bool(words) and words <= terms_of(text)


_SPAN_WORD = re.compile(r"\w+(?:[-'’.,/]\w+)*")


def _snap(short: str, text: str, asked: set[str] = frozenset()) -> str:
    """The run of ``text``'s words that ``short`` also says in that order and that carries most of what
    ``short`` adds to the question (its words not in ``asked``; at least half of them), else "".
    The model's words re-anchored to the evidence; a name is completed to all its capitalised words."""
    want = [m.group().lower() for m in _SPAN_WORD.finditer(short)]
    spans = list(_SPAN_WORD.finditer(text))
    have = [m.group().lower() for m in spans]
    new = terms_of(short) - asked
    best, carried = "", 0
    for block in difflib.SequenceMatcher(None, have, want, autojunk=False).get_matching_blocks():
        if not block.size:
            continue
        first, last = block.a, block.a + block.size - 1
        while first < last and not content_words(have[first]):  # no leading or trailing "of", "the"
            first += 1
        while last > first and not content_words(have[last]):
            last -= 1
        if _capitalised(spans[first].group()) and _capitalised(spans[last].group()):  # "Innopolis" -> "Daedeok Innopolis"
            while first > 0 and _capitalised(spans[first - 1].group()) and text[spans[first - 1].end():spans[first].start()] == " ":
                first -= 1
            while last + 1 < len(spans) and _capitalised(spans[last + 1].group()) and text[spans[last].end():spans[last + 1].start()] == " ":
                last += 1
        span = text[spans[first].start(): spans[last].end()]
        hit = len(terms_of(span) & new)
        if hit > carried:
            best, carried = span, hit
    return best if new and 2 * carried >= len(new) else ""


def _capitalised(word: str) -> bool:
    return word[:1].isupper() and bool(content_words(word))


def answerable(e: Evidence, best: float, settings: Settings, paraphrase: bool = True) -> bool:
    """The sentence window is about what was asked: enough of its rare words (or, with ``paraphrase``,
    of its meaning), its names and numbers, a negation where the question has one, and not far behind
    the best evidence (``best``: that score)."""
    close = paraphrase and e.sentence.meaning >= settings.min_meaning
    return ((e.sentence.coverage >= settings.min_coverage or close)
            and e.sentence.specific >= settings.min_specific and e.sentence.polarity
            and e.sentence.score >= best - settings.max_evidence_gap)


def compose(question: str, raw: str, evidence: list[Evidence], settings: Settings,
            confirm: Callable[[str, Evidence], bool] | None = None) -> tuple[str, str, list[Citation]] | None:
    """``(text, short, citations)`` from the backend's reply, or None when nothing it said holds.

    ``confirm(short, evidence)`` has the last word on each part that passed every other check.
    """
    if not evidence or not raw.strip() or raw.strip().lower().startswith(NONE) or is_abstention(raw):
        return None
    asked = terms_of(question)
    best = max(e.sentence.score for e in evidence)
    parts: list[tuple[str, Evidence]] = []
    for short, numbers in _segments(raw):
        if short and terms_of(short) and terms_of(short) <= asked:
            continue  # an echo of the question is no answer
        cited = [evidence[n - 1] for n in dict.fromkeys(numbers) if 1 <= n <= len(evidence)]
        yes = _norm(short) == "yes" and bool(_YES_NO.match(question))  # "no" would need evidence of absence
        pool = cited + [e for e in evidence if e not in cited] if short and not yes else cited
        found = next((e for e in pool if yes or _grounded(short, e.passage.text)), None)
        short = "Yes" if yes else short
        if found is None and short:  # a paraphrase: keep the evidence's own words if most of it is there
            found, short = next(((e, span) for e in pool if (span := _snap(short, e.passage.text, asked))), (None, short))
        # a "yes" has no span of its own to ground it: its sentence must share the question's words
        if (found is not None and answerable(found, best, settings, paraphrase=not yes) and all(found is not e for _, e in parts)
                and (confirm is None or confirm(short, found))):
            parts.append((short, found))
    if not parts:
        return None
    citations, lines = [], []
    for number, (short, e) in enumerate(parts, 1):
        span = (e.sentence.start, e.sentence.end)
        citations.append(make_citation(number, e.parent, span, e.sentence.score))
        quote = " ".join(e.passage.text.split())
        if not short or len(_norm(short)) >= 0.8 * len(_norm(quote)):
            lines.append(f"{quote} [{number}]")
        else:
            lines.append(f"{short} [{number}] — “{quote}”")
    return "\n".join(lines), "; ".join(s for s, _ in parts if s), citations


def _visible(raw: str) -> str:
    """What of a reply still streaming can be shown: the short answer before its first marker."""
    text = raw.lstrip()
    if len(text) < 6 and NONE.startswith(text.lower()[:4]):
        return ""  # may still become "none"
    if text.lower().startswith(NONE) or is_abstention(text):
        return ""
    return text.split("[", 1)[0].split("\n", 1)[0].split(";", 1)[0].rstrip()


# --- the API ---------------------------------------------------------------------------------
def stream_answer(question: str, index: Index | Path | str | None = None, k: int | None = None,
                  history: History | None = None, settings: Settings | None = None,
                  **overrides) -> Iterator[str | Answer]:
    """Yield answer text pieces as they are generated, then the final verified ``Answer``.

    The final ``Answer.text`` is authoritative: it is the streamed short answer completed with its
    quoted, cited sentence, or the abstention when the reply did not hold up.
    """
    started = time.perf_counter()
    settings, idx = resolve(settings, index, k=k, **overrides)
    question = check_question(question, settings)
    backend = get_backend(settings)  # an unreachable endpoint fails here, before any retrieval work
    query = condense(question, history, settings)
    wide = settings.replace(k=settings.k + settings.second_look)
    passages, relevance = _search_all([query, question] if query != question else [query], idx, wide)
    evidence = (select_evidence(query, passages[: settings.k], idx, settings)
                if relevance >= settings.min_relevance else [])
    timings = {"retrieve": time.perf_counter() - started}
    shown, composed, consulted = "", None, passages[: settings.k]
    for look in range(2 if settings.second_look else 1):
        if look:  # nothing held: the next best sentences, from the further passages too
            evidence, consulted = select_evidence(query, passages, idx, settings, shown=evidence), passages
        if not evidence:
            break
        lead = "\n" if shown else ""
        reply, visible, p_none = yield from _ask(backend, query, evidence, settings, timings, started, lead)
        shown += lead + visible if visible else ""
        composed = verdict(query, reply, p_none, evidence, settings, backend)
        log.debug("raw answer %r -> %r", reply, composed)
        if composed is not None:
            break
    timings["generate"] = time.perf_counter() - started - timings["retrieve"]
    if composed is None:
        yield ("\n" if shown else "") + ABSTAIN
        yield Answer(ABSTAIN, [], consulted, abstained=True, query=query, timings=_total(timings, started))
        return
    text, short, citations = composed
    last = shown.rsplit("\n", 1)[-1]
    yield text[len(last):] if last and text.startswith(last) else ("\n" if shown else "") + text
    yield Answer(text, citations, consulted, abstained=False, query=query,
                 timings=_total(timings, started), short=short)


def _ask(backend, question: str, evidence: list[Evidence], settings: Settings, timings: dict, started: float,
         lead: str) -> Generator[str, None, tuple[str, str, float | None]]:
    """Stream the backend's reply to ``evidence``, yielding its visible short answer (after ``lead``);
    returns ``(reply, visible short answer, P(none))``. Generation stops once P(none) reaches ``decline_at``."""
    raw, shown, p_none = [], "", None
    with closing(backend.stream_answer(question, [e.passage for e in evidence], settings)) as pieces:
        for piece in pieces:
            if isinstance(piece, Declining):
                log.debug("probability of declining: %.3f", piece.probability)
                if (p_none := piece.probability) >= settings.decline_at:
                    break  # stops the generation
                continue
            timings.setdefault("first_token", time.perf_counter() - started)
            raw.append(piece)
            visible = _visible("".join(raw))
            if len(visible) > len(shown) and visible.startswith(shown):
                yield (lead if not shown else "") + visible[len(shown):]
                shown = visible
    return "".join(raw).strip(), shown, p_none


def verdict(question: str, reply: str, p_none: float | None, evidence: list[Evidence], settings: Settings,
            backend) -> tuple[str, str, list[Citation]] | None:
    """What stands of ``reply`` (see ``compose``; checked by ``backend``), or None: declined when the
    backend's P(none), ``p_none``, reached ``settings.decline_at``."""
    if p_none is not None and p_none >= settings.decline_at:
        return None
    return compose(question, reply, evidence, settings, _confirmer(question, backend, settings))


def _confirmer(question: str, backend, settings: Settings) -> Callable[[str, Evidence], bool] | None:
    """The backend's own verdict on an answer part: does its sentence state it? (``check_at``)"""
    check = getattr(backend, "check", None)
    if check is None or settings.check_at <= 0:
        return None

    def confirm(short: str, e: Evidence) -> bool:
        p = check(question, e.passage.text, short or e.passage.text, settings)
        log.debug("probability that [%s] states %r: %s", e.passage.chunk_id, short, p)
        return p is None or p >= settings.check_at

    return confirm


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
