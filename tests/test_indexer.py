import pytest

import rag
from rag.embed import Embedder
from rag.load import short_id


def names(doc_ids):
    """The short ids (source paths) of ``doc_ids``, in their order."""
    return [short_id(d) for d in doc_ids]


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
    assert sorted(names(first.added)) == ["a.txt", "b.md", "c.txt"] and first.chunks_embedded == 3
    count_encodes.clear()
    again = rag.ingest([corpus], tmp_settings, progress=False)
    assert again.chunks_embedded == 0 and count_encodes == []
    assert sorted(names(again.unchanged)) == ["a.txt", "b.md", "c.txt"] and not again.changed


def test_changed_file_is_replaced_and_gone_file_removed(corpus, tmp_settings):
    rag.ingest([corpus], tmp_settings, progress=False)
    (corpus / "a.txt").write_text("The lighthouse was automated in 1990 and the keeper retired.")
    (corpus / "c.txt").unlink()
    report = rag.ingest([corpus], tmp_settings, progress=False)
    assert names(report.updated) == ["a.txt"] and names(report.removed) == ["c.txt"] and report.chunks_embedded == 1
    assert [d.source for d in rag.list_documents(tmp_settings)] == ["a.txt", "b.md"]
    hit = rag.retrieve("when was the lighthouse automated", k=1, settings=tmp_settings)[0]
    assert hit.source == "a.txt" and "1990" in hit.text


def test_remove_by_name(corpus, tmp_settings):
    rag.ingest([corpus], tmp_settings, progress=False)
    assert names(rag.remove(["b.md"], tmp_settings)) == ["b.md"]
    assert "b.md" not in {d.source for d in rag.list_documents(tmp_settings)}
    with pytest.raises(KeyError, match="nope.txt"):
        rag.remove(["nope.txt"], tmp_settings)


