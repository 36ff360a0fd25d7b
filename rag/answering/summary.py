"""Summary: what a summary reads, selected before anything is phrased (``claims`` phrases it).

A summary cannot read whole documents on two cores, so it reads a few sentences chosen for it:

central_sentences   a document's most central sentences (embedding centrality, MMR for diversity)
collection_cards    per document its title sentence (or lead) and a few central sentences, in budget
topic_sentences     the retrieved sentences most relevant to a topic, MMR-diverse, so a summary
                    covers more than one fact
find_documents      the documents a question names ("the Quebec document", "the UK press release")

Every selected sentence is an ``Evidence`` with exact document offsets, cut from the chunk it lies in.
A document's sentences and their vectors are computed on first use and kept in memory (an LRU keyed
by the document's id and content hash, the embedder and the chunking), not at ingest: ingest stays
as fast as before, a store built earlier needs nothing new, and the first summary of a document
costs one embedding of its sentences (about 1 s for a seed; a long document is read through its
``MAX_CHUNKS`` most central chunks, by their stored vectors).

Only the ``rag.store.Store`` protocol is used (``documents``, ``rows_of``, ``chunks_of``,
``vectors_of``), so the PostgreSQL store works as the local one does.
"""
from __future__ import annotations

import functools
import math
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..cite import content_words, split_sentences
from ..clean import BULLET, chrome_line
from ..config import Settings
from ..evidence import Sentence, as_passage, score_sentences, sentence_texts, terms_of, weights_for
from ..generate.prompt import count_tokens
from ..types import Passage
from .base import Evidence, Part, as_claim
from .kinds import asks_people, names_person

MIN_WORDS = 6  # shorter sentences are headings, labels or menu items, not statements
MAX_CHUNKS = 24  # a longer document is read through this many of its most central chunks
MMR_LAMBDA = 0.7  # share of relevance (centrality) against redundancy when picking the next sentence
LEAD_WEIGHT = 0.4  # running text states its point first: a sentence's share of relevance from its position
LEAD_DECAY = 5.0  # ... which halves every 3.5 sentences (exp(-position / LEAD_DECAY))
CACHE_SIZE = 256  # documents whose sentences and vectors are kept
LEAD_SENTENCES = 5  # "the first lines" (statements) a question may name a document by
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_URL = re.compile(r"https?://|www\.|[\w.+-]+@[\w-]+\.\w", re.IGNORECASE)  # a web or e-mail address


# --- a document's sentences ----------------------------------------------------------------
@dataclass(frozen=True)
class _Read:
    """A document's sentences as a summary reads them: spans into their chunk passages (document
    order, each sentence once), unit vectors, centrality, and which one is the title, if any."""

    parents: tuple[Passage, ...]
    spans: tuple[tuple[int, int, int], ...]  # (parent, start, end): offsets into the parent's text
    vectors: np.ndarray
    centrality: np.ndarray  # cosine of each sentence to the document's centroid
    relevance: np.ndarray  # what central_sentences ranks by: centrality, and the lead in running text
    title: int | None  # the sentence that is the document's title (its headline in the text)
    lead: int | None  # the first sentence that is a statement

    def text(self, i: int) -> str:
        parent, start, end = self.spans[i]
        return self.parents[parent].text[start:end]


_cache: OrderedDict[tuple, _Read] = OrderedDict()
_cache_lock = threading.Lock()


def _read(doc_id: str, index, settings: Settings) -> _Read:
    """The document's sentences, computed once per content (``CACHE_SIZE`` documents kept)."""
    doc = index.documents[doc_id]
    key = (doc_id, doc.hash, settings.embedder, index.config.get("chunk_size"), index.config.get("chunk_overlap"))
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    read = _build(doc_id, doc.title, index, settings)
    with _cache_lock:
        _cache[key] = read
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return read


