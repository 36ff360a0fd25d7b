"""Interrupted ingests keep the previous index, and a re-run embeds only what is not embedded yet."""
import pytest

import rag
from rag.load import short_id
from rag import indexer
from rag.embed import Embedder
from rag.index import Index


def test_ctrl_c_keeps_the_index_and_the_rerun_resumes(tmp_path, tmp_settings, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The lighthouse keeper lit the lamp every evening at dusk.")
    rag.ingest([docs], tmp_settings, progress=False)
    for n in range(6):
        (docs / f"new{n}.txt").write_text(f"Note {n}: migrating geese number {n * 17} fly in a V formation.")
    monkeypatch.setattr(indexer, "EMBED_BATCH", 2)
    calls, real = [], Embedder.encode

    def interrupted(self, texts, *args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(len(texts))
        return real(self, texts, *args, **kwargs)

    monkeypatch.setattr(Embedder, "encode", interrupted)
    with pytest.raises(KeyboardInterrupt):
        rag.ingest([docs], tmp_settings, progress=False)
    # the previous index is live
    assert [d.source for d in Index.load(tmp_settings.index_dir).documents.values()] == ["a.txt"]
    monkeypatch.setattr(Embedder, "encode", real)
    again = rag.ingest([docs], tmp_settings, progress=False)
    assert len(again.added) == 6 and again.chunks_embedded == 2  # 4 of the 6 were embedded before Ctrl-C
    index = Index.load(tmp_settings.index_dir)
    assert len(index.documents) == 7 and not (tmp_settings.index_dir / indexer.PARTIAL).exists()
    fresh = Embedder.encode(indexer.get_embedder(tmp_settings.embedder, tmp_settings.threads),
                            [Index.chunk_text(c) for c in index.chunks])
    assert abs(fresh - index.vectors).max() < 1e-4  # every resumed vector belongs to its chunk


def test_an_edited_document_reembeds_only_its_changed_chunks(tmp_path, tmp_settings):
    docs = tmp_path / "docs"
    docs.mkdir()
    paragraphs = [f"Paragraph {n} is about the tides of harbour number {n}, which rise twice a day." for n in range(30)]
    (docs / "long.txt").write_text("\n\n".join(paragraphs))
    first = rag.ingest([docs], tmp_settings.replace(chunk_size=40, chunk_overlap=0), progress=False)
    paragraphs[-1] = "The last paragraph now speaks of lighthouses instead."
    (docs / "long.txt").write_text("\n\n".join(paragraphs))
    second = rag.ingest([docs], tmp_settings.replace(chunk_size=40, chunk_overlap=0), progress=False)
    assert [short_id(d) for d in second.updated] == ["long.txt"] and first.chunks_embedded > 5 and second.chunks_embedded == 1
