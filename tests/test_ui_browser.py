"""The chat UI in a real headless Chromium: streaming, citations, uploads, XSS, offline assets."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from ui_server import ROOT, running_app  # noqa: E402

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOT = ROOT / "docs" / "screenshot.png"
DECLINE_SCREENSHOT = ROOT / "docs" / "decline.png"
QUEUE_SCREENSHOT = ROOT / "docs" / "queue.png"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
ANSWER_TIMEOUT = 600  # the first local answer also loads the model; 2 cores may be shared
DECLINED = "What was the weather like at the Space Symposium in Colorado Springs?"  # on topic, not stated

ZORBLAT = """# The Zorblat festival

The Zorblat festival is held in the town of Quillby every April.
During the Zorblat festival, the people of Quillby paint their roofs blue and race wooden geese on the river Mell.
"""

HOSTILE = """# Glimmerfen notes <img src=x onerror=alert(1)>

The Glimmerfen lantern code is <script>alert(1)</script> and it opens the gate of the old Glimmerfen mill.
The Glimmerfen mill keeper wrote <img src=x onerror="document.body.dataset.pwned='1'"> on the Glimmerfen mill door.
"""


# --- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def chromium_installed():
    """Headless Chromium and chromedriver from Debian, installed with apt when missing."""
    if not (Path(CHROMEDRIVER).exists() and Path(CHROMIUM).exists()):
        if shutil.which("apt-get") is None:
            pytest.skip("chromium is not installed and apt-get is not available to install it")
        try:
            subprocess.run(["sh", str(HERE / "browser_setup.sh")], check=True, timeout=1800,
                           capture_output=True, text=True)
        except subprocess.CalledProcessError as exc:
            pytest.skip(f"apt-get could not install chromium chromium-driver: {exc.stderr[-500:]}")
        except subprocess.TimeoutExpired:
            pytest.skip("apt-get timed out installing chromium chromium-driver")
    assert Path(CHROMEDRIVER).exists(), "browser_setup.sh ran but /usr/bin/chromedriver is missing"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("ui-browser-app")) as running:
        yield running


@pytest.fixture(scope="module")
def browser(chromium_installed, app, tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1440,1000",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        driver.get(app.url)
        wait_for(driver, lambda d: d.find_elements("css selector", "#rag-question textarea"), 60, "the chat box")
        yield driver
    finally:
        driver.quit()


# --- helpers -------------------------------------------------------------------------------
def wait_for(driver, condition, timeout: float, what: str, poll: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = condition(driver)
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(poll)


def open_tab(driver, tab_id: str) -> None:
    driver.find_element("css selector", f'button[role="tab"][data-tab-id="{tab_id}"]').click()
    time.sleep(0.5)


def choose_backend(driver, backend: str) -> None:
    if not driver.find_elements("css selector", "#rag-backend"):
        # the settings panel may render after the chat box on a busy machine
        wait_for(driver, lambda d: d.find_elements("css selector", "#rag-settings button.label-wrap"), 30,
                 "the settings panel")[0].click()
        wait_for(driver, lambda d: d.find_elements("css selector", "#rag-backend"), 10, "the settings")
    radio = driver.find_element("css selector", f'#rag-backend input[value="{backend}"]')
    driver.execute_script("arguments[0].click();", radio)
    wait_for(driver, lambda d: radio.get_attribute("aria-checked") == "true" or radio.is_selected(), 10,
             f"backend {backend} to be selected")


LAST_BOT = """
const bots = document.querySelectorAll('#rag-chat [data-testid="bot"]');
const last = bots[bots.length - 1];
if (!last) return {count: 0};
return {count: bots.length, html: last.innerHTML, text: last.innerText,
        streaming: !!last.querySelector('.rag-cursor'),
        final: !last.querySelector('.rag-cursor') &&
               !!last.querySelector('a.rag-cite, .rag-abstain, .rag-error')};
