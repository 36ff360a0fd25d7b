"""The embedder's backends: torch (sentence-transformers) and the ONNX export of the same model, fp32 and int8."""
from __future__ import annotations

import numpy as np
import pytest

import rag
from rag.embed import Embedder, split_name
from rag.index import IndexMismatch

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
    # Dynamic quantisation scales activations per batch, so a text's vector depends a little on its
    # batch-mates (torch's does not): alone or in a batch, the same text stays this close.
    assert float(onnx.encode(TEXTS[:1])[0] @ a[0]) > 0.98
    sims = a @ a.T
    assert sims[0, 1] < sims[0, 0] and np.argmax(sims[2, :3]) == 2


def test_fp32_onnx_export_gives_the_torch_vectors():
    onnx = Embedder("all-MiniLM-L6-v2:onnx", threads=2)
    torch = Embedder("all-MiniLM-L6-v2", threads=2)
    a, b = onnx.encode(TEXTS, batch_size=2), torch.encode(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 384) and a.dtype == np.float32
    assert (a * b).sum(1).min() > 0.9999  # the same model, only another runtime
    assert np.abs(onnx.encode(TEXTS[:1])[0] - a[0]).max() < 1e-4  # padding to batch-mates changes nothing


def test_an_index_built_by_another_backend_asks_for_a_rebuild(tmp_settings, tmp_path):
    note = tmp_path / "docs" / "note.md"
    note.parent.mkdir()
    note.write_text("# Boiler\n\nThe boiler is serviced every October.")
    rag.ingest([note.parent], tmp_settings.replace(embedder="all-MiniLM-L6-v2"), progress=False)
    with pytest.raises(IndexMismatch, match="onnx-int8.*--rebuild"):
        rag.ingest([note.parent], tmp_settings.replace(embedder="all-MiniLM-L6-v2:onnx-int8"), progress=False)


def test_an_index_built_on_torch_is_searched_with_the_onnx_export(tmp_settings, tmp_path):
    note = tmp_path / "docs" / "note.md"
    note.parent.mkdir()
    note.write_text("# Boiler\n\nThe boiler is serviced every October.")
    rag.ingest([note.parent], tmp_settings.replace(embedder="all-MiniLM-L6-v2"), progress=False)
    found = rag.retrieve("When is the boiler serviced?", settings=tmp_settings.replace(embedder="all-MiniLM-L6-v2:onnx"))
    assert found and "October" in found[0].text  # the same vectors: no rebuild asked
