"""FinanceBench: all 23 filings in one index, then each of the 54 questions asked of it.

    rag eval --financebench ../shared/datasets/financebench [--backends local,extractive]
    rag eval --financebench ../shared/datasets/financebench --grid bm25   # BM25 only, nothing embedded

Measures, per the issue's definitions:
- ingest pages/s for the whole collection (model load excluded, a fresh index);
- evidence hit@5 / hit@20: a retrieved passage of the right filing has at least
  ``EVIDENCE_SHARE`` of its distinct words in the question's ``evidence_text``;
- right filing in the top 5 documents (max-passage document ranking);
- per answer backend: correct (``grade_answer``: figures within the gold's precision, yes/no
  polarity, or the gold's key terms), cites the right filing, cites the right page (an evidence
  page), declined;
- everything again on the dev/test halves (questions sorted by id), per question_type and per
  kind of gold (figure, yes/no, terms).
"""
from __future__ import annotations

import hashlib
import inspect
import json
import re
import time
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from rag.config import Settings

EVIDENCE_SHARE = 0.6
HIT_KS = (5, 20)
WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
STOP = set("a an and are as at be by for from has have in is it its of on or the to was were will with "
           "this that which fy".split())
QUESTION_TYPES = ("metrics-generated", "novel-generated", "domain-relevant")

# --- the answer grader ----------------------------------------------------------------------------
TERMS_SHARE = 0.6  # share of the gold's own content words (those not in the question) the answer must hold
FIGURE_WORDS = 3  # a gold with a figure and at most this many content words of its own is graded by its figures
LARGE = 1000  # figures at least this large may differ by RELATIVE (a sum of rounded rows, a ratio of them)
RELATIVE = Decimal("0.005")
_NOTE = re.compile(r"\s*The answer here assumes\b.*", re.IGNORECASE | re.DOTALL)  # the annotators' remark, not the answer
_FIGURE = re.compile(
    r"(?<![\w.,])(?P<sign>[-−–]\s*|\()?[$€£]?\s*(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:\s*(?P<pct>%|percent(?:age)?(?:\s+points?)?\b|per\s*cent\b)"
    r"|\s*(?P<unit>thousand|million|billion|trillion)\b|(?P<abbr>k|m|mn|mm|b|bn|x)\b)?(?![\w])", re.IGNORECASE)
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?"
          r"|nov(?:ember)?|dec(?:ember)?)\b\.?")
_DATE = re.compile(rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}"
                   rf"(?:,?\s+\d{{4}})?", re.IGNORECASE)  # "August 30, 2023", "1st July 2022": no figures
_IN_MILLIONS = re.compile(r"\bin (?:usd |us\$ ?|\$ ?)?millions\b|\busd millions\b", re.IGNORECASE)
_SCALE = {"thousand": 3, "k": 3, "million": 6, "m": 6, "mn": 6, "mm": 6, "billion": 9, "b": 9, "bn": 9, "trillion": 12}
_UNIT_WORDS = set("fy q1 q2 q3 q4 usd dollar dollars million millions billion billions thousand mn bn percent percentage points "
                  "approximately approx around about roughly nearly almost".split())


@dataclass(frozen=True)
class Figure:
    """A figure as written: its absolute value, its decimals, whether a percentage, its scale (10^n, 0: none)."""

    value: Decimal
    decimals: int
    percent: bool = False
    scale: int = 0


def figures(text: str) -> list[Figure]:
    """The figures of ``text``; dates, a bare four-digit year (1900–2099) and numbers inside words
    (FY2022, Q2) are not."""
    out = []
    from rag.cite import MARKER

    for m in _FIGURE.finditer(_DATE.sub(" ", MARKER.sub(" ", text))):
        raw = m["num"].replace(",", "")
        unit = (m["unit"] or m["abbr"] or "").lower()
        if not (m["pct"] or unit or "," in m["num"] or "$" in m.group()) and re.fullmatch(r"(19|20)\d\d", raw):
            continue
        value = Decimal(raw)
        out.append(Figure(value, max(0, -value.as_tuple().exponent), bool(m["pct"]), _SCALE.get(unit, 0)))
    return out


