"""Text normalisation and web-boilerplate removal.

Only what is demonstrably page chrome is removed. HTML goes through trafilatura's
main-content extractor (``html_to_text``). Plain text and Markdown keep every line
(``clean_plain``) unless the file is a saved web page, recognised by a navigation block
whose entries recur elsewhere in the file; only such a page goes through ``clean_text``.
Every cleaner reports how many characters it dropped.

``clean_text`` classifies every line jusText-style: long prose is *good*; share bars,
link/tag lists, footers, bylines and breadcrumbs are *chrome*; the rest is *near*
(medium) or *short* and is resolved by its neighbours. A sidebar heading ("Most
Viewed", "Related articles", ...) opens a chrome zone that lasts until prose resumes.

Titles of plain text and Markdown (``plain_title``): the first Markdown heading, else the headline,
the line that reads like one just before the article (``headline``); a saved web page adds its
publisher from its copyright notice (``site_name``).
"""
from __future__ import annotations

import re
import unicodedata

from bs4 import BeautifulSoup, NavigableString

# Line kinds.
GOOD, NEAR, SHORT, CHROME = "good", "near", "short", "chrome"

GOOD_MIN_WORDS = 25  # long prose
NEAR_MIN_WORDS = 8  # medium lines; bullet items shorter than this are menu/tag chrome
SENTENCE_MIN_WORDS = 4  # a sentence at least this long is a medium line too
META_MAX_WORDS = 12  # dates, bylines and breadcrumbs are only chrome in short lines
GOOD_MAX_LINK_SHARE = 0.1
CHROME_MIN_LINK_SHARE = 0.25

# --- normalize ---
ZERO_WIDTH = re.compile("[\u200b-\u200d\u2060\ufeff\u00ad]")
LINE_BREAK = re.compile("\r\n?|[\u2028\u2029\x85]")
INLINE_SPACE = re.compile("[\t\v\f]")
SPACE_RUN = re.compile(r"(?<=\S) {2,}")
BLANK_RUN = re.compile(r"\n{3,}")

# --- line features ---
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
WORD = re.compile(f"[{CJK}]|[^\\s{CJK}]+")  # CJK scripts: one character counts as a word
LETTER = re.compile(r"[^\W\d_]")
BULLET = re.compile(r"^[•·▪◦‣●○■□►▶➤*+\-–—](?:\s+|$)")
TERMINAL = re.compile(r"[.!?…。！？][\"'”’)\]]*$")
SENTENCE_END = re.compile(r"[.!?…。！？][\"'”’)\]]*(?:\s|$)")
LINK = re.compile(r"(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+\.\w+|[#@][^\W\d_]\w*")
WIDGET = re.compile(
    LINK.pattern + r"|\b(?:share|print|e-?mail|facebook|twitter|x|kakao ?(?:talk|story)?|line|band"
    r"|naver(?: blog)?|telegram|whatsapp|linkedin|pinterest|reddit|instagram|youtube|rss|tweet"
    r"|i like it|like|copy (?:url|link)|url|link|copied|scrap|font size|log ?(?:in|out)"
    r"|sign ?(?:in|up|out)|join|register|subscribe|search|menu|home|all articles|categor(?:y|ies)"
    r"|skip to (?:main )?content|back to top|top|read more|more|next|prev(?:ious)?|close)\b",
    re.IGNORECASE,
)
FOOTER = re.compile(
    r"©|\ball rights reserved\b|\bcopyright\s*(?:\(c\)|\d{4})|\bregistration\s+(?:no\b|number|date)"
    r"|\b(?:tel|phone|fax|e-?mail)\s*:|\+\d{1,3}[\s\d()-]{7,}\d|[\w.+-]+@[\w-]+\.\w"
    r"|\bprivacy policy\b|\bterms of (?:use|service)\b",
    re.IGNORECASE,
)
MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
META = re.compile(
    rf"\b\d{{4}}[-./]\d{{1,2}}[-./]\d{{1,2}}\b|\b\d{{1,2}}[-./]\d{{1,2}}[-./]\d{{4}}\b"
    rf"|\b{MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s*\d{{4}}\b|\b\d{{1,2}}\s+{MONTH}\s+\d{{4}}\b"
    r"|\b\d{1,2}:\d{2}\b|^by\s|\b(?:reporter|correspondent|columnist|staff writer)\b"
    r"|\b(?:updated|posted|published|written)\s*(?::|by\b|on\b)|(?:^|\s)[>›»|](?:\s|$)",
    re.IGNORECASE,
)
SIDEBAR_HEADING = re.compile(
    r"(?:(?:today['’]?s|weekly|daily|monthly)\s+)?"
    r"(?:most\s+(?:viewed|read|popular|shared|commented|emailed)"
    r"|popular(?:\s+(?:articles|news|posts|stories))?|hot\s+(?:issues?|news|topics?|articles)"
    r"|related(?:\s+(?:articles|news|posts|stories|content|links))?"
    r"|recommended(?:\s+(?:articles|news|posts|stories|for\s+you))?"
    r"|trending(?:\s+(?:now|news|topics|articles))?|latest\s+(?:news|articles|posts|stories)"
    r"|top\s+(?:stories|news|articles)|you\s+(?:may|might)\s+also\s+like"
    r"|(?:more|other)\s+(?:news|articles|stories)|editor['’]?s\s+picks?|see\s+also"
    r"|comments?|leave\s+a\s+(?:comment|reply))"
    r"(?:\s*(?:[>›»:|]|\(?\d+\)?))*",
    re.IGNORECASE,
)

