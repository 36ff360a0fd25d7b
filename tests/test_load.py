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


def test_a_missing_path_is_reported_as_missing(tmp_path):
    with pytest.raises(LoadError, match="no such file or folder"):
        read_documents(tmp_path / "no-such-file", tmp_path)


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


# --- titles: a document's real headline -------------------------------------------------------
SEED_TITLES = {
    "000": "Korea and Canada will move to full-fledged cooperation on low Earth orbit satellite communications "
           "and space exploration through strategic coordination",  # no headline: its one-sentence lead
    "001": "Opening the door to ROK-US space industry cooperation!",
    "002": "Daejeon City Holds Meeting with Quebec Province, Canada to Explore Aerospace Industry Cooperation"
           " — Global Economic Times",  # the publisher from the page's copyright notice
    "003": "ROK-UK Digital Partnership and MoU on space cooperation signed",
}


@pytest.mark.parametrize("prefix", sorted(SEED_TITLES))
def test_seeds_are_titled_by_their_headline(prefix):
    path = next(SEEDS.glob(f"{prefix}_*.txt"))
    doc = read_documents(path, SEEDS)[0]
    assert doc.title == SEED_TITLES[prefix]
    assert "Press Releases" not in doc.title and path.stem not in doc.title


def test_headline_is_the_line_that_reads_like_one_before_the_article():
    from rag.clean import headline

    body = ("The city council approved the new tram line on Tuesday after a debate that lasted "
            "more than four hours, with twelve votes in favour and three against the plan.")
    page = "\n".join(["News Room", "City of Brookfield", "March 3, 2025", "Council Approves the Eastern Tram Line",
                      "• Construction to start in spring", "By Anna Weber, staff writer", body])
    assert headline(page) == "Council Approves the Eastern Tram Line"  # past the byline and the bullet deck
    assert headline(f"Breaking: what it means!\n{body}") == "Breaking: what it means!"
    assert headline(f"the tram line is approved at last.\n{body}") == "the tram line is approved at last"  # a lead
    assert headline(f"Packet switching\n\n{body}") == "Packet switching"  # a title line of any case
    assert headline(body) == ""  # the article itself is no title
    assert headline(f"2026-01-04\n{body}") == ""  # nor is a date
    assert headline(f"• Home\n• News\n{body}") == ""  # nor a menu


def test_markdown_title_is_its_first_heading(tmp_path):
    cases = {
        "front.md": "---\nlayout: post\ntitle: \"Sea otters\"\n---\n\n# Otters\n\nThey hold hands.\n",
        "setext.md": "Tide pools\n==========\n\nAnemones close at low tide.\n",
        "fenced.md": "Intro text without a heading.\n\n```\n# not a heading\n```\n\n## Kelp forests\n\n"
                     "Kelp grows fast.\n",
        "emphasis.md": "Some preface.\n\n# The **Otter** census\n\nCounted in May.\n",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
    titles = {f.name: read_documents(f, tmp_path)[0].title for f in tmp_path.iterdir()}
    assert titles == {"front.md": "Sea otters", "setext.md": "Tide pools", "fenced.md": "Kelp forests",
                      "emphasis.md": "The Otter census"}


def test_web_page_publisher_comes_from_its_copyright_notice():
    from rag.clean import site_name

    assert site_name("text\n[Copyright (c) Global Economic Times. All Rights Reserved.]\n") == "Global Economic Times"
    assert site_name("© 2024 Daily Planet, all rights reserved") == "Daily Planet"
    assert site_name("Copyright 2019-2024 Acme Corp. All rights reserved.") == "Acme Corp"
    assert site_name("No notice here.") == ""


@pytest.mark.parametrize("metadata,expected", [
    ("Microsoft Word - draft7.docx", "annual 2019"), ("Untitled", "annual 2019"),
    ("Nautilus annual report", "annual 2019 — Nautilus annual report"),
])
def test_pdf_titles_an_authoring_tool_filled_in_are_dropped(tmp_path, metadata, expected):
    from rag.load import _file_title

    assert _file_title(tmp_path / "annual_2019.pdf", metadata) == expected


def test_a_new_title_rule_updates_an_existing_index_on_the_next_ingest(tmp_path, tmp_settings, monkeypatch):
    """Titles are part of the content hash: an index built under an older title rule re-embeds the
    documents whose title changed on the next ``rag ingest`` of their folder, and only those."""
    import rag
    from rag import load
    from rag.store import open_store

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("Sea otters hold hands while they sleep so they do not drift apart.\n")
    (tmp_path / "docs" / "b.md").write_text("# Kelp\n\nKelp forests grow up to half a metre a day in summer.\n")
    monkeypatch.setattr(load, "plain_title", lambda raw, text, markdown=False: "Old rule")
    rag.ingest([tmp_path / "docs"], tmp_settings, progress=False)
    monkeypatch.undo()
    report = rag.ingest([tmp_path / "docs"], tmp_settings, progress=False)
    assert sorted(short_id(d) for d in report.updated) == ["a.txt", "b.md"] and report.chunks_embedded == 2
    titles = {short_id(d.doc_id): d.title for d in open_store(tmp_settings).documents.values()}
    assert titles == {"a.txt": "", "b.md": "Kelp"}
    assert rag.ingest([tmp_path / "docs"], tmp_settings, progress=False).unchanged  # and then it is settled
