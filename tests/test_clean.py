"""Tests for rag.clean: normalisation, boilerplate removal on the seed corpus, HTML extraction."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.clean import clean_plain, clean_text, html_to_text, is_saved_web_page, normalize

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def seed(prefix: str) -> str:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


def sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+(?=[A-Z\"'])", text)


def paragraphs(text: str) -> list[str]:
    return text.split("\n\n")


# --- seed 002: scraped news page ---

HEADLINE_002 = (
    "Daejeon City Holds Meeting with Quebec Province, Canada to Explore Aerospace Industry Cooperation"
)
ARTICLE_002 = [
    'Daejeon Mayor Lee Jang-woo attended the "Conference of Montreal," an international policy forum '
    "held in Montreal, Canada, on June 11 (local time). There, he held a meeting with representatives "
    "from Quebec Province, Canada, to discuss cooperation in the aerospace industry. This meeting is "
    "being evaluated as a significant step for Daejeon City to strengthen its international standing as "
    "a hub for Korea's aerospace industry and to create synergy with Quebec Province's advanced "
    "aerospace technology and infrastructure.",
    "Daejeon City is the center of South Korea's scientific and technological research and development, "
    "with numerous aerospace research institutions concentrated within its borders. The Korea Aerospace "
    "Research Institute (KARI) and the Agency for Defense Development (ADD), along with a multitude of "
    "advanced technology companies and research institutes, are located within the Daedeok Innopolis. "
    "This gives Daejeon outstanding capabilities in various fields, including space launch vehicles, "
    "satellite technology, and aircraft component development.",
    "Notably, Daejeon was recently designated as the 'National Space Industry Cluster - Satellite "
    "Specialized Zone,' receiving full government support. This designation is accelerating the city's "
    "efforts to build infrastructure and attract businesses for the creation of a robust space industry "
    "ecosystem. Against this backdrop, Daejeon City is pursuing a strategy to expand its global "
    "aerospace industry footprint through international cooperation.",
]
CHROME_002 = [
    "LOGIN", "JOIN", "MENU", "Synthesis", "Well+Being", "Distribution Economy", "Cho Kijo Column",
    "Lee Yeon-sil Column", "Home >", "fashionrunwayshow2026", "Global Economic Times",
    "KO YONG-CHUL Reporter", "Updated", "Reporter Page", "Print", "https://", "Copyright",
    "All Rights Reserved", "#NATO", "#UNESCO", "Popular articles", "Most Viewed", "Hot Issue",
    "I like it", "Share", "Facebook", "Kakaotalk", "NAVER", "Copy URL", "Comments", "Coway Clinches",
    "BTS", "Netanyahu", "Let’s recycle the old blankets", "광고문의", "korocamia@naver.com",
    "Registration number", "Phone", "+82", "Nonhyeon-ro", "Woodlands Road", "Youth Protection Manager",
    "2026.03.22", "Multicultural News",
]


@pytest.fixture(scope="module")
def cleaned_002() -> str:
    return clean_text(seed("002"))


@pytest.mark.parametrize("sentence", [s for p in [HEADLINE_002, *ARTICLE_002] for s in sentences(p)])
def test_002_keeps_every_article_sentence(cleaned_002: str, sentence: str) -> None:
    assert sentence in cleaned_002


@pytest.mark.parametrize("chrome", CHROME_002)
def test_002_drops_page_chrome(cleaned_002: str, chrome: str) -> None:
    assert chrome not in cleaned_002


def test_002_is_exactly_headline_and_article(cleaned_002: str) -> None:
    assert paragraphs(cleaned_002) == [HEADLINE_002, *ARTICLE_002]


# --- seeds 000, 001, 003: clean prose and press releases ---

def test_000_plain_prose_survives_unchanged() -> None:
    raw = seed("000")
    assert clean_text(raw) == "\n\n".join(normalize(raw).split("\n"))


KEPT = {
    "001": [
        "Opening the door to ROK-US space industry cooperation!",
        'MSIT and US Department of Commerce co-host "ROK-US Space Industry Symposium"',
        "Space businesses of both countries discuss technology exchange and cooperation opportunities",
        "The Ministry of Science and ICT (Minister Lee Jong Ho, hereinafter referred to as 'MSIT'), "
        "jointly with the United States Department of Commerce, hosted the \"ROK-US Space Industry "
        'Symposium" on November 8th (Wed.) 2023, at the Mayfield Hotel Seoul.',
        "The Symposium is also organized as a commemorative event for the 70th anniversary of the "
        "ROK-US alliance.",
        "Exhibition booths were set up for businesses to showcase their most recent technological "
        "capabilities.",
        "Through this Symposium, South Korea and the United States improved their understanding of "
        "their counterparts’ space industry policy and regulatory systems.",
        'He further stated, "If the Korea AeroSpace Administration succeeds in its establishment in the '
        "future, the government could provide more proactive support for collaboration between space "
        "businesses from both countries, advancing the realization of Korea's space economy.\"",
    ],
    "003": [
        "ROK-UK Digital Partnership and MoU on space cooperation signed",
        "Cooperation to be strengthened in 11 digital sectors, including telecommunication supply chain "
        "diversification, semiconductors, AI, etc.",
        "To propel science and technology collaboration in a more integrated and systematic manner, "
        "intergovernmental deliberative bodies will be reestablished into one comprehensive agency.",
        "The Ministry of Science and ICT (Minister Lee Jong Ho, hereinafter referred to as \"MSIT\") "
        "announced the signing of (1) Republic of Korea-United Kingdom Digital Partnership",
        "Semiconductors",
        "[ROK-UK MoU on space cooperation]",
        "Following the signing of the Digital Partnership, MSIT and UK DSIT agreed to sign a bilateral "
        "MoU on space cooperation for peaceful purposes.",
        "Other areas of enhanced digital partnership concern data, global digital norms, digital "
        "technology standards, internet governance, fair and competitive digital market, cybersecurity, "
        "and online safety.",
        "He added, \"Building upon the three Memoranda of Understanding signed today, the two countries "
        'will expand cooperation in the fields of advanced technology, including telecommunications, '
        'semiconductors, AI, and space."',
    ],
}
DROPPED = {
    "001": ["Search Area", "News & Notice", "• Home", "Press Releases"],
    "003": ["Press Releases", "Ministry of Science and ICT", "Nov 23,2023"],
}


@pytest.mark.parametrize("prefix", ["001", "003"])
def test_press_release_keeps_article(prefix: str) -> None:
    cleaned = clean_text(seed(prefix))
    for sentence in KEPT[prefix]:
        assert sentence in cleaned
    long_lines = [line.strip() for line in normalize(seed(prefix)).split("\n")
                  if len(line.split()) >= 20 and "Phone" not in line]
    assert set(long_lines) <= set(paragraphs(cleaned))


@pytest.mark.parametrize("prefix", ["001", "003"])
def test_press_release_drops_navigation(prefix: str) -> None:
    kept = paragraphs(clean_text(seed(prefix)))
    for line in DROPPED[prefix]:
        assert line not in kept


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003"])
def test_clean_text_is_idempotent(prefix: str) -> None:
    once = clean_text(seed(prefix))
    assert clean_text(once) == once


@pytest.mark.parametrize("blank", ["", "   ", "\n\n\t\r\n", "\u200b\ufeff\u00a0"])
def test_empty_input_gives_empty_output(blank: str) -> None:
    assert normalize(blank) == ""
    assert clean_text(blank) == ""
    assert html_to_text(blank) == ("", "", 0)
    assert clean_plain(blank) == ("", 0)


def test_short_plain_prose_is_kept() -> None:
    assert clean_text("Hello world.\nThis is a test.") == "Hello world.\n\nThis is a test."


# --- normalize ---

@pytest.mark.parametrize(("raw", "expected"), [
    ("ﬁnance", "finance"),
    ("１２３ＡＢＣ", "123ABC"),
    ("a\r\nb\rc", "a\nb\nc"),
    ("a\n\n\n\n\nb\n \n\t\nc", "a\n\nb\n\nc"),
    ("non\u00a0breaking", "non breaking"),
    ("\ufeffzero\u200bwidth\u200djoin", "zerowidthjoin"),
    ("tab\t\there   and  spaces   \nnext", "tab here and spaces\nnext"),
    ("  \n  indented stays\n\n", "indented stays"),
])
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


# --- html_to_text ---

ARTICLE_HTML = [
    "The city council approved a new budget on Tuesday after months of debate over transport, "
    "housing and school funding. Officials said the plan balances spending with modest tax changes.",
    "Under the plan, two new tram lines will be built by 2028, and the bus network will be redesigned "
    "around them. Residents will be consulted on the routes during a series of public meetings.",
    "Critics argued that the housing budget remains too small to ease rising rents. The mayor replied "
    "that further measures will follow next year once the first results of the programme are known.",
]


def page(article: str) -> str:
    return f"""<!DOCTYPE html>
