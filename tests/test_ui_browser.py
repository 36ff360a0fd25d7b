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
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
ANSWER_TIMEOUT = 180  # the first local answer also loads the model

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


def ask(driver, question: str, watch_stream: bool = False) -> dict:
    """Type ``question``, wait for the final answer; report whether partial text was seen streaming."""
    before = driver.execute_script(LAST_BOT)["count"]
    box = driver.find_element("css selector", "#rag-question textarea")
    box.clear()
    box.send_keys(question)
    box.send_keys("\n")
    partial_texts = set()
    deadline = time.monotonic() + ANSWER_TIMEOUT
    while time.monotonic() < deadline:
        state = driver.execute_script(LAST_BOT)
        if state["count"] > before:
            if state["streaming"] and state["text"].strip("▌ \n") and "Searching" not in state["text"]:
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
    """Local LLM: the answer streams in, its [n] markers link to highlighted passages."""
    choose_backend(browser, "local")
    state = ask(browser, "Who signed the space MoU with the Canadian Space Agency?", watch_stream=True)
    assert state["partials"], "no partial answer was shown while the answer streamed"
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