def _build(doc_id: str, title: str, index, settings: Settings) -> _Read:
    from ..search import _passage

    rows = index.rows_of(doc_id)
    if len(rows) > MAX_CHUNKS:  # the first chunk (the lead) and the most central others, by stored vectors
        vectors = np.asarray(index.vectors_of(rows), dtype=np.float32)
        centre = vectors.mean(axis=0)
        order = np.argsort(-(vectors @ (centre / (np.linalg.norm(centre) or 1.0))), kind="stable")
        keep = sorted([0, *[int(i) for i in order if i != 0][: MAX_CHUNKS - 1]])
        rows = [rows[i] for i in keep]
    parents = tuple(_passage(c, 0.0) for c in index.chunks_of(rows))
    found: list[tuple[int, int, int]] = []  # (document start, document end, parent)
    for j, p in enumerate(parents):
        found.extend((p.start + s, p.start + e, j) for s, e in split_sentences(p.text))
    spans, last_end = [], -1
    # Chunks overlap: a sentence is kept once, from the first chunk holding all of it; a piece of a
    # sentence cut by a chunk's edge lies inside the whole sentence of the next chunk and is dropped.
    for start, end, j in sorted(found, key=lambda f: (f[0], -f[1], f[2])):
        if end <= last_end or start < last_end:
            continue
        if bullet := BULLET.match(parents[j].text[start - parents[j].start:end - parents[j].start]):
            start = min(start + bullet.end(), end)  # "• MSIT and ...": the item, not its bullet
        spans.append((j, start - parents[j].start, end - parents[j].start))
        last_end = end
    headline = _words(title)
    title_at = next((i for i, (j, s, e) in enumerate(spans[:10])
                     if _is_title(_words(parents[j].text[s:e]), headline)), None)
    keep = [i for i, (j, s, e) in enumerate(spans) if i == title_at or _statement(parents[j].text[s:e])]
    spans = [spans[i] for i in keep]
    title_at = keep.index(title_at) if title_at is not None else None
    texts = [parents[j].text[s:e] for j, s, e in spans]
    vectors = _embedder(settings).encode(texts) if texts else np.zeros((0, 1), dtype=np.float32)
    centrality = relevance = np.zeros(len(texts), dtype=np.float32)
    if texts:
        centre = vectors.mean(axis=0)
        centrality = vectors @ (centre / (np.linalg.norm(centre) or 1.0))
        spread = float(centrality.max() - centrality.min())
        relevance = (centrality - centrality.min()) / spread if spread > 0 else np.ones(len(texts), dtype=np.float32)
        if not parents[0].page:  # running text leads with its point; a paged document may open with a cover
            lead_prior = np.exp(-np.arange(len(texts)) / LEAD_DECAY)
            relevance = (1 - LEAD_WEIGHT) * relevance + LEAD_WEIGHT * lead_prior
    lead = next((i for i in range(len(spans)) if i != title_at), None)
    return _Read(parents, tuple(spans), vectors, centrality.astype(np.float32), relevance.astype(np.float32),
                 title_at, lead)


def _statement(text: str) -> bool:
    """A sentence that states something: ``MIN_WORDS`` words or more, not menu or page chrome,
    no web or e-mail address (a "full text at https://…" line, a contact line)."""
    return len(_WORD.findall(text)) >= MIN_WORDS and not chrome_line(text) and _URL.search(text) is None


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _is_title(words: list[str], headline: list[str]) -> bool:
    """The sentence is the title, or the headline the title starts with (the title may add a publisher)."""
    return bool(words) and (words == headline or (len(words) >= 3 and headline[: len(words)] == words))


def _embedder(settings: Settings):
    from ..embed import get_embedder

    return get_embedder(settings.embedder, settings.threads)


def _evidence(read: _Read, i: int, score: float) -> Evidence:
    """Sentence ``i`` as evidence; its ``Sentence.passage`` is the index of its chunk among the
    document's chunks read. A document's own sentences answer no question: ``coverage`` and
    ``specific`` are 1.0 (nothing asked is missing, as ``score_sentences`` says of a question that
    names nothing) and ``meaning`` is the sentence's cosine to the document's centroid."""
    parent, start, end = read.spans[i]
    p = read.parents[parent]
    centrality = float(read.centrality[i])
    return Evidence(as_passage(p, start, end, score), p,
                    Sentence(parent, start, end, round(score, 6), 1.0, 1.0, round(centrality, 6)))


