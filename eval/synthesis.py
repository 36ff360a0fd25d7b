"""The synthesis set: questions of every shape over the seeds and ``synthesis_docs/``.

    rag eval --synthesis [--synthesis-file F] [--backends local,extractive]

``synthesis.jsonl`` holds one question a line: ``id``, ``question``, ``shape`` (one of ``SHAPES``),
optional ``history`` (``[[question, answer]]``, the earlier turns of a follow-up), ``doc_ids`` (the
documents the answer must cite, as ``Citation.source`` names them; an entry that is a list is met
by any one of its names), ``key_facts`` (each a string, or a list of alternative spellings; all
must occur in the answer) and, for yes/no questions, ``expect`` ("yes" or "no").

Every question is asked through ``rag.stream_answer`` of one index holding the four seeds and
the documents of ``synthesis_docs/`` (Wikipedia articles from SQuAD 2.0 dev, one a file, title
first). A record is graded:
- facts: every key fact occurs in what the answer says (the answer text without the sentences it quotes
  beside a short answer, which are no part of it; a yes or no gives the sentence it quotes as its
  reason, which must hold the key fact; ``has_fact``: case-insensitive, citation
  markers, punctuation and spacing ignored, numbers compared as numbers);
- docs cited: every document of ``doc_ids`` is among the cited sources;
- correct: facts and docs cited, not declined, and for a yes/no the expected polarity (the answer
  starts with "Yes" or "No"); for an unanswerable question, correct = declined;
- times: sources ready (``Answer.timings["retrieve"]``), first streamed piece, total.
Per shape and overall; the router (``rag.answering.route.route``, when present) is scored against
each row's shape (unanswerable rows left out).
"""
from __future__ import annotations

import json
import re
import sys
import time
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from rag.cite import MARKER

from . import metrics

EVAL_DIR = Path(__file__).resolve().parent
SYNTHESIS = EVAL_DIR / "synthesis.jsonl"
DOCS = EVAL_DIR / "synthesis_docs"
SHAPES = ("factoid", "list", "comparison", "summary", "explanation", "arithmetic", "yesno", "followup", "unanswerable")
WARM_UP = "Who signed the space MoU with the Canadian Space Agency?"  # not in the set: loads the model untimed

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+")
_NUMBER_WORDS = {w: Decimal(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_NUMBER_WORDS.update({w: Decimal(10 * i) for i, w in enumerate("thirty forty fifty sixty seventy eighty ninety".split(), 3)})
_POLARITY = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)

Alternatives = tuple[str, ...]  # one fact (or document) and its other spellings


@dataclass(frozen=True)
class Row:
    """One question of the synthesis set."""

    id: str
    question: str
    shape: str
    doc_ids: tuple[Alternatives, ...] = ()
    key_facts: tuple[Alternatives, ...] = ()
    history: tuple[tuple[str, str], ...] = ()
    expect: str | None = None

    @property
    def answerable(self) -> bool:
        return self.shape != "unanswerable"


def _alternatives(items) -> tuple[Alternatives, ...]:
    return tuple((item,) if isinstance(item, str) else tuple(item) for item in items)


def load(path: Path | str = SYNTHESIS) -> list[Row]:
    """The rows of a synthesis file, checked: known shapes, unique ids, what each shape needs."""
    rows, seen = [], set()
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        r = json.loads(line)
        row = Row(r["id"], r["question"], r["shape"], _alternatives(r.get("doc_ids", ())),
                  _alternatives(r.get("key_facts", ())), tuple((q, a) for q, a in r.get("history", ())), r.get("expect"))
        problem = "duplicate id" if row.id in seen else _problem(row)
        if problem:
            raise ValueError(f"{path}:{n} ({row.id}): {problem}")
        seen.add(row.id)
        rows.append(row)
    return rows


def _problem(row: Row) -> str | None:
    """What is wrong with a row, if anything."""
    if row.shape not in SHAPES:
        return f"unknown shape {row.shape!r}"
    if row.answerable and not (row.key_facts and row.doc_ids):
        return "an answerable question needs key_facts and doc_ids"
    if not row.answerable and (row.key_facts or row.doc_ids):
        return "an unanswerable question has no key_facts or doc_ids"
    if (row.shape == "yesno") != (row.expect in ("yes", "no")):
        return "a yes/no question needs expect 'yes' or 'no' (and only it)"
    if (row.shape == "followup") != bool(row.history):
        return "a follow-up needs a history (and only it)"
    return None


# --- grading -------------------------------------------------------------------------------
def tokens(text: str) -> list[str | Decimal]:
    """Words (case-folded) and numbers (``Decimal``) of ``text``: citation markers, punctuation and
    spacing dropped, thousands separators removed, number words up to ninety read as numbers."""
    text = _THOUSANDS.sub("", MARKER.sub(" ", unicodedata.normalize("NFKC", text)).casefold())
    out = []
    for tok in _TOKEN.findall(text):
        if tok[0].isdigit():
            out.append(Decimal(tok))
        else:
            out.append(_NUMBER_WORDS.get(tok, tok))
    return out


def _same(got: str | Decimal, want: str | Decimal) -> bool:
    """A word equals a word; a number equals the fact's number, or rounds to it at the fact's decimals."""
    if isinstance(want, Decimal) and isinstance(got, Decimal):
        places = -want.as_tuple().exponent
        if places <= 0:
            return got == want
        try:
            return got.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP) == want
        except InvalidOperation:
            return False
    return got == want


