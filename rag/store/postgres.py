"""PostgreSQL + pgvector store (psycopg 3): documents, chunks, vectors and BM25 statistics in tables.

Tables (shared by all collections; every row carries its collection)::

    rag_collections  name, config (what the store is bound to), chunk and token counts, version
    rag_documents    cleaned text, hash, source, title, pages, origin folder
    rag_chunks       offsets, page, BM25 terms with their frequencies, embedding vector(d)
    rag_terms        per collection: term -> chunks holding it (BM25 document frequency)
    rag_line         the answers waiting for a shared LLM server, across servers (SharedLine)

Dense search is an HNSW index (cosine) with ``hnsw.iterative_scan = relaxed_order``, so a
search confined to one collection still returns k rows when k exist. Lexical search is BM25
computed in SQL (the local store's tokens, k1, b and IDF) over a capped set of candidates that
a GIN index on the terms finds (the chunks holding the query's rarest terms, or pairs of its
commoner ones: ``PostgresLexical``), so both stores rank alike and the cost follows the cap,
not the collection. A write runs in one transaction under an advisory lock
of its collection: concurrent writers queue, readers never wait, and a crash leaves the
previous state. Every statement is parameterised.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from ..index import BOUND_KEYS, IndexUnavailable, check_compatible, tokenize
from ..types import Chunk, Document

K1, B = 0.9, 0.4  # as the local store's bm25s index
MIN_PGVECTOR = (0, 8)  # hnsw.iterative_scan
EF_SEARCH_MAX = 1000
VECTOR_CACHE = 20_000  # vectors a store keeps (30 MB at 384 dimensions)
PAIRED_TERMS = 8  # of the commoner query terms, pairs of these may be probed
LEXICAL_CANDIDATES = 5000  # scripts/bench_store.py: SciFact and 1M chunks
LEXICAL_PARTS = 2  # connections scoring one lexical search's candidates at once


def redact(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def connect(url: str):
    """A psycopg connection with pgvector's types; errors name the URL and the fix."""
    import psycopg

    try:
        conn = psycopg.connect(url, autocommit=True)
    except psycopg.Error as exc:
        raise IndexUnavailable(f"cannot connect to the PostgreSQL store {redact(url)}: {' '.join(str(exc).split())}; "
                               "check that the server runs and that RAG_STORE / --store is right") from exc
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    if row is None:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.errors.UniqueViolation:
            pass  # another process created it meanwhile
        except psycopg.Error as exc:
            conn.close()
            raise IndexUnavailable(f"the pgvector extension is not installed in {redact(url)} and could not be "
                                   f"created ({' '.join(str(exc).split())}): install pgvector >= 0.8 on the server and run "
                                   "`CREATE EXTENSION vector;` as its owner") from exc
        row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    if tuple(int(p) for p in row[0].split(".")[:2]) < MIN_PGVECTOR:
        conn.close()
        raise IndexUnavailable(f"{redact(url)} has pgvector {row[0]}; the store needs >= 0.8 "
                               "(ALTER EXTENSION vector UPDATE;)")
    from pgvector.psycopg import register_vector

    register_vector(conn)
    return conn


HNSW_M, HNSW_EF_CONSTRUCTION = 16, 64  # pgvector's defaults; scripts/bench_store.py scale measures others


def hnsw_index(m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION) -> str:
    return (f"CREATE INDEX IF NOT EXISTS rag_chunks_embedding ON rag_chunks USING hnsw (embedding vector_cosine_ops) "
            f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)})")


