"""The records the answering stages share, and how checked parts become the answer's text."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..cite import make_citation
from ..config import Settings
from ..evidence import Sentence, as_passage, score_sentences, sentence_texts, weights_for
from ..generate.prompt import count_tokens
from ..types import Citation, Claim, Passage


@dataclass(frozen=True)
class Evidence:
    """A selected sentence: as a passage of its own, the passage it came from, and its scores."""

    passage: Passage
    parent: Passage
    sentence: Sentence


def select_evidence(question: str, passages: list[Passage], index, settings: Settings,
                    shown: Sequence[Evidence] = ()) -> list[Evidence]:
    """The best sentences of ``passages`` for ``question`` that fit ``settings.evidence_tokens``
    (at most ``settings.evidence``), read in context: grouped by passage, in document order.
    A sentence of a higher-ranked passage is preferred (``evidence_rank_weight`` / (1 + its rank));
    the sentences of ``shown`` (an earlier selection) are left out."""
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
    rank = {}
    for s in chosen:
        rank.setdefault(s.passage, len(rank))
    chosen.sort(key=lambda s: (rank[s.passage], s.start))
    return [Evidence(as_passage(passages[s.passage], s.start, s.end, s.score), passages[s.passage], s)
            for s in chosen]



def _embedder(name: str, threads: int):
    from ..embed import get_embedder

    return get_embedder(name, threads)


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
