"""Check: every sentence of an answer against the evidence sentences it cites.

Three checks, cheapest first; a sentence must pass all of them to be shown:
1. its names and numbers occur in what it cites (the cited sentences and their documents' titles;
   for a one-fact answer, the passages those sentences stand in);
2. its meaning is close to one of the cited sentences (cosine of the embedder's vectors);
3. the backend, asked whether the cited sentences state it, says yes (one token, weighed) — unless
   the sentence is copied from what it cites (its words in the same order, no negation added) and
   what it cites holds the question's words.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
import re

from ..cite import MARKER
from ..config import Settings
from ..evidence import aliases, specific_terms, terms_of
from .base import Evidence

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Verdict:
    """Why a sentence was kept or dropped (``reason`` is empty when kept)."""

    ok: bool
    reason: str = ""
    meaning: float = 0.0
    p_yes: float | None = None


def unsupported_terms(text: str, cited: Sequence[Evidence], sentences_only: bool = False) -> set[str]:
    """The names and numbers of ``text`` that none of ``cited`` says (the passage each cited sentence
    stands in, or with ``sentences_only`` the sentence itself, and its document's title), a country's
    other names counting as its name."""
    seen: set[str] = set()
    for e in cited:
        seen |= terms_of(e.passage.text if sentences_only else e.parent.text) | terms_of(e.parent.title)
    # the first word of a sentence is a name only if it is one elsewhere too ("Korea-Canada" is two: words split at hyphens)
    text = MARKER.sub("", text)
    words = specific_terms(f"And {text}")
    others = aliases(words, text)
    return {t for t in words if t not in seen and not any(a <= seen for a in others.get(t, ()))}


_WORDS = re.compile(r"[\w'’]+")
_NEGATION = {"not", "no", "never", "nor", "neither", "none", "without", "cannot", "n't", "nothing", "only"}


def copied(text: str, cited: Sequence[Evidence]) -> float:
    """The share of the words of ``text`` that come, in order, from the ``cited`` sentences (0 when
    it adds a negation or "only" that they do not hold)."""
    words = [w.lower() for w in _WORDS.findall(MARKER.sub("", text))]
    source = [w.lower() for e in cited for w in _WORDS.findall(e.passage.text)]
    if not words or (set(words) & _NEGATION) - set(source):
        return 0.0
    blocks = SequenceMatcher(None, words, source, autojunk=False).get_matching_blocks()
    return sum(b.size for b in blocks) / len(words)


def meaning(text: str, cited: Sequence[Evidence], settings: Settings) -> float:
    """The best cosine between ``text`` and one of the ``cited`` sentences."""
    from ..embed import get_embedder

    vectors = get_embedder(settings.embedder, settings.threads).encode_cached([text, *(e.passage.text for e in cited)])
    return float(max(vectors[1:] @ vectors[0])) if len(cited) else 0.0


def check_claim(question: str, text: str, cited: Sequence[Evidence], backend, settings: Settings,
                answers: bool = False) -> Verdict:
    """Whether the answer sentence ``text`` (without markers) is stated by the ``cited`` evidence
    (with ``answers``: stated there as the answer to ``question``, the check a one-fact answer gets)."""
    if not cited:
        return Verdict(False, "cites nothing")
    if missing := unsupported_terms(text, cited, sentences_only=not answers):
        return Verdict(False, f"names what it cites does not: {sorted(missing)}")
    close = meaning(text, cited, settings)
    if close < settings.claim_meaning:
        return Verdict(False, f"meaning {close:.2f} below {settings.claim_meaning}", close)
    if (not answers and copied(text, cited) >= settings.claim_copied
            and max(e.sentence.coverage for e in cited) >= settings.min_coverage):
        return Verdict(True, "", close)  # a quotation is stated by what it quotes (and it is on the question)
    p = supported(question, text, cited, backend, settings, answers)
    if p is not None and p < settings.check_at:
        return Verdict(False, f"the model says the evidence does not state it (P(yes) {p:.2f})", close, p)
    return Verdict(True, "", close, p)


def supported(question: str, text: str, cited: Sequence[Evidence], backend, settings: Settings,
              answers: bool = False) -> float | None:
    """The backend's P(yes) that the ``cited`` sentences state ``text`` (with ``answers``: as the answer
    to ``question``); None when it cannot tell."""
    judge = getattr(backend, "check" if answers else "supports", None)
    if judge is None or settings.check_at <= 0:
        return None
    evidence = " ".join(" ".join(e.passage.text.split()) for e in cited)
    p = judge(question, evidence, text, settings) if answers else judge(evidence, text, settings)
    log.debug("P(the evidence states %r) = %s", text, p)
    return p
