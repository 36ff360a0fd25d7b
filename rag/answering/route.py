"""Route: what shape a question has, so it gets an answer of its own shape.

Rules first (the wording of a question nearly always tells); where they cannot tell a list from a
single fact ("Which bodies were represented…?" vs "Which hotel hosted…?"), the plural of the asked
noun decides, and a backend that can weigh one token may be asked (``ask_model``).
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from ..cite import MARKER, content_words
from ..config import Settings
from ..evidence import specific_terms
from ..generate.prompt import condense_messages
from .tables import asked_scale

SHAPES = ("factoid", "list", "comparison", "summary", "explanation", "arithmetic", "yesno", "followup")

_AUX = r"(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|shall|may|might|must)"
_YESNO = re.compile(rf"^\s*(?:{_AUX}(?:n['’]t)?\b|(?:is it|was it) (?:true|correct|right)\b)", re.IGNORECASE)
_ALTERNATIVE = re.compile(r"\bor\b(?! not\b)", re.IGNORECASE)  # "Was it X or Y?" asks which, not whether
# "Did a minister sign, and who was it?": the fact asked for answers the "whether" too
_AND_ASKS = re.compile(r",?\s+and\s+(?:if so,?\s+)?(?:(?:under|on|in|at|by|for) )?(?:who|whom|whose|which|what|when|where)\b",
                       re.IGNORECASE)
_SUMMARY = re.compile(
    r"\b(?:summari[sz]e|summary|overview|outline(?!d)|gist|recap|main (?:points|ideas|topics|themes)|key (?:points|takeaways)"
    r"|what (?:is|are) (?:this|these|that|those|the)\b[^?]*\babout|what do(?:es)? (?:this|these|the)\b[^?]*\b(?:say|cover|discuss)"
    r"|tell me about|describe (?:the|this|these)\b[^?]*\b(?:document|article|collection|release|report|page|files?))",
    re.IGNORECASE)
_COMPARE = re.compile(
    r"\b(?:compare|comparison|compared|contrast|versus|vs\.?|similarit(?:y|ies)|in common|differ(?:s|ed)? from"
    r"|how (?:does|do|did) [^?]+ differ|differences? between (?!the (?:number|amount|value|dates?))\b)",
    re.IGNORECASE)
_ARITHMETIC = re.compile(
    r"\b(?:how (?:many|much) (?:more|less|fewer|longer|later|earlier|bigger|larger|smaller|higher|lower)"
    r"|how many (?:days|weeks|months|years|hours|times)\b[^?]*\b(?:after|before|between|since|until|passed|elapsed|later|earlier|apart|larger|more)"
    r"|how many (?:days|weeks|months|years|decades) (?:did|was|were|had)\b"
    r"|how long (?:after|before|between)|in total|total (?:number|amount|of)|sum of|add(?:ed)? up|combined"
    r"|average|mean of|ratio|percentage (?:change|increase|decrease|growth|point)|what percent(?:age)? of|per cent of"
    r"|by how (?:much|many)|how much (?:has|have|had|did|does|do) [^?]*\b(?:chang|increas|decreas|grow|grew|declin|fall|fell|ris|rose|drop)"
    r"|difference (?:between|in) (?:the )?(?:number|amount|value|dates?|figures?)|grow(?:th)? rate"
    r"|increase(?:d)? by how|year[- ]over[- ]year|margin\b|how many [^?]+ (?:in all|altogether))",
    re.IGNORECASE)
_EXPLAIN = re.compile(
    r"^\s*(?:why\b|how (?:does|do|did|is|are|was|were|can|could|will|would)\b(?! [^?]*\b(?:differ)))"
    r"|\b(?:explain|what (?:is|was|are|were) the (?:reason|purpose|goal|aim|cause|significance|rationale|impact|effect)s?"
    r"|what (?:caused|led to|drives|drove)|for what (?:reason|purpose))\b",
    re.IGNORECASE)
_LIST = re.compile(
    r"^\s*(?:list|name|enumerate|give (?:me )?(?:all|the|a list))\b|\b(?:all (?:the|of the)|every|each of the|what are the|which are the"
    r"|what (?:\w+ ){0,3}(?:were|are) (?:named|mentioned|listed|involved|represented|signed|covered|included))\b",
    re.IGNORECASE)
# "Which <adjectives> <plural noun> were/are …": a list; "Which <singular noun> …": one fact.
_WHICH_PLURAL = re.compile(r"^\s*(?:which|what)\s+((?:[\w'’-]+\s+){0,4}?)([a-z]+(?:ies|es|s))\s+(?:were|are|have|do|does|did|will)\b",
                           re.IGNORECASE)
# "What/Which" and a plural noun among its first words: a list, or one fact about several things
_MAYBE_LIST = re.compile(r"^\s*(?:which|what)\s+((?:[\w'’-]+\s+){0,3})", re.IGNORECASE)
_NOT_PLURAL = frozenset("is was has does this its us news his status process address business class series "
                        "analysis basis campus bus gas".split())


def route(question: str, history=None, backend=None, settings: Settings | None = None) -> str:
    """The shape of ``question`` (one of ``SHAPES``); ``followup`` when it leans on ``history``."""
    if history:
        if is_follow_up(question):
            return "followup"
    return shape_of(question, backend, settings)


def shape_of(question: str, backend=None, settings: Settings | None = None) -> str:
    """The shape of a standalone question, by rules; where they cannot tell a list from one fact
    ("What areas…", "Which partners…"), ``backend``'s one-token choice, if it can weigh one."""
    q = " ".join(question.split())
    if asked_scale(q):  # an amount "in USD millions": read off a statement, converted
        return "arithmetic"
    if _SUMMARY.search(q):
        return "summary"
    if _ARITHMETIC.search(q):
        return "arithmetic"
    if _COMPARE.search(q):
        return "comparison"
    q = asked_sentence(q)  # "Korean officials met Canadians in two cities. Which cities were they?": the last sentence asks
    if asks_whether(q) and not _AND_ASKS.search(q):
        return "yesno"
    if _EXPLAIN.search(q):
        return "explanation"
    if _LIST.search(q) or _plural_which(q):
        return "list"
    if _maybe_list(q) and backend is not None and getattr(backend, "yes_probability", None):
        from ..generate.prompt import list_question_messages

        p = backend.yes_probability(list_question_messages(q), settings)
        if p is not None and p >= 0.5:
            return "list"
    return "factoid"


