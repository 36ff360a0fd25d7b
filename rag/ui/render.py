"""Escaping and shortening: what every part of the page uses to show text as text."""
from __future__ import annotations

# Chat messages go through Gradio's Markdown renderer, so besides HTML we neutralise the
# characters Markdown would act on (links, images, emphasis, autolinks, math, templates).
# Numeric character references are shown as the plain character and never parsed as syntax.
_MARKDOWN_ESCAPES = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'\\`*_{}[]()#+-!|~$:.=@"})
_HTML_ESCAPES = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'`{}$\\"})


def escape_html(text: str) -> str:
    """``html.escape`` plus template characters (``{}`` ``$`` `` ` ``), for HTML panels."""
    return str(text).translate(_HTML_ESCAPES)


def escape_markdown(text: str) -> str:
    """Text that renders literally through Markdown *and* HTML (for chat messages)."""
    return str(text).translate(_MARKDOWN_ESCAPES)


def shorten(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
