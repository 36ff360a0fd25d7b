"""Tables: a statement row read with its header's years and unit, from the whole page it is on.

A chunk of 200 tokens cuts a financial statement in two: the chunk retrieval finds may hold the
header ("As of December 31, 2017 2016", "(in thousands)") and the next one the row the question
asks for ("Total current liabilities 5,466,312 3,586,574"). A retrieved passage that is part of a
table is therefore read as its whole page (``widen``); each row is shown to the model with its
cells labelled by the years of the nearest header above it (``table_row``), and a figure taken
from it carries the unit the header states (``table_scale``), so that "in USD millions" can be
answered from a table in thousands.
"""
from __future__ import annotations

import re
from dataclasses import replace

from ..types import Passage

_CELL = r"(?:[$€£¥₩]\s?)?\(?-?\d[\d,]*(?:\.\d+)?\)?(?:\s?%)?|[—–-]"
ROW_TAIL = re.compile(rf"(?:\s+(?:{_CELL}))+\s*$")
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")
_DATE = re.compile(r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December)"
                   r"\s+\d{1,2},\s+(?:19|20)\d{2}\b")
ROWS = 6  # table rows an arithmetic question reads besides its best sentences
MIN_ROWS = 3  # lines ending in two or more figures that make a passage part of a table
HEADER_LINES = 60  # how far above a row its header is looked for
# "(in thousands, except share data)", "(In millions)", "($ in millions)", "(Millions, except per share)",
# "in millions of U.S. dollars"
_SCALE = re.compile(r"\(\s*(?:(?:[$€£]|dollars|amounts|U\.?S\.? dollars)\s+)?(?:in\s+)?(thousands|millions|billions)\b"
                    r"|\bin (thousands|millions|billions)(?: of (?:U\.?S\.? )?dollars)?\b", re.IGNORECASE)
# "(in USD millions)", "Answer in USD billions", "in $ millions", "in millions of dollars"
_ASKED = re.compile(r"\bin (?:(?:USD|US\$|\$|dollars?)\s*)?(thousands|millions|billions)\b"
                    r"(?!\s+of\s+(?!(?:USD|US\$|U\.S\.|dollars)\b))", re.IGNORECASE)
_NOT_AMOUNT = re.compile(r"\bper (?:common |basic |diluted )?share\b|%|\bpercent|\bratio\b|\bshares\b|\bdays\b",
                         re.IGNORECASE)  # rows the header's unit does not apply to
UNIT = {"thousands": "thousand", "millions": "million", "billions": "billion"}


def rows(text: str) -> int:
    """How many lines of ``text`` end in two or more figures (table rows)."""
    return sum(1 for line in text.splitlines() if len(re.findall(_CELL, (ROW_TAIL.search(line) or [""])[0])) >= 2)


def is_table(text: str) -> bool:
    """Whether ``text`` is part of a table: at least ``MIN_ROWS`` lines end in two or more figures."""
    return rows(text) >= MIN_ROWS


def widen(passages: list[Passage], index) -> list[Passage]:
    """``passages`` in their order, each that is part of a table on a page widened to that whole
    page (one passage per page); others as they are."""
    out, pages = [], set()
    for p in passages:
        if not (p.page and p.page_end > p.page_start and is_table(p.text)):
            out.append(p)
            continue
        if (p.doc_id, p.page) in pages:
            continue
        pages.add((p.doc_id, p.page))
        text = index.documents[p.doc_id].text[p.page_start:p.page_end]
        out.append(replace(p, text=text, start=p.page_start, end=p.page_end, chunk_id=f"{p.doc_id}#page{p.page}"))
    return out


def is_header(line: str) -> bool:
    """Whether ``line``'s figures are all years or days of a date ("(Millions) 2018 2017 2016",
    "Fiscal Year Ended February 2, 2019"): a header, not a row."""
    found = _NUMBER.findall(line.replace(",", " "))
    return bool(found) and all(_YEAR.fullmatch(f) or float(f) <= 31 for f in found) and any(_YEAR.fullmatch(f) for f in found)


def header_above(parent: str, at: int, cells: int, dates: bool = False) -> list[str] | None:
    """The years of the nearest header line above offset ``at`` of ``parent`` that labels ``cells``
    cells: a line whose figures are all years (or days of a date) with at least ``cells`` years.
    With ``dates``, its whole dates where a year alone would label two cells alike ("July 29, 2023",
    "January 28, 2023", "July 30, 2022": a quarter's balance sheet beside the year's)."""
    for line in reversed(parent[:at].splitlines()[-HEADER_LINES:]):
        years = _YEAR.findall(line)
        if len(years) >= cells and is_header(line):
            whole = _DATE.findall(line)
            return whole if dates and len(set(years)) < len(years) and len(whole) == len(years) else years
    return None