_SENTENCE_END = re.compile(r"(?<=[a-z0-9]{2}[.!])\s+(?=[A-Z])")  # not after "Michael C." or "Dr."


def asked_sentence(question: str) -> str:
    """The sentence of ``question`` that asks, when statements lead it: its last, if that one ends in
    "?" ("… in two different cities. Which cities were they?" -> "Which cities were they?")."""
    parts = _SENTENCE_END.split(question.strip())
    return parts[-1] if len(parts) > 1 and parts[-1].rstrip().endswith("?") else question


def asks_whether(question: str) -> bool:
    """Whether ``question`` asks whether something is so, also when it asks a fact besides ("Did a
    minister sign, and who was it?": routed to the fact, but its premise is still asked)."""
    q = " ".join(question.split())
    return bool(_YESNO.match(q)) and not _ALTERNATIVE.search(q)


def _maybe_list(q: str) -> bool:
    m = _MAYBE_LIST.match(q)
    return bool(m) and any(len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "'s", "’s")) and w not in _NOT_PLURAL
                           for w in m.group(1).lower().split())  # "AMCOR's" is no plural


def _plural_which(q: str) -> bool:
    m = _WHICH_PLURAL.match(q)
    return bool(m) and m.group(2).lower() not in _NOT_PLURAL and not m.group(2).lower().endswith("ss")


# --- decomposition ----------------------------------------------------------------------------
_LEAD_IN = re.compile(r"^\s*(?:compare|contrast|how (?:does|do|did)|what (?:is|are|were|was) the (?:differences?|similarit(?:y|ies)"
                      r"|contrasts?) (?:between|of)|(?:what )?(?:differences?|similarit(?:y|ies)) (?:between|of))\s+",
                      re.IGNORECASE)
