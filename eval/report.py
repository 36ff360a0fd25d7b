"""Report: results.json, report.md and PNG plots of one evaluation run."""
from __future__ import annotations

import json
from pathlib import Path

# From /work/shared/datasets/README.md (nDCG@10 on the test split of the same files).
PUBLISHED = {
    "scifact": [
        ("BM25, flat title+text (Anserini)", 0.679, "Anserini BEIR regressions (R@100 0.925)"),
        ("BM25 (BEIR paper)", 0.665, "Thakur et al. 2021"),
        ("all-MiniLM-L6-v2", 0.645, "MTEB (about)"),
        ("e5-small-v2", 0.689, "model card"),
        ("bge-small-en-v1.5", 0.713, "MTEB results / model card"),
        ("hybrid BM25 + dense (txtai example)", 0.713, "txtai hybrid-search notebook"),
        ("BM25 bm25s k1=0.9 b=0.4 (datasets README)", 0.676, "measured with ir-measures"),
    ],
    "cranfield": [("BM25 bm25s k1=0.9 b=0.4 (datasets README)", 0.352, "measured with ir-measures")],
    "vaswani": [("BM25 bm25s k1=0.9 b=0.4 (datasets README)", 0.445, "measured with ir-measures")],
}
TARGETS = {"scifact_ndcg10": 0.72, "heldout_ratio": 1.10, "hit@5": 0.95, "hit@1": 0.8, "correct_cited": 0.85,
           "abstention_recall": 0.9, "false_abstentions": 2,
           "squad_present_cited": 0.75, "squad_declined": 0.6, "squad_false_abstentions": 0.1,
           "synthesis_correct": 0.8}
HELD_OUT = ("cranfield", "vaswani")


