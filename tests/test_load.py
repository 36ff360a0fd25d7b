import json

import pytest

from rag.load import LoadError, OutsideRoot, document_id, iter_files, read_documents, short_id
from conftest import SEEDS


def _pdf(text: str) -> bytes:
    """A minimal one-page PDF with ``text`` in Helvetica."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_seed_ids_are_file_names_and_text_is_cleaned():
    docs = read_documents(SEEDS / "002_b1ecd3794d3bbbb8.txt", SEEDS)
    assert [d.doc_id for d in docs] == [document_id(SEEDS, "002_b1ecd3794d3bbbb8.txt")]
    assert [d.source for d in docs] == ["002_b1ecd3794d3bbbb8.txt"]
    assert docs[0].title.startswith("Daejeon City Holds Meeting with Quebec Province")
    assert "Most Viewed" not in docs[0].text and "Daejeon Mayor Lee Jang-woo" in docs[0].text


def test_formats(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.md").write_text("# Otters\n\nSea otters hold hands while they sleep so they do not drift apart.\n")
    (tmp_path / "b.html").write_text("<html><head><title>Bees</title></head><body><nav>Home | About</nav>"
                                     "<article><p>Honey bees communicate the direction of food with a waggle dance.</p></article></body></html>")
    (tmp_path / "c.pdf").write_bytes(_pdf("Octopuses have three hearts and blue blood."))
    (tmp_path / "d.jsonl").write_text(json.dumps({"_id": "x1", "title": "Ants", "text": "Ants farm aphids."}) + "\n"
                                      + json.dumps({"id": "x2", "text": "Termites build mounds."}) + "\n")
    docs = {short_id(d.doc_id): d for f, root in iter_files([tmp_path]) for d in read_documents(f, root)}
    assert set(docs) == {"sub/a.md", "b.html", "c.pdf", "x1", "x2"}
    assert docs["sub/a.md"].title == "Otters"
    assert docs["b.html"].title == "Bees" and "Home | About" not in docs["b.html"].text
    assert "three hearts" in docs["c.pdf"].text
    assert docs["x1"].title == "Ants" and docs["x1"].source == "d.jsonl"
    assert docs["x1"].doc_id == document_id(tmp_path, "d.jsonl", "x1") == docs["sub/a.md"].doc_id.replace("sub/a.md", "d.jsonl#x1")
    assert docs["x2"].text == "Termites build mounds."


@pytest.mark.parametrize("name,data,reason", [
    ("empty.txt", b"", "no text"),
    ("blank.md", b"  \n\n ", "no text"),
    ("latin1.txt", "café au lait".encode("latin-1"), "UTF-8"),
    ("bin.txt", b"\x00\x01\x02binary", "binary"),
    ("image.png", b"\x89PNG\r\n", "unsupported"),
    ("broken.pdf", b"%PDF-1.4 nonsense", "PDF"),
    ("bad.jsonl", b'{"_id": "1"}\n', "line 1"),
])
def test_bad_input_is_reported(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(LoadError, match=reason):
        read_documents(path, tmp_path)


def test_unreadable_file_is_reported(tmp_path):
    link = tmp_path / "gone.txt"
    link.symlink_to(tmp_path / "missing.txt")
    with pytest.raises(LoadError, match="cannot read"):
        read_documents(link, tmp_path)


def test_hidden_files_are_not_walked(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.txt").write_text("hidden text here")
    (tmp_path / "ok.txt").write_text("visible text here")
    assert [f.name for f, _ in iter_files([tmp_path])] == ["ok.txt"]


def test_links_out_of_the_ingested_folder_are_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (outside / "dir").mkdir()
    (outside / "dir" / "secret.txt").write_text("secret text")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ok.txt").write_text("visible text here")
    (docs / "passwd_link.txt").symlink_to(outside / "passwd")
    (docs / "linked_dir").symlink_to(outside / "dir")
    (docs / "inside_link.txt").symlink_to(docs / "ok.txt")  # stays inside: followed
    items = list(iter_files([docs]))
    assert sorted(f.name for f, _ in (i for i in items if isinstance(i, tuple))) == ["inside_link.txt", "ok.txt"]
    refused = [i for i in items if isinstance(i, OutsideRoot)]
    assert [r.path.rsplit("/", 1)[-1] for r in refused] == ["linked_dir", "passwd_link.txt"]
    assert "outside" in refused[0].reason and "not followed" in refused[0].reason


def test_ids_are_unique_per_origin_and_shown_short(tmp_path):
    a, b = tmp_path / "projA", tmp_path / "projB"
    for folder in (a, b):
        folder.mkdir()
        (folder / "README.md").write_text(f"# {folder.name}\n\nThis is the read-me of {folder.name}.")
    (doc_a,), (doc_b,) = read_documents(a / "README.md", a), read_documents(b / "README.md", b)
    assert doc_a.doc_id != doc_b.doc_id
    assert doc_a.doc_id.startswith("projA-") and doc_a.doc_id.endswith("/README.md")
    assert short_id(doc_a.doc_id) == short_id(doc_b.doc_id) == doc_a.source == "README.md"
