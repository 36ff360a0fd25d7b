"""SQuAD 2.0 over a whole collection: every paragraph indexed, a seeded sample of questions asked.

All 646 paragraphs of ``squad2-dev`` become one index (each paragraph a document titled by its
article); a fixed, seeded sample of answerable and unanswerable questions is asked of the whole
index. Answerable: the gold answer is present in our answer and its paragraph is cited; exact
match and token F1 of ``Answer.short`` by the official scorer (``evaluate-v2.0.py``).
Unanswerable: declined. A different seed draws a disjoint tuning sample (``--squad-split tune``).
"""
from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from tqdm.auto import tqdm

from rag.config import Settings

from . import metrics

SEED = 2026
TUNE_OFFSET = 1000  # tuning questions come after the first 1,000 of each kind in the seeded draw
PARAGRAPH_ID = re.compile(r"squad-p\d{4}")


def load(folder: Path) -> tuple[list[dict], list[dict], dict]:
    """``(paragraphs, questions, raw)``: paragraph records and question records with their gold."""
    raw = json.loads((Path(folder) / "dev-v2.0.json").read_text(encoding="utf-8"))
    paragraphs, questions = [], []
    for article in raw["data"]:
        for para in article["paragraphs"]:
            pid = f"squad-p{len(paragraphs):04d}"
            paragraphs.append({"_id": pid, "title": article["title"].replace("_", " "), "text": para["context"]})
            for qa in para["qas"]:
                questions.append({"id": qa["id"], "question": qa["question"], "paragraph": pid,
                                  "answers": [a["text"] for a in qa["answers"]],
                                  "answerable": not qa.get("is_impossible", False)})
    return paragraphs, questions, raw


def sample(questions: list[dict], n: int, split: str = "test") -> list[dict]:
    """``n`` answerable and ``n`` unanswerable questions, fixed by ``SEED``.

    ``test`` is the reported sample: the first ``n`` of one seeded draw, so a larger sample holds
    a smaller one. ``tune`` takes its questions from that draw after ``TUNE_OFFSET``, so it never
    meets a test sample of up to that size.
    """
    if n > TUNE_OFFSET:
        raise ValueError(f"at most {TUNE_OFFSET} questions of each kind")
    out = []
    for answerable in (True, False):
        pool = sorted((q for q in questions if q["answerable"] == answerable), key=lambda q: q["id"])
        drawn = random.Random(SEED).sample(pool, min(len(pool), TUNE_OFFSET + n))
        out += drawn[:n] if split == "test" else drawn[TUNE_OFFSET: TUNE_OFFSET + n]
    return out


def paragraph_of(doc_id: str) -> str | None:
    m = PARAGRAPH_ID.search(doc_id)
    return m.group() if m else None


def score(record: dict, question: dict) -> dict:
    """Correctness of one answer record against its gold question."""
    if not question["answerable"]:
        return {**record, "correct": record["abstained"]}
    present = not record["abstained"] and any(metrics.has_fact(metrics.said(record["text"]), a) for a in question["answers"])
    cited = question["paragraph"] in record["cited"]
    return {**record, "present": present, "cited_gold": cited, "correct": present and cited,
            "retrieved_gold": question["paragraph"] in record["passages"]}


def official_scores(folder: Path, raw: dict, records: list[dict]) -> dict:
    """Exact match and F1 of the short answers by SQuAD's own ``evaluate-v2.0.py`` (subset file)."""
    wanted = {r["id"] for r in records}
    subset = {"version": raw.get("version", "v2.0"), "data": []}
    for article in raw["data"]:
        paras = []
        for para in article["paragraphs"]:
            qas = [qa for qa in para["qas"] if qa["id"] in wanted]
            if qas:
                paras.append({**para, "qas": qas})
        if paras:
            subset["data"].append({**article, "paragraphs": paras})
    preds = {r["id"]: ("" if r["abstained"] else r["short"]) for r in records}
    with tempfile.TemporaryDirectory() as tmp:
        data_file, pred_file = Path(tmp) / "data.json", Path(tmp) / "pred.json"
        data_file.write_text(json.dumps(subset))
        pred_file.write_text(json.dumps(preds))
        out = subprocess.run([sys.executable, str(Path(folder) / "evaluate-v2.0.py"), str(data_file), str(pred_file)],
                             capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def summarize(records: list[dict]) -> dict:
    ans = [r for r in records if "present" in r]
    una = [r for r in records if "present" not in r]
    return {
        "answerable": len(ans), "unanswerable": len(una),
        "present_cited": metrics.mean(r["correct"] for r in ans),
        "present": metrics.mean(r["present"] for r in ans),
        "cited_gold": metrics.mean(r["cited_gold"] for r in ans),
        "retrieved_gold": metrics.mean(r["retrieved_gold"] for r in ans),
        "false_abstentions": metrics.mean(r["abstained"] for r in ans),
        "unanswerable_declined": metrics.mean(r["abstained"] for r in una),
        "abstention_precision": (sum(r["abstained"] for r in una) / max(1, sum(r["abstained"] for r in records))),
        "ttft": metrics.percentiles(r["timings"].get("first_token") for r in records),
        "total": metrics.percentiles(r["timings"].get("total") for r in records),
    }


def run_squad(folder: Path, settings: Settings, n: int = 200, split: str = "test", cache_root: Path | None = None,
              label: str = "") -> dict:
    """Index every paragraph (cached), ask the sample, score it."""
    import rag

    from .runners import cached_index

    folder = Path(folder).expanduser().resolve()
    paragraphs, questions, raw = load(folder)
    corpus_dir = (cache_root or settings.cache_dir / "eval") / "squad2-corpus"
    corpus_dir.mkdir(parents=True, exist_ok=True)
    corpus = corpus_dir / "squad2-dev.jsonl"
    text = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in paragraphs)
    if not corpus.exists() or corpus.read_text(encoding="utf-8") != text:
        corpus.write_text(text, encoding="utf-8")
    built = cached_index("squad2", [corpus], settings, cache_root)
    asked = sample(questions, n, split)
    rag.answer(asked[0]["question"], index=built.index, settings=settings)  # warm-up: model loading is not timed
    records = []
    for q in tqdm(asked, desc=f"squad2:{label or settings.backend}", unit="q"):
        a = rag.answer(q["question"], index=built.index, settings=settings)
        record = {"id": q["id"], "question": q["question"], "abstained": bool(a.abstained), "text": a.text,
                  "short": getattr(a, "short", "") or "",
                  "cited": sorted({paragraph_of(c.doc_id) for c in a.citations} - {None}),
                  "passages": [paragraph_of(p.doc_id) for p in a.passages], "timings": a.timings,
                  "gold": q["answers"], "gold_paragraph": q["paragraph"]}
        records.append(score(record, q))
    return {"dataset": "squad2-dev", "split": split, "seed": SEED, "per_class": n, "label": label or settings.backend,
            "paragraphs": len(paragraphs), "index": {**built.build, "path": str(built.root)},
            **summarize(records), "official": official_scores(folder, raw, records), "records": records}
