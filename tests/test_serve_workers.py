"""A team's setup, for real: two ``rag serve`` workers on one PostgreSQL store answering through one
llama.cpp server with parallel slots (the 1.5B model), asked at once through the OpenAI client."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import ROOT
from rag.store import migrate
from test_backends import launch, needs_qwen15

KEY = "team-secret"
SLOTS = 2
QUESTIONS = [  # each answered from the seeds (eval/seeds_qa.jsonl)
    "Who signed the space MoU with the Canadian Space Agency?",
    "Where was the 41st Space Symposium held?",
    "Who is the Administrator of the Korea AeroSpace Administration?",
    "Which official represented Canada when the Korean-Canadian space memorandum was concluded?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llm_server():
    server = launch("--model", "qwen-1.5b", "--parallel", str(SLOTS), "--ctx-size", "2048")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def team(pg_url, seeds_settings, llm_server):
    """``rag serve --workers 2`` on the seeds migrated into PostgreSQL; yields its /v1 URL."""
    migrate(seeds_settings.replace(store=pg_url, collection="team"), pg_url, source=seeds_settings.index_dir)
    port = free_port()
    env = {**os.environ, "RAG_STORE": pg_url, "RAG_COLLECTION": "team", "RAG_LLM": "openai",
           "OPENAI_BASE_URL": llm_server.url, "RAG_LLM_MODEL": "qwen-1.5b", "RAG_LLM_SLOTS": str(SLOTS),
           "RAG_API_KEY": KEY, "RAG_TIMEOUT": "600"}
    log = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--workers", "2", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 300
    while True:
        try:
            if httpx.get(url + "/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            pytest.fail(f"rag serve --workers 2 did not answer: {log.read()[-3000:]}")
        time.sleep(1)
    yield url, proc, log
    os.killpg(proc.pid, 15)
    proc.wait(30)


def worker_pids(proc: subprocess.Popen) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


@needs_qwen15
@pytest.mark.slow
def test_two_workers_answer_concurrent_questions_with_citations(team):
    from openai import OpenAI

    url, proc, log = team
    assert len(worker_pids(proc)) >= 2  # the supervisor's worker processes
    client = OpenAI(base_url=url, api_key=KEY, timeout=900, max_retries=0)
    with pytest.raises(Exception, match="401|API key"):
        OpenAI(base_url=url, api_key="wrong", max_retries=0).models.list()

    def ask(question: str) -> dict:
        reply = client.chat.completions.create(model="rag", messages=[{"role": "user", "content": question}])
        return reply.model_dump()

    with ThreadPoolExecutor(len(QUESTIONS)) as pool:
        replies = list(pool.map(ask, QUESTIONS))
    log.seek(0)
    for question, reply in zip(QUESTIONS, replies):
        text = reply["choices"][0]["message"]["content"]
        assert not reply["rag"]["abstained"] and reply["citations"], (question, text, log.read()[-2000:])
        assert all(c["doc_id"] and c["quote"] for c in reply["citations"])
        assert "[1]" in text
    # one line across both workers: SLOTS answered at once, the others told their place on arrival
    first = sorted(r["rag"]["queue"]["position"] for r in replies)
    assert first == [0] * SLOTS + list(range(1, len(QUESTIONS) - SLOTS + 1)), first


@needs_qwen15
@pytest.mark.slow
def test_a_waiting_stream_is_told_its_place(team):
    """Streamed requests beyond the slots hear ``: queued, position N`` before their answer."""
    url, _, _ = team

    def stream(question: str) -> list[str]:
        with httpx.stream("POST", url + "/chat/completions", headers={"Authorization": f"Bearer {KEY}"}, timeout=900,
                          json={"model": "rag", "stream": True, "messages": [{"role": "user", "content": question}]}) as r:
            return [line for line in r.iter_lines() if line]

    with ThreadPoolExecutor(SLOTS + 1) as pool:
        outs = list(pool.map(stream, QUESTIONS[: SLOTS + 1]))
    told = [line for out in outs for line in out if line.startswith(": queued, position")]
    assert told and told[0] == ": queued, position 1", outs
    assert all(out[-1] == "data: [DONE]" and any('"citations"' in line for line in out) for out in outs)


def test_workers_need_a_postgres_store(tmp_path):
    """Workers share the index and the answer line through PostgreSQL: a folder store is refused
    before anything is loaded, with what to do."""
    run = subprocess.run([sys.executable, "-m", "rag.cli", "serve", "--workers", "2", "--port", str(free_port()),
                          "--index", str(tmp_path / "index")], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={k: v for k, v in os.environ.items() if k != "RAG_STORE"})
    assert run.returncode == 2 and "--workers needs a PostgreSQL store" in run.stderr, run.stderr