"""


def submit(driver, question: str) -> int:
    """Type ``question`` and send it; the number of answers in the chat before it."""
    before = driver.execute_script(LAST_BOT)["count"]
    box = driver.find_element("css selector", "#rag-question textarea")
    box.clear()
    box.send_keys(question)
    box.send_keys("\n")
    return before


def ask(driver, question: str, watch_stream: bool = False) -> dict:
    """Type ``question``, wait for the final answer; report whether partial text was seen streaming."""
    return final_answer(driver, question, submit(driver, question), watch_stream)


def final_answer(driver, question: str, before: int, watch_stream: bool = False) -> dict:
    partial_texts = set()
    deadline = time.monotonic() + ANSWER_TIMEOUT
    while time.monotonic() < deadline:
        state = driver.execute_script(LAST_BOT)
        if state["count"] > before:
            if (state["streaming"] and state["text"].strip("▌ \n") and "Searching" not in state["text"]
                    and "Waiting in line" not in state["text"]):
                partial_texts.add(state["text"])
            if state["final"]:
                state["partials"] = partial_texts
                return state
        time.sleep(0.05 if watch_stream else 0.25)
    raise AssertionError(f"no final answer to {question!r} within {ANSWER_TIMEOUT}s: {driver.execute_script(LAST_BOT)}")


NEWEST_SOURCES = "return document.querySelector('#rag-sources details.rag-turn');"


def upload(driver, path: Path) -> str:
    open_tab(driver, "documents")
    field = wait_for(driver, lambda d: d.find_elements("css selector", '#rag-upload input[type="file"]'), 20,
                     "the upload field")[0]
    field.send_keys(str(path))
    status = wait_for(
        driver,
        lambda d: (lambda t: t if ("added" in t or "Not added" in t) else None)(
            d.find_element("css selector", "#rag-upload-status").text),
        180, f"the upload of {path.name} to be indexed",
    )
    wait_for(driver, lambda d: path.name in d.find_element("css selector", "#rag-documents").text, 30,
             f"{path.name} in the documents table")
    return status


def assert_no_alert(driver) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        alert = driver.switch_to.alert
        text = alert.text
        alert.dismiss()
    except NoAlertPresentException:
        return
    raise AssertionError(f"an alert was raised: {text!r}")


# --- tests (they share one browser session and run in this order) --------------------------
def test_streamed_answer_links_markers_to_highlighted_sources(browser):
    """Local LLM: the answer's checked sentences stream in, its [n] markers link to highlighted passages."""
    choose_backend(browser, "local")
    state = ask(browser, "Who signed the space MoU with the Canadian Space Agency?", watch_stream=True)
    assert "rag-error" not in state["html"] and "rag-abstain" not in state["html"], state["text"]

    link = browser.find_elements("css selector", '#rag-chat [data-testid="bot"] a.rag-cite')[-1]
    assert link.is_displayed() and link.text.startswith("[")
    target_id = link.get_attribute("href").split("#", 1)[1]
    target = browser.find_element("id", target_id)
    mark = target.find_element("css selector", "mark")
    assert mark.is_displayed() and len(mark.text) > 20
    assert "000_5dd565f1f7c88ce4.txt" in browser.find_element("id", "rag-sources").text

    handles = browser.window_handles
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'}); window.scrollTo(0, 0);", link)
    link.click()
    time.sleep(1.5)
    assert browser.window_handles == handles  # the marker scrolls in place, no new tab
    in_view = browser.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return r.bottom > 0 && r.top < window.innerHeight;", target)
    assert in_view and "rag-flash" in target.get_attribute("class")

    SCREENSHOT.parent.mkdir(exist_ok=True)
    browser.execute_script("window.scrollTo(0, 0);")
    time.sleep(0.5)
    assert browser.save_screenshot(str(SCREENSHOT))


def test_pointing_at_a_sentence_lights_up_its_sources(browser):
    from selenium.webdriver.common.action_chains import ActionChains

    claim = browser.find_elements("css selector", '#rag-chat [data-testid="bot"] .rag-claim')[-1]
    cited = [a.get_attribute("href").split("#", 1)[1] for a in claim.find_elements("css selector", "a.rag-cite")]
    assert cited
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", claim)
    ActionChains(browser).move_to_element(claim).perform()
    wait_for(browser, lambda d: all("rag-lit" in d.find_element("id", i).get_attribute("class") for i in cited), 10,
             "the cited sources to light up")
    ActionChains(browser).move_to_element(browser.find_element("css selector", "#rag-question textarea")).perform()
    wait_for(browser, lambda d: not d.find_elements("css selector", ".rag-source.rag-lit"), 10, "the light to go out")


def test_an_empty_question_says_so(browser):
    box = browser.find_element("css selector", "#rag-question textarea")
    box.clear()
    browser.find_element("id", "rag-send").click()
    wait_for(browser, lambda d: "the question is empty" in d.find_element("tag name", "body").text, 30,
             "the notice that the question is empty")


def test_a_huge_question_heading_stays_inside_the_sources_panel(browser):
    before = browser.execute_script(LAST_BOT)["count"]
    box = browser.find_element("css selector", "#rag-question textarea")
    browser.execute_script("arguments[0].value = 'x'.repeat(100000);"
                           "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));", box)
    time.sleep(0.5)
    browser.find_element("id", "rag-send").click()
    state = final_answer(browser, "x" * 100_000, before)
    assert "rag-error" in state["html"] and "100,000" in state["text"], state["text"]
    widths = browser.execute_script("""
        const panel = document.getElementById('rag-sources');
        const heading = panel.querySelector('details.rag-turn > summary');
        return {panel: panel.clientWidth, panelScroll: panel.scrollWidth, heading: heading.scrollWidth,
                headingBox: heading.clientWidth, text: heading.innerText.length,
                page: document.documentElement.scrollWidth, window: window.innerWidth};""")
    assert widths["text"] < 120 and widths["heading"] <= widths["headingBox"] + 1, widths
    assert widths["panelScroll"] <= widths["panel"] + 1 and widths["page"] <= widths["window"], widths
    box.clear()


