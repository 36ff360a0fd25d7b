"""Extractive answers: the best evidence sentence, quoted and cited. No LLM."""
from __future__ import annotations

from collections.abc import Iterator

from ..config import Settings
from ..types import Passage
from .prompt import NONE


class ExtractiveBackend:
    """Answers with the best-scored evidence sentence the pipeline selected."""

    name = "extractive"

    def stream_answer(self, question: str, passages: list[Passage], settings: Settings) -> Iterator[str]:
        if not passages:
            yield NONE
            return
        best = max(range(len(passages)), key=lambda n: passages[n].score)
        yield f"[{best + 1}]"

    def rewrite(self, messages: list[dict], settings: Settings) -> str | None:
        return None

    def check(self, question: str, sentence: str, short: str, settings: Settings) -> float | None:
        return None
