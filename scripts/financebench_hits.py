"""FinanceBench evidence hit@3/@5/@20 for retrieval variants, without any answer model.

    python scripts/financebench_hits.py [--root ~/.cache/rag/eval/financebench] [VARIANT ...]

Reads the index ``rag eval --financebench`` built (not rebuilt here) and asks each of the 54
questions of it with ``rag.search.search(k=20)`` under each variant's settings; a hit is
``eval.financebench.evidence_hit`` in a passage of the right filing. hit@3 is what the answer
backend reads by default (``k`` = 3). Splits: all, dev/test (questions sorted by id, first half
dev), each question_type. Tune on dev only.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.financebench import QUESTION_TYPES, evidence_hit, load_questions  # noqa: E402
from rag import search as S  # noqa: E402
from rag.config import get_settings  # noqa: E402
from rag.embed import get_embedder  # noqa: E402
from rag.index import open_index  # noqa: E402

KS = (3, 5, 20)
OFF = {"statement_terms": False, "scope_docs": 0}
SETTINGS = {  # name: overrides
    "before": OFF,
    "statements": {"statement_terms": True, "scope_docs": 0},
    **{f"scope{n}-dw{w}": {"statement_terms": False, "scope_docs": n, "scope_dense_weight": w}
       for n in (1, 2, 3, 4) for w in (1.0, 2.0, 3.0)},
    "scope3-dw1.5": {"statement_terms": False, "scope_docs": 3, "scope_dense_weight": 1.5},
    "scope3-dw2.5": {"statement_terms": False, "scope_docs": 3, "scope_dense_weight": 2.5},
    "statements+scope2": {"statement_terms": True, "scope_docs": 2},
    "statements+scope3": {"statement_terms": True, "scope_docs": 3},
}
DEFAULT = ["before", "statements", "scope1-dw2.0", "scope2-dw1.0", "scope2-dw2.0", "scope3-dw1.0", "scope3-dw2.0",
           "scope3-dw3.0", "scope4-dw2.0", "statements+scope2", "statements+scope3", "one-doc:top1", "one-doc:gold"]


def one_document(question, index, settings, doc):
    """Only ``doc``'s passages, ranked by the in-document search (no whole-store fill)."""
    qvec = get_embedder(settings.embedder, settings.threads).encode_cached([question])[0]
    rows, scores = S._within(question, qvec, index, settings, index.rows_of(doc))
    return [p for _, p in S._reranked(question, index, settings, rows, scores, max(KS))]


def passages(name, q, index, settings, gold):
    if name == "one-doc:top1":  # the max-passage top document only
        doc = S.search_documents(q["question"], index, settings.replace(**OFF), n=1)[0][0]
        return one_document(q["question"], index, settings.replace(**OFF), doc)
    if name == "one-doc:gold":  # the right filing given: the in-document ranking's ceiling
        return one_document(q["question"], index, settings.replace(**OFF), gold)
    return S.search(q["question"], index, settings.replace(**SETTINGS[name]), k=max(KS))[0]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("variants", nargs="*", default=DEFAULT)
    ap.add_argument("--root", type=Path, default=Path.home() / ".cache/rag/eval/financebench")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/datasets/financebench")
    args = ap.parse_args()
    settings = get_settings().replace(index_dir=args.root)
    index = open_index(args.root)
    questions = load_questions(args.data)
    doc_of = {d.source: i for i, d in index.documents.items()}
    half = len(questions) // 2
    print("| variant | split | hit@3 | hit@5 | hit@20 |\n|---|---|---|---|---|")
    for name in args.variants:
        rows = []
        for q in questions:
            filing, ev = f"{q['doc_name']}.pdf", [e["evidence_text"] for e in q["evidence"]]
            good = [p.source == filing and any(evidence_hit(p.text, e) for e in ev)
                    for p in passages(name, q, index, settings, doc_of[filing])]
            rows.append({"type": q["question_type"], **{k: any(good[:k]) for k in KS}})
        splits = [("all", rows), ("dev", rows[:half]), ("test", rows[half:])]
        splits += [(t, [r for r in rows if r["type"] == t]) for t in QUESTION_TYPES]
        for split, rs in splits:
            print(f"| {name} | {split} | " + " | ".join(f"{sum(r[k] for r in rs) / len(rs):.3f}" for k in KS) + " |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
