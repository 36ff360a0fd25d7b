"""Metrics: ranking quality through ir-measures, evidence hits, answer and latency figures."""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

RETRIEVAL_MEASURES = ("nDCG@10", "R@10", "R@100", "RR@10")
_MARKER = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]")


# --- ranking -------------------------------------------------------------------------
def ranked_run(ranking: dict[str, Sequence[str]]) -> dict[str, dict[str, float]]:
    """A run from ranked id lists, with strictly decreasing scores so ties cannot reorder it."""
    return {qid: {doc: float(len(docs) - i) for i, doc in enumerate(docs)} for qid, docs in ranking.items()}


def retrieval_metrics(qrels: dict[str, dict[str, int]], ranking: dict[str, Sequence[str]],
                      measures: Iterable[str] = RETRIEVAL_MEASURES) -> dict[str, float]:
    """Mean of each measure over all judged queries (ir-measures scores an unretrieved query 0)."""
    import ir_measures

    parsed = [ir_measures.parse_measure(m) for m in measures]
    run = {q: docs for q, docs in ranked_run({q: ranking.get(q, ()) for q in qrels}).items() if docs}
    totals = ir_measures.calc_aggregate(parsed, qrels, run) if run else {}
    return {str(m): float(totals.get(m, 0.0)) for m in parsed}


def per_query(qrels: dict[str, dict[str, int]], ranking: dict[str, Sequence[str]], measure: str = "nDCG@10") -> dict[str, float]:
    """One measure for every judged query (0 where nothing was retrieved)."""
    import ir_measures

    m = ir_measures.parse_measure(measure)
    run = {q: d for q, d in ranked_run({q: ranking.get(q, ()) for q in qrels}).items() if d}
    out = {q: 0.0 for q in qrels}
    for row in ir_measures.iter_calc([m], qrels, run):
        out[row.query_id] = float(row.value)
    return out


# --- evidence ------------------------------------------------------------------------
def evidence_span(doc_text: str, evidence: str) -> tuple[int, int] | None:
    """Where ``evidence`` sits in the cleaned document text (whitespace-insensitive fallback)."""
    at = doc_text.find(evidence)
    if at >= 0:
        return at, at + len(evidence)
    pattern = r"\s+".join(re.escape(w) for w in evidence.split())
    m = re.search(pattern, doc_text)
    return (m.start(), m.end()) if m else None


def passage_has_evidence(passage, doc_id: str, evidence: str, span: tuple[int, int] | None) -> bool:
    """The passage is from the gold document and contains the evidence, verbatim or by covering
    at least half of its span in the cleaned document text."""
    if passage.doc_id != doc_id:
        return False
    if evidence in passage.text:
        return True
    if span is None:
        return False
    overlap = min(passage.end, span[1]) - max(passage.start, span[0])
    return overlap >= (span[1] - span[0]) / 2


# --- answers -------------------------------------------------------------------------
def normalize(text: str) -> str:
    """Lower case, citation markers removed, whitespace collapsed."""
    return " ".join(_MARKER.sub(" ", text).lower().split())


def has_fact(text: str, fact: str) -> bool:
    return normalize(fact) in normalize(text)


_QUOTED = re.compile(r"\s*—\s*“[^”]*”")


def said(text: str) -> str:
    """What an answer says in its own words: without the sentences it quotes beside them
    ("Oh Tae-seok [1] — “…”" says "Oh Tae-seok [1]"), so it is graded by what it says."""
    return _QUOTED.sub("", text)


def facts_present(text: str, facts: Sequence[str]) -> bool:
    return bool(facts) and all(has_fact(text, f) for f in facts)


def precision_recall(predicted: set[str], gold: set[str]) -> tuple[float, float]:
    hit = len(predicted & gold)
    return (hit / len(predicted) if predicted else 0.0), (hit / len(gold) if gold else 0.0)


def mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return float(np.mean(values)) if values else None


def percentiles(values: Iterable[float], qs: Sequence[int] = (50, 95)) -> dict[str, float | None]:
    """``{"p50": ..., "p95": ...}`` in seconds (None when there is nothing to measure)."""
    values = [v for v in values if v is not None]
    return {f"p{q}": (float(np.percentile(values, q)) if values else None) for q in qs}
