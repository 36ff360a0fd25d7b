"""Evidence: score the sentences of retrieved passages against the question.

Two uses. *Rerank*: a passage is worth its best sentence window (the sentence and its
neighbours), judged by how much of the question's vocabulary it covers (weighted by rarity)
and whether it names the question's specific terms — a passage about the UK cannot answer a
question about Canada. *Select*: the few sentences that matter, each a ``Passage`` of its own
with exact offsets, are what the answer backend sees and what a citation quotes.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import numpy as np

from .cite import content_words, split_sentences
from .types import Passage

_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’.-]*[A-Za-z]|[A-Za-z]|\d+(?:[.,:/]\d+)*(?:st|nd|rd|th|s)?")
_ORDINAL = re.compile(r"^(\d+)(?:st|nd|rd|th|s)$")
# A question about what is *not* so ("not", "never", "n't", "non-") is not answered by a sentence that
# negates nothing: it states the very thing the question excludes. "whether or not" negates nothing.
_NEGATION = re.compile(r"\b(?:not|never|no|nor|without)\b|n['’]t\b|\bnon-", re.IGNORECASE)
_NO_NEGATION = re.compile(r"\b(?:whether|or) not\b", re.IGNORECASE)
# Question words and fillers that are capitalised without naming anything.
_NOT_NAMES = frozenset("i what which who whom whose when where why how is are was were do does did can could "
                       "would should will in on at of for and or the a an if name give list tell".split())


@dataclass(frozen=True)
class Sentence:
    """One sentence of a retrieved passage and how well it (with its neighbours) answers."""

    passage: int  # index into the passages it came from
    start: int  # offsets into the passage text
    end: int
    score: float
    coverage: float  # rarity-weighted share of the question's words in the sentence window
    specific: float  # share of the question's specific terms in the window (title included)
    meaning: float = 0.0  # cosine similarity of the sentence to the question (0 without vectors)
    polarity: bool = True  # the window negates something where the question does (``negated``)


def specific_terms(question: str) -> set[str]:
    """Names, acronyms and numbers of ``question`` (stemmed): what an answer must be about.

    A capitalised word counts unless it only starts the question or is a question word.
    """
    terms = set()
    tokens = _TOKEN.findall(question)
    for i, token in enumerate(tokens):
        word = token.strip(".'’-")
        if not word:
            continue
        if word[0].isdigit():
            m = _ORDINAL.match(word)
            terms.add(m.group(1) if m else word.replace(",", ""))
        elif word[0].isupper() and word.lower() not in _NOT_NAMES and (i > 0 or word.isupper()):
            terms |= content_words(word)
    return terms


def negated(text: str) -> bool:
    """Whether ``text`` says that something is not so (``not``, ``never``, ``n't``, ``non-`` ...)."""
    return bool(_NEGATION.search(_NO_NEGATION.sub(" ", text)))


def terms_of(text: str) -> set[str]:
    """Stemmed content words and bare numbers of ``text`` (ordinals reduced to their number)."""
    words = content_words(text)
    for token in re.findall(r"\d+(?:[.,]\d+)*(?:st|nd|rd|th|s)?", text):
        m = _ORDINAL.match(token)
        words.add(m.group(1) if m else token.replace(",", ""))
    return words


class Weights:
    """Inverse document frequencies of stems over an index's chunks (from its BM25 statistics)."""

    def __init__(self, index=None):
        self.df: dict[str, int] = {}
        self.n = 1
        if index is not None and index.chunks:
            bm25 = index.bm25
            indptr = np.asarray(bm25.scores["indptr"])
            counts = np.diff(indptr)
            self.df = {word: int(counts[i]) for word, i in bm25.vocab_dict.items() if i < len(counts)}
            self.n = len(index.chunks)

    def idf(self, term: str) -> float:
        df = self.df.get(term, 0)
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))


_weights: dict[int, tuple[object, Weights]] = {}


def weights_for(index) -> Weights:
    """The ``Weights`` of ``index``, computed once per index object."""
    cached = _weights.get(id(index))
    if cached is None or cached[0] is not index:
        cached = _weights[id(index)] = (index, Weights(index))
    return cached[1]


