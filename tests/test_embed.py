"""The embedder's backends: torch (sentence-transformers) and the ONNX export of the same model, fp32 and int8."""
from __future__ import annotations

import numpy as np
import pytest

import rag
from rag.embed import Embedder, split_name
from rag.index import Index, IndexMismatch

TEXTS = [
    "The boiler is serviced every October by the caretaker.",
    "3M 2018 10K\nPurchases of property, plant and equipment (PP&E) were $1,577 million in 2018. " * 3,
    "Korea and Canada will move to full-fledged cooperation in space exploration.",
    "ok",
]


def test_backend_is_named_by_a_suffix_of_the_embedder_name():
    assert split_name("all-MiniLM-L6-v2") == ("all-MiniLM-L6-v2", "torch")
    assert split_name("all-MiniLM-L6-v2:onnx-int8") == ("all-MiniLM-L6-v2", "onnx-int8")
    assert split_name("all-MiniLM-L6-v2:onnx") == ("all-MiniLM-L6-v2", "onnx")
    assert split_name("/models/x:y") == ("/models/x:y", "torch")  # not a backend: part of the path


def test_int8_onnx_export_agrees_with_the_torch_encoder():
    onnx = Embedder("all-MiniLM-L6-v2:onnx-int8", threads=2)
    torch = Embedder("all-MiniLM-L6-v2", threads=2)
    a, b = onnx.encode(TEXTS, batch_size=2), torch.encode(TEXTS)  # batches of mixed lengths, padded
    assert a.shape == b.shape == (len(TEXTS), 384) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
    cosine = (a * b).sum(1)  # same model; int8 weights move each vector a little, a two-letter text most
    assert cosine[:3].min() > 0.98 and cosine.min() > 0.95
    # Dynamic quantisation scales activations over a whole batch, so int8 encodes one text per run:
    # a vector depends on its text only, whatever it is batched with (a query or a chunk alike).
    assert np.array_equal(onnx.encode(TEXTS[:1])[0], a[0]) and np.array_equal(onnx.encode(TEXTS[::-1])[::-1], a)
    sims = a @ a.T
    assert sims[0, 1] < sims[0, 0] and np.argmax(sims[2, :3]) == 2


def test_fp32_onnx_export_gives_the_torch_vectors():
    onnx = Embedder("all-MiniLM-L6-v2:onnx", threads=2)
    torch = Embedder("all-MiniLM-L6-v2", threads=2)
    a, b = onnx.encode(TEXTS, batch_size=2), torch.encode(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 384) and a.dtype == np.float32
    assert (a * b).sum(1).min() > 0.9999  # the same model, only another runtime
    assert np.abs(onnx.encode(TEXTS[:1])[0] - a[0]).max() < 1e-4  # padding to batch-mates changes nothing


def test_an_index_keeps_the_vector_space_it_was_built_in(tmp_settings, tmp_path):
    """An index built on torch (the default before int8) is searched and extended with torch vectors
    when the configured embedder is int8; ``--rebuild`` moves it to the configured one."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "note.md").write_text("# Boiler\n\nThe boiler is serviced every October.")
    torch, int8 = tmp_settings.replace(embedder="all-MiniLM-L6-v2"), tmp_settings.replace(embedder="all-MiniLM-L6-v2:onnx-int8")
    rag.ingest([docs], torch, progress=False)
    (docs / "comet.md").write_text("# Comet\n\nThe comet returns every 83 years.")
    rag.ingest([docs], int8, progress=False)
    index = Index.load(tmp_settings.index_dir)
    assert index.config["embedder"] == "all-MiniLM-L6-v2" and len(index.documents) == 2
    fresh = Embedder("all-MiniLM-L6-v2").encode([Index.chunk_text(c) for c in index.chunks])
    assert (fresh * index.vectors).sum(1).min() > 0.9999  # the new document's vectors are torch's too
    found = rag.answer("How often does the comet return?", settings=int8.replace(backend="extractive"))
    assert "83 years" in found.text and not found.abstained
    rag.ingest([docs], int8, rebuild=True, progress=False)
    assert Index.load(tmp_settings.index_dir).config["embedder"] == "all-MiniLM-L6-v2:onnx-int8"


def test_an_index_of_other_chunk_sizes_asks_for_a_rebuild(tmp_settings, tmp_path):
    note = tmp_path / "docs" / "note.md"
    note.parent.mkdir()
    note.write_text("# Boiler\n\nThe boiler is serviced every October.")
    rag.ingest([note.parent], tmp_settings, progress=False)
    with pytest.raises(IndexMismatch, match="chunk_size.*--rebuild"):
        rag.ingest([note.parent], tmp_settings.replace(chunk_size=120), progress=False)


def test_an_index_built_on_torch_is_searched_with_the_onnx_export(tmp_settings, tmp_path):
    note = tmp_path / "docs" / "note.md"
    note.parent.mkdir()
    note.write_text("# Boiler\n\nThe boiler is serviced every October.")
    rag.ingest([note.parent], tmp_settings.replace(embedder="all-MiniLM-L6-v2"), progress=False)
    found = rag.retrieve("When is the boiler serviced?", settings=tmp_settings.replace(embedder="all-MiniLM-L6-v2:onnx"))
    assert found and "October" in found[0].text  # the same vectors: no rebuild asked


def test_encode_cached_embeds_each_text_once(monkeypatch):
    embedder = Embedder("all-MiniLM-L6-v2:onnx-int8", threads=2)
    calls, real = [], Embedder.encode
    monkeypatch.setattr(Embedder, "encode", lambda self, texts, *a, **k: calls.append(list(texts)) or real(self, texts, *a, **k))
    first = embedder.encode_cached(TEXTS[:2])
    again = embedder.encode_cached([TEXTS[1], TEXTS[2], TEXTS[1]])
    assert calls == [TEXTS[:2], [TEXTS[2]]]  # a text seen before is not embedded again
    assert np.array_equal(again[0], first[1]) and np.array_equal(again[2], first[1])
    assert np.array_equal(again, real(embedder, [TEXTS[1], TEXTS[2], TEXTS[1]]))