# --- html ---
DROP_TAGS = ["script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
             "button", "iframe", "svg", "head", "title", "select", "textarea", "object", "embed"]
KEEP_TAGS = ["html", "body", "main", "article"]
BLOCK_TAGS = ["p", "div", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
              "br", "hr", "tr", "table", "caption", "section", "article", "main", "blockquote",
              "pre", "figure", "figcaption", "address", "details", "summary"]
CELL_TAGS = ["td", "th"]
WHITESPACE = re.compile(r"\s+")  # source formatting inside HTML text nodes
CHROME_ROLES = {"navigation", "banner", "contentinfo", "complementary", "menu", "menubar",
                "search", "toolbar", "dialog", "alertdialog"}
CHROME_ATTR = re.compile(
    r"(?<![a-z])(?:nav|navbar|navigation|menus?|side-?bar|breadcrumbs?|share|sharing|social|sns"
    r"|cookies?|consent|gdpr|comments?|footer|masthead|related|recommend(?:ed|ations)?|popular"
    r"|most-?viewed|trending|widgets?|ads?|advert(?:isement)?s?|banner|promo|newsletter|subscribe"
    r"|pagination|pager|toolbar|skip-?links?)(?![a-z])",
    re.IGNORECASE,
)
ESCAPED_MARKUP = re.compile(
    r"<\s*/?\s*(?:script|style|iframe|img|svg|object|embed|link|meta|base|form|input|button"
    r"|frame|frameset|math|template)\b[^<>]*>",
    re.IGNORECASE,
)


def normalize(text: str) -> str:
    """NFKC, LF line ends, no zero-width chars, single spaces, at most one blank line, stripped."""
    text = ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", text))  # NFKC turns NBSP into a space
    text = INLINE_SPACE.sub(" ", LINE_BREAK.sub("\n", text))
    lines = (SPACE_RUN.sub(" ", line.rstrip()) for line in text.split("\n"))
    return BLANK_RUN.sub("\n\n", "\n".join(lines)).strip()


NAV_BLOCK_MIN = 3  # consecutive short bullet items that form a menu
NAV_ITEM_MAX_WORDS = 4


def dropped_chars(before: str, after: str) -> int:
    """Characters (whitespace aside) of ``before`` that are missing from ``after``."""
    return max(0, len("".join(before.split())) - len("".join(after.split())))


def is_saved_web_page(text: str) -> bool:
    """True when a navigation block of the text repeats: a run of short bullet items one of which
    also appears as a line elsewhere (a menu shown twice, or a breadcrumb repeating a heading)."""
    lines = [line.strip() for line in text.split("\n")]
    bodies = [_body(line).strip().lower() for line in lines]
    run: list[int] = []
    for i, line in enumerate([*lines, ""]):
        if line and _body(line) != line and 0 < len(_words(_body(line))) <= NAV_ITEM_MAX_WORDS:
            run.append(i)
            continue
        if not line and run and i + 1 < len(lines) and lines[i + 1] and _body(lines[i + 1]) != lines[i + 1]:
            continue  # a blank line inside a bulleted block
        if len(run) >= NAV_BLOCK_MIN:
            inside = set(run)
            for j in run:
                if any(bodies[k] == bodies[j] for k in range(len(lines)) if k not in inside):
                    return True
        run = []
    return False


