import pytest

import rag
from rag.embed import Embedder


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("The lighthouse keeper lit the lamp every evening at dusk.")
    (folder / "b.md").write_text("# Bread\n\nSourdough bread rises because of wild yeast and lactic bacteria.")
    (folder / "c.txt").write_text("Migrating geese fly in a V formation to save energy.")
    return folder


@pytest.fixture
def count_encodes(monkeypatch):
    calls = []
    real = Embedder.encode

    def spy(self, texts, *args, **kwargs):
        calls.append(len(texts))
        return real(self, texts, *args, **kwargs)

    monkeypatch.setattr(Embedder, "encode", spy)
    return calls


def test_reingest_unchanged_embeds_nothing(corpus, tmp_settings, count_encodes):
    first = rag.ingest([corpus], tmp_settings, progress=False)
    assert sorted(first.added) == ["a.txt", "b.md", "c.txt"] and first.chunks_embedded == 3
    count_encodes.clear()
    again = rag.ingest([corpus], tmp_settings, progress=False)
    assert again.chunks_embedded == 0 and count_encodes == []
    assert sorted(again.unchanged) == ["a.txt", "b.md", "c.txt"] and not again.changed


def test_changed_file_is_replaced_and_gone_file_removed(corpus, tmp_settings):
    rag.ingest([corpus], tmp_settings, progress=False)
    (corpus / "a.txt").write_text("The lighthouse was automated in 1990 and the keeper retired.")
    (corpus / "c.txt").unlink()
    report = rag.ingest([corpus], tmp_settings, progress=False)
    assert report.updated == ["a.txt"] and report.removed == ["c.txt"] and report.chunks_embedded == 1
    assert [d.doc_id for d in rag.list_documents(tmp_settings)] == ["a.txt", "b.md"]
    hit = rag.retrieve("when was the lighthouse automated", k=1, settings=tmp_settings)[0]
    assert hit.doc_id == "a.txt" and "1990" in hit.text


def test_remove_by_name(corpus, tmp_settings):
    rag.ingest([corpus], tmp_settings, progress=False)
    assert rag.remove(["b.md"], tmp_settings) == ["b.md"]
    assert "b.md" not in {d.doc_id for d in rag.list_documents(tmp_settings)}
    with pytest.raises(KeyError, match="nope.txt"):
        rag.remove(["nope.txt"], tmp_settings)


def test_bad_files_are_skipped_and_the_rest_proceeds(corpus, tmp_settings):
    rag.ingest([corpus], tmp_settings, progress=False)
    (corpus / "empty.txt").write_text("")
    (corpus / "latin1.txt").write_bytes("crème brûlée".encode("latin-1"))
    (corpus / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (corpus / "d.txt").write_text("Octopuses can taste with their arms.")
    report = rag.ingest([corpus], tmp_settings, progress=False)
    assert report.added == ["d.txt"]
    reasons = {s.path.rsplit("/", 1)[-1]: s.reason for s in report.skipped}
    assert set(reasons) == {"empty.txt", "latin1.txt", "photo.jpg"}
    assert "UTF-8" in reasons["latin1.txt"] and "unsupported" in reasons["photo.jpg"]
    assert len(rag.list_documents(tmp_settings)) == 4  # nothing lost


def test_a_file_that_turns_bad_keeps_its_previous_version(corpus, tmp_settings):
    rag.ingest([corpus], tmp_settings, progress=False)
    (corpus / "a.txt").write_bytes(b"\x00\x00 now binary")
    report = rag.ingest([corpus], tmp_settings, progress=False)
    assert [s.path.rsplit("/", 1)[-1] for s in report.skipped] == ["a.txt"] and not report.removed
    assert "lighthouse" in {d.doc_id: d.text for d in rag.list_documents(tmp_settings)}["a.txt"]


def test_progress_callback(corpus, tmp_settings):
    seen = []
    rag.ingest([corpus], tmp_settings, progress=lambda f, msg: seen.append(f))
    assert seen[-1] == 1.0 and seen == sorted(seen)