def _schema(dimension: int) -> list[str]:
    return [
        """CREATE TABLE IF NOT EXISTS rag_collections (
            name text PRIMARY KEY, config jsonb NOT NULL, chunks bigint NOT NULL DEFAULT 0,
            tokens bigint NOT NULL DEFAULT 0, version bigint NOT NULL DEFAULT 0,
            updated timestamptz NOT NULL DEFAULT now())""",
        """CREATE TABLE IF NOT EXISTS rag_documents (
            collection text NOT NULL REFERENCES rag_collections ON DELETE CASCADE,
            doc_id text NOT NULL, source text NOT NULL, title text NOT NULL, text text NOT NULL,
            hash text NOT NULL, dropped integer NOT NULL DEFAULT 0, pages jsonb NOT NULL DEFAULT '[]',
            origin text NOT NULL DEFAULT '', PRIMARY KEY (collection, doc_id))""",
        f"""CREATE TABLE IF NOT EXISTS rag_chunks (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, collection text NOT NULL,
            doc_id text NOT NULL, chunk_id text NOT NULL, start integer NOT NULL, "end" integer NOT NULL,
            page integer NOT NULL DEFAULT 0, tokens integer NOT NULL, terms text[] NOT NULL,
            tfs integer[] NOT NULL, embedding vector({int(dimension)}) NOT NULL,
            FOREIGN KEY (collection, doc_id) REFERENCES rag_documents ON DELETE CASCADE)""",
        "CREATE INDEX IF NOT EXISTS rag_chunks_doc ON rag_chunks (collection, doc_id)",
        "CREATE INDEX IF NOT EXISTS rag_chunks_terms ON rag_chunks USING gin (terms)",
        hnsw_index(),
        """CREATE TABLE IF NOT EXISTS rag_terms (
            collection text NOT NULL REFERENCES rag_collections ON DELETE CASCADE, term text NOT NULL,
            df integer NOT NULL, PRIMARY KEY (collection, term))""",
    ]


def lock_key(name: str) -> int:
    """A signed 64-bit advisory-lock key for ``name``."""
    return int.from_bytes(hashlib.sha256(f"rag:{name}".encode()).digest()[:8], "big", signed=True)


def _document(row, text: str = "") -> Document:
    doc_id, source, title, hash_, dropped, pages = row[:6]
    return Document(doc_id, source, title, text, hash_, dropped, tuple(tuple(p) for p in pages))


DOC_COLUMNS = "doc_id, source, title, hash, dropped, pages"