def clean_plain(text: str) -> tuple[str, int]:
    """Plain text or Markdown: ``(text, dropped characters)``; every line is kept unless the
    text is a saved web page (``is_saved_web_page``), which ``clean_text`` cleans."""
    normalized = normalize(text)
    if not is_saved_web_page(normalized):
        return normalized, 0
    cleaned = clean_text(normalized)
    return cleaned, dropped_chars(normalized, cleaned)


def clean_text(text: str) -> str:
    """Normalise ``text`` and drop web-page boilerplate; kept lines become paragraphs."""
    lines = [line.strip() for line in normalize(text).split("\n") if line.strip()]
    keep = _resolve(*_classify(lines))
    return "\n\n".join(line for line, kept in zip(lines, keep) if kept)


def html_to_text(html: str) -> tuple[str, str, int]:
    """``(title, text, dropped)`` of an HTML page.

    The main content comes from trafilatura (headings, paragraphs, lists, tables and code kept;
    navigation, sidebars, share bars, comments and footers dropped); a page too small for it
    falls back to dropping chrome elements by tag, role, id and class. ``dropped`` counts the
    visible characters of the page that are not in ``text``.
    """
    if not html.strip():
        return "", "", 0
    soup = BeautifulSoup(html, "html.parser")
    title = _title(soup)
    for string in soup.find_all(string=True):  # source line breaks inside a paragraph are spaces
        if type(string) is NavigableString and not string.find_parent(["pre", "textarea"]):
            string.replace_with(WHITESPACE.sub(" ", string))
    text = _main_content(str(soup)) or _strip_chrome_elements(soup)
    text = normalize(ESCAPED_MARKUP.sub(" ", text))
    visible = _visible_text(html)
    kept = f"{title}\n{text}" if title and title not in text and title in visible else text  # an <h1> became the title
    return title, text, dropped_chars(visible, kept)


def _main_content(html: str) -> str:
    import trafilatura

    return trafilatura.extract(html, output_format="txt", include_comments=False, include_tables=True,
                               include_images=False, include_links=False, include_formatting=False,
                               favor_precision=True, deduplicate=False, with_metadata=False) or ""


def _visible_text(html: str) -> str:
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(["script", "style", "noscript", "template", "head"]):
        tag.decompose()
    return normalize(soup.get_text("\n"))


