"""The chat UI: pure rendering/upload helpers, then the API of the app running in a subprocess."""
from __future__ import annotations

import html
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import rag  # noqa: F401  (offline environment before gradio)
from rag.service import App, UploadRejected, request_settings, safe_upload_name, save_uploads, upload_target
from rag.types import Answer, Citation, Document, IngestReport, Skipped
from rag.ui.chat import (
    Chat,
    Turn,
    chat_messages,
    highlight_quote,
    history_of,
    link_markers,
    render_answer,
    render_citation,
    render_sources,
)
from rag.ui.documents import render_ingest_report
from rag.ui.render import escape_html, escape_markdown

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ui_server import running_app  # noqa: E402

CANADA_DOC = "000_5dd565f1f7c88ce4.txt"
UK_DOC = "003_27fea56bcbbbd058.txt"
HOSTILE = '<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1)) ![i](http://evil.example/i.png)'


def citation(number=1, text="Alpha one. The quoted part here. Omega.", start=100, quote=(111, 132), **kw) -> Citation:
    return Citation(number=number, doc_id=kw.get("doc_id", "doc.txt"), source=kw.get("source", "doc.txt"),
                    title=kw.get("title", "A title"), text=text, start=start, end=start + len(text),
                    quote_start=quote[0], quote_end=quote[1], support=0.9)


def no_live_html(fragment: str) -> None:
    """No tag, attribute or Markdown link/image syntax survived from hostile text."""
    assert "<script" not in fragment.lower()
    assert "<img" not in fragment.lower()
    assert "onerror=" not in fragment.lower()
    assert "](" not in fragment and "javascript:" not in fragment
    assert "http://evil.example" not in fragment


# --- rendering ---------------------------------------------------------------------------
def test_answer_text_is_escaped_for_markdown_and_html():
    rendered = render_answer(Answer(text=f"Beware {HOSTILE} [1].", citations=[citation()]), turn=0)
    no_live_html(rendered)
    assert "&#60;script&#62;alert&#40;1&#41;&#60;/script&#62;" in rendered
    assert rendered.count("<a ") == 1  # only the citation link is markup


def test_markers_become_links_to_the_sources_panel():
    rendered = link_markers("Seoul signed [1]. Ottawa too [2]. Unknown [7]. Both [1, 2].", [1, 2], turn=3)
    assert re.findall(r'href="#([\w-]+)"', rendered) == ["rag-src-3-1", "rag-src-3-2", "rag-src-3-1", "rag-src-3-2"]
    assert 'class="rag-cite"' in rendered
    assert "&#91;7&#93;" in rendered and "rag-src-3-7" not in rendered  # no citation 7: plain text
    assert "[" not in rendered  # brackets never reach Markdown


def test_citation_quote_is_highlighted_and_escaped():
    c = citation()
    assert c.quote == "The quoted part here."
    assert highlight_quote(c) == "Alpha one. <mark>The quoted part here.</mark> Omega."
    hostile = citation(text=f"Before {HOSTILE}. After.", start=0, quote=(7, 7 + len(HOSTILE)), title=HOSTILE,
                       source="<b>evil</b>.md")
    html = render_citation(hostile, turn=2)
    assert 'id="rag-src-2-1"' in html
    assert "<mark>&#60;script&#62;alert(1)&#60;/script&#62;" in html
    assert "&#60;b&#62;evil&#60;/b&#62;.md" in html
    assert "<script" not in html and "<img" not in html and "<b>" not in html


def test_quote_offsets_outside_the_passage_are_clamped():
    c = citation(text="short passage", start=50, quote=(40, 999))
    assert highlight_quote(c) == "<mark>short passage</mark>"


def test_abstention_is_shown_as_not_in_the_documents_without_sources():
    turn = Turn("What is the capital of Peru?", text="The documents do not say.", abstained=True, done=True)
    message = chat_messages([turn])[1]["content"]
    assert "The documents do not say." in html.unescape(message) and "rag-abstain" in message
    assert "rag-cite" not in message
    assert render_answer(Answer("The documents do not say.", abstained=True), 0) == message
    panel = render_sources([turn])
    assert "rag-source\"" not in panel and "no sources cited" in panel


