from pathlib import Path

import pytest

from rag.config import Settings


def test_env_overrides_and_aliases():
    s = Settings.from_env({"RAG_K": "7", "RAG_LLM": "extractive", "RAG_LLM_MODEL": "qwen-1.5b",
                           "RAG_INDEX_DIR": "/tmp/x", "OPENAI_BASE_URL": "http://127.0.0.1:1/v1"})
    assert (s.k, s.backend, s.llm_model, s.index_dir) == (7, "extractive", "qwen-1.5b", Path("/tmp/x"))
    assert s.openai_base_url == "http://127.0.0.1:1/v1"


def test_explicit_overrides_beat_env_and_none_is_ignored():
    s = Settings.from_env({"RAG_K": "7"}, k=3, mode=None)
    assert s.k == 3 and s.mode == "hybrid"


@pytest.mark.parametrize("bad", [{"backend": "gpt"}, {"mode": "fuzzy"}, {"chunk_overlap": 500}, {"k": 0}])
def test_invalid_settings_are_rejected(bad):
    with pytest.raises(ValueError):
        Settings(**bad)


def test_bad_env_value_names_the_variable():
    with pytest.raises(ValueError, match="RAG_K"):
        Settings.from_env({"RAG_K": "many"})


def test_settings_are_frozen():
    with pytest.raises(Exception):
        Settings().k = 2  # type: ignore[misc]
    assert Settings().replace(k=2).k == 2


def test_question_errors_carry_a_message_for_the_user():
    """One limit (``max_question_chars``), one message: the length, the limit, how to change it."""
    from rag.config import QuestionError, check_question

    with pytest.raises(QuestionError) as raised:
        check_question("why " * 600, Settings(max_question_chars=2000))
    message = str(raised.value)
    assert "2,399 characters" in message and "2,000" in message and "RAG_MAX_QUESTION_CHARS" in message
    assert "QuestionTooLong" not in message and "Error" not in message
    with pytest.raises(QuestionError, match="^the question is empty$"):
        check_question(" \n ", Settings())
    assert isinstance(raised.value, ValueError)  # faces that catch ValueError keep working
    raised_limit = Settings.from_env({"RAG_MAX_QUESTION_CHARS": "3000"})
    assert check_question(" why" * 600, raised_limit) == ("why " * 600).strip()