def score_sentences(question: str, passages: list[Passage], weights: Weights,
                    sentence_vectors: np.ndarray | None = None, question_vector: np.ndarray | None = None,
                    window: int = 1) -> list[Sentence]:
    """Every sentence of every passage, scored; best first.

    ``coverage`` is the rarity-weighted share of the question's terms found in the sentence and
    its ``window`` neighbours (plus the passage title); ``specific`` the share of its names and
    numbers; ``polarity`` whether the window negates something if the question does. With vectors,
    semantic similarity of the sentence to the question joins the score.
    """
    asked = terms_of(question)
    asks_not = negated(question)
    specific = specific_terms(question)
    total = sum(weights.idf(t) for t in asked) or 1.0
    others = aliases(specific, question)
    out: list[Sentence] = []
    row = 0
    for j, p in enumerate(passages):
        spans = split_sentences(p.text)
        words = [terms_of(p.text[s:e]) for s, e in spans]
        title = terms_of(p.title)
        for i, (s, e) in enumerate(spans):
            seen = title.union(*words[max(0, i - window): i + window + 1])
            coverage = sum(weights.idf(t) for t in asked & seen) / total
            named = (sum(t in seen or any(a <= seen for a in others.get(t, ())) for t in specific) / len(specific)
                     if specific else 1.0)
            if sentence_vectors is None:
                meaning, score = 0.0, 0.5 * coverage + 0.2 * named
            else:  # paraphrased questions share meaning more than words: meaning weighs most
                meaning = max(float(sentence_vectors[row] @ question_vector), 0.0)
                score = 0.35 * coverage + 0.05 * named + 0.6 * meaning
            row += 1
            polarity = not asks_not or negated(p.text[spans[max(0, i - window)][0]: spans[min(len(spans) - 1, i + window)][1]])
            out.append(Sentence(j, s, e, score, coverage, named, meaning, polarity))
    out.sort(key=lambda x: x.score, reverse=True)
    return out


def aliases(specific: set[str], question: str) -> dict[str, list[set[str]]]:
    """For each specific term naming a country ("american"), the terms of that country's other names
    ({"united", "states"}, {"america"}): a sentence that says one of them names it too."""
    from .places import others

    out: dict[str, list[set[str]]] = {}
    for form, names in others(question).items():
        alternatives = [t for t in map(terms_of, names) if t]
        for term in terms_of(form) & specific:
            out.setdefault(term, []).extend(alternatives)
    return out


def sentence_texts(passages: list[Passage]) -> list[str]:
    """The sentences of ``passages`` in the order ``score_sentences`` walks them."""
    return [p.text[s:e] for p in passages for s, e in split_sentences(p.text)]


def rerank(question: str, passages: list[Passage], weights: Weights, fused_weight: float = 0.5,
           embedder=None) -> list[Passage]:
    """``passages`` reordered by their retrieval score blended with their best sentence window;
    with an ``embedder``, the sentences are judged by their meaning too (``score_sentences``)."""
    if len(passages) < 2:
        return passages
    vectors = embedder.encode_cached([question, *sentence_texts(passages)]) if embedder is not None else None
    best: dict[int, float] = {}
    for s in score_sentences(question, passages, weights, *((vectors[1:], vectors[0]) if vectors is not None else ())):
        best.setdefault(s.passage, s.score)
    fused = np.array([p.score for p in passages], dtype=float)
    fused = fused / fused.max() if fused.max() > 0 else np.ones(len(passages))
    blended = [fused_weight * fused[j] + (1 - fused_weight) * best.get(j, 0.0) for j in range(len(passages))]
    order = sorted(range(len(passages)), key=lambda j: blended[j], reverse=True)
    return [replace(passages[j], score=round(float(blended[j]), 6)) for j in order]


def as_passage(p: Passage, start: int, end: int, score: float) -> Passage:
    """The span ``start:end`` of passage ``p`` as a passage of its own (offsets into the document)."""
    return replace(p, text=p.text[start:end], start=p.start + start, end=p.start + end, score=round(score, 6),
                   chunk_id=f"{p.chunk_id}@{p.start + start}")