def test_bad_files_are_skipped_and_the_rest_proceeds(corpus, tmp_settings):
    rag.ingest([corpus], tmp_settings, progress=False)
    (corpus / "empty.txt").write_text("")
    (corpus / "latin1.txt").write_bytes("crème brûlée".encode("latin-1"))
    (corpus / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (corpus / "d.txt").write_text("Octopuses can taste with their arms.")
    report = rag.ingest([corpus], tmp_settings, progress=False)
    assert names(report.added) == ["d.txt"]
    reasons = {s.path.rsplit("/", 1)[-1]: s.reason for s in report.skipped}
    assert set(reasons) == {"empty.txt", "latin1.txt", "photo.jpg"}
    assert "UTF-8" in reasons["latin1.txt"] and "unsupported" in reasons["photo.jpg"]
    assert len(rag.list_documents(tmp_settings)) == 4  # nothing lost


def test_a_file_that_turns_bad_keeps_its_previous_version(corpus, tmp_settings):
    rag.ingest([corpus], tmp_settings, progress=False)
    (corpus / "a.txt").write_bytes(b"\x00\x00 now binary")
    report = rag.ingest([corpus], tmp_settings, progress=False)
    assert [s.path.rsplit("/", 1)[-1] for s in report.skipped] == ["a.txt"] and not report.removed
    assert "lighthouse" in {d.source: d.text for d in rag.list_documents(tmp_settings)}["a.txt"]


def test_progress_callback(corpus, tmp_settings):
    seen = []
    rag.ingest([corpus], tmp_settings, progress=lambda f, msg: seen.append((f, msg)))
    fractions = [f for f, _ in seen]
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    messages = [m for _, m in seen]
    assert messages[0].startswith("reading file 1/") and messages[0].endswith("0 documents, 0 pages read")
    assert any(m.startswith("read ") and " documents (" in m for m in messages)
    assert any(m.startswith("embedded ") and " chunks/s, ETA " in m for m in messages)


def test_same_file_name_in_two_folders_are_two_documents(tmp_path, tmp_settings):
    a, b = tmp_path / "projA", tmp_path / "projB"
    for folder, fact in ((a, "Project A ships on the first of March."), (b, "Project B was cancelled in June.")):
        folder.mkdir()
        (folder / "README.md").write_text(f"# {folder.name}\n\n{fact}")
    rag.ingest([a], tmp_settings, progress=False)
    report = rag.ingest([b], tmp_settings, progress=False)
    assert len(report.added) == 1 and not report.updated
    texts = sorted(d.text for d in rag.list_documents(tmp_settings))
    assert any("first of March" in t for t in texts) and any("cancelled in June" in t for t in texts)
    with pytest.raises(KeyError, match="names 2 documents"):
        rag.remove(["README.md"], tmp_settings)  # ambiguous: both folders have it
    removed = rag.remove([str(a / "README.md")], tmp_settings)  # the absolute path
    assert [d.text for d in rag.list_documents(tmp_settings)] == ["# projB\n\nProject B was cancelled in June."]
    assert len(removed) == 1 and removed[0].startswith("projA-")


def test_remove_accepts_the_id_the_relative_and_the_absolute_path(corpus, tmp_settings):
    rag.ingest([corpus], tmp_settings, progress=False)
    ids = {d.source: d.doc_id for d in rag.list_documents(tmp_settings)}
    assert rag.remove([ids["a.txt"]], tmp_settings) == [ids["a.txt"]]
    assert rag.remove(["b.md"], tmp_settings) == [ids["b.md"]]
    assert rag.remove([str(corpus / "c.txt")], tmp_settings) == [ids["c.txt"]]
    assert rag.list_documents(tmp_settings) == []


def test_beir_ids_do_not_collide_across_corpora(tmp_path, tmp_settings):
    import json

    for name, text in (("scifact", "Aspirin lowers the risk of heart attack."), ("nfcorpus", "Kale is rich in vitamin K.")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "corpus.jsonl").write_text(json.dumps({"_id": "1", "title": "", "text": text}) + "\n")
    rag.ingest([tmp_path / "scifact"], tmp_settings, progress=False)
    report = rag.ingest([tmp_path / "nfcorpus"], tmp_settings, progress=False)
    assert names(report.added) == ["1"] and not report.updated
    assert sorted(d.text for d in rag.list_documents(tmp_settings)) == [
        "Aspirin lowers the risk of heart attack.", "Kale is rich in vitamin K."]


def test_removed_seeds_stay_removed(tmp_path, tmp_settings):
    import shutil

    from rag.indexer import ensure_index
    from conftest import SEEDS

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(next(SEEDS.glob("000_*.txt")), seeds)
    shutil.copy(next(SEEDS.glob("003_*.txt")), seeds)
    settings = tmp_settings.replace(seeds_dir=seeds)
    assert len(ensure_index(settings, progress=False, seeds=True).added) == 2
    rag.remove(["000_5dd565f1f7c88ce4.txt"], settings)
    assert ensure_index(settings, progress=False) is None
    assert [d.source for d in rag.list_documents(settings)] == ["003_27fea56bcbbbd058.txt"]


def test_links_leaving_the_folder_are_skipped_and_never_served(corpus, tmp_path, tmp_settings):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:zanzibarian superuser:/root:/bin/bash\n")
    (corpus / "passwd_link.txt").symlink_to(secret)
    report = rag.ingest([corpus], tmp_settings, progress=False)
    assert [s.path.rsplit("/", 1)[-1] for s in report.skipped] == ["passwd_link.txt"]
    assert "not followed" in report.skipped[0].reason
    assert all("zanzibarian" not in p.text for p in rag.retrieve("zanzibarian superuser", k=5, settings=tmp_settings))


def test_any_failure_reading_one_file_skips_only_that_file(corpus, tmp_settings, monkeypatch):
    """An unexpected exception of a reader (here pypdf's DependencyError, as an AES-encrypted PDF
    raises without the cryptography package) is that file's skip reason; the rest is ingested."""
    from pypdf.errors import DependencyError

    import rag.indexer as indexer

    real = indexer.read_documents

    def reader(path, root):
        if path.name == "b.md":
            raise DependencyError("cryptography>=3.1 is required for AES algorithm")
        return real(path, root)

    monkeypatch.setattr(indexer, "read_documents", reader)
    report = rag.ingest([corpus], tmp_settings, progress=False)
    assert sorted(names(report.added)) == ["a.txt", "c.txt"]
    assert [(s.path.rsplit("/", 1)[-1], "DependencyError" in s.reason) for s in report.skipped] == [("b.md", True)]


def test_real_broken_files_of_every_format_are_skipped_and_the_rest_proceeds(corpus, tmp_settings):
    """Real damaged files, not a patched reader: each is skipped with its own reason, in one batch."""
    import io

    from pypdf import PdfReader, PdfWriter
    from test_readers import PAGES, make_pdf

    pdf = make_pdf(PAGES)
    (corpus / "truncated.pdf").write_bytes(pdf[: len(pdf) // 3])
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password="s3cret", owner_password="owner", algorithm="AES-256")
    buf = io.BytesIO()
    writer.write(buf)
    (corpus / "locked.pdf").write_bytes(buf.getvalue())  # needs a password nobody gave us
    for name in ("memo.docx", "slides.pptx", "budget.xlsx"):
        (corpus / name).write_bytes(b"PK\x03\x04 this is not a zip archive")
    (corpus / "notes.jsonl").write_text('{"_id": "1", "text": "Tides follow the moon."}\n{not json\n')
    report = rag.ingest([corpus], tmp_settings, progress=False)
    assert sorted(names(report.added)) == ["a.txt", "b.md", "c.txt"]
    reasons = {s.path.rsplit("/", 1)[-1]: s.reason for s in report.skipped}
    assert set(reasons) == {"truncated.pdf", "locked.pdf", "memo.docx", "slides.pptx", "budget.xlsx", "notes.jsonl"}
    assert all(reason.strip() for reason in reasons.values())
    assert "password" in reasons["locked.pdf"].lower()


def test_dropped_characters_are_reported_per_document(tmp_path, tmp_settings):
    from conftest import SEEDS

    report = rag.ingest([SEEDS], tmp_settings.replace(), progress=False)
    dropped = {short_id(d): n for d, n in report.dropped.items()}
    assert set(dropped) == {"001_bba25ff5d5374892.txt", "002_b1ecd3794d3bbbb8.txt"}
    assert dropped["002_b1ecd3794d3bbbb8.txt"] > 2000