def _mmr(relevance: np.ndarray, vectors: np.ndarray, n: int, chosen: Sequence[int] = (),
         candidates: Sequence[int] | None = None) -> list[int]:
    """Up to ``n`` more indexes, each the best by ``MMR_LAMBDA`` * relevance - (1 - ``MMR_LAMBDA``) *
    its greatest similarity to those already ``chosen``."""
    picked = list(chosen)
    pool = [i for i in (range(len(relevance)) if candidates is None else candidates) if i not in set(picked)]
    out: list[int] = []
    nearest = (np.max(vectors[pool] @ vectors[picked].T, axis=1) if picked and pool
               else np.zeros(len(pool), dtype=np.float32))
    while pool and len(out) < n:
        value = MMR_LAMBDA * relevance[pool] - (1 - MMR_LAMBDA) * nearest
        k = int(np.argmax(value))
        best = pool.pop(k)
        nearest = np.delete(nearest, k)
        if pool:
            nearest = np.maximum(nearest, vectors[pool] @ vectors[best])
        out.append(best)
    return out


def central_sentences(doc_id: str, index, settings: Settings, n: int = 5) -> list[Evidence]:
    """The ``n`` most central sentences of the document, picked with MMR so they say different
    things, in document order (the title line too, if it is a statement itself). Central: the
    sentence's cosine to the document's centroid, scaled to 0..1 within the document; in running
    text (not paged) blended with its position (``LEAD_WEIGHT``): centrality alone passes over an
    article's lead, which states what happened ("... announced the signing of ..."), for the
    background every later paragraph shares."""
    read = _read(doc_id, index, settings)
    statements = [i for i in range(len(read.spans)) if i != read.title or _statement(read.text(i))]
    picks = _mmr(read.relevance, read.vectors, n, candidates=statements)
    return [_evidence(read, i, float(read.relevance[i])) for i in sorted(picks)]


# --- the collection -------------------------------------------------------------------------
def collection_cards(index, settings: Settings, n: int = 2, budget: int = 400) -> list[Evidence]:
    """A card per document, documents in index order: its title sentence (or, when its title is
    not in its text, its lead sentence) and its ``n`` central sentences (MMR-diverse from the
    title too), within ``budget`` tokens of sentence text (``count_tokens``). Every document's
    title or lead comes first; central sentences are then added round by round (each document's
    first, then each one's second ...) while they fit, so a large collection keeps a line per document."""
    cards: list[tuple[_Read, list[int]]] = []
    for doc_id in index.documents:
        read = _read(doc_id, index, settings)
        head = read.title if read.title is not None else read.lead
        if head is None:
            continue
        rest = [i for i in range(len(read.spans)) if i != read.title]
        cards.append((read, [head, *sorted(_mmr(read.relevance, read.vectors, n, [head], rest))]))
    used, taken = 0, [[] for _ in cards]
    for round_ in range(n + 1):
        for (read, picks), kept in zip(cards, taken):
            if round_ >= len(picks) or (round_ and not kept):
                continue
            cost = count_tokens(read.text(picks[round_]))
            if used + cost > budget:
                continue
            kept.append(picks[round_])
            used += cost
    out: list[Evidence] = []
    for (read, _), kept in zip(cards, taken):
        out.extend(_evidence(read, i, float(read.relevance[i])) for i in sorted(kept))
    return out


def overview(cards: list[Evidence]) -> list[Part]:
    """What a collection is about, a line per document: its title, then its most central statement
    (the first of its card that is not the title itself), each line citing that sentence."""
    parts, done = [], set()
    for i, e in enumerate(cards):
        doc = e.parent.doc_id
        if doc in done:
            continue
        text = as_claim(e.passage.text)
        title = " ".join((e.parent.title or "").split())
        rest = [j for j in range(i + 1, len(cards)) if cards[j].parent.doc_id == doc]
        if rest and title and _is_title(_words(text), _words(title)):
            continue  # the title sentence: the next sentence of the card says more
        done.add(doc)
        lead = f"{title}: " if title and not _words(text)[: len(_words(title))] == _words(title) else ""
        parts.append(Part(f"{lead}{text}", (i,)))
    return parts


