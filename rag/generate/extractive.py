"""Extractive answers: the passage sentences closest to the question, cited. No LLM."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..cite import content_words, split_sentences
from ..config import Settings
from ..embed import get_embedder
from ..types import Passage
from .prompt import ABSTAIN

MAX_SENTENCES = 2


class ExtractiveBackend:
    name = "extractive"

    def stream_answer(self, question: str, passages: list[Passage], settings: Settings) -> Iterator[str]:
        candidates = [(n, p.text[s:e]) for n, p in enumerate(passages, 1) for s, e in split_sentences(p.text)]
        candidates = [(n, t) for n, t in candidates if len(t.split()) >= 4]
        if not candidates:
            yield ABSTAIN
            return
        embedder = get_embedder(settings.embedder, settings.threads)
        vectors = embedder.encode([question] + [t for _, t in candidates])
        semantic = vectors[1:] @ vectors[0]
        q_words = content_words(question)
        lexical = np.array([len(q_words & content_words(t)) / max(len(q_words), 1) for _, t in candidates])
        score = 0.5 * semantic + 0.5 * lexical
        picked = [i for i in np.argsort(-score)[:MAX_SENTENCES] if score[i] >= settings.min_relevance]
        if not picked:
            yield ABSTAIN
            return
        yield " ".join(f"{candidates[i][1]} [{candidates[i][0]}]" for i in sorted(picked))

    def rewrite(self, messages: list[dict], settings: Settings) -> str | None:
        return None