<html><head><title>Council approves budget</title><style>p {{ color: red }}</style></head>
<body>
<header><a href="/">Daily Planet</a><form><input name="q"><button>Search</button></form></header>
<nav><ul><li><a href="/world">World</a></li><li><a href="/business">Business</a></li></ul></nav>
<div class="breadcrumb">Home &gt; Local</div>
<main><article>{article}</article>
<div class="share-bar"><a href="#">Facebook</a> <a href="#">Twitter</a> <button>Copy link</button></div>
<div class="sidebar"><h3>Most Viewed</h3><ul><li>Celebrity spotted at the local bakery again</li>
<li>Ten things you did not know about trams</li></ul></div>
<div id="comments"><h3>Comments 2</h3><p>Great article!</p></div></main>
<script>document.write("tracking pixel loaded");</script>
<footer><p>Copyright © 2024 Daily Planet. All rights reserved.</p><p>Contact: news@planet.example</p></footer>
</body></html>"""


def test_html_to_text_returns_title_and_article_only() -> None:
    title, text, _ = html_to_text(page("".join(f"<p>{p}</p>" for p in ARTICLE_HTML)))
    assert title == "Council approves budget"
    assert text == "\n".join(ARTICLE_HTML)  # one block per line


def test_html_to_text_joins_inline_markup_and_splits_blocks() -> None:
    html = page("<p>The city <b>council</b> approved a <a href='/b'>new\n   budget</a> today.<br>"
                "Second line.</p>" + "".join(f"<p>{p}</p>" for p in ARTICLE_HTML))
    paras = html_to_text(html)[1].split("\n")
    assert paras[:2] == ["The city council approved a new budget today.", "Second line."]


def test_html_to_text_title_falls_back_to_h1() -> None:
    title, text, _ = html_to_text(f"<body><h1>Tram &amp; bus plan</h1><p>{ARTICLE_HTML[0]}</p></body>")
    assert title == "Tram & bus plan"
    assert text.split("\n")[-1] == ARTICLE_HTML[0]


def test_html_to_text_never_keeps_markup() -> None:
    hostile = (f"<p>{ARTICLE_HTML[0]} <img src=x onerror=\"alert('img')\"></p>"
               "<script>alert('script')</script>"
               f"<p>{ARTICLE_HTML[1]} &lt;script&gt;alert(1)&lt;/script&gt;</p>"
               f"<p onclick=\"alert('click')\">{ARTICLE_HTML[2]}</p><!-- <b>hidden</b> -->")
    title, text, _ = html_to_text(page(hostile))
    for markup in ("<", ">", "onerror", "onclick", "alert('", "hidden", "tracking pixel"):
        assert markup not in text
    for paragraph in ARTICLE_HTML:
        assert paragraph in text


# --- plain text and Markdown: every line is content unless the file is a saved web page ---

NOTES = sorted((FIXTURES / "notes").iterdir())


@pytest.mark.parametrize("note", NOTES, ids=[n.name for n in NOTES])
def test_ordinary_notes_lose_nothing(note: Path) -> None:
    """Lists, tables, code, addresses, dates, e-mail and "Share"/"Menu" lines, inline markup:
    all content, none of it dropped."""
    raw = note.read_text(encoding="utf-8")
    text, dropped = clean_plain(raw)
    assert dropped == 0 and not is_saved_web_page(normalize(raw))
    assert text == normalize(raw)


def test_the_reported_note_keeps_its_list_date_contact_and_alarm_day() -> None:
    text, _ = clean_plain((FIXTURES / "notes" / "shopping.md").read_text())
    for line in ("- milk", "- eggs", "- bread", "Next review meeting: 12 May 2026", "Contact ann@example.com",
                 "All rights reserved", "The smoke alarm is tested every Tuesday; the <script> tag"):
        assert line in text


@pytest.mark.parametrize("prefix", ["000", "003"])
def test_seeds_without_a_repeated_menu_are_kept_whole(prefix: str) -> None:
    """Seed 003's header lines (ministry, date) are part of the press release: nothing is dropped."""
    raw = seed(prefix)
    assert clean_plain(raw) == (normalize(raw), 0)


