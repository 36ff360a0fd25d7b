"""The evaluation suite: metric wiring, dataset loaders and a quick end-to-end run over seeds."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from eval import metrics
from eval.datasets import load_beir, load_seeds_qa, seeds_qrels
from eval.runners import score_answer, summarize_answers
from rag.types import Answer, Citation, Passage

DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"


def test_retrieval_metrics_match_hand_computed_values():
    qrels = {"q1": {"d1": 1, "d2": 2}, "q2": {"d5": 1}, "q3": {"d9": 1}}
    ranking = {"q1": ["d3", "d1", "d2"], "q2": ["d5", "d6"], "q3": []}  # q3 retrieves nothing
    # q1: DCG = 0 + 1/log2(3) + 2/log2(4); ideal = 2/log2(2) + 1/log2(3)
    ndcg_q1 = (1 / math.log2(3) + 2 / 2) / (2 + 1 / math.log2(3))
    got = metrics.retrieval_metrics(qrels, ranking)
    assert got["nDCG@10"] == pytest.approx((ndcg_q1 + 1.0 + 0.0) / 3, abs=1e-4)
    assert got["RR@10"] == pytest.approx((1 / 2 + 1 + 0) / 3, abs=1e-4)
    assert got["R@10"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics.per_query(qrels, ranking)["q1"] == pytest.approx(ndcg_q1, abs=1e-4)


def test_evidence_and_fact_matching():
    text = "Intro line.\nThe deal was signed by  Lisa Campbell on the 14th."
    span = metrics.evidence_span(text, "signed by Lisa Campbell")  # whitespace-insensitive fallback
    assert span is not None and text[span[0]:span[1]] == "signed by  Lisa Campbell"
    inside = Passage("a", "a", "", text[12:], 12, len(text), 1.0)
    assert metrics.passage_has_evidence(inside, "a", "signed by Lisa Campbell", span)
    assert not metrics.passage_has_evidence(inside, "b", "signed by Lisa Campbell", span)
    assert metrics.facts_present("Signed by LISA\n campbell [1].", ["Lisa Campbell"])
    assert not metrics.facts_present("see [14]", ["14"])  # citation markers never count as facts


def test_answer_scoring():
    rows = {r.id: r for r in load_seeds_qa()}
    q = rows["q02"]
    passage_text = "with Canadian Space Agency Administrator Lisa Campbell on the 14th (local time)."
    cite = Citation(1, q.doc_ids[0], q.doc_ids[0], "", passage_text, 100, 100 + len(passage_text), 100, 100 + len(passage_text))
    good = score_answer(q, Answer("Lisa Campbell signed it [1].", [cite]))
    assert good["correct"] and good["correct_cited"] and good["citation_precision"] == 1.0 and good["quote_support"] == [True]
    wrong_doc = Citation(1, "other.txt", "other.txt", "", passage_text, 0, len(passage_text), 0, 10)
    bad = score_answer(q, Answer("Lisa Campbell [1].", [wrong_doc]))
    assert bad["correct"] and not bad["correct_cited"] and bad["citation_precision"] == 0.0
    unanswerable = next(r for r in rows.values() if not r.answerable)
    summary = summarize_answers([good, bad, score_answer(unanswerable, Answer("x", abstained=True))])
    assert summary["correct"] == 1.0 and summary["correct_cited"] == 0.5
    assert summary["abstention_recall"] == 1.0 and summary["abstention_precision"] == 1.0


def test_seeds_qa_file():
    rows = load_seeds_qa()
    assert len(rows) == 66
    assert sum(not r.answerable for r in rows) == 11
    assert len(seeds_qrels(rows)) == 55


@pytest.mark.parametrize("name,docs,queries,judgments", [
    ("scifact", 5183, 300, 339), ("cranfield", 1400, 225, 1612), ("vaswani", 11429, 93, 2083)])
def test_beir_loader_counts(name, docs, queries, judgments):
    if not (DATASETS / name).is_dir():
        pytest.skip(f"{DATASETS / name} is absent")
    ds = load_beir(DATASETS / name)
    assert (ds.n_docs, len(ds.queries), ds.n_judgments) == (docs, queries, judgments)


def test_end_to_end_seeds(tmp_path):
    from eval.__main__ import main

    out = tmp_path / "results"
    code = main(["--backends", "extractive", "--grid", "bm25,default", "--speed-sample", "4",
                 "--cache", str(tmp_path / "cache"), "--out", str(out)])
    assert code == 0
    assert (out / "report.md").is_file() and list(out.glob("*.png"))
    results = json.loads((out / "results.json").read_text())
    seeds = results["seeds"]
    assert [r["variant"] for r in seeds["retrieval"]] == ["bm25", "default"]
    default = seeds["retrieval"][1]
    assert default["questions"] == 55 and 0.0 <= default["hit@5"] <= 1.0 and default["hit@5"] >= default["hit@1"]
    assert default["nDCG@10"] > 0.5
    (answers,) = seeds["answers"]
    assert answers["backend"] == "extractive" and len(answers["records"]) == 66
    assert answers["total"]["p50"] is not None
    assert "Seeds QA set" in (out / "report.md").read_text()


def test_seeds_questions_match_origin_qualified_ids(seeds_settings):
    """seeds_qa.jsonl names documents by file name; the index ids carry their origin folder."""
    from eval.runners import VARIANTS, evidence_hits, gold_ids
    from rag.index import open_index

    index = open_index(seeds_settings.index_dir)
    rows = [r for r in load_seeds_qa() if r.answerable]
    assert all(len(gold_ids(r, index)) == len(r.doc_ids) for r in rows)
    hits = evidence_hits(rows[:8], index, seeds_settings, VARIANTS["default"])
    assert hits["hit@10"] >= 0.75 and hits["nDCG@10"] > 0.5


def test_beir_rankings_use_the_corpus_ids(tmp_path, tmp_settings):
    import rag
    from eval.runners import VARIANTS, rank_documents
    from rag.index import open_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rows = [{"_id": "7", "title": "Kale", "text": "Kale is rich in vitamin K."},
            {"_id": "9", "title": "Aspirin", "text": "Aspirin lowers the risk of heart attack."}]
    (corpus / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    rag.ingest([corpus], tmp_settings, progress=False)
    ((ranking, _),) = rank_documents({"q": "vitamin in kale"}, open_index(tmp_settings.index_dir), tmp_settings,
                                     [VARIANTS["default"]])
    assert ranking["q"][0] == "7" and set(ranking["q"]) == {"7", "9"}


def test_squad_tuning_questions_never_meet_a_reported_sample():
    from eval.squad import TUNE_OFFSET, sample

    questions = [{"id": f"q{i:05d}", "answerable": i % 2 == 0} for i in range(6000)]
    ids = lambda n, split: [q["id"] for q in sample(questions, n, split)]  # noqa: E731
    tested = {n: ids(n, "test") for n in (40, 100, 200, 500)}
    for n in (40, 100, 200):
        assert not set(ids(n, "tune")) & set(tested[500])  # however large the reported sample
        assert set(tested[n]) <= set(tested[500])  # a larger reported sample holds a smaller one
    assert len(tested[200]) == 400 and sum(q["answerable"] for q in sample(questions, 200, "test")) == 200
    with pytest.raises(ValueError):
        sample(questions, TUNE_OFFSET + 1, "test")