def test_sources_panel_lists_newest_answer_first_and_open():
    turns = [Turn("first?", "One [1].", [citation()], done=True),
             Turn("second <b>?</b>", "Two [1].", [citation(title="Second")], done=True)]
    panel = render_sources(turns)
    assert panel.index("Answer 2") < panel.index("Answer 1")
    assert panel.count("<details") == 2 and panel.count(" open>") == 1
    assert 'id="rag-src-0-1"' in panel and 'id="rag-src-1-1"' in panel
    assert "second &#60;b&#62;?&#60;/b&#62;" in panel


def test_chat_messages_while_streaming_and_after_an_error():
    streaming = Turn("q", text="Partial <i>answer")
    msgs = chat_messages([streaming])
    assert msgs[0] == {"role": "user", "content": "q"}
    assert "rag-cursor" in msgs[1]["content"] and "<i>" not in msgs[1]["content"]
    failed = Turn("q", error="cannot reach the hosted LLM at http://127.0.0.1:9/v1", done=True)
    content = chat_messages([failed])[1]["content"]
    assert "Could not answer" in content and "Traceback" not in content
    assert history_of([streaming, failed]) == []
    assert history_of([Turn("q1", "a1 [1]", done=True)]) == [("q1", "a1 [1]")]


def test_ingest_report_and_rejections_are_escaped():
    report = IngestReport(added=["<img src=x onerror=alert(1)>.md"], skipped=[Skipped("a", "b")])
    html = render_ingest_report(report, [("<script>.exe", "unsupported file type .exe")])
    assert "1 added" in html and "unsupported file type .exe" in html
    assert "<img" not in html and "<script" not in html


def test_request_settings_apply_per_request_choices(tmp_settings):
    s = request_settings(tmp_settings, k=3.0, mode="bm25", backend="extractive", temperature="0.4")
    assert (s.k, s.mode, s.backend, s.temperature) == (3, "bm25", "extractive", 0.4)
    assert request_settings(tmp_settings) == tmp_settings
    assert tmp_settings.k != 3 or tmp_settings.mode != "bm25"  # the base settings are untouched


def test_escape_markdown_keeps_the_text():
    import html

    text = "a_b *c* `d` [e](f) $x$ {{y}} https://example.org 1. <z>"
    assert html.unescape(escape_markdown(text)) == text


# --- upload names ------------------------------------------------------------------------
@pytest.mark.parametrize("name, expected", [
    ("notes.md", "notes.md"),
    ("Report 2024.PDF", "Report 2024.pdf"),
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\windows\\evil.html", "evil.html"),
    ("/tmp/gradio/abc123/page.htm", "page.htm"),
    ("<img src=x onerror=alert(1)>.md", "_img src=x onerror=alert(1)_.md"),
    ("a..b.txt", "a..b.txt"),
    ("ünïcode name.markdown", "ünïcode name.markdown"),
])
def test_upload_names_are_sanitised(name, expected):
    assert safe_upload_name(name) == expected


@pytest.mark.parametrize("name, reason", [
    ("..", "not a file name"),
    ("../..", "not a file name"),
    ("", "not a file name"),
    (".hidden.md", "hidden"),
    ("../.bashrc.txt", "hidden"),
    ("run.exe", "unsupported file type .exe"),
    ("archive.tar.gz", "unsupported file type .gz"),
    ("README", "no file extension"),
    ("bad\x00.md", "NUL"),
])
def test_bad_upload_names_are_rejected_with_a_reason(name, reason):
    with pytest.raises(UploadRejected) as exc:
        safe_upload_name(name)
    assert reason in exc.value.reason


