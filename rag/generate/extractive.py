"""Extractive answers: the best evidence sentence, quoted and cited. No LLM."""
from __future__ import annotations

from collections.abc import Iterator

from ..config import Settings
from ..types import Passage
from .prompt import NONE


class ExtractiveBackend:
    """Answers with the top evidence sentence the pipeline selected (it is ranked best first)."""

    name = "extractive"

    def stream_answer(self, question: str, passages: list[Passage], settings: Settings) -> Iterator[str]:
        yield "[1]" if passages else NONE

    def rewrite(self, messages: list[dict], settings: Settings) -> str | None:
        return None