def test_a_decline_shows_its_closest_passages_not_as_an_answer(browser):
    choose_backend(browser, "local")
    state = ask(browser, DECLINED)
    assert "rag-abstain" in state["html"] and "rag-cite" not in state["html"], state["text"]
    assert "Not an answer" in state["text"] or "NOT AN ANSWER" in state["text"]
    assert "closest passages" in state["text"], state["text"]
    link = browser.find_elements("css selector", '#rag-chat [data-testid="bot"] a.rag-near')[-1]
    passage = browser.find_element("id", link.get_attribute("href").split("#", 1)[1])
    assert "rag-near-source" in passage.get_attribute("class")
    newest = browser.execute_script(NEWEST_SOURCES)
    assert "no sources cited" in newest.text and newest.find_elements("css selector", ".rag-near-source")
    browser.execute_script("arguments[0].scrollIntoView({block: 'end'}); window.scrollTo(0, 0);",
                           browser.find_elements("css selector", '#rag-chat [data-testid="bot"]')[-1])
    time.sleep(0.5)
    assert browser.save_screenshot(str(DECLINE_SCREENSHOT))


def test_a_queued_question_shows_its_place_in_line(browser, app):
    """While an API client's answer is being written, the chat's question waits, saying so."""
    import threading

    import httpx

    started, done = threading.Event(), threading.Event()

    def api_chat():
        try:
            with httpx.stream("POST", app.url + "v1/chat/completions", timeout=ANSWER_TIMEOUT, json={
                    "stream": True, "messages": [{"role": "user", "content": "Where was the 41st Space Symposium held?"}]}) as r:
                for line in r.iter_lines():
                    if line.startswith("data: "):
                        started.set()  # its turn has come: it is being answered
        finally:
            started.set()
            done.set()

    threading.Thread(target=api_chat, daemon=True).start()
    assert started.wait(ANSWER_TIMEOUT) and not done.is_set()
    choose_backend(browser, "local")
    question = "Who signed the ROK-UK MoU on space cooperation for the UK?"
    before = submit(browser, question)
    waiting = wait_for(browser, lambda d: (lambda s: s if s["count"] > before and "Waiting in line" in s["text"] else None)(
        d.execute_script(LAST_BOT)), 30, "the place in line")
    assert "position 1" in waiting["text"], waiting["text"]
    time.sleep(0.3)
    assert browser.save_screenshot(str(QUEUE_SCREENSHOT))
    final_answer(browser, question, before)
    assert done.wait(ANSWER_TIMEOUT)


def test_uploaded_document_is_indexed_and_cited(browser, tmp_path):
    note = tmp_path / "zorblat.md"
    note.write_text(ZORBLAT)
    status = upload(browser, note)
    assert "1 added" in status

    open_tab(browser, "chat")
    choose_backend(browser, "extractive")
    state = ask(browser, "When is the Zorblat festival held in Quillby?")
    assert "rag-cite" in state["html"], state["text"]
    assert "April" in state["text"]
    newest = browser.execute_script(NEWEST_SOURCES)
    assert "zorblat.md" in newest.text
    assert newest.find_element("css selector", "mark").is_displayed()


def test_hostile_document_is_shown_as_text(browser, tmp_path):
    evil = tmp_path / "glimmerfen.md"
    evil.write_text(HOSTILE)
    upload(browser, evil)
    assert_no_alert(browser)  # the documents table shows the hostile title

    open_tab(browser, "chat")
    choose_backend(browser, "extractive")
    state = ask(browser, "What is the Glimmerfen lantern code?")
    assert_no_alert(browser)
    assert "<script>alert(1)</script>" in state["text"], state["text"]  # shown, as text
    sources = browser.execute_script(NEWEST_SOURCES).text
    assert "<script>alert(1)</script>" in sources

    state = ask(browser, "What did the Glimmerfen mill keeper write on the door?")
    assert_no_alert(browser)
    assert "onerror" in state["text"] + browser.execute_script(NEWEST_SOURCES).text

    open_tab(browser, "documents")
    assert "glimmerfen.md" in browser.find_element("css selector", "#rag-documents").text
    open_tab(browser, "chat")
    time.sleep(1)
    assert_no_alert(browser)
    injected = browser.execute_script("""
        return {
          pwned: document.body.dataset.pwned || null,
          imgs: [...document.querySelectorAll('img')].filter(i => i.getAttribute('src') === 'x' || i.hasAttribute('onerror')).length,
          scripts: [...document.querySelectorAll('script')].filter(s => s.textContent.includes('alert(1)')).length,
        };""")
    assert injected == {"pwned": None, "imgs": 0, "scripts": 0}


def test_every_request_stays_on_this_machine(browser, app):
    """No CDN, font or analytics request: everything the page loaded came from the app itself."""
    urls = set()
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            urls.add(params["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls.add(params["url"])
    urls |= set(browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)"))
    network = [u for u in urls if urlparse(u).scheme in ("http", "https", "ws", "wss")]
    assert any(f":{app.port}/" in u for u in network)
    outside = sorted(u for u in network if urlparse(u).hostname not in LOCAL_HOSTS)
    assert outside == [], f"the page requested outside hosts: {outside}"
    assert not [u for u in urls if urlparse(u).scheme in ("ftp",)]
