"""Tune the answer's acceptance rules without re-running the model for every variant.

``capture`` answers each question once (retrieval, evidence, the model's full reply and its
P(none), as ``rag.answer`` does with the default settings) and stores it as JSON; ``decide``
re-decides every stored reply under settings variants — the decline threshold, the answer check
(its P(yes) is computed once per sentence and answer, then cached next to the capture) and the
gates of ``rag.answering.span.answerable`` — and scores them as the eval does. A variant that changes
what reaches the model (evidence settings, prompt) needs a new capture.

Usage (from the project root; the SQuAD tuning sample and the seeds are the tuning sets):
  .venv/bin/python scripts/replay_gates.py capture --squad ../shared/datasets/squad2-dev --n 150 --out /tmp/tune.json
  .venv/bin/python scripts/replay_gates.py capture --seeds --out /tmp/seeds.json
  .venv/bin/python scripts/replay_gates.py decide /tmp/tune.json /tmp/seeds.json --set decline_at=0.8 --set check_at=0.5
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from pathlib import Path

from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval import squad  # noqa: E402
from eval.datasets import QA, load_seeds_qa  # noqa: E402
from eval.runners import cached_index, score_answer  # noqa: E402
from rag import pipeline  # noqa: E402
from rag.answering import span  # noqa: E402
from rag.answering.base import Evidence  # noqa: E402
from rag.answering.route import asks_whether  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.evidence import Sentence  # noqa: E402
from rag.generate.base import Declining  # noqa: E402
from rag.generate.registry import get_backend  # noqa: E402
from rag.generate.prompt import ABSTAIN  # noqa: E402
from rag.types import Answer, Passage  # noqa: E402


def _index_and_questions(settings: Settings, squad_dir: Path | None, n: int, split: str):
    if squad_dir is None:
        return cached_index("seeds", [settings.seeds_dir], settings).index, load_seeds_qa()
    paragraphs, questions, _ = squad.load(squad_dir)
    corpus = settings.cache_dir / "eval" / "squad2-corpus" / "squad2-dev.jsonl"
    corpus.parent.mkdir(parents=True, exist_ok=True)
    corpus.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in paragraphs), encoding="utf-8")
    return cached_index("squad2", [corpus], settings).index, squad.sample(questions, n, split)


def capture(args, settings: Settings | None = None) -> int:
    settings = settings or Settings.from_env()
    index, questions = _index_and_questions(settings, args.squad, args.n, args.split)
    backend = get_backend(settings)
    records = []
    for q in tqdm(questions, desc="capture", unit="q"):
        text = q.question if isinstance(q, QA) else q["question"]
        passages, relevance = pipeline._search_all([text], index, settings)
        on_topic = pipeline.is_on_topic(text, passages, relevance, settings)
        evidence = pipeline.span_evidence(text, passages, index, settings) if on_topic else []
        reply, p_none = [], None
        for piece in (backend.stream_answer(text, [e.passage for e in evidence], settings) if evidence else ()):
            if isinstance(piece, Declining):
                p_none = piece.probability
            else:
                reply.append(piece)
        records.append({"question": dataclasses.asdict(q) if isinstance(q, QA) else q, "passages": [dataclasses.asdict(p) for p in passages],
                        "evidence": [{name: dataclasses.asdict(getattr(e, name)) for name in ("passage", "parent", "sentence")}
                                     for e in evidence],
                        "reply": "".join(reply).strip(), "p_none": p_none})
    args.out.write_text(json.dumps({"set": "seeds" if args.squad is None else f"squad-{args.split}",
                                    "squad": str(args.squad or ""), "records": records}))
    return 0


class _Checks:
    """The backend's P(yes) per (question, sentence, answer), cached in a JSON file."""

    def __init__(self, path: Path, settings: Settings):
        self.path, self.settings = path, settings
        self.cache = json.loads(path.read_text()) if path.exists() else {}

    def check(self, question: str, sentence: str, short: str, settings: Settings) -> float | None:
        """``Backend.check``, answered from the cache (asked of ``self.settings``' backend once)."""
        key = hashlib.sha1(json.dumps([question, sentence, short]).encode()).hexdigest()
        if key not in self.cache:
            self.cache[key] = get_backend(self.settings).check(question, sentence, short, self.settings)
        return self.cache[key]

    def save(self) -> None:
        self.path.write_text(json.dumps(self.cache))


