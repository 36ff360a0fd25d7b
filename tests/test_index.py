import json

import numpy as np
import pytest

import rag
from rag import index as index_mod
from rag.index import HNSW_EF_SEARCH, Index, IndexMismatch, IndexUnavailable, current_generation
from rag.load import short_id


def _docs(folder, n=3):
    folder.mkdir(parents=True, exist_ok=True)
    topics = ["Glaciers carve U-shaped valleys as they move slowly downhill.",
              "Volcanoes release ash and lava when magma reaches the surface.",
              "Coral reefs are built by colonies of tiny animals called polyps.",
              "Tides rise and fall twice a day because of the moon's gravity."]
    for i in range(n):
        (folder / f"d{i}.txt").write_text(topics[i % len(topics)] + f" Note number {i}.")
    return folder


def test_roundtrip_without_pickle(tmp_path, tmp_settings):
    rag.ingest([_docs(tmp_path / "docs")], tmp_settings, progress=False)
    gen = tmp_settings.index_dir / current_generation(tmp_settings.index_dir)
    names = sorted(p.name for p in gen.iterdir())
    assert names == ["bm25", "chunks.jsonl", "dense.faiss", "documents.jsonl", "manifest.json", "vectors.npy"]
    assert not [p for p in gen.rglob("*") if p.suffix in {".pkl", ".pickle"}]
    manifest = json.loads((gen / "manifest.json").read_text())
    assert manifest["embedder"] == tmp_settings.embedder and manifest["dimension"] == 384
    assert (manifest["chunk_size"], manifest["chunk_overlap"], manifest["tokenizer"]) == (200, 40, "cl100k_base")
    assert {short_id(d) for d in manifest["documents"]} == {"d0.txt", "d1.txt", "d2.txt"}
    np.load(gen / "vectors.npy", allow_pickle=False)
    idx = Index.load(tmp_settings.index_dir)
    assert len(idx.chunks) == 3 and idx.vectors.shape == (3, 384)
    assert rag.retrieve("lava and magma", k=1, settings=tmp_settings)[0].source == "d1.txt"


def test_crash_during_save_keeps_previous_index(tmp_path, tmp_settings, monkeypatch):
    docs = _docs(tmp_path / "docs")
    rag.ingest([docs], tmp_settings, progress=False)
    before = current_generation(tmp_settings.index_dir)
    (docs / "d3.txt").write_text("Deserts receive less than 250 millimetres of rain a year.")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(index_mod, "_fsync_tree", crash)  # dies after writing, before the swap
    with pytest.raises(OSError, match="disk full"):
        rag.ingest([docs], tmp_settings, progress=False)
    assert current_generation(tmp_settings.index_dir) == before
    assert not [p for p in tmp_settings.index_dir.iterdir() if p.name.endswith(".tmp")]
    assert {d.source for d in Index.load(tmp_settings.index_dir).documents.values()} == {"d0.txt", "d1.txt", "d2.txt"}


def test_partial_generation_left_by_a_killed_process_is_ignored(tmp_path, tmp_settings):
    rag.ingest([_docs(tmp_path / "docs")], tmp_settings, progress=False)
    root = tmp_settings.index_dir
    before = current_generation(root)
    (root / ".gen-partial.tmp").mkdir()
    (root / ".gen-partial.tmp" / "vectors.npy").write_bytes(b"\x93NUMPY garbage")
    (root / "gen-99990101000000-deadbeef").mkdir()  # renamed but never made current
    assert current_generation(root) == before
    assert len(Index.load(root).documents) == 3


def test_corrupt_current_generation_gives_clear_error(tmp_path, tmp_settings):
    rag.ingest([_docs(tmp_path / "docs")], tmp_settings, progress=False)
    root = tmp_settings.index_dir
    (root / current_generation(root) / "chunks.jsonl").write_text("{not json")
    with pytest.raises(IndexUnavailable, match="rebuild"):
        Index.load(root)


