"""What a newcomer sees on bad input and on a first run: short, specific messages and exit codes."""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys

import pytest

from conftest import ROOT, SEEDS
from test_cli import QUESTION, rag_cli


def test_a_question_over_the_limit_says_its_length_the_limit_and_how_to_change_it(tmp_path):
    out = rag_cli("ask", "why " * 600, "--index", str(tmp_path / "none"), "--no-server")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [
        "error: the question is 2,399 characters long; the limit is 2,000 "
        "(raise it with RAG_MAX_QUESTION_CHARS, or ask a shorter question)"]
    assert not (tmp_path / "none").exists()  # refused before any work


@pytest.mark.parametrize("command", ["ask", "search"])
def test_an_empty_question_is_refused(command, seeds_settings):
    out = rag_cli(command, "  ", "--index", str(seeds_settings.index_dir))
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip() == "error: the question is empty"


def test_ingest_of_a_missing_path_says_so(tmp_path):
    (tmp_path / "real.txt").write_text("The ferry leaves at nine.")
    out = rag_cli("ingest", str(tmp_path / "real.txt"), "/no/such/path", "--index", str(tmp_path / "index"))
    assert out.returncode == 2
    assert out.stderr.strip() == "error: no such file or folder: /no/such/path"
    assert not (tmp_path / "index").exists()  # nothing half-done


@pytest.mark.parametrize("command", [["ask", QUESTION, "--no-server"], ["search", QUESTION]])
def test_asking_an_index_that_does_not_exist_says_so(tmp_path, command):
    typo = tmp_path / "typo"
    out = rag_cli(*command, env={"RAG_INDEX_DIR": str(typo)})
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith(f"error: no index at {typo}: run `rag ingest FOLDER` first"), out.stderr
    assert not typo.exists()  # no seeds index built there


@pytest.mark.parametrize("command", [["app.py"], ["-m", "rag.cli", "serve"]])  # scripts/start.sh runs app.py
def test_start_refuses_a_busy_port_before_loading_anything(tmp_path, command):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = subprocess.run([sys.executable, *command, "--port", str(port), "--index", str(tmp_path / "index")],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip() == (f"error: port {port} on 127.0.0.1 is in use (another `rag serve`?): "
                                  "pick another with --port PORT or RAG_PORT=PORT")
    assert not (tmp_path / "index").exists()  # refused before the index was built


def test_ingest_and_remove_print_no_library_debug_lines(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("000_5dd565f1f7c88ce4.txt", "003_27fea56bcbbbd058.txt"):
        shutil.copy(SEEDS / name, docs)
    index = str(tmp_path / "index")
    ingested = rag_cli("ingest", str(docs), "--index", index)
    removed = rag_cli("remove", "000_5dd565f1f7c88ce4.txt", "--index", index)
    assert ingested.returncode == 0 and removed.returncode == 0, ingested.stderr + removed.stderr
    for out in (ingested, removed):
        assert "bm25s" not in out.stderr and "DEBUG" not in out.stderr, out.stderr


def test_the_start_script_builds_the_seeds_quietly(tmp_path):
    """The start script (app.py) builds the seeds into an index that does not exist yet, and its
    console shows no library debug lines."""
    from ui_server import running_app

    with running_app(tmp_path / "app", env={"RAG_LLM": "extractive"}) as app:
        log = app.log.read_text(errors="replace")
    assert "Indexed the seeds into" in log and ": 4 added" in log, log
    assert "bm25s" not in log and "DEBUG" not in log, log


@pytest.mark.slow
def test_first_run_shows_what_is_prepared_and_no_library_warnings(tmp_path, seeds_settings):
    """An empty model cache: the embedder's ONNX export and the GGUF assembly each say what they do;
    library warnings (TracerWarning, UserWarning, onnxruntime's pre-processing hint) stay hidden."""
    out = rag_cli("ask", QUESTION, "--index", str(seeds_settings.index_dir), "--no-server",
                  env={"RAG_CACHE_DIR": str(tmp_path / "cache")}, timeout=900)
    assert out.returncode == 0, out.stderr
    lines = out.stderr.strip().splitlines()
    assert sorted(re.sub(r"\d+ s$", "N s", line) for line in lines) == sorted([
        "preparing the embedder (first run only): exporting it to ONNX and quantising it to int8 …",
        "embedder exported and quantised in N s",
        "preparing the language model qwen-1.5b (first run only): assembling its 22 parts (1.1 GB) and checking "
        "their sha256 …",
        "language model qwen-1.5b assembled and checked in N s",
    ]), out.stderr  # and nothing else: no TracerWarning, UserWarning or onnxruntime's pre-processing hint
