"""The HTTP API of ``rag serve``: real ``openai`` and ``httpx`` clients against a real server
(subprocess on 127.0.0.1 with its own seeds index and the default local model)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import rag  # noqa: F401  (offline environment first)
from rag.api import api_key_for, completion_extras, create_app, is_loopback, split_text
from rag.config import check_question
from rag.service import App
from rag.types import Answer, Claim
from rag.load import short_id

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ui_server import ROOT, running_app  # noqa: E402

CANADA_DOC = "000_5dd565f1f7c88ce4.txt"
UK_DOC = "003_27fea56bcbbbd058.txt"
QUESTION = "Who signed the space MoU with the Canadian Space Agency?"
OFF_TOPIC = "What is the recommended tyre pressure for a 2004 Honda Civic?"
SERVE = ["-m", "rag.cli", "serve"]


# --- pure helpers ------------------------------------------------------------------------
@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                            ("[::1]", True), ("127.0.0.2", True), ("0.0.0.0", False),
                                            ("192.168.1.5", False), ("example.org", False)])
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


def test_a_key_is_required_off_loopback():
    assert api_key_for("127.0.0.1", {}) is None
    assert api_key_for("127.0.0.1", {"RAG_API_KEY": "k1"}) == "k1"
    assert api_key_for("0.0.0.0", {"RAG_API_KEY": " k2 "}) == "k2"
    with pytest.raises(ValueError, match="RAG_API_KEY"):
        api_key_for("0.0.0.0", {})
    with pytest.raises(ValueError, match="RAG_API_KEY"):
        api_key_for("10.1.2.3", {"RAG_API_KEY": "  "})


@pytest.mark.parametrize("text", ["", "One.", "The MoU was signed [1]. Then  more [2].\n", "  lead and trail  "])
def test_split_text_pieces_rejoin_exactly(text):
    pieces = split_text(text)
    assert "".join(pieces) == text
    assert all(pieces)


@pytest.mark.parametrize("command", [SERVE, ["-m", "rag.cli", "mcp", "--transport", "http"]])
def test_refuses_to_listen_beyond_loopback_without_a_key(tmp_path, command):
    env = {k: v for k, v in os.environ.items() if k != "RAG_API_KEY"}
    done = subprocess.run([sys.executable, *command, "--host", "0.0.0.0", "--port", "9", "--index", str(tmp_path / "i")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "RAG_API_KEY" in done.stderr and "0.0.0.0" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "i").exists()  # refused before any work


# --- the app in this process (no model: the extractive backend) ----------------------------------
@pytest.fixture(scope="module")
def local(seeds_settings):
    """The API over the seeds with the extractive backend, in this process, and its ``App``."""
    from fastapi.testclient import TestClient

    shared = App(seeds_settings.replace(backend="extractive"))
    with TestClient(create_app(shared.settings, shared=shared)) as client:
        yield client, shared


def _limit_message(question: str, settings) -> str:
    with pytest.raises(ValueError) as expected:
        check_question(question, settings)
    return str(expected.value)


@pytest.mark.parametrize("chars", [2_500, 5_000])
def test_one_question_limit_with_one_message_and_no_traceback(local, caplog, chars):
    client, shared = local
    question = ("Who signed the MoU? " * 300)[:chars]
    expected = _limit_message(question, shared.settings)
    for stream in (False, True):
        r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": question}],
                                                       "stream": stream})
        assert r.status_code == 400 and r.json()["error"]["message"] == expected, r.text
    r = client.post("/v1/search", json={"query": question})
    assert r.status_code == 400 and r.json()["error"]["message"] == expected
    assert "QuestionTooLong" not in expected
    assert not [rec for rec in caplog.records if rec.exc_info]  # a user's error: no traceback in the log


def test_an_empty_question_is_called_empty(local):
    client, shared = local
    for content in ("", "   ", [{"type": "text", "text": " "}]):
        r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": content}]})
        assert r.status_code == 400 and r.json()["error"]["message"] == _limit_message("", shared.settings)
    assert _limit_message("", shared.settings) == "the question is empty"
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "assistant", "content": "hi"}]})
    assert r.status_code == 400 and "last message must be the user's question" in r.json()["error"]["message"]


def test_a_waiting_stream_is_told_its_place_in_line(local):
    """The line is held by two answers (one being written, one waiting): a streamed request hears
    ``: queued, position 2``, then 1, then gets its answer with ``rag.queue``."""
    import json
    import threading
    import time

    client, shared = local
    line = shared.queue("extractive")
    ahead = [line.join(), line.join()]
    result = {}

    def ask():
        result["response"] = client.post("/v1/chat/completions", json={
            "stream": True, "messages": [{"role": "user", "content": QUESTION}]})

    worker = threading.Thread(target=ask)
    worker.start()
    deadline = time.monotonic() + 30
    while len(line) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(line) == 3, "the request did not join the line"
    time.sleep(0.6)
    ahead[0].leave()
    time.sleep(0.6)
    ahead[1].leave()
    worker.join(120)
    body = result["response"].text
    lines = [x for x in body.split("\n\n") if x]
    assert lines[:2] == [": queued, position 2", ": queued, position 1"], lines[:3]
    assert lines[2].startswith("data: ") and lines[-1] == "data: [DONE]"
    final = json.loads(lines[-2][len("data: "):])
    assert final["choices"][0]["finish_reason"] == "stop"
    assert final["rag"]["queue"]["position"] == 2 and final["rag"]["queue"]["waited"] >= 1.0
    assert {"citations", "claims", "closest"} <= set(final) and len(line) == 0


def test_a_completion_carries_claims_and_a_decline_its_closest_passages(local, seeds_settings):
    import rag as api

    client, _ = local
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}]})
    body = r.json()
    assert r.status_code == 200 and {"citations", "claims", "closest", "rag"} <= set(body)
    assert body["rag"]["queue"] == {"position": 0, "waited": body["rag"]["queue"]["waited"]}
    assert not {"citations", "claims", "closest", "text"} & set(body["rag"])
    # a decline (``closest`` as the pipeline fills it: the passages nearest to the question)
    near = api.retrieve("Which conference did the Daejeon mayor attend in Montreal?", k=2, settings=seeds_settings)
    declined = completion_extras(Answer("The documents do not say.", abstained=True, closest=near))
    assert declined["citations"] == [] and declined["rag"]["abstained"] is True
    assert [p["text"] for p in declined["closest"]] == [p.text for p in near]
    assert {"doc_id", "source", "start", "end", "score"} <= set(declined["closest"][0])
    claims = [Claim("Oh Tae-seok signed [1]", (1,)), Claim("Lisa Campbell too [1] [2]", (1, 2))]
    assert completion_extras(Answer("…", claims=claims))["claims"] == [
        {"text": "Oh Tae-seok signed [1]", "citations": [1]}, {"text": "Lisa Campbell too [1] [2]", "citations": [1, 2]}]


# --- the running server --------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory, seeds_settings):
    # A copy of the session's seeds index: the server need not embed the seeds again, and the
    # uploads and removals below stay in this copy.
    workdir = tmp_path_factory.mktemp("api-app")
    shutil.copytree(seeds_settings.index_dir, workdir / "index")
    with running_app(workdir, args=SERVE, ready="openapi.json", env={"RAG_API_KEY": ""}) as running:
        yield running


@pytest.fixture
def oai(server):
    from openai import OpenAI

    return OpenAI(base_url=server.url + "v1", api_key="unused-on-loopback", max_retries=0, timeout=600)


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server.url, timeout=600) as client:
        yield client


def extra(obj, name):
    """An extra (non-OpenAI) field of a response object of the openai client."""
    return (obj.model_extra or {}).get(name)


def check_citations(content: str, citations: list[dict], http: httpx.Client) -> None:
    """Every marker has a citation, every citation is used and its quote is where it says."""
    numbers = {c["number"] for c in citations}
    used = {int(n) for group in re.findall(r"\[(\d+(?:\s*,\s*\d+)*)\]", content) for n in re.split(r"\s*,\s*", group)}
    assert used == numbers, (content, numbers)
    for c in citations:
        doc = http.get(f"/v1/documents/{c['doc_id']}").json()
        assert doc["text"][c["quote_start"]:c["quote_end"]] == c["quote"]
        assert doc["text"][c["start"]:c["end"]] == c["text"]


@pytest.mark.slow
def test_models_and_openapi_schema(oai, http):
    assert [m.id for m in oai.models.list().data] == ["rag"]
    assert oai.models.retrieve("rag").id == "rag"
    schema = http.get("/openapi.json").json()
    assert {"/v1/chat/completions", "/v1/models", "/v1/search", "/v1/documents",
            "/v1/documents/{doc_id}"} <= set(schema["paths"])
    assert {"get", "post"} <= set(schema["paths"]["/v1/documents"])
    assert "delete" in schema["paths"]["/v1/documents/{doc_id}"]
    assert http.get("/config").status_code == 200  # the chat UI is served by the same process


@pytest.mark.slow
def test_chat_completion_cites_the_right_seed(oai, http):
    completion = oai.chat.completions.create(model="rag", messages=[{"role": "user", "content": QUESTION}])
    content = completion.choices[0].message.content
    citations = extra(completion, "citations")
    meta = extra(completion, "rag")
    assert not meta["abstained"], content
    assert CANADA_DOC in {c["source"] for c in citations}, content
    assert "Campbell" in content + " ".join(c["quote"] for c in citations)
    assert meta["query"] == QUESTION and meta["passages"] and "total" in meta["timings"]
    check_citations(content, citations, http)


@pytest.mark.slow
def test_streamed_completion_sends_verified_text_then_citations(oai, http):
    stream = oai.chat.completions.create(model="rag", stream=True, messages=[{"role": "user", "content": QUESTION}])
    drafts, content, final = [], [], None
    for chunk in stream:
        delta = chunk.choices[0].delta
        if extra(delta, "rag_draft"):
            assert not content, "the draft comes before the verified text"
            drafts.append(extra(delta, "rag_draft"))
        if delta.content:
            content.append(delta.content)
        if chunk.choices[0].finish_reason:
            final = chunk
    text = "".join(content)
    assert drafts and final is not None and final.choices[0].finish_reason == "stop"
    citations, meta = extra(final, "citations"), extra(final, "rag")
    assert not meta["abstained"], text
    assert CANADA_DOC in {c["source"] for c in citations}, text
    check_citations(text, citations, http)


@pytest.mark.slow
@pytest.mark.parametrize("stream", [False, True])
def test_off_topic_question_abstains_without_citations(oai, stream):
    messages = [{"role": "user", "content": OFF_TOPIC}]
    if stream:
        chunks = list(oai.chat.completions.create(model="rag", stream=True, messages=messages))
        text = "".join(c.choices[0].delta.content or "" for c in chunks)
        last = chunks[-1]
    else:
        last = oai.chat.completions.create(model="rag", messages=messages)
        text = last.choices[0].message.content
    assert extra(last, "rag")["abstained"] is True
    assert extra(last, "citations") == []
    assert text and "[" not in text


@pytest.mark.slow
def test_follow_up_is_condensed_with_the_conversation(oai):
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "What space agreement did Korea sign with the UK?"},
        {"role": "assistant", "content": "Korea and the UK signed an MoU on space cooperation [1]."},
        {"role": "user", "content": [{"type": "text", "text": "And who signed it for the UK?"}]},
    ]
    completion = oai.chat.completions.create(model="rag", messages=messages)
    meta = extra(completion, "rag")
    assert meta["query"] != "And who signed it for the UK?"  # condensed with the history
    assert UK_DOC in {p["source"] for p in meta["passages"]}


@pytest.mark.slow
def test_search_returns_passages_with_scores_and_spans(http):
    r = http.post("/v1/search", json={"query": "Canadian Space Agency MoU Lisa Campbell", "k": 3})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert len(data) == 3 and data[0]["source"] == CANADA_DOC
    assert [p["rank"] for p in data] == [1, 2, 3]
    scores = [p["score"] for p in data]
    assert scores == sorted(scores, reverse=True)
    assert all(p["start"] < p["end"] and p["text"] for p in data)


@pytest.mark.slow
def test_documents_upload_list_and_delete(http, server):
    listed = {d["source"]: d for d in http.get("/v1/documents").json()["data"]}
    assert CANADA_DOC in listed and "text" not in listed[CANADA_DOC] and listed[CANADA_DOC]["uploaded"] is False
    note = "# Zorblat harbour\n\nThe Zorblat harbour lighthouse was repainted violet in 1931 by Ingrid Vasskog.\n"
    r = http.post("/v1/documents", files=[("files", ("zorblat.md", note.encode(), "text/markdown")),
                                          ("files", ("tool.exe", b"MZ", "application/octet-stream")),
                                          ("files", (".hidden.md", b"# x\n", "text/markdown"))])
    assert r.status_code == 200, r.text
    body = r.json()
    assert [short_id(d) for d in body["added"]] == ["zorblat.md"]
    reasons = {x["name"]: x["reason"] for x in body["rejected"]}
    assert "unsupported file type .exe" in reasons["tool.exe"] and "hidden" in reasons[".hidden.md"]
    assert (server.uploads / "zorblat.md").is_file() and not (server.uploads / "tool.exe").exists()
    listed = {d["source"]: d for d in http.get("/v1/documents").json()["data"]}
    assert listed["zorblat.md"]["uploaded"] is True
    hits = http.post("/v1/search", json={"query": "Zorblat lighthouse repainted violet", "k": 1}).json()["data"]
    assert hits[0]["source"] == "zorblat.md"

    r = http.post("/v1/documents", files=[("files", ("tool.exe", b"MZ", "application/octet-stream"))])
    assert r.status_code == 400 and "unsupported file type .exe" in r.json()["error"]["message"]

    r = http.delete("/v1/documents/zorblat.md")
    assert r.status_code == 200 and r.json()["deleted_file"] is True
    assert [short_id(d) for d in r.json()["removed"]] == ["zorblat.md"]
    assert "zorblat.md" not in {d["source"] for d in http.get("/v1/documents").json()["data"]}
    assert not (server.uploads / "zorblat.md").exists()
    r = http.delete("/v1/documents/zorblat.md")
    assert r.status_code == 404 and "zorblat.md" in r.json()["error"]["message"]


@pytest.mark.slow
def test_errors_are_json_with_a_message(http):
    from rag.config import Settings

    server_settings = Settings.from_env()  # the server's limit: nothing sets another
    cases = [
        (http.get("/v1/nothing-here"), 404, "Not Found"),
        (http.post("/v1/chat/completions", json={"model": "rag"}), 400, "messages"),
        (http.post("/v1/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"}), 400, "invalid request"),
        (http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}), 404, "gpt-4o"),
        (http.post("/v1/chat/completions", json={"messages": [{"role": "assistant", "content": "hi"}]}), 400, "last message"),
        *[(http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": q}]}), 400,
           _limit_message(q, server_settings)) for q in ("x" * 5000, "x" * 2001, " ")],
        (http.post("/v1/search", json={"query": "x", "k": 0}), 400, "k"),
        (http.get("/v1/documents/no-such-doc.txt"), 404, "no-such-doc.txt"),
        (http.post("/v1/search", content=b"{" + b" " * 1_100_000 + b"}", headers={"Content-Type": "application/json"}), 413, "too large"),
    ]
    for response, status, words in cases:
        assert response.status_code == status, (response.request.url, response.text)
        assert response.headers["content-type"].startswith("application/json")
        error = response.json()["error"]
        assert words in error["message"], error
        assert "Traceback" not in response.text and "QuestionTooLong" not in response.text


@pytest.mark.slow
def test_a_chunked_body_over_the_limit_is_refused(http):
    def body():
        for _ in range(40):
            yield b" " * 50_000

    r = http.post("/v1/search", content=body(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "too large" in r.json()["error"]["message"]


@pytest.mark.slow
def test_eight_concurrent_requests_all_succeed(oai, http):
    questions = [QUESTION, "Which hotel hosted the Korea-US space industry symposium?",
                 "What did Daejeon discuss with Quebec?", "What fields does the Korea-UK space MoU cover?"]

    def chat(i: int):
        messages = [{"role": "user", "content": questions[i % len(questions)]}]
        if i % 2:
            chunks = list(oai.chat.completions.create(model="rag", messages=messages, stream=True))
            assert chunks[-1].choices[0].finish_reason == "stop"
            return "".join(c.choices[0].delta.content or "" for c in chunks)
        return oai.chat.completions.create(model="rag", messages=messages).choices[0].message.content

    def search(i: int):
        r = http.post("/v1/search", json={"query": questions[i % len(questions)], "k": 2})
        r.raise_for_status()
        return r.json()["data"][0]["text"]

    jobs = [(chat, i) for i in range(6)] + [(search, i) for i in range(2)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda job: job[0](job[1]), jobs))
    assert len(results) == 8 and all(results)


@pytest.mark.slow
def test_concurrent_streams_are_answered_one_at_a_time_and_told_their_place(server):
    """Three streamed chats at once with the local model: one is answered, the others wait in
    line, each told its place by an SSE comment before its first chunk; the answers never overlap."""
    import threading
    import time

    questions = ["Where was the 41st Space Symposium held?", "Which Korean city is home to Daedeok Innopolis?",
                 "Who is the Administrator of the Korea AeroSpace Administration?"]
    start, results = threading.Barrier(len(questions)), {}

    def chat(i):
        comments, began, ended = [], None, None
        start.wait()
        with httpx.stream("POST", server.url + "v1/chat/completions", timeout=600, json={
                "stream": True, "messages": [{"role": "user", "content": questions[i]}]}) as r:
            for line in r.iter_lines():
                if line.startswith(":"):
                    assert began is None, "a queue comment after the answer began"
                    comments.append(line)
                elif line.startswith("data: ") and began is None:
                    began = time.monotonic()
                elif line == "data: [DONE]":
                    ended = time.monotonic()
        results[i] = (comments, began, ended)

    threads = [threading.Thread(target=chat, args=(i,)) for i in range(len(questions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(900)
    assert len(results) == 3 and all(began and ended for _, began, ended in results.values())
    firsts = sorted(comments[0] for comments, _, _ in results.values() if comments)
    assert firsts == [": queued, position 1", ": queued, position 2"], results
    spans = sorted((began, ended) for _, began, ended in results.values())
    assert all(later[0] >= earlier[1] - 0.5 for earlier, later in zip(spans, spans[1:])), spans


# --- a key on the server ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def keyed(server, tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("api-keyed"), args=SERVE, ready="openapi.json",
                     env={"RAG_API_KEY": "s3cret-key", "RAG_INDEX_DIR": str(server.workdir / "index")}) as running:
        yield running


@pytest.mark.slow
def test_a_wrong_key_is_refused_when_a_key_is_set(keyed):
    from openai import AuthenticationError, OpenAI

    for key in ("wrong-key", "s3cret-ke", ""):
        client = OpenAI(base_url=keyed.url + "v1", api_key=key or "x", max_retries=0)
        with pytest.raises(AuthenticationError) as info:
            client.chat.completions.create(model="rag", messages=[{"role": "user", "content": QUESTION}])
        assert "API key" in str(info.value)
    r = httpx.get(keyed.url + "v1/documents")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "API key" in r.json()["error"]["message"]
    good = OpenAI(base_url=keyed.url + "v1", api_key="s3cret-key", max_retries=0)
    assert [m.id for m in good.models.list().data] == ["rag"]
    r = httpx.post(keyed.url + "v1/search", json={"query": QUESTION, "k": 1},
                   headers={"Authorization": "Bearer s3cret-key"}, timeout=120)
    assert r.status_code == 200 and r.json()["data"][0]["source"] == CANADA_DOC
    # the chat UI and its Gradio API ask for the key too (as the login password)
    for r in (httpx.get(keyed.url + "config"), httpx.post(keyed.url + "gradio_api/call/ask", json={"data": [QUESTION]})):
        assert r.status_code == 401 and "RAG_API_KEY" in r.text