def test_missing_index_is_a_clear_error(tmp_settings):
    with pytest.raises(IndexUnavailable, match="rag ingest"):
        rag.retrieve("anything", settings=tmp_settings)


def test_other_chunker_is_detected(tmp_path, tmp_settings):
    docs = _docs(tmp_path / "docs")
    rag.ingest([docs], tmp_settings, progress=False)
    other = tmp_settings.replace(chunk_size=100, chunk_overlap=10)
    with pytest.raises(IndexMismatch, match="--rebuild"):
        rag.retrieve("glaciers", settings=other)
    with pytest.raises(IndexMismatch, match="chunk_size"):
        rag.ingest([docs], other, progress=False)
    report = rag.ingest([docs], other, rebuild=True, progress=False)
    assert report.chunks_embedded == 3
    assert rag.retrieve("glaciers", k=1, settings=other)[0].source == "d0.txt"


def test_hnsw_above_the_exact_limit(tmp_path, tmp_settings):
    settings = tmp_settings.replace(exact_limit=2)
    rag.ingest([_docs(tmp_path / "docs", n=4)], settings, progress=False)
    idx = Index.load(settings.index_dir)
    assert type(idx.dense).__name__ == "IndexHNSWFlat"
    assert idx.dense.hnsw.efSearch == HNSW_EF_SEARCH  # the search breadth measured for recall ≥ 0.95 at 1M
    assert rag.retrieve("moon gravity tides", k=1, settings=settings, mode="dense")[0].source == "d3.txt"


@pytest.mark.parametrize("name, damage", [
    ("dense.faiss", lambda p: p.write_bytes(b"not a faiss index")),
    ("vectors.npy", lambda p: p.write_bytes(b"\x93NUMPY garbage")),
    ("manifest.json", lambda p: p.write_text("{")),
    ("documents.jsonl", lambda p: p.unlink()),
    ("bm25", lambda p: (p / "params.index.json").unlink()),
])
def test_every_corrupt_or_missing_file_names_itself_and_the_fix(tmp_path, tmp_settings, name, damage):
    rag.ingest([_docs(tmp_path / "docs")], tmp_settings, progress=False)
    root = tmp_settings.index_dir
    damage(root / current_generation(root) / name)
    with pytest.raises(IndexUnavailable) as exc:
        Index.load(root)
    assert name in str(exc.value) and "rag ingest --rebuild" in str(exc.value)


def test_cli_reports_a_corrupt_index_in_one_line(tmp_path, tmp_settings, capsys):
    from rag.cli import main

    rag.ingest([_docs(tmp_path / "docs")], tmp_settings, progress=False)
    root = tmp_settings.index_dir
    (root / current_generation(root) / "dense.faiss").write_bytes(b"garbage")
    assert main(["search", "glaciers", "--index", str(root)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "dense.faiss" in err and "rag ingest --rebuild" in err


def test_a_replaced_generation_stays_readable_for_the_grace_period(tmp_path, tmp_settings):
    docs = _docs(tmp_path / "docs")
    rag.ingest([docs], tmp_settings, progress=False)
    root = tmp_settings.index_dir
    first = current_generation(root)
    (docs / "d0.txt").write_text("Rivers deposit silt where they meet the sea.")
    rag.ingest([docs], tmp_settings, progress=False)
    assert current_generation(root) != first
    old = Index._load_generation(root, first)  # a reader that read CURRENT just before the swap
    assert len(old.documents) == 3
    index_mod._collect_garbage(root, keep=current_generation(root), grace=0)
    assert not (root / first).exists() and (root / current_generation(root)).is_dir()


def test_readers_never_fail_while_a_writer_ingests_and_removes(tmp_path, tmp_settings):
    """A short run of scripts/stress_index.py: one process loads the index in a tight loop while
    another ingests and removes documents."""
    import subprocess
    import sys

    from conftest import ROOT

    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "stress_index.py"), "--seconds", "20",
                          "--workdir", str(tmp_path / "stress")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["swaps"] >= 10 and result["loads"] >= 500, result
    assert result["failures"] == 0, result