def same_figure(got: Figure, gold: Figure) -> bool:
    """Whether an answer's figure states the gold one, sign-free ("a decline of 0.6%" is "-0.6%").

    Equal within half a unit of the gold's last significant digit ("1,577" is "$1577.00", "381.6" is
    "$382.00", "8.74" is "8.70"), or the gold rounded to
    the answer's digits when the answer keeps at least one decimal ("24.3" for "24.26"), or within
    0.5 % for figures of 1,000 and more. Units: a percentage may be given as a fraction (0.125 for
    12.5%); a scale stated on one side only is read both as written and as millions on the other
    (FinanceBench's unit), so "$1.577 billion" is "$1577.00" and "$411" is "$411 million"."""
    candidates = [got.value]
    if gold.percent and not got.percent:
        candidates.append(got.value * 100)
    if got.scale or gold.scale:  # in the gold's unit; an unscaled side read as written (if one is) and as millions
        shift = (got.scale or 6) - (gold.scale or 6)
        candidates = [c.scaleb(shift) for c in candidates] + (candidates if not (got.scale and gold.scale) else [])
    # the gold's precision is its last significant digit: "$382.00" is 382 (the metrics golds all end in .00)
    digits = min(gold.decimals, max(0, -gold.value.normalize().as_tuple().exponent))
    tolerance = max(Decimal(5).scaleb(-digits - 1), RELATIVE * gold.value if gold.value >= LARGE else Decimal(0))
    for c in candidates:
        if abs(c - gold.value) <= tolerance:
            return True
        places = max(0, -c.normalize().as_tuple().exponent)
        if 1 <= places < gold.decimals and gold.value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP) == c:
            return True
    return False


def _own_words(text: str, question: str) -> set[str]:
    """The stemmed content words of ``text`` that the question does not already hold (numbers and unit words out)."""
    from rag.cite import content_words

    words = {w for w in content_words(text) if not w[0].isdigit()}
    return words - content_words(question) - content_words(" ".join(_UNIT_WORDS))


def gold_kind(gold: str, question: str = "") -> str:
    """How a gold answer is graded: "yesno" (it starts with Yes/No), "figure" (it holds a figure and
    little else of its own) or "terms"."""
    from .synthesis import polarity

    gold = _NOTE.sub("", gold)
    if polarity(gold):
        return "yesno"
    if figures(gold) and len(_own_words(gold, question)) <= FIGURE_WORDS:
        return "figure"
    return "terms"


def grade_answer(answer: str, gold: str, question: str = "") -> dict:
    """``{"kind", "correct", ...}`` of what ``answer`` says (``metrics.said``: a sentence it quotes
    beside it is no part of it): a yes/no gold needs the answer to start with the same word;
    a figure gold needs each of its figures in the answer (``same_figure``; of a calculation, in its
    result); otherwise at least
    ``TERMS_SHARE`` of the gold's own content words (stemmed, not in the question; all of them
    when the question holds every one) must be in the answer."""
    from rag.cite import content_words

    from .synthesis import polarity

    from .metrics import said

    answer = said(answer)  # graded by what it says, not by the sentence it quotes beside it
    gold = _NOTE.sub("", gold)
    kind = gold_kind(gold, question)
    if kind == "yesno":
        return {"kind": kind, "correct": polarity(answer) == polarity(gold)}
    if kind == "figure":  # a calculation states its result, not its operands: "1,577 + 1,373 = 2,950" says 2,950
        stated = "\n".join(line.rsplit(" = ", 1)[-1] for line in answer.splitlines())
        got, wanted = figures(stated), dict.fromkeys(figures(gold))
        if _IN_MILLIONS.search(question):  # "Answer in USD millions": the gold's bare figures are millions
            wanted = [f if f.scale or f.percent else replace(f, scale=6) for f in wanted]
        missing = [f"{f.value}{'%' if f.percent else ''}" for f in wanted if not any(same_figure(g, f) for g in got)]
        return {"kind": kind, "correct": not missing, "missing": missing}
    wanted = _own_words(gold, question) or {w for w in content_words(gold) if not w[0].isdigit()}
    share = len(wanted & content_words(answer)) / len(wanted) if wanted else 0.0
    return {"kind": kind, "correct": share >= TERMS_SHARE, "share": round(share, 3)}


def correct(answer: str, gold: str, question: str = "") -> bool:
    """Whether ``answer`` states the gold answer (``grade_answer``)."""
    return grade_answer(answer, gold, question)["correct"]


def load_questions(folder: Path) -> list[dict]:
    rows = [json.loads(line) for line in (folder / "questions.jsonl").read_text().splitlines() if line.strip()]
    return sorted(rows, key=lambda r: r["financebench_id"])


def words(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if w not in STOP}


