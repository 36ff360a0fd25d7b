"""Span: a fact stated in one sentence — the short answer and the sentence that states it.

The backend names the short answer and the sentence that states it; the answer is accepted only if
that span really occurs in the sentence and the sentence (with its neighbours) is about what was
asked — the question's rarer words and every name and number in it — and the backend, asked whether
the sentence states it, agrees. The text is the short answer and the quoted sentence, cited.
"""
from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Callable
from contextlib import closing

from ..cite import MARKER, content_words, is_abstention, make_citation
from ..config import Settings
from ..evidence import terms_of
from ..generate.base import Declining
from ..generate.prompt import NONE
from ..places import of_other_countries
from ..types import Citation, Claim
from .base import Evidence

log = logging.getLogger(__name__)

_QUOTES = "\"'“”‘’`"
# A yes/no question opens with an auxiliary verb; "yes" to it is grounded by the sentence it cites.
_YES_NO = re.compile(r"^\s*(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|should)\b", re.IGNORECASE)

Composed = tuple[str, str, list[Citation], list[Claim]]


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
            confirm: Callable[[str, Evidence], bool] | None = None) -> Composed | None:
    """``(text, short, citations, claims)`` from the backend's reply, or None when nothing it said holds.

    ``confirm(short, evidence)`` has the last word on each part that passed every other check.
    """
    return render(accepted(question, raw, evidence, settings, confirm))


MAX_HOLDING = 2  # sentences holding a short answer that are tried in turn when the first is not about the question


def accepted(question: str, raw: str, evidence: list[Evidence], settings: Settings,
             confirm: Callable[[str, Evidence], bool] | None = None) -> list[tuple[str, Evidence]]:
    """The ``(short answer, sentence)`` parts of the backend's reply that hold (see ``compose``)."""
    if not evidence or not raw.strip() or raw.strip().lower().startswith(NONE) or is_abstention(raw):
        return []
    asked = terms_of(question)
    best = max(e.sentence.score for e in evidence)
    parts: list[tuple[str, Evidence]] = []
    for short, numbers in _segments(raw):
        if short and terms_of(short) and terms_of(short) <= asked:
            continue  # an echo of the question is no answer
        cited = [evidence[n - 1] for n in dict.fromkeys(numbers) if 1 <= n <= len(evidence)]
        yes = _norm(short) == "yes" and bool(_YES_NO.match(question))  # "no" would need evidence of absence
        pool = cited + [e for e in evidence if e not in cited] if short and not yes else cited
        holding = [(e, short) for e in pool if yes or _grounded(short, e.passage.text)]
        if yes:
            holding = [(e, "Yes") for e, _ in holding]
        short = "Yes" if yes else short
        if not holding and short:  # a paraphrase: keep the evidence's own words if most of it is there
            holding = [(e, span) for e in pool if (span := _snap(short, e.passage.text, asked))][:1]
        # the first sentence holding it that is about the question (the cited one first; a "yes" has no span of
        # its own to ground it: its sentence must share the question's words) and that the backend confirms
        for found, said in holding[:MAX_HOLDING]:
            if _said(said, found, parts):
                break
            if not answerable(found, best, settings, paraphrase=not yes) or of_other_countries(
                    question, found.surroundings):
                continue
            if confirm is None or confirm(said, found):
                parts.append((said, found))
            break
    return parts


def render(parts: list[tuple[str, Evidence]]) -> Composed | None:
    """The answer of the ``(short answer, sentence)`` parts: a line per sentence, the short answers it
    states, its number and its quote ("KITSAT-1; University of Surrey [1] — “…”"); None for none."""
    if not parts:
        return None
    by_sentence: dict[tuple, tuple[list[str], Evidence]] = {}
    for short, e in parts:
        by_sentence.setdefault(_where(e), ([], e))[0].append(short)
    citations, lines = [], []
    for number, (shorts, e) in enumerate(by_sentence.values(), 1):
        span = (e.sentence.start, e.sentence.end)
        citations.append(make_citation(number, e.parent, span, e.sentence.score))
        quote = " ".join(e.passage.text.split())
        short = "; ".join(dict.fromkeys(s for s in shorts if s))
        if not short or len(_norm(short)) >= 0.8 * len(_norm(quote)):
            lines.append(f"{quote} [{number}]")
        else:
            lines.append(f"{short} [{number}] — “{quote}”")
    claims = [Claim(line, (number,)) for number, line in enumerate(lines, 1)]
    return "\n".join(lines), "; ".join(dict.fromkeys(s for s, _ in parts if s)), citations, claims


def _where(e: Evidence) -> tuple:
    """Where a sentence is: the same sentence found by two searches is one."""
    return e.parent.doc_id, e.parent.start + e.sentence.start


def _said(short: str, e: Evidence, parts: list[tuple[str, Evidence]]) -> bool:
    """``short`` adds nothing to what an earlier part already took from the same sentence ``e``."""
    return any(_where(e) == _where(other) and (not short or not said or _norm(short) in _norm(said) or _norm(said) in _norm(short))
               for said, other in parts)


def ask(backend, question: str, evidence: list[Evidence], settings: Settings) -> tuple[str, float | None]:
    """The backend's whole reply to ``evidence`` and its P(none) (None when not weighed); the
    generation stops once P(none) reaches ``decline_at``. Nothing of it is shown before it is checked."""
    raw, p_none = [], None
    with closing(backend.stream_answer(question, [e.passage for e in evidence], settings)) as pieces:
        for piece in pieces:
            if isinstance(piece, Declining):
                log.debug("probability of declining: %.3f", piece.probability)
                if (p_none := piece.probability) >= settings.decline_at:
                    break  # stops the generation
                continue
            raw.append(piece)
    return "".join(raw).strip(), p_none


def verdict(question: str, reply: str, p_none: float | None, evidence: list[Evidence], settings: Settings,
            backend) -> Composed | None:
    """What stands of ``reply`` (see ``compose``; checked by ``backend``), or None: declined when the
    backend's P(none), ``p_none``, reached ``settings.decline_at``."""
    return render(found(question, reply, p_none, evidence, settings, backend))


def found(question: str, reply: str, p_none: float | None, evidence: list[Evidence], settings: Settings,
          backend) -> list[tuple[str, Evidence]]:
    """The parts of ``reply`` that hold (see ``verdict``), not yet rendered."""
    if p_none is not None and p_none >= settings.decline_at:
        return []
    return accepted(question, reply, evidence, settings, _confirmer(question, backend, settings))


def _confirmer(question: str, backend, settings: Settings) -> Callable[[str, Evidence], bool] | None:
    """The backend's own verdict on an answer part: does its sentence state it? (``check_at``)"""
    check = getattr(backend, "check", None)
    if check is None or settings.check_at <= 0:
        return None

    def confirm(short: str, e: Evidence) -> bool:
        p = check(question, e.read_back, short or e.passage.text, settings)
        log.debug("probability that [%s] states %r: %s", e.passage.chunk_id, short, p)
        return p is None or p >= check_at(e, settings)

    return confirm


def check_at(e: Evidence, settings: Settings) -> float:
    """The P(yes) an answer's sentence ``e`` must reach: ``check_at``, or the surer ``unnamed_check_at``
    when its window lacks some of the question's names and numbers (SQuAD's unanswerable questions
    often ask of another person, place or year than the sentence's)."""
    if e.sentence.specific < 1.0:
        return max(settings.check_at, settings.unnamed_check_at)
    return settings.check_at