def _f(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _ms(value) -> str:
    return "–" if value is None else f"{value * 1000:.0f}"


def _rate(value) -> str:
    return "–" if value is None else f"{value:.1f}"


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_f(c) if not isinstance(c, str) else c for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _pass(ok: bool) -> str:
    return "**met**" if ok else "**NOT met**"


# --- tables ------------------------------------------------------------------------------
def grid_table(grid: list[dict]) -> str:
    header = ["configuration", "nDCG@10", "R@10", "R@100", "MRR@10", "p50 ms", "p95 ms",
              "ingest chunks/s", "encoder sent/s"]
    rows = [[g["variant"], g["nDCG@10"], g["R@10"], g["R@100"], g["RR@10"], _ms(g["latency"]["p50"]),
             _ms(g["latency"]["p95"]), _rate(g.get("ingest_chunks_per_s")), _rate(g.get("encoder_sentences_per_s"))]
            for g in grid]
    notes = "\n".join(f"- `{g['variant']}`: {g['note']}" for g in grid if g.get("note"))
    return _table(header, rows) + "\n\n" + notes


def seeds_retrieval_table(rows: list[dict]) -> str:
    header = ["configuration", "hit@1", "hit@3", "hit@5", "hit@10", "evidence recall@5", "doc nDCG@10",
              "doc MRR@10", "p50 ms", "p95 ms", "ingest chunks/s", "encoder sent/s"]
    return _table(header, [[r["variant"], r["hit@1"], r["hit@3"], r["hit@5"], r["hit@10"], r["evidence_recall@5"],
                            r["nDCG@10"], r["RR@10"], _ms(r["latency"]["p50"]), _ms(r["latency"]["p95"]),
                            _rate(r.get("ingest_chunks_per_s")), _rate(r.get("encoder_sentences_per_s"))] for r in rows])


def answers_table(rows: list[dict]) -> str:
    header = ["backend", "correct", "correct + right doc cited", "evidence in context", "correct + cited, evidence given", "citation precision", "citation recall",
              "citation support (quote)", "(passage)", "abstention precision", "abstention recall",
              "false abstentions", "TTFT p50 s", "TTFT p95 s", "total p50 s", "total p95 s"]
    return _table(header, [[a["backend"], a["correct"], a["correct_cited"], a.get("evidence_in_context"),
                            a.get("correct_cited_given_evidence"), a["citation_precision"],
                            a["citation_recall"], a["citation_support"], a["passage_support"],
                            a["abstention_precision"], a["abstention_recall"], a["false_abstentions"],
                            a["ttft"]["p50"], a["ttft"]["p95"], a["total"]["p50"], a["total"]["p95"]] for a in rows])


def by_type_table(rows: list[dict]) -> str:
    types = list(dict.fromkeys(t for a in rows for t in a["by_type"]))
    return _table(["backend", *types], [[a["backend"], *[a["by_type"].get(t) for t in types]] for a in rows])


def speed_note(run: dict) -> str:
    t, build = run["throughput"], run["index"]
    note = "Latency is per query, query embedding included."
    if t.get("sample_documents"):  # not timed with --speed-sample 0
        note = (f"Throughput: a fresh ingest of {t['sample_documents']} documents ({t['sample_chunks']} chunks: read, "
                f"clean, chunk, embed, index, save) ran at {t['ingest_chunks_per_s']} chunks/s; the bare encoder on "
                f"the same texts at {t['encoder_sentences_per_s']} sentences/s. " + note)
    if build.get("chunks_per_s"):
        note += (f" The cached full index ({build.get('chunks_total')} chunks) was built at {build['chunks_per_s']} "
                 f"chunks/s ({build['seconds']:.0f} s).")
    return note


# --- targets -------------------------------------------------------------------------------
def _row(grid: list[dict], name: str) -> dict | None:
    return next((g for g in grid if g["variant"] == name), None)


def target_lines(results: dict) -> list[str]:
    lines = []
    for run in results.get("beir", []):
        default, bm25 = _row(run["grid"], "default"), _row(run["grid"], "bm25")
        if default is None:
            continue
        if run["dataset"] == "scifact" and run["split"] == "test":
            v = default["nDCG@10"]
            lines.append(f"- SciFact test nDCG@10, default configuration: {v:.3f} (target ≥ {TARGETS['scifact_ndcg10']}) {_pass(v >= TARGETS['scifact_ndcg10'])}")
        if run["dataset"] in HELD_OUT and bm25 is not None and bm25["nDCG@10"]:
            ratio = default["nDCG@10"] / bm25["nDCG@10"]
            lines.append(f"- {run['dataset']} nDCG@10 default / BM25-only: {default['nDCG@10']:.3f} / {bm25['nDCG@10']:.3f} "
                         f"= {ratio:.3f}× (target ≥ {TARGETS['heldout_ratio']}×) {_pass(ratio >= TARGETS['heldout_ratio'])}")
    seeds = results.get("seeds")
    if seeds:
        default = _row(seeds["retrieval"], "default")
        if default:
            for k in ("hit@1", "hit@5"):
                v = default[k]
                lines.append(f"- Seeds passage {k}, default configuration: {v:.3f} (target ≥ {TARGETS[k]}) {_pass(v >= TARGETS[k])}")
        for a in seeds["answers"]:
            c, ab, fa = a["correct_cited"] or 0.0, a["abstention_recall"] or 0.0, a["false_abstentions"]
            lines.append(f"- Seeds answers `{a['backend']}`: correct with the right document cited {c:.3f} "
                         f"(target ≥ {TARGETS['correct_cited']}) {_pass(c >= TARGETS['correct_cited'])}; "
                         f"abstention recall {ab:.3f} (target ≥ {TARGETS['abstention_recall']}) {_pass(ab >= TARGETS['abstention_recall'])}; "
                         f"false abstentions {fa} (target ≤ {TARGETS['false_abstentions']}) {_pass(fa <= TARGETS['false_abstentions'])}")
    synthesis = results.get("synthesis")
    for a in synthesis["answers"] if synthesis else []:
        v = a["answerable"]["correct"] or 0.0
        lines.append(f"- Synthesis set `{a['backend']}`: answerable questions with their key facts and the right documents "
                     f"cited {v:.3f} (target ≥ {TARGETS['synthesis_correct']}) {_pass(v >= TARGETS['synthesis_correct'])}")
    for run in results.get("squad", []):
        pc, dec, fa = run["present_cited"] or 0.0, run["unanswerable_declined"] or 0.0, run["false_abstentions"] or 0.0
        lines.append(f"- SQuAD 2.0 `{run['label']}`: answer present + gold paragraph cited {pc:.3f} (target ≥ "
                     f"{TARGETS['squad_present_cited']}) {_pass(pc >= TARGETS['squad_present_cited'])}; unanswerables declined "
                     f"{dec:.3f} (target ≥ {TARGETS['squad_declined']}) {_pass(dec >= TARGETS['squad_declined'])}; false "
                     f"abstentions {fa:.3f} (target ≤ {TARGETS['squad_false_abstentions']}) "
                     f"{_pass(fa <= TARGETS['squad_false_abstentions'])}")
    return lines


def squad_table(runs: list[dict]) -> str:
    header = ["backend", "present + cited", "present", "gold paragraph cited", "gold paragraph retrieved",
              "false abstentions", "unanswerables declined", "abstention precision", "EM (short)", "F1 (short)",
              "HasAns F1", "TTFT p50 s", "total p50 s", "total p95 s"]
    return _table(header, [[r["label"], r["present_cited"], r["present"], r["cited_gold"], r["retrieved_gold"],
                            r["false_abstentions"], r["unanswerable_declined"], r["abstention_precision"],
                            r["official"].get("exact", 0.0) / 100, r["official"].get("f1", 0.0) / 100,
                            r["official"].get("HasAns_f1", 0.0) / 100, r["ttft"]["p50"], r["total"]["p50"],
                            r["total"]["p95"]] for r in runs])


def synthesis_section(run: dict) -> list[str]:
    """The synthesis set: the router, then per backend a table per shape and the questions it missed."""
    name = Path(run["file"]).name
    parts = ["## Synthesis set: every kind of question", "",
             f"{run['questions']} questions ({name}) over {len(run['documents'])} documents (the seeds and "
             "eval/synthesis_docs/), asked through `rag.stream_answer`. Facts = every key fact in the answer (case, "
             "punctuation and citation markers ignored, numbers compared as numbers); docs cited = every required "
             "document among the citations; correct = both, not declined, and for yes/no the expected polarity "
             "(the answer starts with Yes/No); for unanswerable questions correct = declined. Times are p50 seconds "
             "to the sources (retrieval done), the first streamed piece and the whole answer, after a warm-up answer.", ""]
    router = run.get("router")
    if router:
        parts += [f"Router (`rag.answering.route.route`): {router['accuracy']:.3f} of {router['n']} answerable questions "
                  "given their labelled shape; per shape: " + ", ".join(f"{s} {v:.2f}" for s, v in router["by_shape"].items())
                  + (". Misses: " + "; ".join(f"{m['id']} {m['expected']}→{m['got']}" for m in router["misses"])
                     if router["misses"] else "") + ".", ""]
    for label, why in run.get("skipped_backends", {}).items():
        parts += [f"Backend `{label}` was skipped: {why}", ""]
    header = ["shape", "n", "correct", "facts", "docs cited", "declined", "yes/no polarity", "sources p50 s",
              "first token p50 s", "total p50 s"]
    cells = lambda name, v: [name, v["n"], v["correct"], v["facts"], v["docs_cited"], v["declined"], v["polarity"],  # noqa: E731
                             v["sources_p50"], v["first_token_p50"], v["total_p50"]]
    for a in run["answers"]:
        rows = [cells(s, v) for s, v in a["by_shape"].items()]
        rows += [cells("**answerable**", a["answerable"]), cells("**all**", a["overall"])]
        missed = [r for r in a["records"] if not r["correct"]]
        parts += [f"### `{a['backend']}`", "", _table(header, rows), "",
                  f"False declines: {a['false_declines']}. Not correct ({len(missed)}): " + ("; ".join(
                      f"{r['id']} ({_why(r)})" for r in missed) or "none") + ".", ""]
    return parts


def _why(record: dict) -> str:
    if record["shape"] == "unanswerable":
        return "answered"
    if record["declined"]:
        return "declined"
    why = [f"missing {' | '.join(f[0] for f in record['missing_facts'])}" if record["missing_facts"] else "",
           f"not cited {', '.join(d[0] for d in record['missing_docs'])}" if record["missing_docs"] else "",
           "wrong polarity" if record["polarity"] is False else ""]
    return "; ".join(w for w in why if w)


# --- plots -----------------------------------------------------------------------------------
def plot(results: dict, out: Path) -> list[Path]:
    """Bar charts: nDCG@10 and latency per configuration and dataset, seeds hit@k, answers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for run in results.get("beir", []):
        grid = run["grid"]
        names = [g["variant"] for g in grid]
        published = PUBLISHED.get(run["dataset"], []) if run["split"] == "test" else []
        labels = names + [f"{n} (ref.)" for n, _, _ in published]
        values = [g["nDCG@10"] for g in grid] + [v for _, v, _ in published]
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 0.9 + 0.38 * len(labels)), gridspec_kw={"width_ratios": [3, 2]})
        a1.barh(labels[::-1], values[::-1], color=(["#4c72b0"] * len(names) + ["#b0b0b0"] * len(published))[::-1])
        for y, v in enumerate(values[::-1]):
            a1.text(v, y, f" {v:.3f}", va="center", fontsize=7)
        a1.set_xlim(0, max(values) * 1.15)
        a1.tick_params(axis="y", labelsize=7)
        a1.set_title(f"{run['dataset']} ({run['split']}): nDCG@10")
        a2.bar(names, [g["latency"]["p50"] * 1000 for g in grid], label="p50", color="#55a868")
        a2.bar(names, [(g["latency"]["p95"] - g["latency"]["p50"]) * 1000 for g in grid],
               bottom=[g["latency"]["p50"] * 1000 for g in grid], label="p95", color="#c44e52", alpha=0.6)
        a2.set_title("latency per query (ms)")
        a2.legend()
        a2.tick_params(axis="x", labelrotation=30, labelsize=8)
        fig.tight_layout()
        written.append(_save(fig, out / f"{run['dataset']}-{run['split']}_grid.png"))
    seeds = results.get("seeds")
    if seeds:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for r in seeds["retrieval"]:
            ks = [int(k.split("@")[1]) for k in r if k.startswith("hit@")]
            ax.plot(ks, [r[f"hit@{k}"] for k in ks], marker="o", label=r["variant"])
        ax.set(xlabel="k passages", ylabel="hit@k", title="seeds: gold evidence in top-k", ylim=(0, 1.02))
        ax.legend(fontsize=7)
        fig.tight_layout()
        written.append(_save(fig, out / "seeds_hits.png"))
        if seeds["answers"]:
            keys = ["correct", "correct_cited", "citation_precision", "citation_recall", "citation_support", "abstention_recall"]
            fig, ax = plt.subplots(figsize=(8, 3.5))
            width = 0.8 / len(seeds["answers"])
            for i, a in enumerate(seeds["answers"]):
                ax.bar([j + i * width for j in range(len(keys))], [a[k] or 0 for k in keys], width, label=a["backend"])
            ax.set_xticks([j + width * (len(seeds["answers"]) - 1) / 2 for j in range(len(keys))], keys, fontsize=7, rotation=20)
            ax.set(ylim=(0, 1.02), title="seeds: answer quality per backend")
            ax.legend(fontsize=7)
            fig.tight_layout()
            written.append(_save(fig, out / "seeds_answers.png"))
    return written


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --- the report -----------------------------------------------------------------------------
def markdown(results: dict, images: list[Path]) -> str:
    meta = results["meta"]
    parts = ["# Evaluation report", "",
             f"Command: `{meta['command']}`  ", f"Started {meta['started']}, took {meta['seconds']:.0f} s; "
             f"machine: {meta['machine']}; embedder `{meta['settings']['embedder']}`, chunks "
             f"{meta['settings']['chunk_size']}/{meta['settings']['chunk_overlap']} tokens, k={meta['settings']['k']}, "
             f"fetch_k={meta['settings']['fetch_k']}.", ""]
    lines = target_lines(results)
    if lines:
        parts += ["## Targets", "", *lines, ""]
    seeds = results.get("seeds")
    if seeds:
        parts += ["## Seeds QA set", "", f"{seeds['questions']} questions over {seeds['documents']} documents "
                  "(eval/seeds_qa.jsonl). A passage is a hit when it comes from a gold document and holds an "
                  "evidence span verbatim or covers at least half of its span in the cleaned text.", "",
                  "### Retrieval", "", seeds_retrieval_table(seeds["retrieval"]), "", speed_note(seeds), ""]
        misses = {r["variant"]: r["misses@5"] for r in seeds["retrieval"] if r["misses@5"]}
        if misses:
            parts += ["Questions without a hit in the top 5: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in misses.items()), ""]
        for label, why in seeds.get("skipped_backends", {}).items():
            parts += [f"Backend `{label}` was skipped: {why}", ""]
        if seeds["answers"]:
            parts += ["### Answers", "", "Correct = every gold fact appears in the answer (case- and whitespace-"
                      "insensitive, markers removed); the right document cited = also cites a gold document. Citation "
                      "precision/recall compare cited with gold document ids; support = a citation's quote (or passage) "
                      "holds a gold fact. Evidence in context = a gold evidence span was in the passages the backend was "
                      "given; the next column is correctness on those questions only (generation, not retrieval). "
                      "Latencies exclude a warm-up answer.", "",
                      answers_table(seeds["answers"]), "", "Correct with the right document cited, per question type:",
                      "", by_type_table(seeds["answers"]), ""]
    if results.get("synthesis"):
        parts += synthesis_section(results["synthesis"])
    squad = results.get("squad", [])
    if squad:
        first = squad[0]
        parts += ["## SQuAD 2.0 over the whole collection", "",
                  f"All {first['paragraphs']} paragraphs of squad2-dev indexed as one collection; a sample of "
                  f"{first['per_class']} answerable + {first['per_class']} unanswerable questions ({first['split']} split, "
                  f"seed {first['seed']}) asked of the whole index. Present = a gold answer appears in the answer text; "
                  "cited = the gold paragraph is among the citations. EM/F1: the official evaluate-v2.0.py on "
                  "`Answer.short` (empty when declined) over the sample.", "", squad_table(squad), ""]
    for run in results.get("beir", []):
        parts += [f"## {run['dataset']} ({run['split']} split)", "",
                  f"{run['documents']:,} documents, {run['queries']} queries, {run['judgments']:,} judgments; "
                  f"index of {run['index'].get('chunks_total', '?'):,} chunks. Documents ranked by their best passage, "
                  f"depth 100; measures by ir-measures.", "", grid_table(run["grid"]), "", speed_note(run), ""]
        published = PUBLISHED.get(run["dataset"])
        if published and run["split"] == "test":
            parts += ["Published / reference nDCG@10 on the same data:", "",
                      _table(["system", "nDCG@10", "source"], [[n, v, s] for n, v, s in published]), ""]
    if images:
        parts += ["## Plots", "", *[f"![{p.stem}]({p.name})" for p in images], ""]
    return "\n".join(parts)


def write(results: dict, out: Path) -> dict[str, Path]:
    """Write results.json, the plots and report.md into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    images = plot(results, out)
    paths = {"json": out / "results.json", "report": out / "report.md"}
    paths["json"].write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str))
    paths["report"].write_text(markdown(results, images))
    return {**paths, **{p.stem: p for p in images}}