def has_fact(text: str, fact: str | Alternatives) -> bool:
    """Whether ``text`` states ``fact`` (or one of its alternatives) as a run of its tokens."""
    got = tokens(text)
    for alternative in (fact,) if isinstance(fact, str) else fact:
        want = tokens(alternative)
        if want and any(all(_same(g, w) for g, w in zip(got[i:i + len(want)], want))
                        for i in range(len(got) - len(want) + 1)):
            return True
    return False


def polarity(text: str) -> str | None:
    """"yes" or "no" when the answer starts with it, else None."""
    m = _POLARITY.match(text)
    return m.group(1).lower() if m else None


def grade(row: Row, answer, times: dict) -> dict:
    """The record of one answer: its text, citations and claims, and how it fares against the row."""
    cited = list(dict.fromkeys(c.source for c in answer.citations))
    declined = bool(answer.abstained)
    record = {
        "id": row.id, "shape": row.shape, "question": row.question, "history": [list(t) for t in row.history],
        "text": answer.text, "short": answer.short, "answer_shape": answer.shape, "declined": declined,
        "citations": [{"number": c.number, "source": c.source, "page": c.page, "quote": c.quote} for c in answer.citations],
        "claims": [{"text": c.text, "citations": list(c.citations)} for c in answer.claims],
        "cited": cited, "times": times,
    }
    if not row.answerable:
        return {**record, "correct": declined, "facts": None, "docs_cited": None, "polarity": None}
    # graded by what it says, not by the sentence it quotes beside a short answer; a yes or no says
    # its polarity and gives the sentence it quotes as its reason, which must hold the key fact
    text = answer.text if row.expect else metrics.said(answer.text)
    missing_facts = [list(f) for f in row.key_facts if not has_fact(text, f)]
    missing_docs = [list(d) for d in row.doc_ids if not set(d) & set(cited)]
    ok_polarity = polarity(answer.text) == row.expect if row.expect else None
    correct = not declined and not missing_facts and not missing_docs and ok_polarity is not False
    return {**record, "correct": correct, "facts": not missing_facts, "docs_cited": not missing_docs,
            "polarity": ok_polarity, "missing_facts": missing_facts, "missing_docs": missing_docs}


def summarize(records: list[dict]) -> dict:
    """n, shares correct / with their facts / citing the right documents / declined (and, for
    yes/no, with the right polarity), and p50 seconds to sources, first piece and total."""
    mean = lambda key: metrics.mean(r[key] for r in records if r[key] is not None)  # noqa: E731
    times = lambda key: metrics.percentiles(r["times"].get(key) for r in records)["p50"]  # noqa: E731
    return {"n": len(records), "correct": mean("correct"), "facts": mean("facts"), "docs_cited": mean("docs_cited"),
            "declined": metrics.mean(r["declined"] for r in records), "polarity": mean("polarity"),
            "sources_p50": times("sources"), "first_token_p50": times("first_token"), "total_p50": times("total")}


