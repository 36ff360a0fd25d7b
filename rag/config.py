"""The one settings object. Defaults < ``RAG_*`` environment variables < explicit overrides."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent
# In a checkout the project root holds seeds/ and index/; installed elsewhere, use the cwd.
PROJECT_ROOT = PACKAGE_DIR.parent if (PACKAGE_DIR.parent / "seeds").is_dir() else Path.cwd()

BACKENDS = ("local", "openai", "extractive")
MODES = ("hybrid", "dense", "bm25")

# Environment names that differ from ``RAG_<FIELD>``.
_ENV_ALIASES = {
    "backend": ("RAG_LLM", "RAG_BACKEND"),
    "llm_model": ("RAG_LLM_MODEL",),
    "openai_base_url": ("OPENAI_BASE_URL",),
}


@dataclass(frozen=True)
class Settings:
    """Every tunable of the pipeline, for the library, the CLI, the UI and the eval suite."""

    # paths
    index_dir: Path = PROJECT_ROOT / "index"
    seeds_dir: Path = PROJECT_ROOT / "seeds"
    cache_dir: Path = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rag"
    # the store: "" (the index_dir folder), another folder, or postgresql://user@host/db (rag.store)
    store: str = ""
    collection: str = "default"  # the named collection of a PostgreSQL store
    # chunking (tokens of tiktoken cl100k_base)
    chunk_size: int = 200
    chunk_overlap: int = 40
    # embedding
    embedder: str = "all-MiniLM-L6-v2:onnx-int8"  # torch: "all-MiniLM-L6-v2" (rag.embed; tuned: SciFact, seeds)
    batch_size: int = 32
    # retrieval
    k: int = 3  # passages given to the answer backend (small models answer better from fewer)
    mode: str = "hybrid"
    fetch_k: int = 100
    rrf_k: int = 60
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    exact_limit: int = 50_000  # FAISS flat index up to this many vectors, HNSW above
    dedup_threshold: float = 0.95  # cosine above which two passages are near-duplicates
    rerank_depth: int = 20  # fused candidates re-scored by their best sentence window (0: no reranking)
    rerank_fused_weight: float = 0.8  # share of the fused retrieval score in the reranked score (tuned: SciFact + seeds)
    meaning_depth: int = 5  # the reranked top re-scored again by their best sentence's meaning (0: not)
    meaning_weight: float = 0.7  # share of that sentence score in it (tuned: SciFact, seeds, SQuAD tune)
    scope_docs: int = 0  # search again within this many most likely documents and rank their passages first (0: not; rag.search)
    statement_terms: bool = True  # a question naming a financial statement is searched with its row labels too (rag.statements)
    scope_dense_weight: float = 2.0  # dense weight of that in-document search (BM25 keeps bm25_weight; tuned: FinanceBench dev)
    # answering
    backend: str = "local"
    llm_model: str = "qwen-1.5b"
    openai_base_url: str = ""
    temperature: float = 0.0
    max_tokens: int = 64  # a short answer and its sentence numbers
    n_ctx: int = 4096
    threads: int = max(1, min(os.cpu_count() or 1, 4))
    timeout: float = 60.0
    retries: int = 2
    evidence: int = 12  # at most this many evidence sentences reach the answer backend
    evidence_rank_weight: float = 0.1  # a sentence's preference for coming from a higher-ranked passage (tuned: evidence recall, seeds + SQuAD tune)
    evidence_tokens: int = 200  # ... and at most this many tokens of them, the best first (tuned: seeds quality vs time to first token)
    evidence_words: int = 1  # 1: the local model's short answer is a run of one evidence sentence's words, cited by its number (a llama.cpp grammar); 0: free
    decline_at: float = 0.8  # decline when the local model prefers "none" to its best answer this much (tuned: SQuAD tune, seeds)
    check_at: float = 0.45  # ... or when, asked whether the cited sentence states its answer, it says yes less likely than this (0: no check; tuned)
    unnamed_check_at: float = 0.5  # ... this, when the sentence window lacks some of the question's names and numbers (tuned: SQuAD tune, seeds)
    min_relevance: float = 0.22  # best dense cosine below which the documents are off-topic
    min_coverage: float = 0.1  # rarity-weighted share of the question's words the answering sentence window must hold
    min_meaning: float = 0.55  # ... unless the sentence's meaning is this close to the question's (cosine; a paraphrase)
    min_specific: float = 0.0  # share of the question's names and numbers the answering sentence window must hold
    max_evidence_gap: float = 0.25  # how far below the best evidence sentence's score the answering one may be
    # answers of several sentences (lists, comparisons, explanations, summaries, arithmetic, yes/no)
    claim_k: int = 5  # passages their evidence is drawn from
    claim_evidence_tokens: int = 450  # evidence tokens they read
    claim_tokens: int = 200  # tokens they may write
    claim_copied: float = 0.85  # a sentence whose words come, in order, this much from what it cites needs no model check
    claim_meaning: float = 0.25  # cosine an answer sentence must reach with a sentence it cites
    factoid_claims: int = 1  # 1: a fact the short-answer path declined is asked again as sentences over claim evidence, each checked
    factoid_claims_check_at: float = 0.6  # ... and each must reach this P(yes), not just check_at: a second reading overrules the first's decline (tuned: seeds, SQuAD tune)
    max_question_chars: int = 2000  # longer questions are refused with a message (rag.config.check_question)
    # serving: where `rag serve` listens, and where `rag ask` looks for a running one
    host: str = "127.0.0.1"
    port: int = 7860

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {self.backend!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {self.mode!r}")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise ValueError("chunk_overlap must be >= 0 and smaller than chunk_size")
        if not self.collection.strip():
            raise ValueError("collection must not be empty")
        if self.k < 1:
            raise ValueError("k must be at least 1")
        for name in ("index_dir", "seeds_dir", "cache_dir"):
            object.__setattr__(self, name, Path(getattr(self, name)).expanduser())

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> "Settings":
        """Defaults, then ``RAG_<FIELD>`` (and aliases such as ``RAG_LLM``), then ``overrides``."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            for name in (f"RAG_{f.name.upper()}", *_ENV_ALIASES.get(f.name, ())):
                if env.get(name):
                    values[f.name] = _coerce(f.type, env[name], name)
                    break
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def _coerce(type_name: Any, raw: str, env_name: str) -> Any:
    kind = type_name if isinstance(type_name, str) else type_name.__name__
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw)
        return raw
    except ValueError as exc:
        raise ValueError(f"{env_name}={raw!r} is not a valid {kind}") from exc


class QuestionError(ValueError):
    """A question the user must change (empty, too long). ``str()`` is the message to show as it is:
    faces catch this and show it without a traceback or a class name."""


class QuestionTooLong(QuestionError):
    """A question over ``Settings.max_question_chars``."""


def check_question(question: str, settings: Settings) -> str:
    """The stripped question; ``QuestionError`` when it is empty or longer than ``max_question_chars``.

    The one place the question limit is checked, for every face (CLI, UI, HTTP API, MCP).
    """
    question = question.strip()
    if not question:
        raise QuestionError("the question is empty")
    if len(question) > settings.max_question_chars:
        raise QuestionTooLong(
            f"the question is {len(question):,} characters long; the limit is {settings.max_question_chars:,} "
            "(raise it with RAG_MAX_QUESTION_CHARS, or ask a shorter question)"
        )
    return question


_settings: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings


def package_version() -> str:
    """The installed version of the project ("0" when it is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rag")
    except PackageNotFoundError:
        return "0"
