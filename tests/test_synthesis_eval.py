"""The synthesis set: its file, the grader (facts, cited documents, polarity, declines), the
summaries and report, and one small run of the runner with the extractive backend."""
from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

import pytest

from eval import report
from eval.runners import BackendSpec
from eval.synthesis import DOCS, SHAPES, Row, grade, has_fact, load, polarity, run_synthesis, summarize_run, tokens
from rag.config import Settings
from rag.types import Answer, Citation, Claim

SEEDS = Settings().seeds_dir
ISSUE_EXAMPLES = {  # issue 24, verbatim, with what the answer must say
    "Summarize what Korea and the United Kingdom signed": "summary",
    "Compare what Korea agreed with Canada and with the UK": "comparison",
    "How many days after the MOU signing did KASA announce it?": "arithmetic",
    "Which US government bodies were represented at the symposium?": "list",
    "What is this collection of documents about?": "summary",
    "What is the Global Economic Times article about?": "summary",
    "Which Korean officials are named in these documents?": "list",
    "Was the Korea–UK MoU signed in Colorado Springs?": "yesno",
}


def _texts() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for folder in (SEEDS, DOCS) for p in sorted(folder.glob("*.txt"))}


def test_the_set_has_every_shape_and_the_issue_examples():
    rows = load()
    assert len(rows) >= 48
    counts = Counter(r.shape for r in rows)
    assert set(counts) == set(SHAPES) and min(counts.values()) >= 5, counts
    by_question = {r.question: r for r in rows}
    for question, shape in ISSUE_EXAMPLES.items():
        assert by_question[question].shape == shape
    assert by_question["How many days after the MOU signing did KASA announce it?"].key_facts == (("2",),)
    assert by_question["Was the Korea–UK MoU signed in Colorado Springs?"].expect == "no"
    assert {r.expect for r in rows if r.shape == "yesno"} == {"yes", "no"}
    assert all(len(r.history) == 1 for r in rows if r.shape == "followup")


def test_added_documents_are_whole_articles_titled_on_their_first_line():
    files = sorted(DOCS.glob("*.txt"))
    assert 2 <= len(files) <= 3
    for f in files:
        title, blank, *paragraphs = f.read_text(encoding="utf-8").split("\n")
        assert title == f.stem.replace("_", " ") and blank == "" and len(" ".join(paragraphs)) > 15_000


def test_every_cited_document_exists_and_stated_facts_are_in_it():
    """The key facts of a question that asks for stated text occur in the documents it must cite
    (arithmetic results and yes/no verdicts are computed, so they are left out)."""
    texts = _texts()
    for row in load():
        for alternatives in row.doc_ids:
            assert set(alternatives) <= set(texts), (row.id, alternatives)
        if row.shape in ("arithmetic", "yesno"):
            continue
        cited = " ".join(texts[d] for alternatives in row.doc_ids for d in alternatives)
        for fact in row.key_facts:
            assert has_fact(cited, fact), (row.id, fact)


def test_load_rejects_malformed_rows(tmp_path):
    good = {"id": "a", "question": "Was it signed?", "shape": "yesno", "doc_ids": ["x.txt"], "key_facts": ["x"], "expect": "no"}
    for bad in ({**good, "shape": "riddle"}, {**good, "expect": None}, {**good, "key_facts": []},
                {**good, "shape": "followup", "expect": None}, {**good, "shape": "unanswerable", "expect": None, "doc_ids": []}):
        path = tmp_path / "set.jsonl"
        path.write_text(json.dumps(good) + "\n" + json.dumps({**bad, "id": "b"}) + "\n")
        with pytest.raises(ValueError, match=":2 \\(b\\)"):
            load(path)
    path.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n")
    with pytest.raises(ValueError, match="duplicate id"):
        load(path)


def test_facts_match_as_words_and_numbers():
    assert tokens("Signed [1] on the 14th; $14,997 — two") == ["signed", "on", "the", Decimal(14), "th", Decimal(14997), Decimal(2)]
    assert has_fact("It cost 14,997 won [2].", "14997") and has_fact("It cost 14997 won.", "14,997")
    assert has_fact("signed on the 14th, announced on the 16th: two days later [1]", "2")
    assert not has_fact("as cited in [2]", "2")  # a citation marker is no figure
    assert not has_fact("140 days", "14") and not has_fact("14.5 days", "14")  # whole numbers, exactly
    assert has_fact("a ratio of 1.944", "1.94") and not has_fact("a ratio of 1.9", "1.94")  # rounded to the fact's digits
    assert has_fact("OH TAE-SEOK,\n the Administrator", "Oh Tae-seok")
    assert has_fact("Korea and the UK", ("United Kingdom", "UK")) and not has_fact("Ukraine", "UK")
    assert not has_fact("Lisa signed; Campbell spoke", "Lisa Campbell")  # a run of words, in order


def test_polarity_is_the_first_word():
    assert polarity("No — it was signed during the state visit [1].") == "no"
    assert polarity("**Yes**, in Colorado Springs [1].") == "yes"
    assert polarity("Nobody said so.") is None and polarity("The documents do not say.") is None


