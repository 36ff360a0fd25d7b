"""FinanceBench: all 23 filings in one index, then each of the 54 questions asked of it.

    rag eval --financebench ../shared/datasets/financebench [--backends local,extractive]
    rag eval --financebench ../shared/datasets/financebench --grid bm25   # BM25 only, nothing embedded

Measures, per the issue's definitions:
- ingest pages/s for the whole collection (model load excluded, a fresh index);
- evidence hit@5 / hit@20: a retrieved passage of the right filing has at least
  ``EVIDENCE_SHARE`` of its distinct words in the question's ``evidence_text``;
- right filing in the top 5 documents (max-passage document ranking);
- per answer backend: the answer cites the right filing; cites the right page (an evidence page);
  correctness by numeric/phrase match against the gold answer (see ``correct``);
- everything again on the dev half (questions sorted by id, first half) as the issue's targets use.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import re
import time
from pathlib import Path

from rag.config import Settings

EVIDENCE_SHARE = 0.6
HIT_KS = (5, 20)
WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
NUMBER = re.compile(r"-?\(?\$?\d[\d,]*(?:\.\d+)?")
YEAR = re.compile(r"^(19|20)\d\d$")
STOP = set("a an and are as at be by for from has have in is it its of on or the to was were will with "
           "this that which fy".split())


def load_questions(folder: Path) -> list[dict]:
    rows = [json.loads(line) for line in (folder / "questions.jsonl").read_text().splitlines() if line.strip()]
    return sorted(rows, key=lambda r: r["financebench_id"])


def words(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if w not in STOP}


def evidence_hit(passage_text: str, evidence: str) -> bool:
    """A passage that shares most of its words with the evidence text."""
    mine = words(passage_text)
    return bool(mine) and len(mine & words(evidence)) / len(mine) >= EVIDENCE_SHARE


def numbers(text: str) -> list[float]:
    out = []
    for raw in NUMBER.findall(text):
        bare = raw.strip("($")
        digits = bare.replace(",", "")
        if not digits or YEAR.match(bare):  # "2018" is a year, "2,018" a figure
            continue
        try:
            out.append(float(digits))
        except ValueError:
            continue
    return out


def correct(answer: str, gold: str) -> bool:
    """Numeric match when the gold answer holds a figure (any gold figure within 1%, sign-free, of a
    figure in the answer); else most (≥ 60%) of the gold answer's content words in the answer."""
    wanted = numbers(gold)
    if wanted:
        got = [abs(x) for x in numbers(answer)]
        return any(abs(abs(w) - g) <= 0.01 * max(abs(w), 1e-9) for w in wanted for g in got)
    gold_words = words(gold)
    return bool(gold_words) and len(gold_words & words(answer)) / len(gold_words) >= 0.6


def build(folder: Path, settings: Settings, cache: Path | None) -> tuple[Path, dict]:
    """Ingest every filing into a fresh index; return it and the ingest speed.

    The index is kept (``<cache>/eval/financebench``) and rebuilt when the filings, the reading and
    chunking code or the chunker settings change. An interrupted build resumes from the chunks it
    had embedded (the ingest's partial batches); its speed is then not reported.
    """
    import rag
    from rag import chunk, load, readers
    from rag.embed import get_embedder
    from rag.index import Index

    h = hashlib.sha256()
    for pdf in sorted((folder / "pdfs").glob("*.pdf")):
        h.update(pdf.name.encode() + hashlib.sha256(pdf.read_bytes()).digest())
    for module in (chunk, load, readers):
        h.update(inspect.getsource(module).encode())
    h.update(json.dumps([settings.embedder, settings.chunk_size, settings.chunk_overlap]).encode())
    fingerprint = h.hexdigest()[:10]
    root = (cache or settings.cache_dir / "eval") / "financebench"
    stats = root / "eval-build.json"
    built = json.loads(stats.read_text()) if stats.exists() else {}
    if built.get("fingerprint") != fingerprint:
        get_embedder(settings.embedder, settings.threads).encode(["warm up"])  # model load is not ingest time
        resumed = (root / ".embedding-partial").exists()
        report = rag.ingest([folder / "pdfs"], settings.replace(index_dir=root), rebuild=True)
        index = Index.load(root)
        pages = sum(len(d.pages) for d in index.documents.values())
        built = {
            "fingerprint": fingerprint, "documents": len(index.documents), "pages": pages, "chunks": len(index.chunks),
            "skipped": [f"{s.path}: {s.reason}" for s in report.skipped], "seconds": round(report.seconds, 1),
            "chunks_embedded": report.chunks_embedded, "resumed": resumed,
            "pages_per_s": None if resumed else round(pages / report.seconds, 2),
            "chunks_per_s": None if resumed else round(len(index.chunks) / report.seconds, 2),
        }
        stats.write_text(json.dumps(built))
    return root, built


