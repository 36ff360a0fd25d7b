"""``rag eval`` / ``python -m eval``: run the evaluation suite and write its report."""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def build_parser() -> argparse.ArgumentParser:
    from .runners import DEFAULT_GRID, VARIANTS

    p = argparse.ArgumentParser(prog="rag eval", description="Evaluate retrieval and answers; write report.md, "
                                "results.json and PNG plots.")
    p.add_argument("--beir", type=Path, action="append", default=[], metavar="DIR",
                   help="a BEIR folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv); repeatable")
    p.add_argument("--squad", type=Path, metavar="DIR", help="a SQuAD 2.0 folder (dev-v2.0.json, evaluate-v2.0.py): "
                   "index every paragraph, ask a seeded sample of answerable and unanswerable questions")
    p.add_argument("--squad-n", type=int, default=200, help="questions of each kind in the SQuAD sample (default 200)")
    p.add_argument("--squad-split", choices=("test", "tune"), default="test",
                   help="the reported sample, or a disjoint one for tuning (default test)")
    p.add_argument("--financebench", type=Path, metavar="DIR", help="the FinanceBench folder (pdfs/, "
                   "questions.jsonl): index all filings, measure retrieval and answers; writes <out>/financebench/ "
                   "(with --grid bm25: BM25 retrieval only, nothing embedded)")
    p.add_argument("--synthesis", action="store_true", help="the synthesis set: questions of every shape over the seeds "
                   "and eval/synthesis_docs/, graded per shape (key facts, cited documents, declines, times, router)")
    p.add_argument("--synthesis-file", type=Path, metavar="F", help="the synthesis questions (default: eval/synthesis.jsonl)")
    p.add_argument("--split", default="test", help="qrels split of the BEIR sets (default: test)")
    p.add_argument("--seeds", action="store_true", help="also run the seeds QA set (the default without --beir)")
    p.add_argument("--qa", type=Path, help="the seeds QA file (default: eval/seeds_qa.jsonl)")
    p.add_argument("--grid", default=",".join(DEFAULT_GRID), help="retrieval configurations, comma-separated, "
                   f"from {', '.join(VARIANTS)} (default: %(default)s)")
    p.add_argument("--backends", default="local,extractive", help="answer backends for the seeds set ('none' to skip)")
    p.add_argument("--models", default=None, help="local models, comma-separated (default: the configured one)")
    p.add_argument("--limit", type=int, help="evaluate only the first N queries of each BEIR set")
    p.add_argument("--chunk-size", type=int)
    p.add_argument("--chunk-overlap", type=int)
    p.add_argument("--speed-sample", type=int, default=200, help="documents of each corpus ingested afresh to time "
                   "ingest (chunks/s) and the bare encoder (sentences/s) on the same texts (0: skip)")
    p.add_argument("--cache", type=Path, help="where built indexes are kept (default: <cache_dir>/eval)")
    p.add_argument("--render", type=Path, metavar="DIR", help="only re-write report.md and plots from DIR/results.json")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results folder (default: {DEFAULT_OUT})")
    return p


def backend_specs(backends: str, models: str | None, default_model: str):
    from .runners import BackendSpec

    specs = []
    for backend in [b.strip() for b in backends.split(",") if b.strip() and b.strip() != "none"]:
        if backend == "local":
            specs += [BackendSpec("local", m.strip()) for m in (models or default_model).split(",") if m.strip()]
        else:
            specs.append(BackendSpec(backend))
    return specs


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:  # `rag eval -- --beir DIR`
        argv = argv[1:]
    args = build_parser().parse_args(argv)
    import rag  # noqa: F401  (offline environment first)
    from rag.config import Settings

    from . import report
    from .datasets import load_beir, load_seeds_qa
    from .runners import VARIANTS, run_beir, run_seeds

    if args.render:
        results = json.loads((args.render / "results.json").read_text())
        print("wrote " + ", ".join(str(p) for p in report.write(results, args.render).values()))
        return 0
    started = time.perf_counter()
    settings = Settings.from_env(chunk_size=args.chunk_size, chunk_overlap=args.chunk_overlap)
    if args.financebench:
        from .financebench import main as financebench_main

        return financebench_main(args, settings, backend_specs(args.backends, args.models, settings.llm_model), argv)
    names = [n.strip() for n in args.grid.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        print(f"error: unknown configuration(s) {unknown}; choose from {sorted(VARIANTS)}", file=sys.stderr)
        return 2
    variants = [VARIANTS[n] for n in names]
    datasets = [load_beir(path, args.split) for path in args.beir]
    results: dict = {"meta": {
        "command": ("python -m eval " if sys.argv[0].endswith("__main__.py") else "rag eval ") + shlex.join(argv),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
                   f"load average {os.getloadavg()[0]:.1f} at the start",
        "settings": {k: str(v) for k, v in vars(settings).items()},
    }, "beir": []}
    if args.squad:
        from .squad import run_squad

        specs = backend_specs(args.backends, args.models, settings.llm_model)
        results["squad"] = [run_squad(args.squad, spec.settings(settings), args.squad_n, args.squad_split, args.cache,
                                      spec.label) for spec in specs]
    if args.synthesis or args.synthesis_file:
        from .synthesis import SYNTHESIS, run_synthesis

        specs = backend_specs(args.backends, args.models, settings.llm_model)
        results["synthesis"] = run_synthesis(settings, specs, args.synthesis_file or SYNTHESIS, args.cache)
    if args.seeds or not (datasets or args.squad or args.synthesis or args.synthesis_file):
        rows = load_seeds_qa(args.qa) if args.qa else load_seeds_qa()
        specs = backend_specs(args.backends, args.models, settings.llm_model)
        results["seeds"] = run_seeds(rows, settings, variants, specs, args.speed_sample, args.cache)
    for ds in datasets:
        results["beir"].append(run_beir(ds, settings, variants, args.speed_sample, args.cache, args.limit))
    results["meta"]["seconds"] = round(time.perf_counter() - started, 1)
    results["meta"]["machine"] += f", {os.getloadavg()[0]:.1f} at the end"
    paths = report.write(results, args.out)
    print(report.markdown(results, []).rstrip())
    print("\nwrote " + ", ".join(str(p) for p in paths.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