def _citation(number: int, source: str, text: str) -> Citation:
    return Citation(number, f"seeds-0/{source}", source, "", text, 0, len(text), 0, len(text))


UK = "003_27fea56bcbbbd058.txt"
QUOTE = ("The Ministry of Science and ICT announced the signing on November 22nd (Wed.) on the occasion of "
         "President Yoon Suk Yeol's state visit to the United Kingdom.")
YES_NO = Row("yn", "Was the Korea–UK MoU signed in Colorado Springs?", "yesno", ((UK,),), (("state visit", "November 22"),),
             expect="no")


def test_grade_needs_facts_documents_polarity_and_an_answer():
    cite = _citation(1, UK, QUOTE)
    right = grade(YES_NO, Answer("No — it was signed on November 22nd, during the state visit [1].", [cite],
                                 claims=[Claim("No — … [1].", (1,))], shape="yesno", timings={"retrieve": 0.2}),
                  {"sources": 0.2, "first_token": 3.0, "total": 5.0})
    assert right["correct"] and right["facts"] and right["docs_cited"] and right["polarity"]
    assert right["citations"][0]["quote"] == QUOTE and right["claims"] == [{"text": "No — … [1].", "citations": [1]}]
    wrong_way = grade(YES_NO, Answer("Yes — during the state visit [1].", [cite]), {})
    assert not wrong_way["correct"] and wrong_way["facts"] and wrong_way["polarity"] is False
    other_doc = grade(YES_NO, Answer("No — during the state visit [1].", [_citation(1, "000_5dd565f1f7c88ce4.txt", QUOTE)]), {})
    assert not other_doc["correct"] and other_doc["missing_docs"] == [[UK]]
    declined = grade(YES_NO, Answer("The documents do not say.", abstained=True), {})
    assert not declined["correct"] and declined["declined"] and declined["missing_facts"] == [["state visit", "November 22"]]
    unanswerable = Row("u", "Who was the president of Harvard in 2011?", "unanswerable")
    assert grade(unanswerable, Answer("The documents do not say.", abstained=True), {})["correct"]
    assert not grade(unanswerable, Answer("Charles W. Eliot [1].", [cite]), {})["correct"]


def test_summaries_per_shape_and_the_report():
    cite = _citation(1, UK, QUOTE)
    records = [
        grade(YES_NO, Answer("No — during the state visit [1].", [cite]), {"sources": 0.1, "first_token": 2.0, "total": 4.0}),
        grade(YES_NO, Answer("The documents do not say.", abstained=True), {"sources": 0.3, "first_token": 0.3, "total": 0.3}),
        grade(Row("u", "Who?", "unanswerable"), Answer("The documents do not say.", abstained=True),
              {"sources": 0.1, "first_token": 0.2, "total": 0.2}),
    ]
    run = summarize_run(records)
    yesno = run["by_shape"]["yesno"]
    assert yesno["n"] == 2 and yesno["correct"] == 0.5 and yesno["declined"] == 0.5 and yesno["total_p50"] == pytest.approx(2.15)
    assert run["overall"]["correct"] == pytest.approx(2 / 3) and run["answerable"]["correct"] == 0.5
    assert run["by_shape"]["unanswerable"]["facts"] is None and run["false_declines"] == 1
    results = {"meta": {"command": "rag eval --synthesis", "started": "now", "seconds": 1.0, "machine": "here",
                        "settings": {"embedder": "e", "chunk_size": 200, "chunk_overlap": 40, "k": 3, "fetch_k": 100}},
               "synthesis": {"file": "eval/synthesis.jsonl", "questions": 3, "documents": ["a", "b"], "skipped_backends": {},
                             "router": {"n": 2, "accuracy": 0.5, "by_shape": {"yesno": 0.5}, "misses": [
                                 {"id": "yn", "expected": "yesno", "got": "factoid"}]},
                             "answers": [{"backend": "extractive", **run, "records": records}]}}
    text = report.markdown(results, [])
    assert "## Synthesis set" in text and "| yesno | 2 | 0.500 |" in text and "yn yesno→factoid" in text
    assert "yn (declined)" in text and "answerable questions with their key facts and the right documents cited 0.500" in text


@pytest.mark.slow
def test_runner_answers_two_questions_with_the_extractive_backend(tmp_path):
    rows = [r for r in load() if r.id in ("fact-01", "unans-05")]
    result = run_synthesis(Settings.from_env(), [BackendSpec("extractive")], cache_root=tmp_path, rows=rows)
    assert result["questions"] == 2 and len(result["documents"]) == 7
    (run,) = result["answers"]
    by_id = {r["id"]: r for r in run["records"]}
    fact = by_id["fact-01"]
    assert fact["facts"] and fact["docs_cited"] and fact["correct"], fact["text"]  # "Mayfield Hotel Seoul", cited
    assert all(c["quote"] and c["source"] for c in fact["citations"])
    assert 0 < fact["times"]["sources"] <= fact["times"]["first_token"] <= fact["times"]["total"]
    assert set(run["by_shape"]) == {"factoid", "unanswerable"} and run["overall"]["n"] == 2
    assert result["router"] is None or result["router"]["n"] == 1

