"""The public API: retrieve, know the question's shape, answer it in that shape from checked
evidence with numbered citations — or abstain, showing the closest passages as *not* an answer.

    question -> condense (follow-ups) -> route -> search -> select evidence ->
      factoid     span: a short answer and the sentence that states it (then, if declined, claims);
                  a question that asks several things: each asked and answered alone, then joined
      yes/no      yesno: "Yes" / "No" with the sentence that shows it
      arithmetic  arithmetic: one expression over cited figures (a table's rows read from its whole
                  page), computed safely (else span)
      list, comparison, explanation, summary
                  claims: a few sentences, each checked against what it cites
                  (the whole collection: a line per document, its title and central sentence)
Only checked text is streamed; the final ``Answer`` holds the text, its claims and citations.
"""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

from .answering import span
from .answering.base import Evidence, Part, Renderer, of_the_countries_asked, select_evidence
from .answering.route import History, asks_several, asks_whether, condense, context_of, shape_of
from .config import Settings, check_question
from .generate.registry import get_backend
from .generate.prompt import ABSTAIN, count_tokens
from .index import Index
from .search import resolve, search
from .types import Answer, Passage

log = logging.getLogger(__name__)

CLOSEST = 3  # passages shown under a decline
_COLLECTION = re.compile(r"\b(?:collection|(?:these|the|all|my|our) (?:documents|files|sources|texts|notes|articles))\b",
                         re.IGNORECASE)


def stream_answer(question: str, index: Index | Path | str | None = None, k: int | None = None,
                  history: History | None = None, settings: Settings | None = None,
                  **overrides) -> Iterator[str | Answer]:
    """Yield the answer's checked sentences as they are ready, then the final ``Answer``."""
    started = time.perf_counter()
    settings, idx = resolve(settings, index, k=k, **overrides)
    question = check_question(question, settings)
    backend = get_backend(settings)  # an unreachable endpoint fails here, before any retrieval work
    query = condense(question, history, settings)
    shape = shape_of(query, backend, settings)
    width = max(settings.k, settings.claim_k) if shape not in ("factoid", "yesno") else settings.k + 2 * (shape == "yesno")
    queries = [query, question] if query != question else [query]
    if shape == "summary":  # "Summarize what Korea and the UK signed": search for what it is about
        from .answering.summary import topic_of

        queries = list(dict.fromkeys([topic_of(query) or query, *queries]))
    if shape == "yesno":  # the sentence that states another place, date or person is found too
        from .answering.yesno import without_premise

        queries += [q for q in [without_premise(query)] if q not in queries]
    passages, relevance = _search_all(queries, idx, settings.replace(k=width))
    timings = {"retrieve": time.perf_counter() - started}
    on_topic = is_on_topic(query, passages, relevance, settings) or shape == "summary" and _names_documents(query, idx, settings)
    out: Renderer | None = None
    composed, shorts = None, []
    consulted = passages[: settings.k]
    if on_topic:
        if not hasattr(backend, "chat"):  # a backend that only picks sentences (extractive): one sentence, quoted;
            # it cannot weigh a yes or a no, so a question whether something is so is declined (with the closest
            # passages), also one that asks a fact besides ("Did they sign, and on what date?")
            parts, evidence, composed = _fact("yesno" if asks_whether(query) else "factoid", query, question, passages,
                                              idx, settings, backend)
        elif shape in ("factoid", "list") and (asks := asks_several(query)) and (
                several := _several(asks, idx, settings, backend, context_of(query))) is not None:
            parts, (composed, consulted) = [], several
        elif shape in ("factoid", "arithmetic", "yesno"):
            parts, evidence, composed = _fact(shape, query, question, passages, idx, settings, backend)
        else:
            parts, evidence = _sentences(shape, query, question, passages, idx, settings, backend)
        if composed is None:
            for part in parts:
                out = out or Renderer(evidence)
                claim = out.add(part)
                shorts += [part.short] if part.short else []
                timings.setdefault("first_token", time.perf_counter() - started)
                yield ("\n" if len(out.claims) > 1 else "") + claim.text
            if out is not None:
                consulted = list({e.parent.chunk_id: e.parent for e in evidence}.values())
    timings["generate"] = time.perf_counter() - started - timings["retrieve"]
    if composed is not None:
        text, short, citations, claims = composed
        timings.setdefault("first_token", time.perf_counter() - started)
        yield text
        yield Answer(text, citations, consulted, abstained=False, query=query, timings=_total(timings, started),
                     short=short, claims=claims, shape=shape)
        return
    if out is None:
        yield ABSTAIN
        yield Answer(ABSTAIN, [], consulted, abstained=True, query=query, timings=_total(timings, started),
                     shape=shape, closest=passages[:CLOSEST] if on_topic else [])
        return
    yield Answer(out.text, out.citations, consulted, abstained=False, query=query, timings=_total(timings, started),
                 short="; ".join(shorts), claims=out.claims, shape=shape)


