"""``rag mcp``: the official ``mcp`` SDK's client against the real server, over stdio (the
server started by the client, as a desktop agent does) and over streamable HTTP with a key."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import anyio
import pytest

import rag

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ui_server import ROOT, free_port, stop  # noqa: E402

CANADA_DOC = "000_5dd565f1f7c88ce4.txt"
QUESTION = "Who signed the space MoU with the Canadian Space Agency?"
OFF_TOPIC = "What is the recommended tyre pressure for a 2004 Honda Civic?"


def run(coro_fn, *args):
    return anyio.run(coro_fn, *args)


def test_ask_returns_claims_and_after_a_decline_the_closest_passages(seeds_settings):
    from rag.mcp_server import ask_result
    from rag.types import Answer, Claim

    near = rag.retrieve("Which conference did the Daejeon mayor attend in Montreal?", k=2, settings=seeds_settings)
    declined = ask_result(Answer("The documents do not say.", abstained=True, closest=near, passages=near))
    assert declined["abstained"] is True and declined["citations"] == [] and declined["claims"] == []
    assert [p["text"] for p in declined["closest"]] == [p.text for p in near]
    assert "passages" not in declined and declined["text"] == "The documents do not say."
    answered = ask_result(Answer("Oh Tae-seok [1]", claims=[Claim("Oh Tae-seok [1]", (1,))]))
    assert answered["claims"] == [{"text": "Oh Tae-seok [1]", "citations": [1]}] and answered["closest"] == []


@pytest.mark.slow
def test_stdio_tools_resources_and_answers(seeds_settings):
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    expected_text = {d.doc_id: d.text for d in rag.list_documents(seeds_settings)}
    canada_id = next(d.doc_id for d in rag.list_documents(seeds_settings) if d.source == CANADA_DOC)
    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "rag.cli", "mcp", "--index", str(seeds_settings.index_dir)],
                                   cwd=str(ROOT), env={**os.environ, "PYTHONUNBUFFERED": "1"})

    async def session_checks():
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            info = await session.initialize()
            assert info.server_info.name == "rag"

            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert set(tools) == {"search_documents", "ask", "list_documents"}
            assert "question" in tools["ask"].input_schema["properties"]

            found = await session.call_tool("search_documents", {"query": "Canadian Space Agency MoU Lisa Campbell", "k": 3})
            assert not found.is_error, found.content
            passages = found.structured_content["passages"]
            assert len(passages) == 3 and passages[0]["source"] == CANADA_DOC
            assert all(expected_text[p["doc_id"]][p["start"]:p["end"]] == p["text"] for p in passages)

            answered = await session.call_tool("ask", {"question": QUESTION})
            assert not answered.is_error, answered.content
            result = answered.structured_content
            assert not result["abstained"], result["text"]
            assert CANADA_DOC in {c["source"] for c in result["citations"]}, result["text"]
            for c in result["citations"]:
                assert f"[{c['number']}]" in result["text"]
                assert expected_text[c["doc_id"]][c["quote_start"]:c["quote_end"]] == c["quote"]
            assert "Campbell" in answered.content[0].text  # the JSON text content for plain clients
            assert result["claims"] and all(c["citations"] for c in result["claims"])

            declined = (await session.call_tool("ask", {"question": OFF_TOPIC})).structured_content
            assert declined["abstained"] is True and declined["citations"] == []
            assert isinstance(declined["closest"], list)  # the nearest passages (none for an off-topic question)

            empty = await session.call_tool("ask", {"question": "  "})
            assert empty.is_error and empty.content[0].text.endswith(": the question is empty")  # the SDK names the tool

            bad = await session.call_tool("search_documents", {"query": "   "})
            assert bad.is_error and "empty" in bad.content[0].text

            listed = (await session.call_tool("list_documents", {})).structured_content["documents"]
            assert {d["doc_id"] for d in listed} == set(expected_text)

            resources = {str(r.uri): r for r in (await session.list_resources()).resources}
            uri = f"rag://documents/{quote(canada_id, safe='')}"
            assert uri in resources and len(resources) == len(expected_text)
            read = await session.read_resource(uri)
            assert read.contents[0].text == expected_text[canada_id]

    run(session_checks)


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"rag mcp exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise RuntimeError(f"rag mcp did not listen within {timeout}s:\n{log.read_text()[-3000:]}")


@pytest.mark.slow
def test_streamable_http_with_a_key(seeds_settings, tmp_path):
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    port, key, log = free_port(), "mcp-key-123", tmp_path / "mcp.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "mcp", "--transport", "http", "--port", str(port),
             "--index", str(seeds_settings.index_dir)],
            cwd=ROOT, env={**os.environ, "RAG_API_KEY": key}, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        _wait_for_port(port, proc, log)
        refused = httpx2.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                              headers={"Authorization": "Bearer wrong"})
        assert refused.status_code == 401 and "API key" in refused.json()["error"]["message"]

        async def session_checks():
            async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=300) as client, \
                    streamable_http_client(url, http_client=client) as (read, write), \
                    ClientSession(read, write) as session:
                await session.initialize()
                assert {t.name for t in (await session.list_tools()).tools} == {"search_documents", "ask", "list_documents"}
                listed = (await session.call_tool("list_documents", {})).structured_content["documents"]
                assert CANADA_DOC in {d["source"] for d in listed}
                found = (await session.call_tool("search_documents", {"query": QUESTION, "k": 1})).structured_content
                assert found["passages"][0]["source"] == CANADA_DOC

        run(session_checks)
    finally:
        stop(proc)
