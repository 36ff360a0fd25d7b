"""Compare PDF text extractors on the FinanceBench filings: speed and text quality.

    .venv/bin/python scripts/compare_pdf_extractors.py ../shared/datasets/financebench [--files A,B] [--out FILE]

Per extractor: files opened, pages, pages/s, and two quality measures on the pages that the
54 questions cite as evidence:
- evidence recall: share of the gold ``evidence_text`` word tokens present on the extracted page;
- labelled number lines: share of lines holding a number that also hold a word (a table row read
  as one line keeps its label next to its figures; one cell per line does not).
"""
from __future__ import annotations

import argparse
import io
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

WORD = re.compile(r"[a-z0-9]+")
NUMBER = re.compile(r"\d[\d,.]*")
LABEL = re.compile(r"[A-Za-z]{3,}")


def pypdf_plain(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages]


def pypdf_layout(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [p.extract_text(extraction_mode="layout") or "" for p in PdfReader(io.BytesIO(data)).pages]


def pdfium(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    out = []
    for page in pdf:
        tp = page.get_textpage()
        out.append(tp.get_text_range())
        tp.close()
        page.close()
    pdf.close()
    return out


EXTRACTORS = {"pypdf": pypdf_plain, "pypdf (layout mode)": pypdf_layout, "pypdfium2": pdfium}


def recall(gold: str, page: str) -> float:
    want = Counter(WORD.findall(gold.lower()))
    have = Counter(WORD.findall(page.lower()))
    total = sum(want.values())
    return sum(min(n, have[w]) for w, n in want.items()) / total if total else 1.0


def labelled(pages: list[str]) -> tuple[int, int]:
    lines = [ln for p in pages for ln in p.splitlines() if NUMBER.search(ln)]
    return sum(1 for ln in lines if LABEL.search(ln)), len(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--only", help="comma-separated extractor names")
    ap.add_argument("--files", help="comma-separated file stems to use instead of all the filings")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    questions = [json.loads(ln) for ln in (args.dataset / "questions.jsonl").read_text().splitlines() if ln.strip()]
    pdfs = sorted((args.dataset / "pdfs").glob("*.pdf"))
    if args.files:
        pdfs = [p for p in pdfs if p.stem in args.files.split(",")]
    names = args.only.split(",") if args.only else list(EXTRACTORS)
    rows = []
    for name in names:
        fn = EXTRACTORS[name]
        texts: dict[str, list[str]] = {}
        failed = []
        started = time.perf_counter()
        for pdf in pdfs:
            try:
                texts[pdf.stem] = fn(pdf.read_bytes())
            except Exception as exc:  # an extractor's failure on a file is a result here
                failed.append(f"{pdf.name}: {type(exc).__name__}: {str(exc)[:80]}")
        seconds = time.perf_counter() - started
        pages = sum(len(t) for t in texts.values())
        recalls = [recall(ev["evidence_text"], texts[q["doc_name"]][ev["evidence_page_num"]])
                   for q in questions for ev in q["evidence"] if q["doc_name"] in texts]
        good, total = labelled([p for t in texts.values() for p in t])
        row = {"extractor": name, "files": f"{len(texts)}/{len(pdfs)}", "pages": pages, "seconds": round(seconds, 1),
               "pages/s": round(pages / seconds, 1), "evidence recall": round(sum(recalls) / max(len(recalls), 1), 3),
               "labelled number lines": round(good / max(total, 1), 3), "failed": failed}
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.out:
        head = ["extractor", "files", "pages", "seconds", "pages/s", "evidence recall", "labelled number lines"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(str(r[h]) for h in head) + " |" for r in rows]
        fails = [f"- {r['extractor']}: {f}" for r in rows for f in r["failed"]]
        args.out.write_text("\n".join(lines) + ("\n\nFailures:\n" + "\n".join(fails) if fails else "") + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
