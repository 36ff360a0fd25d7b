"""Yes / no: "Yes" when a sentence states what the question asks; "No" when a sentence about the same
thing states something else in its place (another place, date, person or number); else decline.

The evidence decides which sentences may answer (their words against the question's names and
numbers); the backend, asked whether the sentence shows the answer is yes (or no), has the last word
— except where the sentence tells of the same event with another figure in place of the question's
("by 70%" for "by 50%"): that "No" the figures show.
"""
from __future__ import annotations

import logging

import re

from ..cite import content_words
from ..config import Settings
from ..evidence import specific_terms, terms_of
from .base import Evidence, Part
from .check import unsupported_terms

log = logging.getLogger(__name__)

CANDIDATES = 8  # the best evidence sentences considered


def answer_yes_no(question: str, evidence: list[Evidence], backend, settings: Settings) -> Part | None:
    """"Yes — …" or "No — …" citing the sentence that shows it, or None (decline).

    A sentence that states something (``states``) may say "yes" when it names everything the question
    names, "no" when it names the question's subject but not what the question asserts of it and
    something else in its place; the backend, asked the question of that sentence alone, must lean
    that way by ``check_at``."""
    from ..generate.prompt import yes_no_messages

    judge = getattr(backend, "yes_probability", None)
    if judge is None:
        return None  # a "yes" or "no" is never given on the evidence's words alone
    named = specific_terms(question)
    subject = specific_terms(f"And {subject_of(question)}")
    best = max((e.sentence.score for e in evidence), default=0.0)
    for i in sorted(range(len(evidence)), key=lambda i: evidence[i].sentence.score, reverse=True)[:CANDIDATES]:
        e = evidence[i]
        if (e.sentence.score < best - settings.max_evidence_gap or e.sentence.coverage < settings.min_coverage
                or not states(e.passage.text)):
            continue
        missing = unsupported_terms(question, [e], sentences_only=True) & named
        may = ("Yes" if not missing else "No" if not missing & subject and missing < named
               and _same_event(e, question, missing) and _states_another(e, question, missing) else "")
        if not may:
            continue
        if may == "No" and all(t[:1].isdigit() for t in missing):
            # the same event with another figure in place of the question's: a contradiction the
            # figures show (the model weighs "50%" against "70%" poorly); not left to its judgement
            log.debug("No [%s]: states another figure than %s", e.passage.chunk_id, sorted(missing))
        else:
            p = judge(yes_no_messages(question, e.passage.text), settings)
            log.debug("%s? [%s]: P(yes) %s (missing %s)", may, e.passage.chunk_id, p, sorted(missing))
            if p is None:
                return None
            if (p if may == "Yes" else 1 - p) < settings.check_at:
                continue
            if may == "Yes" and (rival := _rival(question, e.passage.text, p, judge, settings)):
                log.debug("No [%s]: the sentence says it of %r", e.passage.chunk_id, rival)
                may = "No"
        return Part(f"{may} — “{' '.join(e.passage.text.split())}”", (i,), short=may)
    return None


_WORDS = re.compile(r"[\w'’&.-]+")
_LOWER_WORD = re.compile(r"(?<![\w'’-])[a-z][a-z'’-]{2,}")


def states(sentence: str) -> bool:
    """Whether ``sentence`` states something: a content word in lower case, or figures (a table row). A
    heading or a table's column labels ("Name Votes For Votes Against Abstentions", "Years ended 2022
    2021") names things and shows neither a yes nor a no."""
    from .tables import is_header

    return (bool(content_words(" ".join(_LOWER_WORD.findall(sentence))))
            or bool(re.search(r"\d", sentence)) and not is_header(sentence))


def subject_of(question: str) -> str:
    """What a yes/no question is about: the words after its opening verb up to the first lower-case
    content word that follows a content word ("Was [the Korea–UK MoU] signed in Colorado Springs?")."""
    words = _WORDS.findall(question)[1:]
    out, seen = [], False
    for word in words:
        content = bool(content_words(word))
        if seen and content and word[:1].islower():
            break
        seen |= content
        out.append(word)
    return " ".join(out)


