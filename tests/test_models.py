import hashlib
import os

import pytest

from rag import models
from rag.models import GGUFModel, ModelError


def test_environment_is_offline():
    import rag  # noqa: F401

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"


def test_tiktoken_served_from_packaged_files(tmp_path, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    models.seed_tiktoken_cache(tmp_path)
    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    cached = tmp_path / hashlib.sha1(url.encode()).hexdigest()
    data = cached.read_bytes()
    # the digest tiktoken itself checks before using a cached file
    assert hashlib.sha256(data).hexdigest() == "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
    assert models.encoding().encode("hello world") == [15339, 1917]


def _fake_model(tmp_path, monkeypatch, sha):
    parts = []
    for i, payload in enumerate([b"GGUF", b"-part-two"]):
        p = tmp_path / f"part{i}.bin"
        p.write_bytes(payload)
        parts.append(p)
    model = GGUFModel("fake", "fake.gguf", ("a", "b"), sha, 13)
    monkeypatch.setitem(models.LLMS, "fake", model)
    monkeypatch.setattr(models, "_package_parts", lambda m: parts)
    return model


def test_gguf_assembled_and_verified(tmp_path, monkeypatch):
    _fake_model(tmp_path, monkeypatch, hashlib.sha256(b"GGUF-part-two").hexdigest())
    path = models.gguf_path("fake", tmp_path / "cache")
    assert path.read_bytes() == b"GGUF-part-two"
    assert models.gguf_path("fake", tmp_path / "cache") == path  # second call trusts the stamp


def test_gguf_with_wrong_hash_is_refused_and_not_left_behind(tmp_path, monkeypatch):
    _fake_model(tmp_path, monkeypatch, "0" * 64)
    with pytest.raises(ModelError, match="corrupt"):
        models.gguf_path("fake", tmp_path / "cache")
    assert not list((tmp_path / "cache" / "models").iterdir())


def test_default_llm_parts_are_installed_and_verified():
    from rag import get_settings

    path = models.gguf_path("qwen-0.5b", get_settings().cache_dir)
    assert path.stat().st_size == 491_400_064
    assert path.with_suffix(".sha256").read_text().split()[0] == models.LLMS["qwen-0.5b"].sha256


def test_unknown_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="unknown local model"):
        models.gguf_path("llama-70b", tmp_path)
