"""Runners: cached indexes, the retrieval grid, seeds evidence hits and answer runs."""
from __future__ import annotations

import hashlib
import inspect
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from rag.config import Settings
from rag.generate.base import BackendError
from rag.index import FORMAT, Index, open_index
from rag.load import short_id

from . import metrics
from .datasets import QA, BeirDataset, seeds_qrels

DOC_DEPTH = 100  # documents ranked per query
HIT_KS = (1, 3, 5, 10)


# --- indexes -------------------------------------------------------------------------
@dataclass
class BuiltIndex:
    """An index ready to search, and how fast it was built (chunks embedded per second)."""

    index: Index
    root: Path
    build: dict = field(default_factory=dict)


def _fingerprint(paths: list[Path], settings: Settings) -> str:
    """Changes when the corpus (its place or content), the chunker, the embedder or what gets embedded changes."""
    from rag import chunk

    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(str(Path(path).resolve()).encode())  # ids carry the origin: another copy is another index
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            h.update(file.name.encode())
            h.update(hashlib.sha256(file.read_bytes()).digest())
    config = {"format": FORMAT, "embedder": settings.embedder, "size": settings.chunk_size,
              "overlap": settings.chunk_overlap, "code": inspect.getsource(Index.chunk_text)
              + inspect.getsource(chunk.chunk_document)}
    h.update(json.dumps(config, sort_keys=True).encode())
    return h.hexdigest()[:10]


def cached_index(name: str, paths: list[Path], settings: Settings, cache_root: Path | None = None,
                 progress: bool = True) -> BuiltIndex:
    """Ingest ``paths`` into ``<cache>/eval/<name>-<fingerprint>`` (a no-op when already there)."""
    import rag
    from rag.embed import get_embedder

    root = (cache_root or settings.cache_dir / "eval") / f"{name}-{_fingerprint(paths, settings)}"
    get_embedder(settings.embedder, settings.threads).encode(["warm up"])  # model loading is not ingest time
    report = rag.ingest(paths, settings.replace(index_dir=root), progress=progress)
    stats = root / "eval-build.json"
    if report.chunks_embedded:
        stats.write_text(json.dumps({"chunks": report.chunks_embedded, "seconds": round(report.seconds, 2),
                                     "chunks_per_s": round(report.chunks_embedded / report.seconds, 2)}))
    build = json.loads(stats.read_text()) if stats.exists() else {}
    index = open_index(root)
    index.exact_limit = settings.exact_limit
    return BuiltIndex(index, root, {**build, "documents": len(index.documents), "chunks_total": len(index.chunks)})


def throughput(paths: list[Path], settings: Settings, sample: int = 200) -> dict:
    """Ingest (up to) ``sample`` documents into a scratch index and report chunks/s, then time the
    bare embedder on the very same chunk texts (sentences/s); ``sample`` 0 skips the timing."""
    import rag

    if sample <= 0:
        return {"sample_documents": 0, "sample_chunks": 0, "ingest_chunks_per_s": None, "encoder_sentences_per_s": None}
    from rag.embed import get_embedder

    embedder = get_embedder(settings.embedder, settings.threads)
    embedder.encode(["warm up"])
    with tempfile.TemporaryDirectory() as tmp:
        inputs = [_sample_lines(p, sample, Path(tmp)) if p.suffix == ".jsonl" else p for p in paths]
        started = time.perf_counter()
        rag.ingest(inputs, settings.replace(index_dir=Path(tmp) / "index"), progress=False)
        ingest_s = time.perf_counter() - started
        index = Index.load(Path(tmp) / "index")
    texts = [Index.chunk_text(c) for c in index.chunks]
    started = time.perf_counter()
    embedder.encode(texts, batch_size=settings.batch_size)
    encode_s = time.perf_counter() - started
    return {"sample_documents": len(index.documents), "sample_chunks": len(texts),
            "ingest_chunks_per_s": round(len(texts) / ingest_s, 2), "encoder_sentences_per_s": round(len(texts) / encode_s, 2)}


