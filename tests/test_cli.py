"""The ``rag`` command, run in subprocesses as a user runs it."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, SEEDS

QUESTION = "Who signed the space MoU with the Canadian Space Agency?"


def rag_cli(*args: str, env: dict | None = None, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, **kwargs)


def test_ask_prints_the_answer_once_then_its_verified_citations(seeds_settings):
    out = rag_cli("ask", QUESTION, "--backend", "extractive", "--index", str(seeds_settings.index_dir))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    answer = lines[0]
    assert "Oh Tae-seok" in answer and out.stdout.count(answer) == 1
    citations = [line for line in lines[1:] if line.startswith("  [")]
    assert citations and all("000_5dd565f1f7c88ce4.txt chars" in c or " chars " in c for c in citations)
    for line in citations:  # every marker of the streamed answer has its citation line
        assert line.split("]")[0].strip() + "]" in answer


def test_ask_exits_cleanly_when_the_local_model_declines(seeds_settings):
    # The model declines at its first token and its generation is stopped mid-request; the process
    # must not exit while llama.cpp still holds that request (it aborted with "exception not rethrown").
    question = "Who was lined up to give the main address at the day-two session for newer spacefaring nations?"
    out = rag_cli("ask", question, "--index", str(seeds_settings.index_dir))
    assert out.returncode == 0 and "FATAL" not in out.stderr, out.stderr


def test_ask_is_quiet_unless_verbose(seeds_settings):
    out = rag_cli("ask", QUESTION, "--backend", "extractive", "--index", str(seeds_settings.index_dir))
    assert out.returncode == 0, out.stderr
    assert "Loading weights" not in out.stderr and "DEBUG" not in out.stderr, out.stderr
    assert out.stderr.strip() == "", out.stderr


def test_ingest_verbose_reports_dropped_characters_per_document(tmp_path):
    index = tmp_path / "index"
    out = rag_cli("ingest", str(SEEDS), "--index", str(index), "-v")
    assert out.returncode == 0, out.stderr
    counts = {line.split(":")[0]: int(line.split(": ")[1].split()[0])
              for line in out.stdout.splitlines() if "characters dropped" in line}
    assert set(counts) == {p.name for p in SEEDS.glob("*.txt")}
    assert counts["000_5dd565f1f7c88ce4.txt"] == 0 and counts["003_27fea56bcbbbd058.txt"] == 0
    assert counts["002_b1ecd3794d3bbbb8.txt"] > 2000


def test_warnings_name_their_file(tmp_path):
    """A warning raised while one file is read (here: OCR of a scanned page fails) names that file."""
    from test_readers import _scanned_pdf

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ok.txt").write_text("The ferry leaves at nine.")
    (docs / "scan.pdf").write_bytes(_scanned_pdf(["The ferry to Quillby leaves at nine every morning."]))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    broken = bin_dir / "tesseract"  # an OCR command that fails, so the reader warns
    broken.write_text("#!/bin/sh\necho 'tesseract: cannot read image' >&2\nexit 1\n")
    broken.chmod(0o755)
    out = rag_cli("ingest", str(docs), "--index", str(tmp_path / "index"), "-v",
                  env={"PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"})
    # (a progress bar may share the line the warning starts on)
    warnings = [line[line.index("WARNING"):] for line in out.stderr.splitlines() if "WARNING" in line]
    assert any("OCR failed" in line for line in warnings), out.stderr
    assert all(str(docs / "scan.pdf") in line for line in warnings), warnings


def test_ask_answers_while_an_ingest_holds_the_write_lock(tmp_path, seeds_settings):
    """Reads never wait for writers: the start-up index check of the default index takes no lock."""
    import shutil

    index = tmp_path / "index"
    shutil.copytree(seeds_settings.index_dir, index)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from rag.index import write_lock\n"
        f"with write_lock({str(index)!r}):\n    print('locked', flush=True); time.sleep(900)")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        # (generous: on a loaded machine importing torch alone can take minutes; the lock is held for 15)
        out = rag_cli("ask", QUESTION, "--backend", "extractive", env={"RAG_INDEX_DIR": str(index)}, timeout=600)
        assert out.returncode == 0 and "Oh Tae-seok" in out.stdout, out.stderr
        assert holder.poll() is None  # answered while the lock was still held
    finally:
        holder.kill()
        holder.wait()


def test_a_huge_question_gets_a_clear_message(seeds_settings):
    out = rag_cli("ask", "why " * 25_000, "--backend", "extractive", "--index", str(seeds_settings.index_dir))
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("error: the question is") and "limit is 2,000" in out.stderr
    assert len(out.stderr) < 300


# --- what `rag ask` prints ---------------------------------------------------------------------
def test_ask_prints_only_the_checked_answer_and_under_a_decline_the_closest_passages(capsys):
    """A draft that verification withdrew never reaches stdout (with -v it streams to stderr); a
    decline shows the closest passages under it, marked as not an answer and not as citations."""
    from rag.cli import show_answer
    from rag.types import Answer, Passage

    near = [Passage("seeds-1/002_b1ecd3794d3bbbb8.txt", "002_b1ecd3794d3bbbb8.txt", "", "Daejeon  Mayor\nLee " + "x" * 300,
                    0, 320, 0.5, page_label="p. 3"),
            Passage("seeds-1/001_bba25ff5d5374892.txt", "001_bba25ff5d5374892.txt", "", "Short passage.", 0, 14, 0.4)]
    stream = ["Montreal", " [1]", "\nThe documents do not say.",
              Answer("The documents do not say.", abstained=True, closest=near)]
    result = show_answer(iter(stream), as_json=False, verbose=False)
    out, err = capsys.readouterr()
    assert result.abstained and "Montreal" not in out + err
    assert out.splitlines() == [
        "The documents do not say.",
        "The documents may not state this directly; closest passages:",
        f'  [1] 002_b1ecd3794d3bbbb8.txt (p. 3) "Daejeon Mayor Lee {"x" * 181}…"',
        '  [2] 001_bba25ff5d5374892.txt "Short passage."',
    ]
    show_answer(iter(stream), as_json=False, verbose=True)
    out, err = capsys.readouterr()
    assert "Montreal [1]" in err and "Montreal" not in out


def test_a_decline_shows_the_closest_passages_as_not_an_answer(seeds_settings):
    question = "Did Daejeon and Quebec sign a formal twinning agreement, and on what date?"  # they did not say
    out = rag_cli("ask", question, "--backend", "extractive", "--index", str(seeds_settings.index_dir))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[:2] == ["The documents do not say.", "The documents may not state this directly; closest passages:"]
    assert lines[2].startswith('  [1] 002_b1ecd3794d3bbbb8.txt "Daejeon City Holds Meeting with Quebec Province')
    assert all(re.fullmatch(r'  \[\d\] \S+\.txt ".+"', line) and " chars " not in line for line in lines[2:])


def test_ask_help_says_how_to_keep_the_model_loaded():
    out = rag_cli("ask", "--help")
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    assert "without a question it is interactive and keeps the model loaded" in text
    assert "--no-server" in text


@pytest.fixture(scope="module")
def running_serve(tmp_path_factory, seeds_settings):
    """A real `rag serve` (extractive answers) over a copy of the seeds index, on a free port."""
    import shutil

    from ui_server import running_app

    workdir = tmp_path_factory.mktemp("serve-for-ask")
    shutil.copytree(seeds_settings.index_dir, workdir / "index")
    with running_app(workdir, args=["-m", "rag.cli", "serve"], ready="openapi.json",
                     env={"RAG_LLM": "extractive", "RAG_API_KEY": ""}) as app:
        yield app


def test_ask_reuses_a_running_serve(running_serve, tmp_path):
    import json

    from ui_server import free_port

    index = str(running_serve.workdir / "index")
    local = rag_cli("ask", QUESTION, "--backend", "extractive", "--no-server", env={"RAG_INDEX_DIR": index})
    assert local.returncode == 0 and "Oh Tae-seok" in local.stdout, local.stderr
    # This shell's own backend cannot answer (nothing listens at its endpoint): only the server can.
    dead = {"RAG_INDEX_DIR": index, "RAG_PORT": str(running_serve.port), "RAG_LLM": "openai",
            "OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1", "RAG_RETRIES": "0"}
    served = rag_cli("ask", QUESTION, env=dead)
    assert served.returncode == 0, served.stderr
    assert served.stdout == local.stdout and served.stderr == ""
    as_json = [json.loads(rag_cli("ask", QUESTION, "--json", *extra, env=env).stdout)
               for extra, env in (([], dead), (["--backend", "extractive", "--no-server"], {"RAG_INDEX_DIR": index}))]
    for answer in as_json:
        answer.pop("timings")
    assert as_json[0] == as_json[1]
    # --no-server answers here (and fails here); so does a question about other documents.
    opted_out = rag_cli("ask", QUESTION, "--no-server", env=dead)
    assert opted_out.returncode == 2 and "cannot reach the hosted LLM" in opted_out.stderr
    other = tmp_path / "other"
    other.mkdir()
    (other / "ferry.txt").write_text("The ferry to Quillby leaves at nine every morning.")
    assert rag_cli("ingest", str(other), "--index", str(tmp_path / "index")).returncode == 0
    elsewhere = rag_cli("ask", "When does the ferry leave?", "--index", str(tmp_path / "index"), env=dead)
    assert elsewhere.returncode == 2 and "cannot reach the hosted LLM" in elsewhere.stderr