def table_row(text: str, parent: str, at: int) -> str:
    """A table row ``text`` (at offset ``at`` of ``parent``) as the model reads it: its cells labelled
    by the years of its header ("Total net sales 107,006 135,987 177,866" → "Total net sales — 2015:
    107,006; 2016: 135,987; 2017: 177,866"); any other sentence as it is."""
    labelled = labelled_cells(text, parent, at)
    if not labelled:
        return text
    return f"{text[:ROW_TAIL.search(text).start()].rstrip()} — " + "; ".join(f"{y}: {c}" for y, c in labelled)


def labelled_cells(text: str, parent: str, at: int) -> list[tuple[str, str]]:
    """The cells of table row ``text`` (at offset ``at`` of ``parent``), each with the year (or the
    date, where years repeat) its header gives it: [("2021", "$ 14,882"), ("2020", "$ 13,745")];
    [] for a sentence that is no row or a row without such a header."""
    tail = ROW_TAIL.search(text)
    cells = re.findall(_CELL, tail.group()) if tail else []
    if len(cells) < 2 or not text[:tail.start()].strip() or all(_YEAR.fullmatch(c) for c in cells):
        return []
    years = header_above(parent, at, len(cells), dates=True)
    return list(zip(years, cells)) if years is not None else []


def table_scale(parent: str, at: int) -> str:
    """The unit the nearest statement header above offset ``at`` states for a table's figures
    ("thousand", "million", "billion"), or "" when there is none or the text at ``at`` is no row."""
    line_end = parent.find("\n", at)
    line = parent[at: line_end if line_end >= 0 else len(parent)]
    if not ROW_TAIL.search(line) or _NOT_AMOUNT.search(line):
        return ""
    found = list(_SCALE.finditer(parent[:at]))
    return UNIT[(found[-1].group(1) or found[-1].group(2)).lower()] if found else ""


def asked_scale(question: str) -> str:
    """The unit the question asks an amount in ("in USD millions" → "million"), or ""."""
    m = _ASKED.search(question)
    return UNIT[m.group(1).lower()] if m else ""


def rows_for(question: str, passages: list[Passage], index, settings, n: int) -> list:
    """The ``n`` table rows of ``passages`` (``widen``-ed pages that are tables) whose labels best
    name what ``question`` asks for, as ``Evidence``, best first: a row's label is scored by the
    rarity-weighted share of its words the question uses, times how many of the question's words
    it names (so "Total current liabilities" beats "Total current assets" and "Total liabilities"
    for a question about total current liabilities), plus its meaning's closeness to the question
    ("capital expenditure" and "Purchases of property, plant and equipment"). A row of a table whose
    header names years, none of them the question's, is left out."""
    from ..cite import content_words
    from ..evidence import Sentence, as_passage, weights_for
    from ..statements import STATEMENTS, abbreviations
    from .base import Evidence, _embedder

    weights = weights_for(index)
    # the statement a question names says which table, not which row ("… shown in the cash flow statement")
    named = question
    for pattern, _ in STATEMENTS:
        named = pattern.sub(" ", named)
    asked = content_words(" ".join([named, *abbreviations(question)]))
    years = {int(y) for y in _YEAR.findall(question)}
    found, seen = [], set()  # (passage index, start, end, label); the rows' texts (a row printed twice is read once)
    for i, p in enumerate(passages):
        if not is_table(p.text):
            continue
        at = 0
        for line in p.text.splitlines(keepends=True):
            tail = ROW_TAIL.search(line.rstrip("\n"))
            label = line[:tail.start()].strip() if tail else ""
            start = at + len(line) - len(line.lstrip())
            at += len(line)
            if not tail or not label or is_header(line):
                continue
            header = header_above(p.text, start, len(re.findall(_CELL, tail.group())))
            if years and header and not years & {int(y) for y in header}:
                continue  # a table of other years than the question's
            if (text := " ".join(line.split())) in seen:
                continue
            seen.add(text)
            found.append((i, start, start + len(line.strip()), label))
    if not found:
        return []
    vectors = _embedder(settings.embedder, settings.threads).encode_cached([question, *[f[3] for f in found]])
    meaning = vectors[1:] @ vectors[0]
    lexical = []
    for i, _, _, label in found:
        words = content_words(label) - content_words(passages[i].title)  # "attributable to 3M" in 3M's filing
        total = sum(weights.idf(w) for w in words) or 1.0
        matched = sum(weights.idf(w) for w in words & asked)
        lexical.append(matched * matched / total)
    best = max(lexical) or 1.0
    scored = sorted(((lex / best + float(m), f) for lex, m, f in zip(lexical, meaning, found)), key=lambda x: -x[0])
    out = []
    for score, (i, start, end, _) in scored[:n]:
        sentence = Sentence(passage=i, start=start, end=end, score=score, coverage=0.0, specific=0.0)
        out.append(Evidence(as_passage(passages[i], start, end, score), passages[i], sentence))
    return out