def _sample_lines(path: Path, n: int, folder: Path) -> Path:
    """Every k-th line of a JSONL corpus, ``n`` lines in all, written to ``folder``."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    target = folder / path.name
    target.write_text("\n".join(lines[:: max(1, len(lines) // n)][:n]) + "\n", encoding="utf-8")
    return target


# --- retrieval configurations ------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """One row of the configuration grid: a search mode plus search options."""

    name: str
    mode: str
    options: tuple = ()
    note: str = ""


VARIANTS = {v.name: v for v in (
    Variant("bm25", "bm25", note="BM25 only (bm25s k1=0.9 b=0.4, stemmed, title + chunk)"),
    Variant("dense", "dense", note="dense only (all-MiniLM-L6-v2 cosine, title + chunk)"),
    Variant("rrf", "hybrid", (("fusion", "rrf"),), note="hybrid, reciprocal rank fusion (rrf_k=60), the previous default"),
    Variant("convex", "hybrid", (("fusion", "convex"),), note="hybrid, min-max normalised convex fusion"),
    Variant("prf", "hybrid", (("prf", 5),), note="default + Rocchio pseudo-relevance feedback (top 5 passages)"),
    Variant("default", "hybrid", note="the default path of rag.retrieve / rag.answer (convex fusion, equal weights)"),
)}
DEFAULT_GRID = ("bm25", "dense", "rrf", "prf", "default")


def rank_documents(queries: dict[str, str], index: Index, settings: Settings, variants: list[Variant],
                   depth: int = DOC_DEPTH, desc: str = "") -> list[tuple[dict[str, list[str]], list[float]]]:
    """Per variant: document rankings (max-passage) and per-query latencies in seconds.

    The variants take turns on each query, so a busy machine slows them alike.
    """
    from rag.search import search_documents

    out = [({}, []) for _ in variants]
    for qid, text in tqdm(queries.items(), desc=desc, unit="q"):
        for variant, (ranking, latencies) in zip(variants, out):
            started = time.perf_counter()
            docs = search_documents(text, index, settings, n=depth, mode=variant.mode, **dict(variant.options))
            latencies.append(time.perf_counter() - started)
            ranking[qid] = [short_id(doc_id) for doc_id, _ in docs]  # BEIR _ids
    return out


def run_grid(name: str, queries: dict[str, str], qrels: dict[str, dict[str, int]], built: BuiltIndex,
             settings: Settings, variants: list[Variant], speed: dict) -> list[dict]:
    """One result row per variant: quality, latency and throughput."""
    rows = []
    runs = rank_documents(queries, built.index, settings, variants, desc=f"{name} ({len(variants)} configurations)")
    for variant, (ranking, latencies) in zip(variants, runs):
        rows.append({
            "variant": variant.name, "mode": variant.mode, "options": dict(variant.options), "note": variant.note,
            **metrics.retrieval_metrics(qrels, ranking),
            "latency": metrics.percentiles(latencies),
            "ingest_chunks_per_s": speed["ingest_chunks_per_s"],
            "encoder_sentences_per_s": speed["encoder_sentences_per_s"],
            "per_query_ndcg10": metrics.per_query(qrels, ranking),
        })
    return rows


def run_beir(dataset: BeirDataset, settings: Settings, variants: list[Variant], sample: int = 200,
             cache_root: Path | None = None, limit: int | None = None) -> dict:
    """Index (or reuse) the corpus, then evaluate every variant on the split's queries."""
    built = cached_index(dataset.name, [dataset.corpus], settings, cache_root)
    queries = dict(list(dataset.queries.items())[:limit]) if limit else dataset.queries
    qrels = {q: dataset.qrels[q] for q in queries}
    speed = throughput([dataset.corpus], settings, sample)
    return {
        "dataset": dataset.name, "split": dataset.split, "queries": len(queries), "judgments": sum(map(len, qrels.values())),
        "documents": dataset.n_docs, "index": {**built.build, "path": str(built.root)}, "throughput": speed,
        "grid": run_grid(dataset.name, queries, qrels, built, settings, variants, speed),
    }