def _fact(shape: str, query: str, question: str, passages: list[Passage], idx, settings: Settings, backend):
    """``(parts, evidence, composed)`` for a one-fact question: a yes/no, a calculation or a span
    (``composed``, as ``span.compose`` makes it); when the span path declines and
    ``settings.factoid_claims``, a sentence answer over the wider claim evidence (``second_reading``)."""
    top = passages[: settings.k]
    if shape == "yesno":
        from .answering.yesno import answer_yes_no, asks_change, by_change, without_premise

        if asks_change(query) is not None and hasattr(backend, "chat"):  # "Did X grow between A and B?": calculated
            evidence = _figure_evidence(query, passages, idx, settings)
            part = by_change(question, evidence, backend, settings) if evidence else None
            if part is not None:
                return [part], evidence, None
        evidence = select_evidence(query, passages, idx, settings)
        evidence += select_evidence(without_premise(query), passages, idx, settings, shown=evidence)
        part = answer_yes_no(question, evidence, backend, settings) if evidence else None
        return ([part] if part is not None else []), evidence, None
    if shape == "arithmetic":
        from .answering.arithmetic import solve

        evidence = _figure_evidence(query, passages, idx, settings)
        parts = solve(question, evidence, backend, settings) if evidence else None
        if parts and _in_asked_unit(question, parts):
            return parts, evidence, None
    evidence, found = _span(query, top, idx, settings, backend)
    composed = span.render(found)
    if composed is not None or not settings.factoid_claims:
        return [], evidence, composed
    return _sentences("factoid", query, question, of_the_countries_asked(query, _more_of(passages, query, idx, settings)),
                      idx, second_reading(settings), backend) + (None,)


def _more_of(passages: list[Passage], query: str, idx, settings: Settings) -> list[Passage]:
    """``passages`` and, up to ``claim_k`` in all, the next passages ``query`` finds in their documents:
    a declined fact is read again from more of the documents found, not from other documents."""
    if len(passages) >= settings.claim_k:
        return passages
    docs, have = {p.doc_id for p in passages}, {p.chunk_id for p in passages}
    found, _ = search(query, idx, settings.replace(k=settings.claim_k))
    more = [p for p in found if p.doc_id in docs and p.chunk_id not in have]
    return passages + more[: settings.claim_k - len(passages)]


def second_reading(settings: Settings) -> Settings:
    """The settings a declined fact is asked again with: its sentences' check must be surer than the
    first reading's (``factoid_claims_check_at``), since they overrule that reading's decline; no
    check stays no check."""
    if settings.check_at <= 0:
        return settings
    return settings.replace(check_at=max(settings.check_at, settings.factoid_claims_check_at))


def _several(asks: list[str], idx, settings: Settings, backend, context: str = "") -> tuple[span.Composed, list[Passage]] | None:
    """A question that asks several things at once ("who led the agency, and which province did they
    meet?"): each ask searched with the ``context`` the question gives before them and answered on
    its own by the span path (read with the context too, checked as asked), the answers joined, each
    line citing its sentence; with the passages consulted. None when no ask is answered."""
    found, consulted = [], {}
    for ask in asks:
        read = f"{context} — {ask}" if context else ask
        passages, relevance = search(read, idx, settings)
        if relevance >= settings.min_relevance:
            evidence, held = _span(read, passages[: settings.k], idx, settings, backend, checked=ask)
            found += held
            if evidence:
                consulted.update({p.chunk_id: p for p in passages[: settings.k]})
    composed = span.render(found)
    return (composed, list(consulted.values())) if composed is not None else None