class PostgresStore:
    """One collection of a PostgreSQL database, read through the ``rag.store.Store`` protocol."""

    # HNSW candidates per search (at least k). At 1M vectors (scripts/bench_store.py scale) recall@10
    # is 0.75 at 100, 0.89 at 400, 0.95 at 800 and 0.96 at 1000 (p50 13 ms): pgvector's maximum.
    ef_search = EF_SEARCH_MAX
    # BM25 candidates per lexical search (at least 10 n): the chunks holding the query's rarest terms
    # (PostgresLexical). 0: every chunk holding any query term (exact, slower as the collection grows).
    lexical_candidates = LEXICAL_CANDIDATES
    # rag.search runs the lexical search on a thread of its own while the query is embedded and
    # searched densely: both wait on the database, each on its own connection
    concurrent_lexical = True
    # a lexical search's candidates are scored in this many parts at once, each by its own
    # connection (a backend of its own: a 2-core server scores 7,000 candidates in half the time);
    # 1 for a server whose cores are all busy with other searches
    lexical_parts = LEXICAL_PARTS

    def __init__(self, url: str, collection: str, config: dict, version: int):
        self.url, self.collection, self.config, self.version = url, collection, config, version
        self.path = redact(url)  # where messages say the store is
        self._local = threading.local()
        self._weights = None
        self._vectors: dict[int, np.ndarray] = {}  # row -> vector, read once (vectors_of)
        self._vectors_lock = threading.Lock()

    # --- connection ---------------------------------------------------------------------
    @property
    def conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._local.conn = connect(self.url)
        return conn

    def _rows(self, sql: str, params=()) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall()

    @classmethod
    def open(cls, url: str, collection: str, expect: dict | None = None) -> "PostgresStore":
        """The collection's store, reused while no write changed it."""
        key = (url, collection)
        with _cache_lock:
            cached = _cache.get(key)
            conn = cached.conn if cached else connect(url)
            exists = conn.execute("SELECT to_regclass('rag_collections') IS NOT NULL").fetchone()[0]
            row = exists and conn.execute("SELECT config, version FROM rag_collections WHERE name = %s",
                                          (collection,)).fetchone()
            if not row:
                if cached is None:
                    conn.close()
                raise IndexUnavailable(f"no collection {collection!r} in {redact(url)}: build it with "
                                       f"`rag ingest PATH --store {redact(url)} --collection {collection}`")
            if cached is None or cached.version != row[1]:
                cached = _cache[key] = cls(url, collection, row[0], row[1])
                cached._local.conn = conn
        if expect is not None:
            check_compatible(cached.config, expect, Path(f"{redact(url)}#{collection}"))
        return cached

    # --- the Store protocol -----------------------------------------------------------------
    def chunk_count(self) -> int:
        row = self._rows("SELECT chunks FROM rag_collections WHERE name = %s", (self.collection,))
        return int(row[0][0]) if row else 0

    def search_dense(self, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        from pgvector import Vector

        q = Vector(np.asarray(query_vector, dtype=np.float32).ravel())
        with self.conn.transaction():
            self.conn.execute("SELECT set_config('hnsw.ef_search', %s, true), "
                              "set_config('hnsw.iterative_scan', 'relaxed_order', true)",
                              (str(min(max(k, self.ef_search), EF_SEARCH_MAX)),))
            rows = self._rows(
                """WITH near AS MATERIALIZED (
                       SELECT id, embedding <=> %(q)s AS distance FROM rag_chunks
                       WHERE collection = %(c)s ORDER BY embedding <=> %(q)s LIMIT %(k)s)
                   SELECT id, 1 - distance FROM near ORDER BY distance, id""",
                {"q": q, "c": self.collection, "k": int(k)})
        return [(int(r), float(s)) for r, s in rows]

    def lexical(self, query: str) -> "PostgresLexical":
        return PostgresLexical(self, query)

    def vectors_of(self, rows) -> np.ndarray:
        """Read in binary and kept: a search asks for the same candidates' vectors several times,
        and a row's vector never changes (a changed chunk is a new row; a write makes a new store)."""
        rows = [int(r) for r in rows]
        with self._vectors_lock:
            missing = [r for r in dict.fromkeys(rows) if r not in self._vectors]
        if missing:
            with self.conn.cursor(binary=True) as cur:
                found = {r: v.to_numpy() for r, v in cur.execute(
                    "SELECT id, embedding FROM rag_chunks WHERE id = ANY(%s)", (missing,))}
            with self._vectors_lock:
                if len(self._vectors) + len(found) > VECTOR_CACHE:
                    self._vectors.clear()
                self._vectors.update(found)
        else:
            found = {}
        out = np.empty((len(rows), self.config["dimension"]), dtype=np.float32)
        with self._vectors_lock:
            for i, row in enumerate(rows):
                out[i] = found[row] if row in found else self._vectors[row]
        return out

    def chunks_of(self, rows) -> list[Chunk]:
        rows = [int(r) for r in rows]
        found = {r[0]: r[1:] for r in self._rows(
            f"""SELECT c.id, c.chunk_id, c.start, c."end", c.page,
                       substr(d.text, c.start + 1, c."end" - c.start), {', '.join('d.' + x for x in DOC_COLUMNS.split(', '))}
                FROM rag_chunks c JOIN rag_documents d USING (collection, doc_id) WHERE c.id = ANY(%s)""", (rows,))}
        out = []
        for row in rows:
            chunk_id, start, end, page, text, *doc = found[row]
            d = _document(doc)
            out.append(Chunk(chunk_id, d.doc_id, d.source, d.title, text, start, end, **d.page_info(page)))
        return out

    def rows_of(self, doc_id: str) -> list[int]:
        return [r[0] for r in self._rows('SELECT id FROM rag_chunks WHERE collection = %s AND doc_id = %s '
                                         'ORDER BY start, id', (self.collection, doc_id))]

    def document_frequencies(self) -> tuple[dict[str, int], int]:
        df = dict(self._rows("SELECT term, df FROM rag_terms WHERE collection = %s", (self.collection,)))
        return df, max(self.chunk_count(), 1)

    def stats(self) -> dict:
        chunks, tokens, version, updated = self._rows(
            "SELECT chunks, tokens, version, updated FROM rag_collections WHERE name = %s", (self.collection,))[0]
        size = self._rows("SELECT pg_database_size(current_database())")[0][0]
        return {"store": "postgresql", "url": redact(self.url), "collection": self.collection,
                "documents": len(self.documents), "chunks": chunks, "tokens": tokens, "version": version,
                "updated": str(updated), "database_bytes": size, **self.config}

    # --- what the layers above read as attributes ---------------------------------------------
    @property
    def documents(self) -> "DocumentsView":
        return DocumentsView(self)

    @property
    def origins(self) -> dict[str, str]:
        return dict(self._rows("SELECT doc_id, origin FROM rag_documents WHERE collection = %s",
                               (self.collection,)))

    @property
    def chunks(self) -> "ChunkCount":
        return ChunkCount(self.chunk_count())

    @property
    def bm25(self) -> "TermStatistics":
        """Document frequencies in the layout ``rag.evidence.Weights`` reads from a bm25s index."""
        if self._weights is None:
            self._weights = TermStatistics(self.document_frequencies()[0])
        return self._weights

    def export(self) -> tuple[dict[str, Document], dict[str, str], list[Chunk], np.ndarray]:
        """Every document, origin, chunk and vector of the collection (for ``rag migrate``)."""
        rows = [r[0] for r in self._rows("SELECT id FROM rag_chunks WHERE collection = %s ORDER BY id",
                                         (self.collection,))]
        return dict(self.documents.items()), self.origins, self.chunks_of(rows), self.vectors_of(rows)


_cache: dict[tuple[str, str], PostgresStore] = {}
_cache_lock = threading.Lock()
_parts: ThreadPoolExecutor | None = None


def _part_pool() -> ThreadPoolExecutor:
    """Threads (each with its own connection per store) that score the other parts of lexical searches."""
    global _parts
    with _cache_lock:
        if _parts is None:
            _parts = ThreadPoolExecutor(max_workers=16, thread_name_prefix="rag-bm25-part")
        return _parts


class ChunkCount:
    """``len(store.chunks)`` of a database store, whose chunks are read by row, not listed."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        raise TypeError("a PostgreSQL store's chunks are read with chunks_of(rows), not iterated")


class TermStatistics:
    """Term -> document frequency as a bm25s index lays it out (``vocab_dict``, ``scores['indptr']``)."""

    def __init__(self, df: dict[str, int]):
        self.vocab_dict = {term: i for i, term in enumerate(df)}
        self.scores = {"indptr": np.concatenate([[0], np.cumsum(list(df.values()), dtype=np.int64)])}


class DocumentsView(Mapping):
    """The collection's documents, read from the database on access."""

    def __init__(self, store: PostgresStore):
        self.store = store

    def __getitem__(self, doc_id: str) -> Document:
        rows = self.store._rows(f"SELECT {DOC_COLUMNS}, text FROM rag_documents WHERE collection = %s AND doc_id = %s",
                                (self.store.collection, doc_id))
        if not rows:
            raise KeyError(doc_id)
        return _document(rows[0], rows[0][6])

    def __iter__(self) -> Iterator[str]:
        return iter([r[0] for r in self.store._rows(
            "SELECT doc_id FROM rag_documents WHERE collection = %s ORDER BY doc_id", (self.store.collection,))])

    def __len__(self) -> int:
        return self.store._rows("SELECT count(*) FROM rag_documents WHERE collection = %s",
                                (self.store.collection,))[0][0]

    def values(self) -> list[Document]:
        return [v for _, v in self.items()]

    def items(self) -> list[tuple[str, Document]]:
        rows = self.store._rows(f"SELECT {DOC_COLUMNS}, text FROM rag_documents WHERE collection = %s "
                                "ORDER BY doc_id", (self.store.collection,))
        return [(r[0], _document(r, r[6])) for r in rows]


# BM25 of one chunk ``c`` (a row of rag_chunks), a scalar subquery: each distinct query term
# ``q`` with its weight, its IDF times how often the query repeats it (bm25s sums a repeated term
# once per repetition), joined with the chunk's terms and their frequencies.
SCORE_SQL = """(SELECT coalesce(sum(q.w * t.tf / (t.tf + %(k1)s * (1 - %(b)s + %(b)s * c.tokens / %(avgdl)s))), 0)
    FROM unnest(c.terms, c.tfs) AS t(term, tf) JOIN unnest(%(terms)s::text[], %(w)s::float8[]) AS q(term, w)
    ON q.term = t.term)"""
# The top n of the candidates, in one pass: the probes (the rare terms together, and each pair)
# OR-ed, so the planner reads their GIN scans into one bitmap and each candidate's row once (no
# duplicates to sort away), scoring it as it goes. ``collection || ''`` keeps the planner from
# scanning the collection instead (which it prefers for a small one, then tests every probe on
# every chunk); ``found`` counts the candidates (at most ``most``). With ``{part}`` (``id % parts =
# part``) one query scores one part of the candidates, the parts on connections of their own.
TOP_SQL = """SELECT c.id, """ + SCORE_SQL + """ AS score, count(*) OVER () AS found
    FROM (SELECT id, terms, tokens, tfs FROM rag_chunks WHERE ({probes}) AND collection || '' = %(c)s {part}
          LIMIT %(most)s) c
    ORDER BY score DESC, c.id LIMIT %(n)s"""
SCORES_SQL = "SELECT c.id, " + SCORE_SQL + " FROM rag_chunks c WHERE c.id = ANY(%(rows)s)"


class PostgresLexical:
    """BM25 scores of one query, computed in the database over candidates an index finds.

    ``top(n)`` scores exactly (bm25s's formula, weights and tokens) a capped set of candidates
    that the GIN index on the terms finds, within a budget of ``max(store.lexical_candidates,
    10 n)`` chunks estimated from document frequencies: the chunks holding any of the rarest
    terms (while they fit in half the budget), then the chunks holding both terms of a pair of
    the commoner ones (the rarest pairs first, expected sizes as if independent). A chunk outside
    the candidates holds no probed term and no probed pair, so it scores less than the heaviest
    set of unprobed terms without a probed pair among them (``bound``): when the n-th score found
    beats that, the top is provably bm25s's (``self.exact``). ``store.lexical_candidates = 0``
    scores every chunk holding any query term (always exact, slower as the collection grows).
    """

    def __init__(self, store: "PostgresStore", query: str):
        self.store = store
        tokens = tokenize([query])
        words = {i: w for w, i in tokens.vocab.items()}
        asked = Counter(words[i] for i in (tokens.ids[0] if tokens.ids else []) if words.get(i))
        (n, total), = store._rows("SELECT chunks, tokens FROM rag_collections WHERE name = %s", (store.collection,))
        self.df = dict(store._rows("SELECT term, df FROM rag_terms WHERE collection = %s AND term = ANY(%s)",
                                   (store.collection, sorted(asked))))
        self.terms = sorted((t for t in asked if t in self.df), key=lambda t: (self.df[t], t))  # rarest first
        idf = {t: float(np.log(1 + (n - self.df[t] + 0.5) / (self.df[t] + 0.5))) for t in self.terms}
        self.weights = {t: idf[t] * asked[t] for t in self.terms}
        self.n = n
        self.exact: bool | None = None  # after top(): whether the top is provably bm25s's
        self.candidates = 0  # after top(): how many chunks it scored
        self._scores: dict[int, float] = {}  # row -> BM25, of the rows scored so far
        self._top: dict[int, np.ndarray] = {}  # n -> top(n)
        self.params = {"terms": self.terms, "w": [self.weights[t] for t in self.terms], "k1": K1, "b": B,
                       "avgdl": total / max(n, 1), "c": store.collection}

    def probe(self, n: int) -> tuple[list[str], list[list[str]]]:
        """The single terms and the pairs of terms whose chunks are the candidates of ``top(n)``:
        the rarest terms while their document frequencies fit in half the budget, then pairs of
        the other terms (the rarest pairs first, by their expected number of chunks) in the rest."""
        cap = self.store.lexical_candidates
        if not cap:
            return list(self.terms), []
        budget = max(cap, 10 * n)
        singles, used = [], 0
        for t in self.terms:
            if used + self.df[t] > budget / 2:
                break
            singles.append(t)
            used += self.df[t]
        rest = [t for t in self.terms if t not in singles][:PAIRED_TERMS]
        pairs = sorted(([a, b] for i, a in enumerate(rest) for b in rest[i + 1:]),
                       key=lambda p: (self.df[p[0]] * self.df[p[1]], p))
        chosen = []
        for pair in pairs:
            size = self.df[pair[0]] * self.df[pair[1]] / max(self.n, 1)
            if (chosen or singles) and used + size > budget:
                break
            chosen.append(pair)
            used += size
        return (singles or ([] if chosen else self.terms[:1])), chosen

    def bound(self, singles: list[str], pairs: list[list[str]]) -> float:
        """The most a chunk outside the candidates can score: the heaviest set of the other terms
        holding none of the probed pairs (each term adds less than its weight)."""
        rest = [t for t in self.terms if t not in singles]
        paired, free = rest[:PAIRED_TERMS], sum(self.weights[t] for t in rest[PAIRED_TERMS:])
        pairs = {frozenset(p) for p in pairs}
        best = 0.0
        for mask in range(1 << len(paired)):
            held = [t for i, t in enumerate(paired) if mask >> i & 1]
            if not any(frozenset((a, b)) in pairs for i, a in enumerate(held) for b in held[i + 1:]):
                best = max(best, sum(self.weights[t] for t in held))
        return best + free

    def top(self, n: int) -> np.ndarray:
        """The best ``n`` rows (kept: asking again for the same ``n`` reads nothing)."""
        if not self.terms:
            self.exact = True
            return np.zeros(0, dtype=np.int64)
        if n in self._top:
            return self._top[n]
        singles, pairs = self.probe(n)
        probes = " OR ".join((["terms && %(singles)s::text[]"] if singles else [])
                             + [f"terms @> %(pair{i})s::text[]" for i in range(len(pairs))])
        cap = self.store.lexical_candidates
        parts = max(1, int(self.store.lexical_parts))
        # a bound on the work when terms co-occur far more than expected (per part)
        most = -(-4 * max(cap, 10 * n) // parts) if cap else None
        params = {**self.params, "singles": singles, "most": most, "n": int(n), "parts": parts,
                  **{f"pair{i}": p for i, p in enumerate(pairs)}}
        sql = TOP_SQL.format(probes=probes, part="AND id %% %(parts)s = %(part)s" if parts > 1 else "")
        if parts > 1:  # each part on a connection of its own: the database scores them at once
            others = [_part_pool().submit(self.store._rows, sql, {**params, "part": i}) for i in range(1, parts)]
            found = [self.store._rows(sql, {**params, "part": 0})] + [f.result() for f in others]
        else:
            found = [self.store._rows(sql, params)]
        rows = sorted((r for part in found for r in part), key=lambda r: (-r[1], r[0]))[:n]
        self._scores.update((int(r), float(s)) for r, s, _ in rows)
        self.candidates = sum(part[0][2] for part in found if part)
        complete = most is None or all(not part or part[0][2] < most for part in found)  # no candidate was cut off
        bound = self.bound(singles, pairs)
        self.exact = complete and (bound == 0 or (len(rows) == n and rows[-1][1] > bound))
        self._top[n] = np.array([r for r, s, _ in rows if s > 0], dtype=np.int64)
        return self._top[n]

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """BM25 of ``rows`` (0 for a row holding no query term); those ``top`` or an earlier call
        scored are not asked again (fusion asks for the candidates' scores twice)."""
        rows = [int(r) for r in rows]
        if not self.terms or not rows:
            return np.zeros(len(rows), dtype=np.float32)
        missing = [r for r in dict.fromkeys(rows) if r not in self._scores]
        if missing:
            found = dict(self.store._rows(SCORES_SQL, {**self.params, "rows": missing}))
            self._scores.update((r, float(found.get(r, 0.0))) for r in missing)
        return np.array([self._scores[r] for r in rows], dtype=np.float32)


# --- writing ---------------------------------------------------------------------------------
def chunk_terms(chunks: list[Chunk]) -> list[tuple[list[str], list[int], int]]:
    """BM25 terms, their frequencies and the token count of each chunk (the local store's tokens)."""
    from ..index import Index

    if not chunks:
        return []
    tokens = tokenize([Index.chunk_text(c) for c in chunks])
    words = {i: w for w, i in tokens.vocab.items()}
    out = []
    for ids in tokens.ids:
        counts = Counter(words[i] for i in ids)
        out.append((list(counts), list(counts.values()), len(ids)))
    return out


class PostgresWriter:
    """One write to a collection, inside one transaction holding the collection's advisory lock."""

    def __init__(self, store_url: str, collection: str, conn, partial_root: Path, dimension: int):
        self.url, self.collection, self.conn, self.dimension = store_url, collection, conn, dimension
        self.index = None  # no in-memory index whose vectors an ingest could reuse
        self.partial_root = partial_root
        rows = conn.execute(f"SELECT {DOC_COLUMNS}, origin FROM rag_documents WHERE collection = %s",
                            (collection,)).fetchall()
        self.documents = {r[0]: _document(r) for r in rows}  # without their text
        self.origins = {r[0]: r[6] for r in rows}
        self.is_new = False

    def commit(self, keep: dict[str, Document], origins: dict[str, str], replaced: set[str],
               new_chunks: list[Chunk], new_vectors: np.ndarray) -> None:
        """Make the collection hold ``keep``: drop documents not kept or ``replaced``, insert the
        new ones with ``new_chunks`` and ``new_vectors``, update origins and BM25 statistics."""
        conn, c = self.conn, self.collection
        doomed = sorted((set(self.documents) - set(keep)) | (replaced & set(self.documents)))
        if doomed:
            conn.execute("""UPDATE rag_terms r SET df = r.df - x.n FROM (
                                SELECT t AS term, count(*) AS n FROM rag_chunks, unnest(terms) AS t
                                WHERE collection = %(c)s AND doc_id = ANY(%(d)s) GROUP BY t) x
                            WHERE r.collection = %(c)s AND r.term = x.term""", {"c": c, "d": doomed})
            conn.execute("DELETE FROM rag_terms WHERE collection = %s AND df <= 0", (c,))
            conn.execute("""UPDATE rag_collections SET chunks = chunks - x.n, tokens = tokens - x.t FROM (
                                SELECT count(*) AS n, coalesce(sum(tokens), 0) AS t FROM rag_chunks
                                WHERE collection = %(c)s AND doc_id = ANY(%(d)s)) x WHERE name = %(c)s""",
                         {"c": c, "d": doomed})
            conn.execute("DELETE FROM rag_documents WHERE collection = %s AND doc_id = ANY(%s)", (c, doomed))
        new_docs = [d for doc_id, d in keep.items() if doc_id not in self.documents or doc_id in replaced]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO rag_documents (collection, doc_id, source, title, text, hash, dropped, pages, origin) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(c, d.doc_id, d.source, d.title, d.text, d.hash, d.dropped, json.dumps(d.pages),
                  origins.get(d.doc_id, "")) for d in new_docs])
            moved = [(origins.get(i, ""), c, i) for i in keep
                     if i in self.documents and i not in replaced and origins.get(i, "") != self.origins.get(i, "")]
            cur.executemany("UPDATE rag_documents SET origin = %s WHERE collection = %s AND doc_id = %s", moved)
        terms = chunk_terms(new_chunks)
        with conn.cursor().copy('COPY rag_chunks (collection, doc_id, chunk_id, start, "end", page, tokens, terms, '
                                'tfs, embedding) FROM STDIN (FORMAT BINARY)') as copy:
            copy.set_types(["text", "text", "text", "int4", "int4", "int4", "int4", "text[]", "int4[]", "vector"])
            for ch, (words, tfs, n), vec in zip(new_chunks, terms, new_vectors):
                copy.write_row((c, ch.doc_id, ch.chunk_id, ch.start, ch.end, ch.page, n, words, tfs,
                                np.asarray(vec, dtype=np.float32)))
        df = Counter(w for words, _, _ in terms for w in words)
        conn.execute("""INSERT INTO rag_terms (collection, term, df)
                        SELECT %s, t, n FROM unnest(%s::text[], %s::int[]) AS u(t, n)
                        ON CONFLICT (collection, term) DO UPDATE SET df = rag_terms.df + EXCLUDED.df""",
                     (c, list(df), list(df.values())))
        conn.execute("UPDATE rag_collections SET chunks = chunks + %s, tokens = tokens + %s, version = version + 1, "
                     "updated = now() WHERE name = %s", (len(new_chunks), sum(n for _, _, n in terms), c))