_TAIL = re.compile(r"[?.!]+$")
_VERSUS = re.compile(r"\s+(?:compares?|compared|differs?|differed|contrasts?)\s+(?:with|from|to|against)\s+|\s+(?:versus|vs\.?)\s+",
                     re.IGNORECASE)
_AND = re.compile(r"\s*,?\s+and\s+(?:with\s+|to\s+|for\s+|in\s+|from\s+)?", re.IGNORECASE)
_WITH = re.compile(r"\s+(?:with|to|against)\s+", re.IGNORECASE)  # "Compare X with Y"
_PREP = re.compile(r"^(?P<head>.+\b(?:with|to|for|in|of|at|by|from))\s+(?P<a>.+)$", re.IGNORECASE)
_HOW = re.compile(r"^(?P<head>(?:how|why|what|when|where|who)\b(?:\s+(?:did|does|do|is|are|was|were))?)\s+(?P<a>.+)$",
                  re.IGNORECASE)
_NAME = re.compile(r"^(?:(?:the\s+)?(?:[A-Z0-9][\w.'’&-]*)(?:\s+(?:of\s+|de\s+)?[A-Z0-9][\w.'’&-]*)*)")


def sub_questions(question: str) -> list[str]:
    """The sides of a comparison as questions of their own: "Compare what Korea agreed with Canada and
    with the UK" -> ["what Korea agreed with Canada", "what Korea agreed with the UK"]; "Compare how
    Paul Baran and Donald Davies developed packet switching" -> ["how Paul Baran developed packet
    switching", "how Donald Davies developed packet switching"]; [] if none."""
    plain = _TAIL.sub("", " ".join(question.split())).strip()
    compare = bool(_LEAD_IN.match(plain))
    q = _LEAD_IN.sub("", plain).strip()
    if versus := _VERSUS.search(q):  # "X differs from Y": the sides are X and Y, whatever their inner "and"s
        a, b = q[: versus.start()].strip(), q[versus.end():].strip()
    elif joins := list(_AND.finditer(q)):
        a, b = q[: joins[-1].start()].strip(), q[joins[-1].end():].strip()
    elif compare and (w := _WITH.search(q)):
        a, b = q[: w.start()].strip(), q[w.end():].strip()
    else:
        return []
    if not a or not b:
        return []
    if (owner := re.match(r"^(.+?['’]s?)\s", a)) and re.match(r"(?i)^(?:its|their)\s", b):  # "its effect" -> "the embargo's effect"
        b = owner.group(1) + b[b.index(" "):]
    short = len(b.split()) <= 4
    if short and (m := _PREP.match(a)) and len(m.group("a").split()) <= 4:  # a shared head: "what Korea agreed with" Canada / the UK
        return [f"{m.group('head')} {m.group('a')}", f"{m.group('head')} {b}"]
    head, a_core = (m.group("head") + " ", m.group("a")) if (m := _HOW.match(a)) else ("", a)
    if len(a_core.split()) <= 3 and len(b.split()) > len(a_core.split()):  # a shared tail: "Paul Baran and Donald Davies developed …"
        name = _NAME.match(b)
        first = name.group(0) if name and name.group(0) else b.split()[0]
        if (tail := b[len(first):].strip()) and first.split()[0].lower() != a_core.split()[0].lower():
            return [f"{head}{a_core} {tail}", f"{head}{first} {tail}"]
    return [a, b]


# --- questions that ask two things ----------------------------------------------------------
_WH = r"(?:(?:on|in|at|by|for|from|to|with|under|during) )?(?:who|whom|whose|which|what|when|where|how (?:many|much|long|old))\b"
# "…: who led the agency, and which province did Daejeon meet?" — what comes before the last lead-in is context
_LEAD = re.compile(rf"(?:[:;—–]|\s-\s)\s*(?={_WH})", re.IGNORECASE)
_TWO_ASKS = re.compile(rf"^(?P<a>{_WH}.+?),?\s+and\s+(?:also\s+)?(?P<b>{_WH}.+)$", re.IGNORECASE)
_PREPOSITIONS = "in|at|on|from|by|for|with|during|under|between"
# "… mentioned in the US release and in the UK release", "… both at the symposium and at the signing"
_SAME_PREP = re.compile(rf"^(?P<head>.+?)\s+(?:both\s+)?(?P<p>{_PREPOSITIONS})\s+(?P<a>.+?),?\s+and\s+(?:also\s+)?(?P=p)\s+(?P<b>.+)$",
                        re.IGNORECASE)