# --- the seeds set ----------------------------------------------------------------------
def gold_ids(row: QA, index: Index) -> list[str]:
    """The index ids of a seeds question's gold documents (``seeds_qa.jsonl`` names their source paths)."""
    return [d.doc_id for d in index.documents.values() if d.source in row.doc_ids]


def evidence_ranks(row: QA, passages: list, index: Index) -> list[int | None]:
    """For each gold evidence string, the rank (0-based) of the first passage holding it, or None."""
    ranks = []
    for evidence in row.evidence:
        spans = [(d, metrics.evidence_span(index.documents[d].text, evidence)) for d in gold_ids(row, index)]
        ranks.append(next((i for i, p in enumerate(passages)
                           if any(metrics.passage_has_evidence(p, d, evidence, span) for d, span in spans)), None))
    return ranks


def evidence_hits(rows: list[QA], index: Index, settings: Settings, variant: Variant,
                  ks: tuple[int, ...] = HIT_KS) -> dict:
    """Passage hit@k (a top-k passage holds a gold evidence span) and evidence recall@k."""
    from rag.search import search

    per_q, latencies, ranking = {}, [], {}
    answerable = [r for r in rows if r.answerable and r.evidence]
    for row in tqdm(answerable, desc=f"seeds:{variant.name}", unit="q", leave=False):
        started = time.perf_counter()
        passages, _ = search(row.question, index, settings, k=max(ks), mode=variant.mode, **dict(variant.options))
        latencies.append(time.perf_counter() - started)
        ranking[row.id] = list(dict.fromkeys(short_id(p.doc_id) for p in passages))
        ranks = evidence_ranks(row, passages, index)
        per_q[row.id] = {"type": row.type, "evidence_ranks": ranks,
                         "first_hit": min((r for r in ranks if r is not None), default=None)}
    out = {"variant": variant.name, "questions": len(answerable), "latency": metrics.percentiles(latencies),
           **metrics.retrieval_metrics(seeds_qrels(rows), ranking, ("nDCG@10", "R@10", "RR@10"))}
    for k in ks:
        out[f"hit@{k}"] = metrics.mean(q["first_hit"] is not None and q["first_hit"] < k for q in per_q.values())
        out[f"evidence_recall@{k}"] = metrics.mean(
            sum(r is not None and r < k for r in q["evidence_ranks"]) / len(q["evidence_ranks"]) for q in per_q.values())
    out["misses@5"] = [qid for qid, q in per_q.items() if q["first_hit"] is None or q["first_hit"] >= 5]
    return out


@dataclass(frozen=True)
class BackendSpec:
    backend: str
    model: str = ""

    @property
    def label(self) -> str:
        return f"{self.backend}:{self.model}" if self.model else self.backend

    def settings(self, base: Settings) -> Settings:
        return base.replace(backend=self.backend, llm_model=self.model or None)


def score_answer(row: QA, answer, index: Index | None = None) -> dict:
    """The record of one answer: correctness, citations against the gold, timings, and (given the
    index) whether gold evidence was among the passages the backend saw."""
    cited = list(dict.fromkeys(short_id(c.doc_id) for c in answer.citations))  # as in seeds_qa.jsonl
    record = {"id": row.id, "type": row.type, "abstained": bool(answer.abstained), "text": answer.text,
              "cited": cited, "timings": answer.timings}
    if not row.answerable:
        return record
    correct = not answer.abstained and metrics.facts_present(metrics.said(answer.text), row.answer_facts)
    precision, recall = metrics.precision_recall(set(cited), set(row.doc_ids))
    supported = [any(metrics.has_fact(c.quote, f) for f in row.answer_facts) for c in answer.citations]
    passage_supported = [any(metrics.has_fact(c.text, f) for f in row.answer_facts) for c in answer.citations]
    record.update(correct=correct, correct_cited=correct and bool(set(cited) & set(row.doc_ids)),
                  citation_precision=precision if cited else None, citation_recall=recall,
                  quote_support=supported, passage_support=passage_supported)
    if index is not None:
        record["evidence_in_context"] = any(r is not None for r in evidence_ranks(row, answer.passages, index))
    return record


