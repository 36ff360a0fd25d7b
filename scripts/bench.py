"""Speed of the core path on this machine: seeds index build, warm retrieve, answer latency.

Usage: .venv/bin/python scripts/bench.py [--backend local|extractive|openai] [--runs N] [--answers N]
Prints a Markdown table; run it on an otherwise idle machine. Answer latency is measured over five
fixed questions, or with ``--answers N`` over the first N questions of ``eval/seeds_qa.jsonl``
(an abstention's time to first token is its total: that is when the user sees it).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import rag
from rag.config import Settings

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "Who signed the space MoU with the Canadian Space Agency?",
    "Which hotel in Seoul hosted the Korea–US space business symposium?",
    "What forum did the mayor of Daejeon attend while in Canada?",
    "How many digital fields does the Korea–UK partnership prioritise?",
    "Since which year have Korea and Britain had an intergovernmental science agreement?",
]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def ui_cold_start(settings: Settings) -> list[tuple[str, float]]:
    """``python app.py`` over the built index (model already in the cache): seconds until the page is
    served, and until its HTTP API has answered a first question."""
    sys.path.insert(0, str(ROOT / "tests"))
    from ui_server import running_app  # the UI tests' launcher: app.py on a free port, index in workdir/index

    started = time.perf_counter()
    with running_app(settings.index_dir.parent, env={"RAG_BACKEND": settings.backend}, ready="",
                     settled=False) as app:
        page = time.perf_counter() - started
        body = json.dumps({"model": "rag", "messages": [{"role": "user", "content": QUESTIONS[1]}]}).encode()
        request = urllib.request.Request(app.url + "v1/chat/completions", body, {"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=300).read()
        answered = time.perf_counter() - started
    return [("UI cold start: page served (python app.py)", page),
            ("UI cold start: first answer through its API", answered)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="local")
    parser.add_argument("--runs", type=int, default=20, help="retrieve calls per question")
    parser.add_argument("--answers", type=int, default=0, help="time answers to the first N seeds QA questions "
                        "(default: the five fixed questions)")
    args = parser.parse_args()
    questions = QUESTIONS
    if args.answers:
        sys.path.insert(0, str(ROOT))
        from eval.datasets import load_seeds_qa

        questions = [row.question for row in load_seeds_qa()[: args.answers]]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(index_dir=Path(tmp) / "index", backend=args.backend)
        t = time.perf_counter()
        import sentence_transformers  # noqa: F401  (import cost reported separately)
        rows.append(("import sentence-transformers + torch", time.perf_counter() - t))
        t = time.perf_counter()
        report = rag.ingest([ROOT / "seeds"], settings, progress=False)
        rows.append((f"build seeds index ({report.chunks_embedded} chunks, model load included)", time.perf_counter() - t))
        t = time.perf_counter()
        rag.ingest([ROOT / "seeds"], settings, progress=False)
        rows.append(("re-ingest unchanged seeds (nothing embedded)", time.perf_counter() - t))
        rag.retrieve(QUESTIONS[0], settings=settings)  # warm
        lat = []
        for _ in range(args.runs):
            for q in QUESTIONS:
                t = time.perf_counter()
                rag.retrieve(q, settings=settings)
                lat.append(time.perf_counter() - t)
        rows.append((f"warm retrieve p50 ({len(lat)} calls)", statistics.median(lat)))
        rows.append(("warm retrieve p95", pct(lat, 0.95)))
        t = time.perf_counter()
        rag.answer(QUESTIONS[0], settings=settings)
        rows.append((f"first answer ({args.backend}; model load included)", time.perf_counter() - t))
        ttft, total = [], []
        for q in questions:
            a = rag.answer(q, settings=settings)
            ttft.append(a.timings.get("first_token", a.timings["total"]))
            total.append(a.timings["total"])
        rows.append((f"answer time to first token p50 ({len(questions)} questions)", statistics.median(ttft)))
        rows.append(("answer total p50", statistics.median(total)))
        rows.append(("answer total max", max(total)))
        rows += ui_cold_start(settings)
    print(f"| measure ({args.backend} backend) | seconds |\n|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