# --- a topic ----------------------------------------------------------------------------------
_REQUEST = re.compile(
    r"^\s*(?:(?:please|can you|could you|would you)\s+)*(?:give (?:me |us )?|write |provide |make )?"
    r"(?:an? |the |a short |a brief )?(?:summari[sz]e|summary of|overview of|outline(?: of)?|recap(?: of)?|gist of"
    r"|describe|tell (?:me|us) about|sum up|main points of|key points of)\s*[:,]?\s*", re.IGNORECASE)
_IN_SHORT = re.compile(r"[\s,]*(?:in (?:brief|short|a few sentences|\w+ sentences)|briefly)?\s*[.?!]*\s*$",
                       re.IGNORECASE)


def topic_of(question: str) -> str:
    """What a summary request is about: "Summarize what Korea and the UK signed" → "what Korea and
    the UK signed" (the request's own words would otherwise find sentences that "summarize")."""
    return _IN_SHORT.sub("", _REQUEST.sub("", question, count=1)).strip() or question


PERSON_BONUS = 0.3  # added to the score of a sentence that names a person when the question asks for people


def topic_sentences(question: str, passages: list[Passage], index, settings: Settings,
                    n: int = 6) -> list[Evidence]:
    """The sentences of ``passages`` most relevant to ``question`` (``score_sentences``: its words,
    names and meaning), picked with MMR so the summary of a topic covers more than one fact;
    statements only, each once though passages overlap; in reading order (passage rank, then
    position). Their ``Sentence`` is ``score_sentences``'s own."""
    texts = sentence_texts(passages)
    if not texts:
        return []
    question = topic_of(question)
    vectors = _embedder(settings).encode_cached([question, *texts])
    row = {}
    for j, p in enumerate(passages):
        for s, e in split_sentences(p.text):
            row[(j, s)] = len(row)
    scored = score_sentences(question, passages, weights_for(index), vectors[1:], vectors[0])
    seen: set[tuple[str, int, int]] = set()
    pool: list[Sentence] = []
    for s in scored:
        p = passages[s.passage]
        where = (p.doc_id, p.start + s.start, p.start + s.end)
        if where in seen or not _statement(p.text[s.start:s.end]):
            continue
        seen.add(where)
        pool.append(s)
    if not pool:
        return []
    sentence_vectors = vectors[1:][[row[(s.passage, s.start)] for s in pool]]
    people = asks_people(question)  # "Which officials …": a sentence naming one by role comes first
    relevance = [s.score + PERSON_BONUS * (people and names_person(passages[s.passage].text[s.start:s.end])) for s in pool]
    picks = _mmr(np.array(relevance, dtype=np.float32), sentence_vectors, n)
    chosen = sorted((pool[i] for i in picks), key=lambda s: (s.passage, s.start))
    return [Evidence(as_passage(passages[s.passage], s.start, s.end, s.score), passages[s.passage], s) for s in chosen]