def test_uploads_cannot_escape_the_upload_folder(tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    for name in ("../../x.md", "/etc/y.txt", "..\\z.pdf", "sub/dir/w.html"):
        target = upload_target(uploads, name)
        assert target.parent == uploads.resolve()


def test_save_uploads_copies_good_files_and_explains_the_rest(tmp_path):
    """A file named like a seed is its own document now (ids are unique per origin folder)."""
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    good, bad, seedlike = incoming / "good.md", incoming / "tool.exe", incoming / CANADA_DOC
    for f in (good, bad, seedlike):
        f.write_text("some text")
    saved, rejected = save_uploads([good, bad, seedlike, incoming / "missing.md"], tmp_path / "uploads")
    assert [p.name for p in saved] == ["good.md", CANADA_DOC]
    assert (tmp_path / "uploads" / "good.md").read_text() == "some text"
    reasons = dict(rejected)
    assert "unsupported file type .exe" in reasons["tool.exe"]
    assert "did not arrive" in reasons["missing.md"]
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == [CANADA_DOC, "good.md"]  # no .part left


def test_a_half_copied_upload_is_never_ingested_and_is_cleaned_up(tmp_path, tmp_settings):
    from rag.service import uploads_dir_for

    uploads = uploads_dir_for(tmp_settings)
    uploads.mkdir(parents=True)
    (uploads / "note.md").write_text("# Note\n\nThe boiler is serviced every October.")
    (uploads / ".huge.pdf.part").write_bytes(b"%PDF-1.7 cut short by kill -9")
    report = rag.ingest([uploads], tmp_settings, progress=False)
    assert [d.rsplit("/", 1)[-1] for d in report.added] == ["note.md"] and not report.skipped
    App(tmp_settings)  # a (re)starting server deletes leftovers
    assert sorted(p.name for p in uploads.iterdir()) == ["note.md"]


def test_cancel_stops_an_upload_and_keeps_the_previous_index(tmp_path, tmp_settings):
    from rag.index import current_generation, open_index
    from rag.service import CANCELLED

    app = App(tmp_settings)
    boiler = tmp_path / "boiler.md"
    boiler.write_text("# Boiler\n\nThe boiler is serviced every October by the caretaker.")
    report, rejected = app.add_files([boiler])
    assert len(report.added) == 1 and not rejected
    before = current_generation(tmp_settings.index_dir)
    big = tmp_path / "minutes.md"
    big.write_text("\n\n".join(f"Item {i}: the committee discussed budget line {i} and approved it." for i in range(400)))
    seen = []

    def progress(fraction, desc=""):  # the Cancel button pressed while the chunks are being embedded
        seen.append(desc)
        if desc.startswith("embedded"):
            app.cancel_ingest()

    report, rejected = app.add_files([big], progress)
    assert report is None and rejected == [("minutes.md", CANCELLED)]
    assert any(d.startswith("reading file") for d in seen) and "done" not in seen
    assert current_generation(tmp_settings.index_dir) == before
    assert [d.source for d in open_index(tmp_settings.index_dir).documents.values()] == ["boiler.md"]
    assert sorted(p.name for p in app.uploads_dir.iterdir()) == ["boiler.md"]  # the cancelled file is not kept
    report, rejected = app.add_files([big])  # the earlier press does not cancel the next upload
    assert [d.rsplit("/", 1)[-1] for d in report.added] == ["minutes.md"] and not rejected


def test_the_decline_is_said_once():
    from rag.generate.prompt import ABSTAIN

    html = render_answer(Answer(ABSTAIN, abstained=True), turn=0)
    assert html.count("do not say") == 1 and "Not in the documents" not in html
    assert chat_messages([Turn("q", ABSTAIN, abstained=True, done=True)])[1]["content"] == html


def test_a_huge_question_is_echoed_shortened():
    content = chat_messages([Turn("why " * 25_000)])[0]["content"]
    assert 100 < len(content) <= 700 and content.endswith("\u2026")


def test_documents_table_shows_short_ids_titles_for_all_seeds_and_origins(seeds_settings, tmp_path):
    from rag.index import open_index
    from rag.ui.documents import document_rows

    index = open_index(seeds_settings.index_dir)
    docs = sorted(index.documents.values(), key=lambda d: d.doc_id)
    rows = document_rows(docs, index.origins, tmp_path / "uploads")
    assert [r[0] for r in rows] == [CANADA_DOC, "001_bba25ff5d5374892.txt", "002_b1ecd3794d3bbbb8.txt", UK_DOC]
    assert all(r[1] for r in rows)  # every seed shows a title (000 and 001 have none of their own)
    assert rows[0][1].startswith("Korea and Canada will move to full-fledged cooperation")
    assert {r[3] for r in rows} == {"seeds"}


def test_documents_table_fits_its_columns(seeds_settings):
    import gradio as gr

    from rag.ui import build_ui
    from rag.ui.documents import DOCUMENT_COLUMNS

    demo = build_ui(seeds_settings)
    (table,) = [b for b in demo.blocks.values() if isinstance(b, gr.Dataframe)]
    assert table.column_widths and len(table.column_widths) == len(DOCUMENT_COLUMNS)
    assert not table.wrap and max(len(c) for c in DOCUMENT_COLUMNS) <= 8


def _respond(app, question, turns=None):
    return list(Chat(app).respond(question, turns, backend="extractive"))


def test_the_question_box_keeps_what_is_typed_while_the_answer_streams(seeds_settings):
    import gradio as gr

    outputs = _respond(App(seeds_settings), "Who signed the space MoU with the Canadian Space Agency?")
    assert outputs[0][0] == ""  # the question is taken from the box once
    assert len(outputs) >= 3 and all(o[0] == gr.skip() for o in outputs[1:])  # then the box is left alone
    assert outputs[-1][2][-1].done and outputs[-1][2][-1].citations


def test_a_second_question_while_streaming_is_refused_and_kept(seeds_settings):
    import gradio as gr

    streaming = [Turn("Who signed the space MoU?", text="Oh Tae")]
    assert _respond(App(seeds_settings), "And when?", streaming) == [(gr.skip(),) * 4]
    assert len(streaming) == 1 and not streaming[0].done


def test_new_chat_cancels_the_streaming_answer(seeds_settings):
    from rag.ui import build_ui

    demo = build_ui(seeds_settings)
    ids = {b.elem_id: b._id for b in demo.blocks.values() if getattr(b, "elem_id", None) in ("rag-clear", "rag-chat")}
    chat_fns = {i for i, fn in demo.fns.items() if fn.name == "respond"}
    assert len(chat_fns) == 2  # the question box's submit and the Ask button
    for trigger in ((ids["rag-clear"], "click"), (ids["rag-chat"], "clear")):  # New chat, the chat's trash button
        cancelled = {c for fn in demo.fns.values() if trigger in fn.targets for c in fn.cancels}
        assert chat_fns <= cancelled, trigger


# --- messages (issue 25) ----------------------------------------------------------------------
def _last_reply(outputs) -> str:
    chats = [o[1] for o in outputs if isinstance(o[1], list)]
    return html.unescape(chats[-1][-1]["content"])


def _tracebacks(caplog) -> list:
    return [r for r in caplog.records if r.exc_info]


def test_a_question_over_the_limit_gets_the_one_message_and_no_traceback(seeds_settings, caplog):
    import gradio as gr

    from rag.config import check_question

    question = "Which hotel hosted the symposium? " * 90  # 3,060 characters: over the 2,000 limit
    with pytest.raises(ValueError) as expected:
        check_question(question, seeds_settings)
    outputs = _respond(App(seeds_settings), question)
    reply = _last_reply(outputs)
    assert str(expected.value) in reply and "Could not answer" in reply
    assert "QuestionTooLong" not in reply and "Error" not in reply.replace("rag-error", "")
    assert all(o[0] == gr.skip() for o in outputs)  # the question stays in the box, to be shortened
    assert not _tracebacks(caplog)


def test_an_empty_question_says_so(seeds_settings):
    import gradio as gr

    with pytest.warns(UserWarning, match="the question is empty"):  # gr.Warning outside a request
        outputs = _respond(App(seeds_settings), "   ")
    assert outputs == [(gr.skip(),) * 4]


def test_a_huge_question_heading_is_cut_and_wraps_in_the_sources_panel():
    from rag.ui.page import CSS

    panel = render_sources([Turn("x" * 100_000, error="the question is too long", done=True)])
    (heading,) = re.findall(r"<summary>(.*?)</summary>", panel)
    assert len(heading) <= 100 and heading.endswith("\u2026")
    rule = re.search(r"\.rag-turn > summary \{([^}]*)\}", CSS).group(1)
    assert "overflow-wrap: anywhere" in rule


def test_support_scores_are_not_shown_unexplained():
    assert "support" not in render_citation(citation(), turn=0)


# --- declines with their closest passages, answers sentence by sentence ----------------------
@pytest.fixture(scope="module")
def closest(seeds_settings):
    """The passages nearest to a question the seeds do not answer (as the pipeline fills
    ``Answer.closest``), one of them made hostile."""
    from dataclasses import replace

    passages = rag.retrieve("Which conference did the Daejeon mayor attend in Montreal?", k=2, settings=seeds_settings)
    return [passages[0], replace(passages[1], text=HOSTILE + " " + passages[1].text, source="<b>x</b>.md")]


def test_a_decline_shows_the_closest_passages_marked_as_not_an_answer(closest):
    from rag.generate.prompt import ABSTAIN

    answer = Answer(ABSTAIN, abstained=True, closest=closest)
    message = render_answer(answer, turn=4)
    shown = html.unescape(message)
    assert shown.count("do not say") == 1 and "Not an answer" in shown
    assert "The documents may not state this directly; closest passages:" in shown
    assert re.findall(r'href="#([\w-]+)"', message) == ["rag-src-4-p1", "rag-src-4-p2"]
    assert "rag-cite" not in message  # nothing is cited
    assert " ".join(closest[0].text.split())[:60] in shown
    no_live_html(message)

    turn = Turn("q", ABSTAIN, abstained=True, done=True, closest=closest)
    panel = render_sources([Turn("earlier?", "One [1].", [citation()], done=True), turn])
    assert 'id="rag-src-1-p1"' in panel and 'id="rag-src-1-p2"' in panel
    assert "Not an answer" in panel and "no sources cited" in panel
    assert escape_html(closest[0].text) in panel and escape_html(closest[1].text) in panel
    assert "<script" not in panel and "<img" not in panel and "<b>" not in panel  # shown as text
    assert chat_messages([turn])[1]["content"] == render_answer(answer, turn=0)


def test_an_answer_closest_passages_are_not_shown():
    answer = Answer("Oh Tae-seok [1].", [citation()], closest=[], abstained=False)
    assert "Not an answer" not in render_answer(answer, 0)


def test_each_sentence_shows_and_links_its_own_sources():
    from rag.types import Claim

    one, two = citation(1, title="First"), citation(2, title="Second", quote=(100, 110))
    claims = [Claim(f"Korea signed with Canada {HOSTILE} [1]", (1,)), Claim("And with the UK [2]", (2,)),
              Claim("Both in 2024 [1] [2]", (1, 2))]
    answer = Answer("\n".join(c.text for c in claims), [one, two], claims=claims)
    message = render_answer(answer, turn=0)
    sentences = re.findall(r'<span class="rag-claim">(.*?)</span>(?=<span class="rag-claim">|$)', message)
    assert len(sentences) == 3
    assert [re.findall(r'href="#rag-src-0-(\d+)"', s) for s in sentences] == [["1"], ["2"], ["1", "2"]]
    no_live_html(message)
    panel = render_sources([Turn("q", answer.text, [one, two], done=True, claims=claims)])
    assert "for sentence 1, 3" in panel and "for sentence 2, 3" in panel


# --- the queue ---------------------------------------------------------------------------------
def test_the_answer_queue_serves_one_at_a_time_in_order():
    import threading
    import time

    from rag.service import AnswerQueue

    line, log, running = AnswerQueue(1), [], []
    tickets = [line.join() for _ in range(3)]
    assert [line.position(t) for t in tickets] == [0, 1, 2] and [t.first for t in tickets] == [0, 1, 2]

    def work(i):
        seen = list(tickets[i].positions(poll=0.05))
        with tickets[i]:
            running.append(i)
            assert len(running) == 1  # nobody else is being answered
            log.append((i, seen))
            time.sleep(0.05)
            running.remove(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in (2, 1, 0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert [i for i, _ in log] == [0, 1, 2]
    assert log[0][1] == [] and log[1][1][0] == 1 and log[2][1][0] == 2 and 1 in log[2][1]
    assert len(line) == 0 and tickets[2].waited > tickets[1].waited > 0

    two = AnswerQueue(2)
    a, b, c = two.join(), two.join(), two.join()
    assert [two.position(t) for t in (a, b, c)] == [0, 0, 1]
    b.leave()
    assert two.position(c) == 0


def test_the_chat_shows_its_place_in_line(seeds_settings):
    app = App(seeds_settings)
    line = app.queue("extractive")
    ahead = [line.join(), line.join()]  # one answer being written, one waiting
    replies = Chat(app).respond("Who signed the space MoU with the Canadian Space Agency?", [], backend="extractive")
    next(replies)  # the question is taken
    shown = []
    for _ in range(3):
        out = next(replies)
        if isinstance(out[1], list):
            shown.append(html.unescape(out[1][-1]["content"]))
    assert "Waiting in line: position 2" in shown[0]
    ahead[0].leave()
    while not any("position 1" in s for s in shown[1:]):
        out = next(replies)
        if isinstance(out[1], list):
            shown.append(html.unescape(out[1][-1]["content"]))
    ahead[1].leave()
    final = list(replies)[-1]
    assert final[2][-1].done and final[2][-1].citations and len(line) == 0


# --- the running app, through gradio_client ----------------------------------------------
@pytest.fixture(scope="module")
def app(tmp_path_factory):
    # The hosted backend points at a closed local port: its failure path without leaving the machine.
    from ui_server import free_port

    workdir = tmp_path_factory.mktemp("ui-app")
    with running_app(workdir, env={"OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1", "RAG_RETRIES": "0",
                                   "RAG_TIMEOUT": "10", "GRADIO_TEMP_DIR": str(workdir / "gradio-tmp")}) as running:
        yield running


@pytest.fixture
def client(app):
    from gradio_client import Client

    return Client(app.url, verbose=False, download_files=False)


def message_text(message: dict) -> str:
    """A Chatbot message's content (Gradio 6 returns a list of ``{"type": "text"}`` blocks)."""
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def bot_text(chat: list) -> str:
    return message_text(chat[-1])


def test_app_builds_its_index_and_exposes_named_endpoints(app, client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/ask", "/chat", "/upload", "/cancel_upload", "/remove", "/documents", "/list_documents"} <= set(endpoints)
    docs = client.predict(api_name="/list_documents")
    assert CANADA_DOC in {d["source"] for d in docs}
    assert (app.workdir / "index" / "CURRENT").exists()
    assert "embedding" in app.log_tail(100_000)  # tqdm progress of the seeds build on the console


def test_api_ask_with_the_local_model_cites_the_canadian_mou(client):
    result = client.predict("Who signed the space MoU with the Canadian Space Agency?", api_name="/ask")
    assert not result["abstained"], result
    sources = {c["source"] for c in result["citations"]}
    assert CANADA_DOC in sources, result["text"]
    for c in result["citations"]:
        assert f"[{c['number']}]" in result["text"]
        assert c["quote"] and c["quote"] in c["text"]
    assert 'class="rag-cite"' in result["html"]


def test_chat_follow_up_uses_the_session_history(client):
    """The UI passes its per-session history: the follow-up is condensed by the local model."""
    _, chat, _ = client.predict("Which British secretary of state signed the digital partnership with Korea?",
                                api_name="/chat")
    assert len(chat) == 2 and "rag-cite" in bot_text(chat)
    _, chat, sources = client.predict("And who signed for the UK?", api_name="/chat")
    assert len(chat) == 4
    assert message_text(chat[2]) == "And who signed for the UK?"
    assert "rag-cite" in bot_text(chat), bot_text(chat)
    latest = sources.split("<details", 2)[1]  # the newest answer comes first
    assert "Answer 2" in latest and UK_DOC in latest


def test_chat_shows_a_backend_error_as_a_readable_message(client):
    _, chat, sources = client.predict("Who signed the space MoU with the Canadian Space Agency?",
                                      backend="openai", api_name="/chat")
    message = bot_text(chat)
    assert "Could not answer" in message and "rag-error" in message
    assert "Traceback" not in message and "File &#34;" not in message
    assert "answer failed" in sources


def test_sessions_keep_their_own_history(app):
    from gradio_client import Client

    questions = {"a": ["Who signed the space MoU with the Canadian Space Agency?", "What is STM?"],
                 "b": ["What did Korea and the UK sign?", "What is the ROK-UK Digital Partnership?"]}
    clients = {name: Client(app.url, verbose=False) for name in questions}

    def run(name):
        chat = None
        for q in questions[name]:
            _, chat, _ = clients[name].predict(q, backend="extractive", api_name="/chat")
        return chat

    with ThreadPoolExecutor(2) as pool:
        chats = dict(zip(questions, pool.map(run, questions)))
    for name, chat in chats.items():
        users = [message_text(m) for m in chat if m["role"] == "user"]
        assert users == [escape_markdown(q) for q in questions[name]]


def test_upload_ask_and_remove_through_the_api(app, client, tmp_path):
    from gradio_client import handle_file

    note = tmp_path / "zorblat.md"
    note.write_text("# The Zorblat festival\n\nThe Zorblat festival is held in the town of Quillby every April. "
                    "Visitors to the Zorblat festival eat blue pancakes and race wooden geese on the river.\n")
    exe = tmp_path / "tool.exe"
    exe.write_text("MZ")
    status, _, table, _ = client.predict([handle_file(str(note)), handle_file(str(exe))], api_name="/upload")
    assert "1 added" in status and "tool.exe" in status and "unsupported file type .exe" in status
    assert (app.uploads / "zorblat.md").is_file() and not (app.uploads / "tool.exe").exists()
    assert "zorblat.md" in [row[0] for row in table["data"]]
    # Gradio's temporary copies, of the accepted and of the rejected file, are gone
    assert not [p for p in (app.workdir / "gradio-tmp").rglob("*") if p.name in ("zorblat.md", "tool.exe")]

    second = tmp_path / "quillby.md"
    second.write_text("# Quillby\n\nQuillby is a market town on the river Wend, known for its stone bridge.\n")
    status, _, _, _ = client.predict([handle_file(str(second))], api_name="/upload")
    assert "1 added, 0 updated, 0 unchanged" in status, status  # the earlier upload is not counted

    result = client.predict("Where and when is the Zorblat festival held?", backend="extractive", api_name="/ask")
    assert "zorblat.md" in {c["source"] for c in result["citations"]}, result

    status, table, _ = client.predict("zorblat.md", api_name="/remove")
    assert "Removed" in status and "uploaded file" in status
    assert not (app.uploads / "zorblat.md").exists()
    assert "zorblat.md" not in {d["source"] for d in client.predict(api_name="/list_documents")}
    status, _, _ = client.predict("no-such-doc.md", api_name="/remove")
    assert "Could not remove" in status and "not in the index" in status
