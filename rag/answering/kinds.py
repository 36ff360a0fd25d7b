"""Kinds: what kind of thing a list question asks for, and whether an item is of that kind.

"Which Korean officials are named?" asks for people of one country: a Canadian administrator is no
answer, nor is an institute. Rules, cheap and checked by tests; the model's yes/no check cannot
tell these apart (P(yes) 0.51 for the Canadian, 0.46 for a right "Department of Commerce").
"""
from __future__ import annotations

import re

from ..places import countries

# Nouns that ask for people ("Which officials …", "List the ministers …").
_PEOPLE = ("officials?|people|persons?|leaders?|ministers?|representatives?|executives?|speakers?|attendees?"
           "|participants?|signator(?:y|ies)|delegates?|politicians?|mayors?|presidents?|heads?|individuals?")
# The words a list question's asked phrase spans: "Which [Korean officials] are …", "Name the [US agencies] that …".
_ASKED = re.compile(r"^\s*(?:which|what|list|name|who\s+(?:are|were)|give)\b(?:\s+(?:all|the|of|me))*((?:\s+[\w’'-]+){1,4})",
                    re.IGNORECASE)
_ASKS_PEOPLE = re.compile(rf"\b(?:{_PEOPLE})\b", re.IGNORECASE)
_WHO = re.compile(r"\s*who\b", re.IGNORECASE)
_ASKS_PLACES = re.compile(r"\b(?:countr(?:y|ies)|nations?|states|places|cities|regions)\b", re.IGNORECASE)
# A role before a name ("Minister Lee Jong Ho", "Secretary of State Michelle Donelan", "Mayor Lee Jang-woo").
_TITLE = (r"(?:Vice |Prime |Deputy |Chief |Vice-)?(?:Minister|Mayor|Administrator|President|Secretary|Director|Chair(?:man|woman)?"
          r"|CEO|Governor|Ambassador|Commissioner|Senator|Premier|Chancellor|King|Queen|Dr\.?|Mr\.?|Ms\.?|Mrs\.?|Prof(?:essor|\.)?)")
_NAMES_PERSON = re.compile(rf"\b{_TITLE}(?:\s+(?:of|for)(?:\s+(?:and\s+)?[A-Z][\w&-]*)+)?(?:\s+[A-Z][\w&-]*)*\s+[A-Z][a-z][\w’'-]*")
# The body or place before the role ("Canadian Space Agency Administrator …", "Korea AeroSpace Administration (KASA) …").
_BEFORE = re.compile(r"(?:(?:[A-Z][\w&-]*|\([A-Z][\w&-]*\))\s+)+$")
_POSSESSIVE = re.compile(r"[’']s$")
# Heads of names that are bodies, not people ("Agency for Defense Development", "Korea Aerospace Research Institute").
_BODY = frozenset("agency agencies institute institution department ministry council administration committee commission "
                  "university company corporation association organization organisation office bureau center centre "
                  "government city province forum foundation authority service board group laboratory school bank fund "
                  "party alliance union society consortium".split())
_HEAD_END = re.compile(r"\s+(?:of|for|on|in|at|from|with|to|and|,)\s+|\(", re.IGNORECASE)
_PHRASE_WORDS = 8  # an item this short is a name, not a sentence: its head says what it is


def asked_phrase(question: str) -> str:
    """The words of a list question that say what it asks for ("Korean officials are"), or ""."""
    m = _ASKED.search(question)
    return m.group(1) if m else ""


def asks_people(question: str) -> bool:
    """The question asks for people: "Who …", "Which officials …"."""
    return bool(_WHO.match(question) or _ASKS_PEOPLE.search(asked_phrase(question)))


def names_person(text: str) -> bool:
    """``text`` names a person by a role before the name ("Administrator Oh Tae-seok")."""
    return _NAMES_PERSON.search(text) is not None


def people_in(text: str) -> list[str]:
    """Each person ``text`` names by role, with the body or place written before the role
    ("Daejeon Mayor Lee Jang-woo", "Korea AeroSpace Administration (KASA) Administrator Oh Tae-seok")."""
    out = []
    for m in _NAMES_PERSON.finditer(text):
        before = _BEFORE.search(text[: m.start()])
        out.append(_POSSESSIVE.sub("", (before.group() if before else "") + m.group()))
    return out


def is_body(item: str) -> bool:
    """A short list item that names a body, not a person: its head noun (before "of", "for", a
    parenthesis) is one ("Agency for Defense Development (ADD)")."""
    words = item.split()
    if len(words) > _PHRASE_WORDS or names_person(item):
        return False
    head = _HEAD_END.split(item, maxsplit=1)[0].split()
    return bool(head) and head[-1].lower().strip(".,;:") in _BODY


def place_asked(question: str) -> set[tuple[str, ...]]:
    """The countries the asked phrase names as a qualifier ("Which Korean officials"), none when it
    asks for countries ("Which countries besides the US …")."""
    asked = asked_phrase(question)
    return set() if _ASKS_PLACES.search(asked) else countries(asked)


def from_place_asked(question: str, text: str) -> bool:
    """``text`` names the country the question asks about (true when it asks about none)."""
    wanted = place_asked(question)
    return not wanted or bool(countries(text) & wanted)


def of_kind(question: str, item: str) -> bool:
    """Whether ``item`` can answer the list ``question`` by its kind: no body for people, and no
    other country than the one the asked phrase names ("Which Korean officials": not the Canadian)."""
    if asks_people(question) and is_body(item):
        return False
    return not countries(item) or from_place_asked(question, item)