def lexical_index(folder: Path, settings: Settings) -> tuple:
    """All filings read and chunked exactly as ingest does, in memory, with BM25 and no embeddings
    (zero vectors): enough to measure ``mode="bm25"`` retrieval when embedding all chunks is too slow."""
    import numpy as np

    from rag.chunk import chunk_document
    from rag.embed import get_embedder
    from rag.index import Index
    from rag.load import iter_files, read_documents

    started = time.perf_counter()
    docs = {d.doc_id: d for f, r in iter_files([folder / "pdfs"]) for d in read_documents(f, r)}
    chunks = [c for d in docs.values() for c in chunk_document(d, settings.chunk_size, settings.chunk_overlap)]
    dim = get_embedder(settings.embedder, settings.threads).dimension
    index = Index(Index.make_config(settings, dim), docs, chunks, np.zeros((len(chunks), dim), np.float32))
    index.bm25  # built now, so its time counts
    seconds = time.perf_counter() - started
    pages = sum(len(d.pages) for d in docs.values())
    return index, {"documents": len(docs), "pages": pages, "chunks": len(chunks), "skipped": [],
                   "seconds": round(seconds, 1), "chunks_embedded": 0, "resumed": False, "lexical only": True,
                   "pages_per_s": round(pages / seconds, 2), "chunks_per_s": round(len(chunks) / seconds, 2)}


def run_financebench(folder: Path, settings: Settings, specs: list, cache: Path | None = None,
                     lexical: bool = False) -> dict:
    """Build the index, then measure retrieval and each answer backend (``BackendSpec`` list).

    ``lexical``: BM25 retrieval over an in-memory index without embeddings, and no answers.
    """
    import rag
    from rag.index import open_index
    from rag.search import search, search_documents

    questions = load_questions(folder)
    if lexical:
        index, build_stats = lexical_index(folder, settings)
        settings, specs = settings.replace(mode="bm25"), []
    else:
        root, build_stats = build(folder, settings, cache)
        settings = settings.replace(index_dir=root)
        index = open_index(root)
    per_q = []
    for q in questions:
        passages, _ = search(q["question"], index, settings, k=max(HIT_KS))
        # Ids are origin-qualified ("pdfs-…/3M_2018_10K.pdf"): filings are matched by source, the file name.
        docs = [index.documents[d].source for d, _ in search_documents(q["question"], index, settings, n=5)]
        filing = f"{q['doc_name']}.pdf"
        evidence = [e["evidence_text"] for e in q["evidence"]]
        row = {"id": q["financebench_id"], "filing": filing, "gold": q["answer"],
               "pages": sorted({int(e["evidence_page_num"]) + 1 for e in q["evidence"]}),
               "filing@5": filing in docs, "answers": {}}
        for k in HIT_KS:
            row[f"hit@{k}"] = any(p.source == filing and any(evidence_hit(p.text, ev) for ev in evidence)
                                  for p in passages[:k])
        per_q.append(row)
    for spec in specs:
        for q, row in zip(questions, per_q):
            started = time.perf_counter()
            a = rag.answer(q["question"], settings=spec.settings(settings))
            row["answers"][spec.label] = {
                "text": a.text, "abstained": a.abstained, "seconds": round(time.perf_counter() - started, 2),
                "cites_filing": any(c.source == row["filing"] for c in a.citations),
                "cites_page": any(c.source == row["filing"] and c.page in row["pages"] for c in a.citations),
                "correct": correct(a.text, q["answer"]) and not a.abstained,
                "citations": [f"{c.source} {c.page_label}" for c in a.citations],
            }
            print(f"{spec.label} {row['id']}: {'OK ' if row['answers'][spec.label]['correct'] else '-- '}"
                  f"{a.text[:100]!r}", flush=True)
    half = len(per_q) // 2
    summary = {name: _summary(rows, [s.label for s in specs])
               for name, rows in (("all", per_q), ("dev", per_q[:half]), ("test", per_q[half:]))}
    return {"build": build_stats, "summary": summary, "questions": per_q}