def summarize_answers(records: list[dict]) -> dict:
    """Aggregate answer records: per-type correctness, citations, abstention, latency."""
    ans = [r for r in records if r["type"] != "unanswerable"]
    una = [r for r in records if r["type"] == "unanswerable"]
    abstained = [r for r in records if r["abstained"]]
    flat = lambda key: [x for r in ans for x in r.get(key, [])]  # noqa: E731
    out = {
        "questions": len(records), "answerable": len(ans), "unanswerable": len(una),
        "correct": metrics.mean(r["correct"] for r in ans),
        "correct_cited": metrics.mean(r["correct_cited"] for r in ans),
        "citation_precision": metrics.mean(r["citation_precision"] for r in ans if r["citation_precision"] is not None),
        "citation_recall": metrics.mean(r["citation_recall"] for r in ans),
        "citation_support": metrics.mean(flat("quote_support")),
        "passage_support": metrics.mean(flat("passage_support")),
        "abstention_precision": (sum(r["type"] == "unanswerable" for r in abstained) / len(abstained)) if abstained else None,
        "abstention_recall": metrics.mean(r["abstained"] for r in una),
        "false_abstentions": sum(r["abstained"] for r in ans),
        "evidence_in_context": metrics.mean(r["evidence_in_context"] for r in ans if "evidence_in_context" in r),
        "correct_cited_given_evidence": metrics.mean(r["correct_cited"] for r in ans if r.get("evidence_in_context")),
        "ttft": metrics.percentiles(r["timings"].get("first_token") for r in records),
        "total": metrics.percentiles(r["timings"].get("total") for r in records),
        "by_type": {t: metrics.mean(r["correct_cited"] for r in ans if r["type"] == t)
                    for t in dict.fromkeys(r["type"] for r in ans)},
    }
    return out


def run_answers(rows: list[QA], index: Index, settings: Settings, spec: BackendSpec) -> dict:
    """Answer every seeds question with one backend (after one untimed warm-up answer)."""
    import rag

    s = spec.settings(settings)
    rag.answer(rows[0].question, index=index, settings=s)  # loads the model: keep it out of the timings
    records = []
    for row in tqdm(rows, desc=f"answers:{spec.label}", unit="q", leave=False):
        records.append(score_answer(row, rag.answer(row.question, index=index, settings=s), index))
    return {"backend": spec.label, **summarize_answers(records), "records": records}


def run_seeds(rows: list[QA], settings: Settings, variants: list[Variant], backends: list[BackendSpec],
              sample: int = 200, cache_root: Path | None = None) -> dict:
    """Evidence hits per retrieval variant, then answer metrics per backend."""
    built = cached_index("seeds", [settings.seeds_dir], settings, cache_root)
    speed = throughput([settings.seeds_dir], settings, sample)
    retrieval = []
    for v in variants:
        row = evidence_hits(rows, built.index, settings, v)
        row.update(ingest_chunks_per_s=speed["ingest_chunks_per_s"], encoder_sentences_per_s=speed["encoder_sentences_per_s"])
        retrieval.append(row)
    answers, skipped = [], {}
    for spec in backends:
        try:
            answers.append(run_answers(rows, built.index, settings, spec))
        except BackendError as exc:  # e.g. a model that is not installed: report it, go on
            print(f"skipping backend {spec.label}: {exc}", file=sys.stderr)
            skipped[spec.label] = str(exc)
    return {"dataset": "seeds", "questions": len(rows), "documents": len(built.index.documents),
            "index": {**built.build, "path": str(built.root)}, "throughput": speed,
            "retrieval": retrieval, "answers": answers, "skipped_backends": skipped}