def _span(query: str, top: list[Passage], idx, settings: Settings, backend,
          checked: str | None = None) -> tuple[list[Evidence], list]:
    """The span path: its evidence (``span_evidence``) and the ``(short answer, sentence)`` parts of the
    backend's reply to it that hold (``span.found``) for ``checked`` (default: ``query``)."""
    evidence = span_evidence(query, top, idx, settings, checked)
    if not evidence:
        return evidence, []
    reply, p_none = span.ask(backend, query, evidence, settings)
    log.debug("raw answer %r", reply)
    return evidence, span.found(checked or query, reply, p_none, evidence, settings, backend)


def span_evidence(query: str, top: list[Passage], idx, settings: Settings, checked: str | None = None) -> list[Evidence]:
    """What the span path reads: the best sentences for ``query`` of the passages of ``top`` about the
    countries ``checked`` (default: ``query``) names — an answer from the others is not taken."""
    return select_evidence(query, of_the_countries_asked(checked or query, top), idx, settings)


def _figure_evidence(query: str, passages: list[Passage], idx, settings: Settings) -> list[Evidence]:
    """What a calculation reads: the table rows of the best passage's document that name what ``query``
    asks for (a statement table is read from its whole page: its header, unit and rows), then the best
    sentences, in the claim budget;
    for one amount asked in a unit, only the row that best names it."""
    from .answering.arithmetic import reads_one_figure
    from .answering.tables import ROWS, rows_for, widen

    read = widen(passages, idx)
    # the rows of one statement set: the best passage's document (another filing's rows of the same name mislead)
    rows = rows_for(query, [p for p in read if p.doc_id == read[0].doc_id], idx, settings, ROWS) if read else []
    if rows and reads_one_figure(query):  # one amount: the row that names it, the model picks its year's figure
        return rows[:1]
    return rows + select_evidence(query, read, idx, settings.replace(
        evidence_tokens=settings.claim_evidence_tokens - sum(count_tokens(e.passage.text) for e in rows),
        evidence=settings.evidence - len(rows)), shown=rows)


_UNIT = re.compile(r"\bhow (?:many|long)\s+(?:\w+\s+)?(days|weeks|months|years|hours|minutes)\b", re.IGNORECASE)


def _in_asked_unit(question: str, parts: list[Part]) -> bool:
    """A calculation answers in the unit the question asks for ("how many years" is not "2 days")."""
    m = _UNIT.search(question)
    units = ("days", "weeks", "months", "years", "hours", "minutes")
    said = [u for u in units if any(u[:-1] in p.text.lower() for p in parts)]
    return not m or not said or m.group(1).lower() in said


def _sentences(shape: str, query: str, question: str, passages: list[Passage], idx, settings: Settings, backend):
    """``(parts, evidence)``: the checked sentences (a generator) of an answer in ``shape``."""
    from .answering.claims import stream_claims

    from .answering.route import sub_questions

    wide = settings.replace(evidence_tokens=settings.claim_evidence_tokens, evidence=3 * settings.evidence)
    sides = sub_questions(query) if shape == "comparison" else []
    if shape == "summary":
        evidence, whole = _summary_evidence(query, passages, idx, wide)
        if whole:  # the collection: a line per document, its title and central statement, each checked
            from .answering.check import check_claim
            from .answering.summary import overview

            return (part for part in overview(evidence) if check_claim(
                question, part.text, [evidence[s] for s in part.sources], backend, settings).ok), evidence
    elif len(sides) >= 2:
        evidence = _comparison_evidence(sides, idx, wide)
    elif _COLLECTION.search(query):  # "… named in these documents": each document's best and most diverse sentences
        from .answering.summary import across_documents

        evidence = across_documents(query, idx, wide, n=2 * settings.claim_k)
    else:
        evidence = select_evidence(query, passages[: settings.claim_k], idx, wide, antecedents=True,
                                   consequents=shape == "explanation")
    return stream_claims(query, shape, evidence, backend, settings, asked=question, sides=sides), evidence