def _summary(rows: list[dict], systems: list[str]) -> dict:
    mean = lambda xs: round(sum(xs) / len(xs), 3) if xs else 0.0  # noqa: E731
    out = {"questions": len(rows), "filing@5": mean([r["filing@5"] for r in rows])}
    out.update({f"evidence hit@{k}": mean([r[f"hit@{k}"] for r in rows]) for k in HIT_KS})
    for s in systems:
        ans = [r["answers"][s] for r in rows]
        out[s] = {"cites filing": mean([a["cites_filing"] for a in ans]), "cites page": mean([a["cites_page"] for a in ans]),
                  "correct": mean([a["correct"] for a in ans]), "abstained": mean([a["abstained"] for a in ans]),
                  "p50 s": sorted(a["seconds"] for a in ans)[len(ans) // 2] if ans else 0.0}
    return out


def markdown(result: dict, command: str) -> str:
    b, s = result["build"], result["summary"]
    speed = (f"read, chunked and BM25-indexed at {b['pages_per_s']} pages/s, **no embeddings: retrieval is BM25 "
             f"only**" if b.get("lexical only") else
             f"**{b['pages_per_s']} pages/s** ({b['chunks_per_s']} chunks/s)" if b["pages_per_s"] else
             f"speed not measured (the build resumed an interrupted one; {b['chunks_embedded']} chunks embedded here)")
    lines = ["# FinanceBench (23 filings, 54 questions)", "", f"Command: `{command}`", "",
             f"Ingest: {b['documents']} filings, {b['pages']} pages, {b['chunks']} chunks in {b['seconds']} s — "
             f"{speed}; skipped: {len(b['skipped'])}.", "",
             "| split | questions | right filing in top 5 | evidence hit@5 | evidence hit@20 |", "|---|---|---|---|---|"]
    lines += [f"| {n} | {v['questions']} | {v['filing@5']} | {v['evidence hit@5']} | {v['evidence hit@20']} |"
              for n, v in s.items()]
    systems = [k for k in s["all"] if isinstance(s["all"][k], dict)]
    if systems:
        lines += ["", "| split | backend | cites right filing | cites right page | correct | abstained | p50 s |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {n} | {sys_} | {v[sys_]['cites filing']} | {v[sys_]['cites page']} | {v[sys_]['correct']} | "
                  f"{v[sys_]['abstained']} | {v[sys_]['p50 s']} |" for n, v in s.items() for sys_ in systems]
    return "\n".join(lines) + "\n"


def main(args, settings: Settings, specs: list, argv: list[str]) -> int:
    """``rag eval --financebench DIR``: run, then write results.json and report.md to <out>/financebench."""
    import shlex

    command = "rag eval " + shlex.join(argv)
    lexical = args.grid == "bm25"
    result = run_financebench(args.financebench, settings, specs, args.cache, lexical=lexical)
    out = args.out / ("financebench-bm25" if lexical else "financebench")
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"command": command, **result}, indent=1, ensure_ascii=False))
    text = markdown(result, command)
    (out / "report.md").write_text(text)
    print(text + f"\nwrote {out / 'report.md'}, {out / 'results.json'}")
    return 0