@contextmanager
def postgres_writer(url: str, collection: str, expect: dict, rebuild: bool, cache_dir: Path):
    """A ``PostgresWriter``: one transaction, committed when the block ends without an error."""
    conn = connect(url)
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("schema"),))
            exists = conn.execute("SELECT to_regclass('rag_chunks') IS NOT NULL").fetchone()[0]
            if not exists:
                for statement in _schema(expect["dimension"]):
                    conn.execute(statement)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(f"collection:{collection}"),))
            _check_dimension(conn, url, expect["dimension"])
            row = conn.execute("SELECT config FROM rag_collections WHERE name = %s", (collection,)).fetchone()
            config = {k: expect[k] for k in BOUND_KEYS}
            if row is not None and not rebuild:
                check_compatible(row[0], expect, Path(f"{redact(url)}#{collection}"))
            if row is not None and rebuild:
                conn.execute("DELETE FROM rag_collections WHERE name = %s", (collection,))
            if row is None or rebuild:
                conn.execute("INSERT INTO rag_collections (name, config) VALUES (%s, %s)",
                             (collection, json.dumps(config)))
            partial = Path(cache_dir) / "store-partial" / lock_key(f"{redact(url)}#{collection}").to_bytes(
                8, "big", signed=True).hex()
            writer = PostgresWriter(url, collection, conn, partial, expect["dimension"])
            writer.is_new = row is None or rebuild
            yield writer
    finally:
        conn.close()


