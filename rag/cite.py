"""Cite: check every sentence of an answer against the passages it cites.

A marker survives only if its passage supports the sentence (lexical overlap of content
words and semantic similarity to the passage's best sentence, with every number in the
claim present in the passage). A sentence with no valid marker gets the passage that
supports it best, or is dropped as unsupported. Markers are renumbered 1..n in order of
first use and each ``Citation`` points at the exact supporting sentence.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .models import english_stemmer
from .types import Citation, Passage, page_fields

MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”')]*\s+(?=[\"“(]?[A-Z0-9])|\n+")
# A period after an initial or a common abbreviation does not end a sentence.
_ABBREVIATION = re.compile(
    r"(?:\b[A-Z]|\b(?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|No|Vol|Fig|Inc|Ltd|Co|Corp|vs|etc|e\.g|i\.e|U\.S|U\.K|approx"
    r"|Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec))\.$"
)
_TRAILING_MARKS = re.compile(r"([.!?])((?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+)")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+(?:[.,]\d+)*")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
ABSTAIN_PATTERNS = re.compile(
    r"(documents? (do|does) not (say|contain|mention|provide)|not (mentioned|stated|specified|provided|found) in the (sources|documents|text)"
    r"|(sources|documents) (do not|don't) (contain|mention|say|provide|specify)|i (do not|don't) know|no information|cannot (be )?(answer|determine)"
    r"|unable to (answer|determine|find))",
    re.IGNORECASE,
)
_STOPWORDS = frozenset(
    "a an the and or but if of to in on at by for with from as is are was were be been being it its this that these "
    "those there their they them he she his her we our you your i what which who whom whose when where why how do does "
    "did done has have had not no yes so than then also about into over under after before between both each other "
    "such only own same too very can will would should could may might must shall any all some more most many much "
    "said says according".split()
)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of ``text``, stripped of surrounding whitespace."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        if "\n" not in match.group() and _ABBREVIATION.search(text, start, match.start()):
            continue
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def content_words(text: str) -> set[str]:
    words = [w.lower().strip("'’-") for w in _WORD.findall(text)]
    return set(english_stemmer().stemWords([w for w in words if w and w not in _STOPWORDS]))


def numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def is_abstention(text: str) -> bool:
    return bool(ABSTAIN_PATTERNS.search(text))


@dataclass
class _Sentence:
    text: str  # without markers
    cited: list[int]  # 1-based passage numbers as written


def parse(answer: str) -> list[_Sentence]:
    """Split raw model output into sentences with the markers that follow each."""
    answer = _TRAILING_MARKS.sub(r"\2\1", answer)  # "Paris. [1]" -> "Paris [1]."
    out = []
    for s, e in split_sentences(answer):
        raw = answer[s:e]
        cited = [int(n) for m in MARKER.finditer(raw) for n in re.split(r"\s*[,;]\s*", m.group(1))]
        text = MARKER.sub("", raw).strip()
        if text and re.search(r"\w", text):
            out.append(_Sentence(text, cited))
        elif cited and out:  # markers alone after a sentence end: they belong to the previous one
            out[-1].cited.extend(cited)
    return out


class Verifier:
    """Scores claim support against passages, using the shared embedder for semantics."""

    def __init__(self, embedder, min_support: float):
        self.embedder = embedder
        self.min_support = min_support

    def support(self, claims: list[str], passages: list[Passage], question: str = ""):
        """``(scores, quotes, spans)``: support of claim i by passage j, the index of passage j's
        best-matching sentence, and each passage's sentence spans.

        Support weighs most the claim's *new* words (those not already in the question), so a
        claim that merely restates the question with an invented answer is not supported.
        """
        sentence_spans = [split_sentences(p.text) for p in passages]
        flat = [p.text[s:e] for p, spans in zip(passages, sentence_spans) for s, e in spans]
        vectors = self.embedder.encode(claims + flat) if claims and flat else None
        scores = np.zeros((len(claims), len(passages)))
        quotes = np.zeros((len(claims), len(passages)), dtype=int)
        if vectors is None:
            return scores, quotes, sentence_spans
        claim_vecs, sent_vecs = vectors[: len(claims)], vectors[len(claims):]
        passage_words = [content_words(p.text) for p in passages]
        passage_numbers = [numbers(p.text) for p in passages]
        asked = content_words(question)
        claim_words = [content_words(c) for c in claims]
        offset = 0
        for j, spans in enumerate(sentence_spans):
            sims = claim_vecs @ sent_vecs[offset : offset + len(spans)].T
            offset += len(spans)
            for i, claim in enumerate(claims):
                words = claim_words[i]
                new = words - asked
                overall = len(words & passage_words[j]) / len(words) if words else 0.0
                grounded = len(new & passage_words[j]) / len(new) if new else 0.0
                semantic = max(float(sims[i].max()), 0.0) if len(spans) else 0.0
                score = 0.5 * grounded + 0.2 * overall + 0.3 * semantic
                if not numbers(claim) <= passage_numbers[j]:
                    score *= 0.3  # a number the passage does not contain is unsupported
                scores[i, j] = score
                quotes[i, j] = int(sims[i].argmax()) if len(spans) else 0
        return scores, quotes, sentence_spans

    def verify(self, raw: str, passages: list[Passage], question: str = "") -> tuple[str, list[Citation], list[str]]:
        """Return ``(text, citations, unsupported)`` for a raw answer with ``[n]`` markers.

        Sentences that add nothing to the question (an echo of it) are dropped too.
        """
        asked = content_words(question)
        sentences = [s for s in parse(raw) if content_words(s.text) - asked]
        if not sentences or not passages:
            return "", [], [s.text for s in sentences]
        scores, quotes, spans = self.support([s.text for s in sentences], passages, question)
        numbering: dict[tuple[int, int], int] = {}  # (passage index, quote index) -> citation number
        citations: list[Citation] = []
        parts, unsupported = [], []
        for i, sentence in enumerate(sentences):
            valid = [n - 1 for n in dict.fromkeys(sentence.cited)
                     if 1 <= n <= len(passages) and scores[i, n - 1] >= self.min_support]
            if not valid:
                best = int(scores[i].argmax())
                valid = [best] if scores[i, best] >= self.min_support else []
            if not valid:
                unsupported.append(sentence.text)
                continue
            marks = []
            for j in valid:
                key = (j, int(quotes[i, j]))
                if key not in numbering:
                    numbering[key] = len(citations) + 1
                    citations.append(_citation(numbering[key], passages[j], spans[j][key[1]], scores[i, j]))
                marks.append(f"[{numbering[key]}]")
            parts.append(_attach(sentence.text, "".join(marks)))
        return " ".join(parts), citations, unsupported


def _attach(sentence: str, marks: str) -> str:
    """Put markers before the sentence's final punctuation: ``Paris [1].``"""
    m = re.search(r"[.!?]+[\"”')]*$", sentence)
    if m:
        return f"{sentence[: m.start()]} {marks}{sentence[m.start():]}"
    return f"{sentence} {marks}"


def _citation(number: int, passage: Passage, span: tuple[int, int], score: float) -> Citation:
    return Citation(
        number=number,
        doc_id=passage.doc_id,
        source=passage.source,
        title=passage.title,
        text=passage.text,
        start=passage.start,
        end=passage.end,
        quote_start=passage.start + span[0],
        quote_end=passage.start + span[1],
        support=round(float(score), 3),
        **page_fields(passage),
    )