def _strip_chrome_elements(soup: BeautifulSoup) -> str:
    """Chrome elements dropped, blocks as lines, text cleaned (for pages trafilatura declines)."""
    for tag in soup.find_all(DROP_TAGS):
        if not tag.decomposed and not (tag.name == "header" and tag.find_parent("article")):
            tag.decompose()
    total = len(soup.get_text())
    for tag in soup.find_all(True):
        if not tag.decomposed and _is_chrome_element(tag, total):
            tag.decompose()
    for tag in soup.find_all(BLOCK_TAGS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    for tag in soup.find_all(CELL_TAGS):
        tag.insert_after(" ")
    return clean_text(ESCAPED_MARKUP.sub(" ", soup.get_text()))


# --- line classification ---

def _body(line: str) -> str:
    """The line without its bullet marker."""
    return BULLET.sub("", line, count=1)


def _words(text: str) -> list[str]:
    return WORD.findall(text)


def _link_share(words: list[str]) -> float:
    """Share of URL, e-mail, #hashtag and @handle tokens."""
    return sum(bool(LINK.search(word)) for word in words) / len(words) if words else 0.0


def _latin_share(text: str) -> float:
    letters = [char for char in text if char.isalpha()]
    return sum(char < "\u0250" for char in letters) / len(letters) if letters else 0.0


def _is_good(line: str) -> bool:
    """Long prose: many words, sentence punctuation, few links."""
    body = _body(line)
    words = _words(body)
    return (
        len(words) >= GOOD_MIN_WORDS
        and (TERMINAL.search(body) is not None or len(SENTENCE_END.findall(body)) >= 2)
        and _link_share(words) <= GOOD_MAX_LINK_SHARE
    )


def _is_chrome(line: str, latin_article: bool) -> bool:
    """Page furniture recognisable from the line alone."""
    body = _body(line)
    words = _words(body)
    return (
        not LETTER.search(WIDGET.sub(" ", body))  # only links, symbols, share/login buttons
        or (body != line and len(words) < NEAR_MIN_WORDS)  # menu or tag-list item
        or FOOTER.search(body) is not None  # copyright, registration, contact details
        or _link_share(words) >= CHROME_MIN_LINK_SHARE
        or (latin_article and _latin_share(body) < 0.5)  # e.g. ad placeholders in another script
        or (len(words) <= META_MAX_WORDS and not TERMINAL.search(body)
            and META.search(body) is not None)  # date, byline, breadcrumb
    )


def _length_kind(line: str) -> str:
    body = _body(line)
    words = len(_words(body))
    is_sentence = TERMINAL.search(body) is not None and words >= SENTENCE_MIN_WORDS
    return NEAR if words >= NEAR_MIN_WORDS or is_sentence else SHORT


def _classify(lines: list[str]) -> tuple[list[str], list[bool]]:
    """The intrinsic kind of every line, and whether it lies in a sidebar zone."""
    good = [_is_good(line) for line in lines]
    latin_article = _latin_share(" ".join(l for l, g in zip(lines, good) if g)) >= 0.5
    kinds, zone, in_zone = [], [], False
    for line, is_good in zip(lines, good):
        heading = not is_good and SIDEBAR_HEADING.fullmatch(_body(line)) is not None
        in_zone = (in_zone or heading) and not is_good
        zone.append(in_zone)
        if is_good:
            kinds.append(GOOD)
        elif heading or _is_chrome(line, latin_article):
            kinds.append(CHROME)
        else:
            kinds.append(_length_kind(line))
    return kinds, zone


def _sides(kinds: list[str], skip: tuple[str, ...]) -> list[list[int]]:
    """For every line, the nearest lines before and after it whose kind is not in ``skip``."""
    before, after, last = [], [None] * len(kinds), None
    for i, kind in enumerate(kinds):
        before.append(last)
        last = i if kind not in skip else last
    last = None
    for i in reversed(range(len(kinds))):
        after[i] = last
        last = i if kinds[i] not in skip else last
    return [[j for j in pair if j is not None] for pair in zip(before, after)]


def _resolve(kinds: list[str], zone: list[bool]) -> list[bool]:
    """Context pass: which lines to keep."""
    kinds_in_context = [CHROME if z else kind for kind, z in zip(kinds, zone)]
    if GOOD not in kinds:  # no prose to anchor the context: keep all but recognisable chrome
        return [kind != CHROME for kind in kinds_in_context]
    keep = [kind == GOOD for kind in kinds_in_context]
    short_sides = _sides(kinds_in_context, (SHORT, NEAR))
    near_sides = _sides(kinds_in_context, (NEAR,))
    for i, kind in enumerate(kinds_in_context):
        if kind == SHORT:  # a heading survives only between good blocks
            keep[i] = all(kinds_in_context[j] == GOOD for j in short_sides[i])
    for i, kind in enumerate(kinds_in_context):
        if kind == NEAR:  # a medium line survives unless all its neighbours are dropped
            keep[i] = not near_sides[i] or any(keep[j] for j in near_sides[i])
    _keep_headline(kinds, keep)
    return keep


def _keep_headline(kinds: list[str], keep: list[bool]) -> None:
    """Keep the line before the first good block, past chrome such as bylines: the headline."""
    first = next((i for i, kind in enumerate(kinds) if kind == GOOD), None)
    if first is None:
        return
    i = first - 1
    while i >= 0 and kinds[i] == CHROME:
        i -= 1
    if i >= 0:
        keep[i] = True


# --- html ---

def _title(soup: BeautifulSoup) -> str:
    """Text of <title>, else of the first <h1>."""
    tag = soup.title if soup.title and soup.title.get_text(strip=True) else soup.find("h1")
    return " ".join(ESCAPED_MARKUP.sub(" ", normalize(tag.get_text(" "))).split()) if tag else ""


def _is_chrome_element(tag, total_chars: int) -> bool:
    """Navigation, sidebar, share bar, cookie banner, comments... marked by role, id or class."""
    marks = " ".join([*tag.get("class", []), tag.get("id", "")])
    if str(tag.get("role", "")).lower() not in CHROME_ROLES and not CHROME_ATTR.search(marks):
        return False
    protected = tag.name in KEEP_TAGS or tag.find(KEEP_TAGS) is not None
    return not protected and 2 * len(tag.get_text()) < total_chars


# --- titles ---

HEADLINE_REACH = 6  # lines before the first long paragraph the headline may stand
HEADLINE_MAX_WORDS = 30
HEADLINE_MIN_CAPITALISED = 2
ATX_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
SETEXT_RULE = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
FENCE = re.compile(r"^ {0,3}(?:```|~~~)")
FRONT_MATTER_TITLE = re.compile(r"\A---\n(?:.*\n)*?title:[ \t]*[\"']?(.+?)[\"']?[ \t]*\n(?:.*\n)*?---(?:\n|\Z)")
INLINE_MARKS = re.compile(r"[*_`]+")
COPYRIGHT_HOLDER = re.compile(
    r"(?:copyright|©|\(c\))(?:\s*(?:©|\(c\)))?\s*(?:\d{4}(?:\s*[-–]\s*\d{4})?\s*,?\s*)?"
    r"([^\W\d_][\w&'’. -]{1,60}?)\s*[.,]?\s*all rights reserved", re.IGNORECASE)


def chrome_line(line: str) -> bool:
    """A line (or sentence) that is page furniture on its own: menu or share-bar item, footer,
    date, byline or breadcrumb (``clean_text``'s test of a single line)."""
    return _is_chrome(line, latin_article=False)


def headline(text: str) -> str:
    """The headline of cleaned plain text, or "" when it has none.

    The nearest line before the first long paragraph (at most ``HEADLINE_REACH`` lines back, past
    decks, bullets, dates and bylines; from the top when there is no long paragraph) that reads
    like a headline: 3 to 30 words, at least two of them capitalised, no closing period, not a
    bullet, sidebar heading, footer or byline. Walking back from the article rather than down from
    the top passes over section labels and agency names above the headline ("Press Releases",
    "Ministry of Science and ICT"). Failing that, a lead: a first line that is one sentence of at
    most 30 words (not itself the long paragraph, nor the whole text), without its period, or a
    title line of any case ("Packet switching").
    """
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines:
        return ""
    first = next((i for i, line in enumerate(lines) if _is_good(line)), None)
    near = (range(first - 1, max(first - HEADLINE_REACH, 0) - 1, -1) if first is not None
            else range(min(len(lines), HEADLINE_REACH)))  # no long paragraph: the first one from the top
    for i in near:
        if _reads_like_headline(lines[i]):
            return lines[i]
    lead = lines[0]
    ends = len(SENTENCE_END.findall(lead + " "))
    if (first != 0 and len(lines) > 1 and len(_words(lead)) <= HEADLINE_MAX_WORDS and BULLET.match(lead) is None
            and LETTER.search(lead) and not chrome_line(lead) and ends <= 1
            and not lead.endswith((":", ";", ","))):
        return lead.rstrip(".…。 ")
    return ""


def _reads_like_headline(line: str) -> bool:
    words = _words(line)
    return (3 <= len(words) <= HEADLINE_MAX_WORDS
            and sum(w[0].isupper() for w in words) >= HEADLINE_MIN_CAPITALISED
            and not line.endswith((".", "…", "。", ":", ";", ","))
            and BULLET.match(line) is None
            and SIDEBAR_HEADING.fullmatch(line) is None
            and not chrome_line(line))


def markdown_heading(text: str) -> str:
    """The title of Markdown: its front matter's ``title:``, else its first heading (``# …`` or
    an underlined one), outside code blocks; "" when it has none."""
    if m := FRONT_MATTER_TITLE.match(text):
        return m.group(1).strip()
    fenced = False
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced and (m := ATX_HEADING.match(line)):
            return INLINE_MARKS.sub("", m.group(1)).strip()
        elif (not fenced and line.strip() and i + 1 < len(lines) and SETEXT_RULE.match(lines[i + 1])
              and not BULLET.match(line.strip())):
            return INLINE_MARKS.sub("", line).strip()
    return ""


def site_name(raw: str) -> str:
    """The publisher a saved web page names in its copyright notice ("Copyright (c) Global
    Economic Times. All Rights Reserved."): the holder named most often, "" when none is."""
    names: dict[str, int] = {}
    for m in COPYRIGHT_HOLDER.finditer(normalize(raw)):
        name = " ".join(m.group(1).split()).strip(" .,")
        if name and len(name.split()) <= 6:
            names[name] = names.get(name, 0) + 1
    return max(names, key=names.get) if names else ""


def plain_title(raw: str, cleaned: str, markdown: bool = False) -> str:
    """The title of a plain-text or Markdown file from its ``raw`` and ``cleaned`` text: the
    Markdown heading, else the headline (``headline``); a saved web page's publisher
    (``site_name``) is added after a dash, as a page's ``<title>`` would show it."""
    first = cleaned.split("\n", 1)[0]
    title = markdown_heading(cleaned) if markdown or ATX_HEADING.match(first) else ""
    title = title or headline(cleaned)
    site = site_name(raw) if is_saved_web_page(normalize(raw)) else ""
    if site and site.lower() not in title.lower():
        return f"{title} — {site}" if title else site
    return title