def _check_dimension(conn, url: str, dimension: int) -> None:
    found = conn.execute("SELECT atttypmod FROM pg_attribute WHERE attrelid = 'rag_chunks'::regclass "
                         "AND attname = 'embedding'").fetchone()[0]
    if found != dimension:
        raise IndexUnavailable(f"the rag_chunks table of {redact(url)} holds {found}-d vectors and the embedder "
                               f"makes {dimension}-d ones: use another database for this embedder")


# --- the answer line shared by every server on the store --------------------------------------
class SharedLine:
    """First come, first served across processes and machines: the ``rag.service.AnswerQueue`` of
    servers that share one LLM server (``RAG_LLM=openai``) and this database.

    Each waiting or answering request is a row of ``rag_line`` (which line, when it joined, and the
    database session that holds it); the first ``slots`` live rows of a line are being answered,
    the others wait, and a row's place is the number of live rows before it. A row whose session
    is gone (its server stopped or crashed) is no longer counted, so nobody waits for it.
    """

    POLL = 0.25  # seconds between looks at the line while waiting

    def __init__(self, url: str, name: str, slots: int):
        self.url, self.name, self.slots = url, name, max(1, int(slots))
        self._rows: dict[object, int] = {}  # ticket -> its row
        self._lock = threading.Lock()
        self._conn = None

    def _execute(self, sql: str, params=()) -> list[tuple]:
        with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = connect(self.url)
                with self._conn.transaction():
                    self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("schema"),))
                    self._conn.execute(LINE_SCHEMA)
            cur = self._conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def join(self):
        from ..service import Ticket

        ticket = Ticket(self)
        self._execute(f"DELETE FROM rag_line WHERE line = %s AND NOT {LIVE}", (self.name,))  # left by a stopped server
        (row,), = self._execute(
            "INSERT INTO rag_line (line, pid, started) SELECT %s, pid, backend_start FROM pg_stat_activity "
            "WHERE pid = pg_backend_pid() RETURNING id", (self.name,))
        self._rows[ticket] = row
        ticket.first = self.position(ticket)
        return ticket

    def position(self, ticket) -> int:
        """0 once ``ticket`` is being answered, else its place in line (1: next)."""
        row = self._rows.get(ticket)
        if row is None:
            return 0
        (ahead,), = self._execute(f"SELECT count(*) FROM rag_line WHERE line = %s AND id < %s AND {LIVE}",
                                  (self.name, row))
        return max(0, ahead - self.slots + 1)

    def wait(self, ticket, timeout: float) -> int:
        """Look again after ``timeout`` seconds at most; the position then."""
        time.sleep(min(timeout, self.POLL))
        return self.position(ticket)

    def leave(self, ticket) -> None:
        row = self._rows.pop(ticket, None)
        if row is not None:
            self._execute("DELETE FROM rag_line WHERE id = %s", (row,))

    def __len__(self) -> int:
        return self._execute(f"SELECT count(*) FROM rag_line WHERE line = %s AND {LIVE}", (self.name,))[0][0]


LINE_SCHEMA = """CREATE TABLE IF NOT EXISTS rag_line (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, line text NOT NULL,
    pid integer NOT NULL, started timestamptz NOT NULL, joined timestamptz NOT NULL DEFAULT now())"""
# a row counts while the database session that made it is alive (a pid alone may be reused)
LIVE = "(pid, started) IN (SELECT pid, backend_start FROM pg_stat_activity WHERE backend_start IS NOT NULL)"