def evidence_hit(passage_text: str, evidence: str) -> bool:
    """A passage that shares most of its words with the evidence text."""
    mine = words(passage_text)
    return bool(mine) and len(mine & words(evidence)) / len(mine) >= EVIDENCE_SHARE


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
        row = {"id": q["financebench_id"], "type": q["question_type"], "kind": gold_kind(q["answer"], q["question"]),
               "filing": filing, "gold": q["answer"],
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
            graded = grade_answer(a.text, q["answer"], q["question"])
            row["answers"][spec.label] = {
                "text": a.text, "declined": a.abstained, "seconds": round(time.perf_counter() - started, 2),
                "timings": a.timings, "shape": a.shape,
                "cites_filing": any(c.source == row["filing"] for c in a.citations),
                "cites_page": any(c.source == row["filing"] and c.page in row["pages"] for c in a.citations),
                "correct": graded["correct"] and not a.abstained, "grade": graded,
                "citations": [{"source": c.source, "page": c.page, "quote": c.quote} for c in a.citations],
            }
            print(f"{spec.label} {row['id']}: {'OK ' if row['answers'][spec.label]['correct'] else '-- '}"
                  f"{a.text[:100]!r}", flush=True)
    half = len(per_q) // 2
    splits = [("all", per_q), ("dev", per_q[:half]), ("test", per_q[half:])]
    splits += [(t, [r for r in per_q if r["type"] == t]) for t in QUESTION_TYPES]
    splits += [(f"graded by {k}", [r for r in per_q if r["kind"] == k]) for k in ("figure", "yesno", "terms")]
    summary = {name: _summary(rows, [s.label for s in specs]) for name, rows in splits if rows}
    return {"build": build_stats, "summary": summary, "questions": per_q}


def _summary(rows: list[dict], systems: list[str]) -> dict:
    mean = lambda xs: round(sum(xs) / len(xs), 3) if xs else 0.0  # noqa: E731
    out = {"questions": len(rows), "filing@5": mean([r["filing@5"] for r in rows])}
    out.update({f"evidence hit@{k}": mean([r[f"hit@{k}"] for r in rows]) for k in HIT_KS})
    for s in systems:
        ans = [r["answers"][s] for r in rows]
        out[s] = {"cites filing": mean([a["cites_filing"] for a in ans]), "cites page": mean([a["cites_page"] for a in ans]),
                  "correct": mean([a["correct"] for a in ans]), "declined": mean([a["declined"] for a in ans]),
                  "p50 s": sorted(a["seconds"] for a in ans)[len(ans) // 2] if ans else 0.0}
    return out


GRADING = (f"Correct: not declined, and a gold that starts with Yes/No is met by an answer starting with the same "
           f"word; a gold that is a figure (a figure and at most {FIGURE_WORDS} content words of its own) needs each of its "
           "figures in the answer, equal to the gold's last digit (or the gold rounded to the answer's digits, at least "
           f"one decimal), within {float(RELATIVE) * 100:g}% from {LARGE:,} up, percentages also as fractions, a scale stated "
           f"on one side read as millions on the other; any other gold needs {TERMS_SHARE:.0%} of its own content words "
           "(stemmed, those not in the question). Splits: all, the dev/test halves by id, each question_type, each "
           "kind of gold.")


def markdown(result: dict, command: str) -> str:
    b, s = result["build"], result["summary"]
    speed = (f"read, chunked and BM25-indexed at {b['pages_per_s']} pages/s, **no embeddings: retrieval is BM25 "
             f"only**" if b.get("lexical only") else
             f"**{b['pages_per_s']} pages/s** ({b['chunks_per_s']} chunks/s)" if b["pages_per_s"] else
             f"speed not measured (the build resumed an interrupted one; {b['chunks_embedded']} chunks embedded here)")
    lines = [f"# FinanceBench ({b['documents']} filings, {s['all']['questions']} questions)", "", f"Command: `{command}`", "",
             f"Ingest: {b['documents']} filings, {b['pages']} pages, {b['chunks']} chunks in {b['seconds']} s — "
             f"{speed}; skipped: {len(b['skipped'])}.", "",
             "| split | questions | right filing in top 5 | evidence hit@5 | evidence hit@20 |", "|---|---|---|---|---|"]
    lines += [f"| {n} | {v['questions']} | {v['filing@5']} | {v['evidence hit@5']} | {v['evidence hit@20']} |"
              for n, v in s.items()]
    systems = [k for k in s["all"] if isinstance(s["all"][k], dict)]
    if systems:
        lines += ["", GRADING, "", "| split | questions | backend | correct | cites right filing | cites right page | declined "
                  "| p50 s |", "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {n} | {v['questions']} | {sys_} | {v[sys_]['correct']} | {v[sys_]['cites filing']} | "
                  f"{v[sys_]['cites page']} | {v[sys_]['declined']} | {v[sys_]['p50 s']} |" for n, v in s.items() for sys_ in systems]
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