@pytest.mark.parametrize("prefix", ["001", "002"])
def test_saved_web_pages_are_recognised_by_their_repeated_menu(prefix: str) -> None:
    raw = seed(prefix)
    text, dropped = clean_plain(raw)
    assert is_saved_web_page(normalize(raw)) and text == clean_text(raw)
    assert dropped == len("".join(normalize(raw).split())) - len("".join(text.split())) > 0


# --- real HTML pages: trafilatura's main-content extraction ---

HTML_PAGES = {
    "blog.html": {
        "title": "How we cut our heating bill by a third",
        "kept": ["Our house was built in 1962 and had never had its loft insulated.",
                 "We laid 270 mm of mineral wool between and over the joists, which took a weekend and cost 640 euros.",
                 "What else we changed", "Thermostatic valves on all eleven radiators.",
                 "Draught strips on the front and back doors.", "14,200 kWh", "9,450 kWh",
                 "The loft insulation paid for itself within the first year."],
        "dropped": ["Skip to content", "Projects", "Share on Facebook", "Great write-up", "Popular posts",
                    "rain barrel", "Subscribe", "All rights reserved", "Privacy policy", "cookies"],
    },
    "docs.html": {
        "title": "Configuring the backup job",
        "kept": ["The backup job copies every vault to a second disk once a night.", "/etc/vault/backup.toml",
                 'target = "/mnt/backup/vault"', "keep = 14", 'schedule = "02:30"',
                 "Copies older than the number given in keep are deleted after each successful run, never before.",
                 "number of nightly copies kept", "zstd-compress each copy",
                 "systemctl restart vault-backup"],
        "dropped": ["FAQ", "Edit this page on GitHub", "MIT license", "Restore \u2192"],
    },
}


@pytest.mark.parametrize("name", sorted(HTML_PAGES))
def test_html_pages_keep_the_article_and_drop_the_chrome(name: str) -> None:
    expected = HTML_PAGES[name]
    title, text, dropped = html_to_text((FIXTURES / "html" / name).read_text(encoding="utf-8"))
    assert expected["title"] in title
    for kept in expected["kept"]:
        assert kept in text, kept
    for chrome in expected["dropped"]:
        assert chrome not in text, chrome
    assert dropped > 0