def without_premise(question: str) -> str:
    """``question`` without the names and numbers it asserts beyond its subject: what to search for
    so that the sentence stating the real place, date or person is found too."""
    keep = specific_terms(f"And {subject_of(question)}")
    asserted = specific_terms(question) - keep
    return " ".join(w for w in question.split() if not (specific_terms(f"And {w}") & asserted))


def _same_event(e: Evidence, question: str, missing: set[str]) -> bool:
    """The sentence tells of what the question asks about, not only of its subject: it holds at least
    half of the question's other words ("the MoU … signed" for "Was the MoU signed in Colorado Springs?",
    which a link to the MoU's text does not: the words of a web address state nothing)."""
    asked = terms_of(question) - missing
    return 2 * len(asked & terms_of(_WEB_ADDRESS.sub(" ", e.passage.text))) >= len(asked)


_WEB_ADDRESS = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)


def _states_another(e: Evidence, question: str, missing: set[str]) -> bool:
    """The sentence names, where the question asserts ``missing``, something of the same kind: another
    year for a year, another number for a number, another name for a name."""
    others = specific_terms(e.passage.text) - terms_of(question)
    if any(t[:1].isdigit() for t in missing):
        years = {t for t in missing if _YEAR.match(t)}
        return any(t[:1].isdigit() and bool(_YEAR.match(t)) == bool(years) for t in others)
    return any(not t[:1].isdigit() for t in others)


_NAME = re.compile(r"[A-Z][\w'’.&-]*(?:\s+[A-Z][\w'’.&-]*)*")
RIVALS = 6  # the other names of a sentence tried in the subject's place
RIVAL_MARGIN = 0.1


def _rival(question: str, sentence: str, p: float, judge, settings: Settings) -> str | None:
    """Another name of ``sentence`` of which the backend finds the question truer than of its own
    subject ("Was Lisa Campbell the Administrator of the Korea AeroSpace Administration?" of a
    sentence naming "KASA Administrator Oh Tae-seok" and "Canadian Space Agency Administrator Lisa
    Campbell"): the sentence says it of someone else. ``p``: P(yes) for the question as asked."""
    from ..generate.prompt import yes_no_messages

    first = _NAME.search(question, question.find(" ") + 1) if " " in question else None
    if first is None:
        return None
    asked = terms_of(question)
    names = [_trimmed(m.group(), asked) for m in _NAME.finditer(sentence) if m.start() > 0 or " " in m.group()]
    rivals = [n for n in dict.fromkeys(names) if terms_of(n) and not terms_of(n) & asked][:RIVALS]
    for name in rivals:
        other = f"{question[:first.start()]}{name}{question[first.end():]}"
        q = judge(yes_no_messages(other, sentence), settings)
        log.debug("P(yes) of %r: %s (as asked: %.2f)", other, q, p)
        if q is not None and q >= settings.check_at and q >= p + RIVAL_MARGIN:
            return name
    return None


def _trimmed(name: str, asked: set[str]) -> str:
    """``name`` without the words at either end that the question says ("Administrator Oh Tae-seok"
    is "Oh Tae-seok" for a question about an administrator)."""
    words = name.rstrip(".").split()
    while words and terms_of(words[0]) <= asked:
        words.pop(0)
    while words and terms_of(words[-1]) <= asked:
        words.pop()
    return " ".join(words)


_YEAR = re.compile(r"^(?:1[5-9]|20)\d\d$")

# "Did Pfizer grow its PP&E between FY20 and FY21?", "Was there any drop in cash between FY2023 and Q2?":
# whether a figure rose, fell or changed between two periods is what its difference says.
_UP = r"grow|grew|grown|growth|increas\w*|rais\w*|rise|rose|risen|improv\w*|expand\w*"
_DOWN = r"drop\w*|declin\w*|decreas\w*|fall|fell|fallen|reduc\w*|shr[ai]nk\w*|lower\w*"
_CHANGE = re.compile(rf"\b(?:({_UP})|({_DOWN})|(chang\w*))\b", re.IGNORECASE)
_PERIODS = re.compile(r"\bbetween\b[^?]*\band\b|\bfrom\b[^?]*\bto\b|\byear[- ]over[- ]year\b|\bcompared (?:to|with)\b",
                      re.IGNORECASE)
