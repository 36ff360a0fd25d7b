"""The answer-backend interface the backends share (the factory is ``rag.generate.registry``)."""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..config import Settings
from ..types import Passage


class BackendError(RuntimeError):
    """A backend cannot answer (endpoint down, key rejected, model missing); the message is for users."""


@dataclass(frozen=True)
class Declining:
    """How strongly the model preferred declining (replying ``none``) to its best answer, yielded
    before the reply: P(none) / (P(none) + P(the best other first token)); 0.5 or more means that,
    left alone, it would have declined. A backend that yields it has been kept from replying
    ``none``, so its reply is its best answer and the caller decides whether to give it.
    """

    probability: float


def p_yes(top_logprobs: list[dict]) -> float | None:
    """P(yes) / (P(yes) + P(no)) of a reply's first token (OpenAI ``top_logprobs`` form); None if neither."""
    p = {"yes": 0.0, "no": 0.0}
    for t in top_logprobs:
        word = t["token"].strip(" .\n").lower()
        if word in p:
            p[word] += math.exp(t["logprob"])
    return p["yes"] / (p["yes"] + p["no"]) if p["yes"] + p["no"] > 0 else None


def yes_no_request(messages: list[dict]) -> dict:
    """The one-token yes/no request (OpenAI form) with which a chat backend checks an answer or a
    statement; its reply is read with ``p_yes``."""
    return {"messages": messages, "max_tokens": 1, "temperature": 0.0, "logprobs": True, "top_logprobs": 10}


def declining(top_logprobs: list[dict]) -> Declining:
    """``Declining`` from the first reply token's top alternatives (OpenAI ``top_logprobs`` form)."""
    from .prompt import NONE

    p_none, p_other = 0.0, 0.0
    for t in top_logprobs:
        p = math.exp(t["logprob"])
        if t["token"].strip(" .\n").lower() == NONE:
            p_none += p
        else:
            p_other = max(p_other, p)
    return Declining(p_none / (p_none + p_other) if p_none + p_other > 0 else 0.0)


@runtime_checkable
class Backend(Protocol):
    """Streams an answer to ``question`` from numbered ``passages``, with ``[n]`` markers
    (optionally preceded by a ``Declining``)."""

    name: str

    def stream_answer(self, question: str, passages: list[Passage], settings: Settings) -> Iterator[str | Declining]: ...

    def rewrite(self, messages: list[dict], settings: Settings) -> str | None:
        """Complete a short chat (used to condense follow-up questions); None if unsupported."""
        ...

    def check(self, question: str, sentence: str, short: str, settings: Settings) -> float | None:
        """P(yes) that ``sentence`` states ``short`` as the answer to ``question``; None if unsupported."""
        ...


class ChatBackend:
    """Base of the LLM backends: prompt building and budgeting live here, transport in ``chat``."""

    name = "chat"
    context_window = 4096
    # The budget is counted with tiktoken's cl100k_base; the model's own tokenizer needs a few
    # percent more tokens for prose (Qwen2.5: 1-4% on the seeds) and more for digits, so only
    # this share of the window is filled with prompt (measured against llama.cpp's server).
    prompt_share = 0.9

    weighs_none = False  # its chat() takes weigh_none=True: yields ``Declining`` first, never replies "none"
    takes_grammar = False  # its chat() takes grammar=GBNF: the reply is held to it

    def chat(self, messages: list[dict], settings: Settings, max_tokens: int) -> Iterator[str | Declining]:
        raise NotImplementedError

    def stream_answer(self, question: str, passages: list[Passage], settings: Settings) -> Iterator[str | Declining]:
        from .prompt import answer_grammar, build_messages

        budget = int(min(self.context_window, settings.n_ctx) * self.prompt_share) - settings.max_tokens
        options = {"weigh_none": True} if self.weighs_none and settings.decline_at < 1.0 else {}
        if self.takes_grammar and settings.evidence_words and passages:
            options["grammar"] = answer_grammar(passages)
        yield from self.chat(build_messages(question, passages, budget), settings, settings.max_tokens, **options)

    def rewrite(self, messages: list[dict], settings: Settings) -> str | None:
        return "".join(self.chat(messages, settings.replace(temperature=0.0), 64)).strip() or None

    def check(self, question: str, sentence: str, short: str, settings: Settings) -> float | None:
        """P(yes) that ``sentence`` states ``short`` as the answer to ``question``; None: cannot tell."""
        from .prompt import check_messages

        return self.yes_probability(check_messages(question, sentence, short), settings)

    def supports(self, evidence: str, statement: str, settings: Settings) -> float | None:
        """P(yes) that ``evidence`` states ``statement``; None: cannot tell."""
        from .prompt import support_messages

        return self.yes_probability(support_messages(evidence, statement), settings)

    def yes_probability(self, messages: list[dict], settings: Settings) -> float | None:
        """P(yes) / (P(yes) + P(no)) of the first token of the reply to ``messages``; None: cannot tell."""
        return None