def _summary_evidence(query: str, passages: list[Passage], idx, settings: Settings) -> tuple[list[Evidence], bool]:
    """What a summary reads, and whether it is the whole collection's: the named documents' central
    sentences, a card per document for the collection, else the retrieved passages' most relevant
    and diverse sentences."""
    from .answering import summary

    budget = settings.evidence_tokens
    docs = summary.find_documents(query, idx, settings)
    if docs:
        per = max(3, 8 // len(docs[:3]))
        return [e for d in docs[:3] for e in summary.central_sentences(d, idx, settings, n=per)], False
    if _COLLECTION.search(query):
        return summary.collection_cards(idx, settings, n=1, budget=budget), True
    return summary.topic_sentences(query, passages, idx, settings), False


def is_on_topic(query: str, passages: list[Passage], relevance: float, settings: Settings) -> bool:
    """The documents may answer ``query``: its best passage's cosine (``relevance``) reaches
    ``min_relevance``, or that passage holds all of its names (``_names_held``)."""
    return relevance >= settings.min_relevance or _names_held(query, passages)


def _names_held(query: str, passages: list[Passage]) -> bool:
    """The best passage holds every name of the question, and it has several ("Michael C. Morgan"): a
    question about what the documents name is on topic however far its meaning seems (the embedder
    weighs a person's name little); one common name ("Canada") is not enough."""
    from .evidence import specific_terms, terms_of

    names = specific_terms(query)
    return len(names) >= 2 and bool(passages) and names <= terms_of(passages[0].text)


def _names_documents(query: str, idx, settings: Settings) -> bool:
    """The question asks about named documents or the whole collection (not a topic to search for)."""
    from .answering.summary import find_documents

    return bool(_COLLECTION.search(query) or find_documents(query, idx, settings))


def _comparison_evidence(sides: list[str], idx, settings: Settings) -> list[Evidence]:
    """Evidence for each side of a comparison (its sub-questions), an equal share of the budget each."""
    share = settings.replace(evidence_tokens=settings.evidence_tokens // len(sides), evidence=settings.evidence // len(sides))
    evidence: list[Evidence] = []
    for side in sides:
        found, _ = search(side, idx, settings.replace(k=settings.claim_k))
        evidence += select_evidence(side, found, idx, share, shown=evidence, antecedents=True)
    return evidence


def _search_all(queries: list[str], index: Index, settings: Settings) -> tuple[list, float]:
    """Search each query (a condensed follow-up and its literal wording) and fuse the rankings."""
    if len(queries) == 1:
        return search(queries[0], index, settings)
    fused, by_id, relevance = {}, {}, 0.0
    for query in queries:
        passages, rel = search(query, index, settings)
        relevance = max(relevance, rel)
        for rank, p in enumerate(passages):
            by_id[p.chunk_id] = p
            fused[p.chunk_id] = fused.get(p.chunk_id, 0.0) + 1 / (settings.rrf_k + rank + 1)
    order = sorted(fused, key=fused.__getitem__, reverse=True)[: settings.k]
    return [by_id[c] for c in order], relevance


def answer(question: str, index: Index | Path | str | None = None, k: int | None = None,
           history: History | None = None, settings: Settings | None = None, **overrides) -> Answer:
    """Answer ``question`` from the index with numbered, verified citations, or abstain."""
    for item in stream_answer(question, index=index, k=k, history=history, settings=settings, **overrides):
        if isinstance(item, Answer):
            return item
    raise RuntimeError("stream_answer ended without an Answer")


def _total(timings: dict[str, float], started: float) -> dict[str, float]:
    timings["total"] = time.perf_counter() - started
    return {k: round(v, 4) for k, v in timings.items()}
