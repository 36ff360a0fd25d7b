"""Evaluation sets: the project's seeds QA file and BEIR-layout test collections."""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

EVAL_DIR = Path(__file__).resolve().parent
SEEDS_QA = EVAL_DIR / "seeds_qa.jsonl"
QUESTION_TYPES = ("single", "cross", "numeric", "unanswerable")


@dataclass(frozen=True)
class QA:
    """One seeds question with its gold documents, evidence spans and answer facts."""

    id: str
    question: str
    type: str
    doc_ids: tuple[str, ...]
    evidence: tuple[str, ...]
    answer_facts: tuple[str, ...]

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"


@dataclass
class BeirDataset:
    """A BEIR folder: the corpus file, the queries of one split and their judgments."""

    name: str
    path: Path
    split: str
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    n_docs: int = 0
    meta: dict = field(default_factory=dict)

    @property
    def corpus(self) -> Path:
        return self.path / "corpus.jsonl"

    @property
    def n_judgments(self) -> int:
        return sum(len(docs) for docs in self.qrels.values())


def load_seeds_qa(path: Path | str = SEEDS_QA) -> list[QA]:
    """The rows of ``seeds_qa.jsonl``."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                if r["type"] not in QUESTION_TYPES:
                    raise ValueError(f"{r['id']}: unknown question type {r['type']!r}")
                rows.append(QA(r["id"], r["question"], r["type"], tuple(r.get("doc_ids", ())),
                               tuple(r.get("evidence", ())), tuple(r.get("answer_facts", ()))))
    return rows


def seeds_qrels(rows: list[QA]) -> dict[str, dict[str, int]]:
    """Document-level judgments of the answerable seeds questions."""
    return {r.id: {d: 1 for d in r.doc_ids} for r in rows if r.answerable and r.doc_ids}


def read_qrels(path: Path | str) -> dict[str, dict[str, int]]:
    """A BEIR ``qrels/*.tsv`` (header ``query-id corpus-id score``); zero scores are kept."""
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        for row in reader:
            if not row or row[0] == "query-id":
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return qrels


def load_beir(path: Path | str, split: str = "test") -> BeirDataset:
    """Queries of ``split`` that have judgments, their qrels, and the corpus size."""
    path = Path(path).expanduser().resolve()
    qrels_file = path / "qrels" / f"{split}.tsv"
    for needed in (path / "corpus.jsonl", path / "queries.jsonl", qrels_file):
        if not needed.is_file():
            raise FileNotFoundError(f"{needed} is missing: not a BEIR folder with a {split!r} split")
    qrels = read_qrels(qrels_file)
    queries = {}
    with open(path / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                if str(row["_id"]) in qrels:
                    queries[str(row["_id"])] = row["text"]
    missing = set(qrels) - set(queries)
    if missing:
        raise ValueError(f"{len(missing)} judged queries of {path.name} have no text, e.g. {sorted(missing)[:3]}")
    with open(path / "corpus.jsonl", "rb") as f:
        n_docs = sum(1 for line in f if line.strip())
    return BeirDataset(path.name, path, split, queries, qrels, n_docs)
