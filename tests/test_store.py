"""The store layer over the local folder index: the protocol, selection by settings, migration."""
from __future__ import annotations

import numpy as np
import pytest

from rag.config import Settings
from rag.index import Index, open_index
from rag.search import search
from rag.store import Store, is_postgres, migrate, open_store, store_location


def test_the_local_index_is_a_store(seeds_settings):
    index = open_store(seeds_settings)
    assert isinstance(index, Store) and isinstance(index, Index)
    rows = [3, 0, 5]
    assert np.array_equal(index.vectors_of(rows), index.vectors[rows])
    assert index.chunks_of(rows) == [index.chunks[r] for r in rows]
    stats = index.stats()
    assert stats["chunks"] == len(index.chunks) and stats["documents"] == 4 and stats["store"] == "local"


def test_local_lexical_top_is_the_bm25_ranking(seeds_settings):
    index = open_index(seeds_settings.index_dir)
    all_scores = index.bm25_scores("space agency memorandum")
    top = index.lexical("space agency memorandum").top(5)
    assert list(top) == list(np.argsort(-all_scores, kind="stable")[:5])
    assert np.array_equal(index.lexical("space agency memorandum").scores(top), all_scores[top])
    assert len(index.lexical("zzzz qqqq").top(5)) == 0  # no term indexed: no candidates


def test_settings_select_the_store():
    env = {"RAG_STORE": "postgresql://rag@db/rag", "RAG_COLLECTION": "handbook"}
    s = Settings.from_env(env)
    assert s.store == "postgresql://rag@db/rag" and s.collection == "handbook"
    assert is_postgres(store_location(s)) and store_location(s, "/tmp/x").as_posix() == "/tmp/x"
    assert store_location(Settings.from_env({})) == Settings.from_env({}).index_dir
    with pytest.raises(ValueError, match="collection"):
        Settings(collection=" ")


def test_migrate_between_folders_keeps_results(seeds_settings, tmp_path):
    done = migrate(seeds_settings, tmp_path / "copy")
    copy = Index.load(tmp_path / "copy")
    original = open_index(seeds_settings.index_dir)
    assert done["chunks"] == len(copy.chunks) == len(original.chunks)
    assert np.array_equal(copy.vectors, original.vectors) and copy.origins == original.origins
    query = "Who signed the space MoU with the Canadian Space Agency?"
    assert search(query, copy, seeds_settings) == search(query, original, seeds_settings)


def test_migrate_refuses_to_copy_a_store_onto_itself(seeds_settings):
    with pytest.raises(ValueError, match="source and the target are both"):
        migrate(seeds_settings, seeds_settings.index_dir)
    assert open_index(seeds_settings.index_dir).chunks  # untouched