def _decide(record: dict, settings: Settings, checks: _Checks) -> Answer:
    """The stored reply judged as ``rag.pipeline.stream_answer`` judges it."""
    text = record["question"]["question"]
    passages = [Passage(**p) for p in record["passages"]]
    evidence = [Evidence(Passage(**e["passage"]), Passage(**e["parent"]), Sentence(**e["sentence"]))
                for e in record["evidence"]]
    # the short-answer path only: a yes/no question goes to rag.answering.yesno, which an extractive
    # backend (no yes/no to weigh) declines, also when the question asks a fact besides
    yes_no = asks_whether(text) and settings.backend == "extractive"
    composed = span.verdict(text, record["reply"], record["p_none"], evidence, settings, checks) if evidence and not yes_no else None
    if composed is None:
        return Answer(ABSTAIN, [], passages, abstained=True)
    return Answer(composed[0], composed[2], passages, abstained=False, short=composed[1], claims=composed[3])


def _score(kind: str, record: dict, answer: Answer, index) -> tuple[bool, bool | None]:
    """``(abstained, correct)`` (correct is None for an unanswerable question)."""
    q = record["question"]
    if kind == "seeds":
        row = QA(**{k: tuple(v) if isinstance(v, list) else v for k, v in q.items()})
        scored = score_answer(row, answer, index)
        return answer.abstained, scored.get("correct_cited") if row.answerable else None
    cited = sorted({squad.paragraph_of(c.doc_id) for c in answer.citations} - {None})
    scored = squad.score({"abstained": answer.abstained, "text": answer.text, "cited": cited, "passages": []}, q)
    return answer.abstained, scored["correct"] if q["answerable"] else None


def replay(path: Path, settings: Settings, base: Settings | None = None) -> dict:
    """The capture at ``path`` re-decided under ``settings`` (checks by ``base``'s backend): counts."""
    base = base or settings
    data = json.loads(path.read_text())
    index = cached_index("seeds", [base.seeds_dir], base).index if data["set"] == "seeds" else None
    checks = _Checks(path.with_suffix(".checks.json"), base)
    outcomes = [_score("seeds" if data["set"] == "seeds" else "squad", r, _decide(r, settings, checks), index)
                for r in tqdm(data["records"], desc=path.name, unit="q", leave=False)]
    checks.save()
    answerable = [(a, c) for a, c in outcomes if c is not None]
    unanswerable = [a for a, c in outcomes if c is None]
    return {"answerable": len(answerable), "correct_cited": sum(c for _, c in answerable),
            "false_abstentions": sum(a for a, _ in answerable), "unanswerable": len(unanswerable),
            "declined": sum(unanswerable)}


def decide(args) -> int:
    base = Settings.from_env()
    variant = base.replace(**{k: type(getattr(base, k))(v) for k, v in (s.split("=", 1) for s in args.set)})
    for path in args.captures:
        n = replay(path, variant, base)
        print(f"{path.name} {' '.join(args.set) or 'defaults'}: correct + cited "
              f"{n['correct_cited'] / n['answerable']:.3f}, false abstentions {n['false_abstentions']}/"
              f"{n['answerable']}, unanswerables declined {n['declined']}/{n['unanswerable']}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("capture", help="answer each question once and store the model's reply")
    p.add_argument("--squad", type=Path, help="a SQuAD 2.0 folder (default: the seeds QA set)")
    p.add_argument("--seeds", action="store_true", help="the seeds QA set (the default)")
    p.add_argument("--n", type=int, default=150, help="SQuAD questions of each kind (default 150)")
    p.add_argument("--split", choices=("tune", "test"), default="tune")
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("decide", help="re-decide stored replies under settings variants and score them")
    p.add_argument("captures", type=Path, nargs="+")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a setting to vary")
    args = parser.parse_args()
    return capture(args) if args.cmd == "capture" else decide(args)


if __name__ == "__main__":
    sys.exit(main())
