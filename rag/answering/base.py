"""The records the answering stages share, and how checked parts become the answer's text."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..cite import make_citation, split_sentences
from ..config import Settings
from ..evidence import Sentence, as_passage, score_sentences, sentence_texts, weights_for
from ..generate.prompt import count_tokens
from ..places import of_other_countries
from ..types import Citation, Claim, Passage


@dataclass(frozen=True)
class Evidence:
    """A selected sentence: as a passage of its own, the passage it came from, and its scores."""

    passage: Passage
    parent: Passage
    sentence: Sentence

    @property
    def read_back(self) -> str:
        """The sentence, led by the one before it in its passage when it points back to it ("There, he
        held a meeting …" needs who "he" is and where "there" is)."""
        if not POINTS_BACK.match(self.passage.text):
            return self.passage.text
        before = [a for a, b in split_sentences(self.parent.text) if b <= self.sentence.start]
        return self.parent.text[before[-1]: self.sentence.end] if before else self.passage.text

    @property
    def surroundings(self) -> str:
        """Its passage with its document's title: where what the sentence is about is read (its countries)."""
        return surroundings(self.parent)


def surroundings(p: Passage) -> str:
    """A passage with its document's title: where what its sentences are about is read (their countries)."""
    return f"{p.title}\n{p.text}"


def of_the_countries_asked(question: str, passages: Sequence[Passage]) -> list[Passage]:
    """``passages`` without those about other countries than ``question`` names (``places.of_other_countries``):
    a fact asked of Korea and Canada is not read from the Korea–UK release, whose answers it could not take."""
    return [p for p in passages if not of_other_countries(question, surroundings(p))]


def select_evidence(question: str, passages: list[Passage], index, settings: Settings,
                    shown: Sequence[Evidence] = (), antecedents: bool = False,
                    consequents: bool = False) -> list[Evidence]:
    """The best sentences of ``passages`` for ``question`` that fit ``settings.evidence_tokens``
    (at most ``settings.evidence``), read in context: grouped by passage, in document order.
    A sentence of a higher-ranked passage is preferred (``evidence_rank_weight`` / (1 + its rank));
    the sentences of ``shown`` (an earlier selection) are left out. With ``antecedents``, a chosen
    sentence that opens by pointing back ("This contributed to…", "These included…") brings the
    sentence before it, which says what it points to (for answers of several sentences); with
    ``consequents``, a chosen sentence followed by one that says what it led to ("Predictably, old
    oil was withdrawn…") brings that one (for explanations)."""
    texts = sentence_texts(passages)
    if not texts:
        return []
    vectors = _embedder(settings.embedder, settings.threads).encode_cached([question, *texts])
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
    if antecedents or consequents:
        chosen = _with_neighbours(chosen, scored, passages, antecedents, consequents)
    rank = {}
    for s in chosen:
        rank.setdefault(s.passage, len(rank))
    chosen.sort(key=lambda s: (rank[s.passage], s.start))
    return [Evidence(as_passage(passages[s.passage], s.start, s.end, s.score), passages[s.passage], s)
            for s in chosen]



# A sentence that opens by pointing back to the one before it.
POINTS_BACK = re.compile(r"^\W*(?:this|these|that|those|such|it|its|they|their|he|she|his|her|the latter|the former|there(?=,)"
                         r"|however|thus|therefore|consequently|as a result|instead|nonetheless|nevertheless)\b",
                         re.IGNORECASE)


# A sentence that opens by saying what the one before it led to.
LEADS_ON = re.compile(r"^\W*(?:predictably|consequently|as a result|as a consequence|therefore|thus|hence|accordingly"
                      r"|in turn|this (?:led|caused|resulted|meant|made|forced|created))\b", re.IGNORECASE)


def _with_neighbours(chosen: list[Sentence], scored: list[Sentence], passages: list[Passage],
                     before: bool = True, after: bool = False) -> list[Sentence]:
    """``chosen`` and, with ``before``, before each sentence of it that points back the sentence
    preceding it in its passage; with ``after``, after each the sentence following it when that
    one says what it led to — each scored as the sentence it goes with, unless chosen already."""
    have = {(s.passage, s.start) for s in chosen}
    out = []

    def add(t: Sentence | None, text_of: Sentence, pattern: re.Pattern, score: float) -> None:
        if t is not None and (t.passage, t.start) not in have and pattern.match(passages[text_of.passage].text[
                text_of.start:text_of.end]):
            have.add((t.passage, t.start))
            out.append(replace(t, score=score))

    for s in chosen:
        same = [t for t in scored if t.passage == s.passage]
        if before:
            prev = max((t for t in same if t.end <= s.start), key=lambda t: t.start, default=None)
            add(prev, s, POINTS_BACK, s.score)
        out.append(s)
        if after:
            nxt = min((t for t in same if t.start >= s.end), key=lambda t: t.start, default=None)
            if nxt is not None:
                add(nxt, nxt, LEADS_ON, s.score)
    return out


def _embedder(name: str, threads: int):
    from ..embed import get_embedder

    return get_embedder(name, threads)


def antecedent(i: int, evidence: Sequence[Evidence]) -> int | None:
    """The evidence sentence just before sentence ``i`` in its passage (nothing but space between
    them), if it is among ``evidence`` and sentence ``i`` points back to it."""
    if not POINTS_BACK.match(evidence[i].passage.text):
        return None
    return _beside(i, evidence, after=False)


def consequent(i: int, evidence: Sequence[Evidence]) -> int | None:
    """The evidence sentence just after sentence ``i`` in its passage, if it says what ``i`` led to."""
    j = _beside(i, evidence, after=True)
    return j if j is not None and LEADS_ON.match(evidence[j].passage.text) else None


def _beside(i: int, evidence: Sequence[Evidence], after: bool) -> int | None:
    """The evidence sentence just before (or ``after``) sentence ``i`` in its passage, nothing but
    space between them."""
    e = evidence[i]
    for j, b in enumerate(evidence):
        first, second = (e, b) if after else (b, e)
        if (j != i and b.parent.chunk_id == e.parent.chunk_id and first.sentence.end <= second.sentence.start
                and not e.parent.text[first.sentence.end:second.sentence.start].strip()):
            return j
    return None


def as_claim(sentence: str) -> str:
    """An evidence sentence as an answer sentence: one line, its end stop left to the markers."""
    return " ".join(sentence.split()).rstrip(".;:").strip()


@dataclass(frozen=True)
class Part:
    """One sentence of an answer, without markers, and the evidence it rests on (0-based indexes
    into the evidence list the stage was given). ``short`` is the span that answers, if any."""

    text: str
    sources: tuple[int, ...]
    short: str = ""


class Renderer:
    """Numbers citations by first use as checked parts arrive; each part becomes one ``Claim``."""

    def __init__(self, evidence: Sequence[Evidence]):
        self.evidence = evidence
        self.numbers: dict[int, int] = {}
        self.citations: list[Citation] = []
        self.claims: list[Claim] = []

    def add(self, part: Part) -> Claim:
        for source in part.sources:
            if source not in self.numbers:
                self.numbers[source] = len(self.numbers) + 1
                e = self.evidence[source]
                self.citations.append(make_citation(self.numbers[source], e.parent, (e.sentence.start, e.sentence.end),
                                                    e.sentence.score))
        cited = tuple(self.numbers[s] for s in dict.fromkeys(part.sources))
        claim = Claim(f"{part.text.rstrip()}{''.join(f' [{n}]' for n in cited)}", cited)
        self.claims.append(claim)
        return claim

    @property
    def text(self) -> str:
        return "\n".join(c.text for c in self.claims)


def render(parts: Sequence[Part], evidence: Sequence[Evidence]) -> tuple[str, list[Citation], list[Claim]]:
    """``(text, citations, claims)``: the parts one per line, each followed by its ``[n]`` markers;
    citations numbered by first use, each quoting its evidence sentence."""
    out = Renderer(evidence)
    for part in parts:
        out.add(part)
    return out.text, out.citations, out.claims