def summarize_run(records: list[dict]) -> dict:
    """Per shape (in ``SHAPES`` order) and overall; plus the answerable questions alone."""
    by_shape = {s: summarize([r for r in records if r["shape"] == s]) for s in SHAPES if any(r["shape"] == s for r in records)}
    answerable = [r for r in records if r["shape"] != "unanswerable"]
    return {"overall": summarize(records), "answerable": summarize(answerable), "by_shape": by_shape,
            "false_declines": sum(r["declined"] for r in answerable)}


# --- the router --------------------------------------------------------------------------------
def router_accuracy(rows: list[Row]) -> dict | None:
    """How often ``rag.answering.route.route`` names each row's shape (None when there is no router)."""
    try:
        from rag.answering.route import route
    except ImportError:
        return None
    scored = [(row, route(row.question, history=[tuple(t) for t in row.history] or None)) for row in rows if row.answerable]
    by_shape = {s: metrics.mean(got == s for row, got in scored if row.shape == s)
                for s in SHAPES if any(row.shape == s for row, _ in scored)}
    return {"n": len(scored), "accuracy": metrics.mean(got == row.shape for row, got in scored), "by_shape": by_shape,
            "misses": [{"id": row.id, "expected": row.shape, "got": got} for row, got in scored if got != row.shape]}


# --- running ---------------------------------------------------------------------------------------
def ask(row: Row, settings) -> tuple[object, dict]:
    """Ask one question through ``rag.stream_answer``; the final ``Answer`` and the seconds until
    the sources were ready (retrieval done), the first streamed piece and the end."""
    import rag

    started = time.perf_counter()
    first = None
    for item in rag.stream_answer(row.question, history=[tuple(t) for t in row.history] or None, settings=settings):
        if isinstance(item, str):
            if first is None and item.strip():
                first = time.perf_counter() - started
            continue
        total = time.perf_counter() - started
        # all three rounded alike (the pipeline's timings are rounded to 4 places), so their order holds
        return item, {"sources": item.timings.get("retrieve"),
                      "first_token": None if first is None else round(first, 4), "total": round(total, 4)}
    raise RuntimeError("stream_answer ended without an Answer")


def run_backend(rows: list[Row], settings, spec) -> dict:
    """Every row answered by one backend (``BackendSpec``), after one untimed warm-up answer."""
    from tqdm.auto import tqdm

    import rag

    s = spec.settings(settings)
    rag.answer(WARM_UP, settings=s)
    records = []
    for row in tqdm(rows, desc=f"synthesis:{spec.label}", unit="q", leave=False):
        answer, times = ask(row, s)
        records.append(grade(row, answer, times))
    return {"backend": spec.label, **summarize_run(records), "records": records}


def run_synthesis(settings, specs: list, path: Path | str = SYNTHESIS, cache_root: Path | None = None,
                  rows: list[Row] | None = None) -> dict:
    """Index the seeds and ``synthesis_docs/`` (cached), then answer and grade every row with each backend."""
    from rag.generate.base import BackendError

    from .runners import cached_index

    rows = load(path) if rows is None else rows
    built = cached_index("synthesis", [settings.seeds_dir, DOCS], settings, cache_root, progress=False)
    base = settings.replace(index_dir=built.root)
    answers, skipped = [], {}
    for spec in specs:
        try:
            answers.append(run_backend(rows, base, spec))
        except BackendError as exc:  # e.g. a model that is not installed: report it, go on
            print(f"skipping backend {spec.label}: {exc}", file=sys.stderr)
            skipped[spec.label] = str(exc)
    return {"dataset": "synthesis", "file": str(path), "questions": len(rows),
            "documents": sorted(d.source for d in built.index.documents.values()),
            "index": {**built.build, "path": str(built.root)}, "router": router_accuracy(rows),
            "answers": answers, "skipped_backends": skipped}