def across_documents(question: str, index, settings: Settings, n: int = 10) -> list[Evidence]:
    """``topic_sentences`` of each document (of the whole collection when it has at most ``n``, else of
    the ``n`` that ``search_documents`` ranks best), an equal share of ``n`` each, read from the
    passages ``central_sentences`` reads: a question over the collection ("Which officials are named
    in these documents?") hears from every document, not only from the one that says most."""
    from ..search import search_documents

    docs = list(index.documents) if len(index.documents) <= n else [d for d, _ in search_documents(question, index, settings, n)]
    share = max(1, n // max(len(docs), 1))
    return [e for d in docs for e in topic_sentences(question, list(_read(d, index, settings).parents), index, settings,
                                                      n=share)]


# --- the documents a question names -----------------------------------------------------------
# Words that say a document is meant, not which one; and what a summary question asks of it.
_DOCUMENT_NOUNS = frozenset(
    "article articles document documents doc docs release releases press report reports paper papers file files "
    "page pages story stories piece post memo note notes notice filing filings text texts source sources news "
    "item items letter statement announcement announcements collection one ones publication".split())
_ASKING = frozenset(
    "summarize summarise summary summarizing overview describe description tell say says said main point points key "
    "gist cover covers discuss discusses mention mentions mentioned explain give brief briefly outline recap topic "
    "topics theme themes write written me please short compare comparison contrast differ difference versus vs "
    "between with and".split())
# "the documents" (all of them); "which / a / each of the ... document" (asks for one, or means any)
_NOT_NAMING = re.compile(
    r"\b(?:the|your|my|our)\s+(?:documents|articles|files|texts|sources|pages|reports|papers|stories|releases"
    r"|press releases|collection)\b"
    r"|\b(?:which|what|any|a|an|each|every|all|these|those|this|other|another|some)\s+"
    r"(?:of (?:the|these|those) |(?!(?:is|are|was|were|do|does|did|the)\b)\w+\s+){0,2}?"
    r"(?:article|document|release|report|paper|file|page|story|piece|post|memo|notice|filing|text|source|collection"
    r"|one)s?\b", re.IGNORECASE)
_DOCUMENT_NOUN = re.compile(r"\b(?:" + "|".join(sorted(_DOCUMENT_NOUNS - {"press", "one", "ones"})) + r")\b",
                            re.IGNORECASE)
NAMED_SHARE = 0.34  # the share of the question's distinctive words the best document's names must hold
TITLE_SHARE = 0.6  # a question that repeats this share of a title names that document
MIN_MEANING = 0.45  # the embedding fallback: cosine of the question to a document's title and lead
MEANING_MARGIN = 0.05  # ... ahead of the next document by this much


def _name_terms(text: str) -> set[str]:
    """Stemmed words of ``text``, hyphenated words also in parts ("ROK-UK": rok-uk, rok, uk)."""
    return terms_of(text) | terms_of(re.sub(r"[-–—_/]", " ", text))


@functools.cache
def _generic() -> frozenset[str]:
    return frozenset(content_words(" ".join(_DOCUMENT_NOUNS | _ASKING)))


@dataclass(frozen=True)
class _Names:
    """How a document may be named: its title, its file name, its first lines."""

    title: frozenset[str]
    source: frozenset[str]
    lead: frozenset[str]
    text: str  # title and first lines, for the embedding fallback
    file: str  # the file name


_names_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _names(index) -> dict[str, _Names]:
    """Every document's names, read once per store state (a local generation, a database version:
    each is a store object of its own)."""
    with _cache_lock:
        table = _names_cache.get(index)
    if table is None:
        table = {}
        for doc_id, doc in index.documents.items():
            head = doc.text[:3000]
            first = [head[s:e] for s, e in split_sentences(head) if _statement(head[s:e])][:LEAD_SENTENCES]
            stem = re.sub(r"\.[^.]+$", "", doc.source.rsplit("/", 1)[-1])
            title = frozenset(_name_terms(doc.title))
            table[doc_id] = _Names(title, frozenset(_name_terms(stem)), frozenset(_name_terms(" ".join(first))),
                                   " ".join([doc.title, *first]).strip(), doc.source.rsplit("/", 1)[-1])
        with _cache_lock:
            _names_cache[index] = table
    return table


def find_documents(question: str, index, settings: Settings) -> list[str]:
    """The ids of the documents ``question`` names, in the order it names them; [] when it names
    none ("this collection", "these documents", a question about a topic). Meant for questions
    routed as summaries or comparisons: a factoid that repeats a title names its document too.

    A document is named by its file name, by most of its title's words, or by a document noun
    ("article", "press release", "document" ...) with words that tell it from the others ("the
    Global Economic Times article", "the Quebec document", "the UK press release"): the question's
    distinctive words (weighted by rarity among the documents' names; a country's other names
    count) must be among the document's title and file name, or its first lines (which count
    half). When none are and the question does point at a document, the document whose title and
    first lines are closest in meaning, if clearly closest (``MIN_MEANING``, ``MEANING_MARGIN``).
    """
    names = _names(index)
    ids = list(names)
    if not ids:
        return []
    lowered = question.lower()
    named = [d for d in ids if _file_named(names[d].file, lowered)]
    if named:
        return named
    asked = _name_terms(question) - _generic()
    if not asked:
        return []
    by_title = [d for d in ids if len(names[d].title) >= 3
                and len(asked & names[d].title) >= TITLE_SHARE * len(names[d].title)]
    if by_title:
        return by_title
    if _DOCUMENT_NOUN.search(_NOT_NAMING.sub(" ", question)) is None:
        return []  # no document is pointed at: a question about a topic, or about them all
    n = len(ids)
    groups = _groups(question, asked)
    heads = {d: v.title | v.source for d, v in names.items()}
    df = [sum(any(o <= heads[d] | names[d].lead for o in group) for d in ids) for group in groups]
    distinctive = [(g, math.log(1 + (n - f + 0.5) / (f + 0.5))) for g, f in zip(groups, df)
                   if 0 < f <= max(1, n // 2)]  # a word most documents' names share tells none apart
    if distinctive:
        total = sum(w for _, w in distinctive)
        scores, matched = {}, {}
        for d in ids:
            got, matched[d] = 0.0, set()
            for k, (group, w) in enumerate(distinctive):
                if any(o <= heads[d] for o in group):
                    got += w
                elif any(o <= heads[d] | names[d].lead for o in group):
                    got += 0.5 * w
                else:
                    continue
                matched[d].add(k)
            scores[d] = got / total
        best = max(scores.values())
        tied = [d for d in ids if scores[d] == best]
        close = dict(zip(tied, _meaning(question, [names[d].text for d in tied], settings))) if len(tied) > 1 else {}
        chosen, covered = [], set()
        for d in sorted(ids, key=lambda d: (-scores[d], -close.get(d, 0.0))):  # a tie goes to the closer meaning
            if scores[d] < NAMED_SHARE * (1 if not chosen else 0.5) or not matched[d] - covered:
                continue  # another document is named too only by words the ones before do not hold
            chosen.append(d)
            covered |= matched[d]
        words = [_name_terms(m.group()) for m in _WORD.finditer(question)]

        def first_named(d: str) -> int:  # "Compare the UK release with the Quebec article": in that order
            said = {t for k in matched[d] for o in distinctive[k][0] for t in o}
            return next((i for i, w in enumerate(words) if w & said), len(words))

        return sorted(chosen, key=first_named)
    if not any(f == 0 for f in df):
        return []  # every word of it is in most documents' names: it names none in particular
    # It points at a document in words none of the names use: the one closest in meaning, if clearly.
    close = _meaning(question, [names[d].text for d in ids], settings)
    order = np.argsort(-close)
    runner_up = float(close[order[1]]) if n > 1 else -1.0
    if float(close[order[0]]) >= MIN_MEANING and float(close[order[0]]) - runner_up >= MEANING_MARGIN:
        return [ids[int(order[0])]]
    return []


def _meaning(question: str, texts: list[str], settings: Settings) -> np.ndarray:
    """Cosine of ``question`` to each of ``texts``."""
    vectors = _embedder(settings).encode_cached([question, *texts])
    return vectors[1:] @ vectors[0]


def _file_named(name: str, lowered: str) -> bool:
    """The (lower-cased) question gives the file ``name`` (with or without its extension)."""
    stem = re.sub(r"\.[^.]+$", "", name.lower())
    return len(stem) >= 4 and re.search(rf"(?<![\w.]){re.escape(stem)}(?:\.\w+)?(?![\w])", lowered) is not None


def _groups(question: str, asked: set[str]) -> list[list[frozenset[str]]]:
    """The question's words, each with its country's other names as alternatives, each
    alternative the set of words it needs ("British": british | uk | united kingdom | great britain)."""
    from ..places import others

    groups = {t: [frozenset({t})] for t in asked}
    for form, alternatives in others(question).items():
        for t in _name_terms(form) & asked:
            groups[t].extend(frozenset(_name_terms(name)) for name in alternatives if _name_terms(name))
    return list(groups.values())