LATER_MINUS_EARLIER = "Calculate the later period's figure minus the earlier period's figure."
_SPAN = re.compile(r"\bbetween\s+(?P<a>[^?]+?)\s+and\s+(?P<b>[^?]+?)\s*(?:\?|$)"
                   r"|\bfrom\s+(?P<c>[^?]+?)\s+to\s+(?P<d>[^?]+?)\s*(?:\?|$)", re.IGNORECASE)


def later_minus_earlier(question: str) -> str:
    """How to calculate the change the question asks about: the figure for its later period minus the
    one for its earlier ("between FY 2023 and Q2 of FY2024": Q2 of FY2024 minus FY 2023), by the years
    the two periods name ("FY20" is 2020); the generic rule when they name no two different years."""
    found = _periods(question)
    if found is None:
        return LATER_MINUS_EARLIER
    (earlier, _), (later, _) = found
    return f"Calculate the figure for {later} minus the figure for {earlier}."


def _periods(question: str) -> tuple[tuple[str, int], tuple[str, int]] | None:
    """The two periods a question about a change names, earlier first, each with its year ("FY20" is
    2020; "Q2 of FY2024" is 2024); None unless they name two different years."""
    m = _SPAN.search(question)
    if m is None:
        return None
    a, b = (m.group("a"), m.group("b")) if m.group("a") else (m.group("c"), m.group("d"))

    def year(period: str) -> int:
        found = [int(t) + (2000 if len(t) == 2 else 0) for t in re.findall(r"(?<!\d)(\d{4}|\d{2})(?!\d)", period)]
        return max(found, default=0)

    if not year(a) or not year(b) or year(a) == year(b):
        return None
    earlier, later = sorted(((a.strip(), year(a)), (b.strip(), year(b))), key=lambda p: p[1])
    return earlier, later


def _row_change(question: str, evidence: list[Evidence]) -> str | None:
    """For a change between two years, the first table row of ``evidence`` whose header gives each
    year one figure, as the calculation later minus earlier (a program as the model writes one): the
    rows come best first, so the model need not pick the row or the order."""
    from .tables import labelled_cells

    found = _periods(question)
    if found is None:
        return None
    (_, earlier), (_, later) = found
    for number, e in enumerate(evidence, 1):
        cells = dict(labelled_cells(e.passage.text, e.parent.text, e.sentence.start))
        if not cells:
            break  # the rows come first: past them, no row gives both years
        old, new = cells.get(str(earlier)), cells.get(str(later))
        if old and new and re.search(r"\d", old) and re.search(r"\d", new):
            old, new = (cell.strip("$€£¥₩ ") for cell in (old, new))
            return (f'value_{later} = n({number}, "{new}")\nvalue_{earlier} = n({number}, "{old}")\n'
                    f"answer = value_{later} - value_{earlier}")
    return None


def asks_change(question: str) -> int | None:
    """For a yes/no question whether a figure rose (1), fell (-1) or changed at all (0) between two
    periods, that direction; None for any other question."""
    m = _CHANGE.search(question) if _PERIODS.search(question) else None
    return None if m is None else 1 if m.group(1) else -1 if m.group(2) else 0


def by_change(question: str, evidence: list[Evidence], backend, settings: Settings) -> Part | None:
    """"Yes — 8,866 − 8,738 = 128" or "No — …": the figure's change between the periods, calculated
    from the best table row that gives both years a figure (else the model's calculation,
    ``arithmetic.solve``), read against the direction the question asks about;
    None when no calculation holds."""
    from .arithmetic import computed, solve

    direction = asks_change(question)
    if direction is None:
        return None
    row = _row_change(question, evidence)
    parts = computed(row, question, evidence) if row else None
    if not parts:
        parts = solve(f"{question} {later_minus_earlier(question)}", evidence, backend, settings)
    if not parts:
        return None
    result = parts[0].short
    m = re.search(r"\d[\d,]*(?:\.\d+)?", result)
    if m is None:
        return None
    value = float(m.group().replace(",", "")) * (-1 if result.lstrip().startswith(("−", "-")) else 1)
    yes = value > 0 if direction > 0 else value < 0 if direction < 0 else value != 0
    word = "Yes" if yes else "No"
    log.debug("%s: the change is %s (asked %+d)", word, result, direction)
    return Part(f"{word} — {parts[0].text}", parts[0].sources, short=word)
