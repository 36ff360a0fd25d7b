"""Cite: sentence spans, the words that carry meaning, citation markers and citation records.

A ``Citation`` names the passage (document, character span) and the exact sentence of it that
states the answer; ``rag.pipeline`` decides which sentence that is and whether it holds.
"""
from __future__ import annotations

import re

from .models import english_stemmer
from .types import Citation, Passage, page_fields

MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”')]*\s+(?=[\"“(]?[A-Z0-9])|\n+")
# A period after an initial or a common abbreviation does not end a sentence.
_ABBREVIATION = re.compile(
    r"(?:\b[A-Z]|\b(?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|No|Vol|Fig|Inc|Ltd|Co|Corp|vs|etc|e\.g|i\.e|U\.S|U\.K|approx"
    r"|Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec))\.$"
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’]*|\d+(?:[.,]\d+)*")  # hyphens split words, as in the BM25 vocabulary
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


# A line of running text broken by the page's width (a PDF's prose) goes on in the next line: it has at least
# WRAP_WORDS words and either the next line starts in lower case and it ends on no stop, or it ends on a word, a
# comma or a hyphen and is nearly as wide as the widest line (WRAP_WIDTH of it). A heading, a table row (ending on
# a figure), a short line or a list item ends where it ends.
WRAP_WORDS = 6
WRAP_WIDTH = 0.6
_MID_SENTENCE = re.compile(r"[A-Za-z,&(\-–—]$")
_STOP = re.compile(r"[.!?:;]$")
_NEXT_LINE = re.compile(r"[ \t]*[A-Za-z0-9$“\"(]")
_LOWER = re.compile(r"[ \t]*[a-z]")
_BULLET = re.compile(r"[ \t]*(?:[•●▪◦·*\-–—]|\(?\d{1,2}[.)]\s|\(?[a-z][.)]\s)")


def _wrapped(text: str, match: re.Match, width: int) -> bool:
    """The line break ``match`` only wraps running text (see ``WRAP_WORDS``); ``width``: the widest line's."""
    if match.group() != "\n" or _BULLET.match(text, match.end()):
        return False
    line = text[text.rfind("\n", 0, match.start()) + 1: match.start()].strip()
    if len(line.split()) < WRAP_WORDS:
        return False
    return (not _STOP.search(line) and bool(_LOWER.match(text, match.end()))
            or len(line) >= WRAP_WIDTH * width and bool(_MID_SENTENCE.search(line))
            and bool(_NEXT_LINE.match(text, match.end())))


def split_sentences(text: str, lines: bool = False) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of ``text``, stripped of surrounding whitespace. A line break
    ends a sentence unless it only wraps running text (``_wrapped``); with ``lines``, every one does
    (a model's reply, a line per claim)."""
    spans, start = [], 0
    width = max(map(len, map(str.strip, text.split("\n"))))
    for match in _SENTENCE_END.finditer(text):
        if "\n" not in match.group() and _ABBREVIATION.search(text, start, match.start()):
            continue
        if not lines and _wrapped(text, match, width):
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


def is_abstention(text: str) -> bool:
    return bool(ABSTAIN_PATTERNS.search(text))


def make_citation(number: int, passage: Passage, span: tuple[int, int], score: float) -> Citation:
    """Citation ``number`` of ``passage``, quoting its sub-span ``span`` (offsets into the passage text)."""
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