# "On which dates did the US symposium and the UK signing happen?": several answers asked of two subjects
_PLURAL_OF_TWO = re.compile(r"^(?P<head>(?:(?:on|in|at|by|for|from) )?(?:which|what)\s+(?:[\w'’-]+\s+){0,2}?[a-z]+(?:ies|es|s)"
                            r"\s+(?:did|do|does|were|was|are|is|will|had|have|has))\s+(?P<a>.+?)\s+and\s+(?P<b>.+)$",
                            re.IGNORECASE)


def asks_several(question: str) -> list[str]:
    """The questions a question asks at once, each answerable alone, or [] if it asks one thing:
    "Who led Canada's space agency at the signing, and which province did Daejeon meet?" -> both
    clauses; "Name the universities mentioned in the US release and in the UK release" -> one per
    release; "On which dates did the US symposium and the UK signing happen?" -> one per event.
    A question whether something is so, and a comparison, are not split here."""
    q = _TAIL.sub("", " ".join(question.split())).strip()
    if asks_whether(q) or _COMPARE.search(q):
        return []
    leads = list(_LEAD.finditer(q))
    q = q[leads[-1].end():] if leads else q
    if m := _TWO_ASKS.match(q):
        a, b = m.group("a").strip(" ,"), m.group("b").strip(" ,")
        return [a, b] if _standalone(b) else []
    if (m := _SAME_PREP.match(q)) and len(m.group("head").split()) >= 2:
        head, prep = re.sub(r"\s+both$", "", m.group("head"), flags=re.IGNORECASE), m.group("p")
        return [f"{head} {prep} {m.group('a').strip(' ,')}", f"{head} {prep} {m.group('b').strip(' ,')}"]
    if (m := _PLURAL_OF_TWO.match(q)) and m.group(0).split()[1].lower() not in _NOT_PLURAL:
        a, rest = m.group("a").split(), m.group("b").split()
        # the second subject opens as the first and is as long ("the US symposium", "the UK signing"), the rest is shared
        if 2 <= len(a) <= 5 and len(rest) > len(a) and a[0].lower() == rest[0].lower() in _DETERMINERS and "," not in m.group("a"):
            head, tail = m.group("head"), " ".join(rest[len(a):])
            return [f"{head} {' '.join(a)} {tail}", f"{head} {' '.join(rest[:len(a)])} {tail}"]
    return []


_DETERMINERS = frozenset("the a an its their his her this that".split())


def context_of(question: str) -> str:
    """What a question that asks several things says before them ("Two events in November 2023 — on
    which dates did …?" -> "Two events in November 2023"), or "": searched with each ask, it narrows
    the search (the symposium of November 2023, not the dialogue of December 2022)."""
    q = _TAIL.sub("", " ".join(question.split())).strip()
    leads = list(_LEAD.finditer(q))
    return q[: leads[-1].start()].strip(" ,") if leads else ""


def _standalone(clause: str) -> bool:
    """A clause that does not lean on the one before it ("and who was it?" does)."""
    return not re.search(r"\b(?:it|they|them|this|that|these|those|he|she|him|her)\b\W*$", clause, re.IGNORECASE)


# --- follow-ups -------------------------------------------------------------------------------
History = Sequence[tuple[str, str]] | Sequence[dict]

# A question that leans on the conversation: opens with a connective or refers back with a pronoun.
_FOLLOW_UP = re.compile(
    r"^\s*(?:and|but|also|so|then|what about|how about)\b"
    r"|\b(?:he|she|him|his|her|hers|it|its|they|them|their|theirs|there|this one|that one|the same)\b",
    re.IGNORECASE,
)

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
        rewritten = _backend(settings).rewrite(condense_messages(question, turns), settings)
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



def _backend(settings: Settings):
    from ..generate.registry import get_backend

    return get_backend(settings)
