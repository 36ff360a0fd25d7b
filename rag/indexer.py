"""Ingest: load → clean → chunk → embed → index, incrementally by content hash."""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .chunk import chunk_document
from .config import Settings, get_settings
from .embed import get_embedder
from .index import Index, IndexUnavailable, current_generation
from .load import LoadError, iter_files, read_documents
from .store import adopt_embedder, is_postgres, open_store, open_writer, store_location
from .types import Chunk, Document, IngestReport, Skipped

log = logging.getLogger(__name__)
Progress = Callable[[float, str], None]
EMBED_BATCH = 256


def ingest(
    paths: Iterable[Path | str],
    settings: Settings | None = None,
    *,
    index: Path | str | None = None,
    rebuild: bool = False,
    prune: bool = True,
    progress: bool | Progress = True,
) -> IngestReport:
    """Add or update the documents under ``paths`` in the index; return what changed.

    Unchanged documents (same content hash) are not re-embedded. With ``prune``, documents
    that came from an ingested directory but are no longer in it are removed. Bad files are
    reported in ``IngestReport.skipped`` and the rest proceeds; the store changes only as a
    whole (an atomic swap of a complete new generation, or one database transaction).
    ``index`` is a folder or a ``postgresql://`` URL (default: the settings' store).
    """
    settings = settings or get_settings()
    if not rebuild:
        settings = adopt_embedder(settings, index)
    started = time.perf_counter()
    paths = [Path(p).expanduser() for p in paths]
    report = IngestReport()
    with open_writer(settings, index, rebuild) as old:
        found: dict[str, tuple[Document, str]] = {}
        seen_sources: dict[str, set[str]] = {}
        files = list(iter_files(paths))
        bar = tqdm(files, desc="reading", unit="file", disable=not _console(progress, len(files)))
        pages = 0
        for n, item in enumerate(bar):
            _callback(progress, 0.1 * n / len(files), f"reading file {n + 1}/{len(files)}: "
                                                      f"{len(found)} documents, {pages} pages read")
            if isinstance(item, LoadError):
                report.skipped.append(Skipped(item.path, item.reason))
                continue
            file, origin_dir = item
            origin = str(origin_dir.resolve())
            source = file.relative_to(origin_dir).as_posix()
            seen_sources.setdefault(origin, set()).add(source)
            try:
                with warnings_name(file):
                    docs = read_documents(file, origin_dir)
            except LoadError as exc:
                report.skipped.append(Skipped(str(file), exc.reason))
                continue
            except Exception as exc:  # noqa: BLE001  any failure of one file skips that file only
                log.warning("%s: %s: %s", file, type(exc).__name__, exc)
                report.skipped.append(Skipped(str(file), f"could not be read ({type(exc).__name__}: {exc})"))
                continue
            for doc in docs:
                if doc.dropped:
                    report.dropped[doc.doc_id] = doc.dropped
                if doc.doc_id in found:
                    report.skipped.append(Skipped(str(file), f"duplicate document id {doc.doc_id!r} (kept the first)"))
                    continue
                found[doc.doc_id] = (doc, origin)
                pages += len(doc.pages)
            bar.set_postfix(documents=len(found), pages=pages, refresh=False)
        _callback(progress, 0.1, f"read {len(found)} documents ({pages} pages) from {len(files)} files; chunking")

        keep: dict[str, Document] = dict(old.documents)
        origins = dict(old.origins)
        todo: list[Document] = []
        for doc_id, (doc, origin) in found.items():
            previous = old.documents.get(doc_id)
            if previous is not None and previous.hash == doc.hash:
                report.unchanged.append(doc_id)
                if origins.get(doc_id) != origin:  # same content, now also from this folder
                    origins[doc_id] = origin
                continue
            (report.updated if previous is not None else report.added).append(doc_id)
            keep[doc_id] = doc
            origins[doc_id] = origin
            todo.append(doc)
        if prune:
            walked = {str(p.resolve()) for p in paths if p.is_dir()}
            for doc_id, doc in list(keep.items()):
                origin = origins.get(doc_id)
                if origin in walked and doc_id not in found and doc.source not in seen_sources.get(origin, ()):
                    report.removed.append(doc_id)
                    del keep[doc_id]
                    origins.pop(doc_id, None)

        new_chunks = [c for doc in todo for c in chunk_document(doc, settings.chunk_size, settings.chunk_overlap)]
        new_vectors, report.chunks_embedded = _embed(new_chunks, settings, progress, old.index, old.partial_root)
        if report.changed or rebuild or old.is_new:
            old.commit(keep, origins, set(report.updated), new_chunks, new_vectors)
        shutil.rmtree(old.partial_root / PARTIAL, ignore_errors=True)
    _callback(progress, 1.0, "done")
    report.seconds = time.perf_counter() - started
    return report


_reading: ContextVar[str | None] = ContextVar("rag_reading", default=None)
_base_factory = logging.getLogRecordFactory()


def _record_naming_the_file(*args, **kwargs) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    file = _reading.get()
    if file and file not in record.getMessage():
        record.msg, record.args = f"{file}: {record.getMessage()}", None
    return record


logging.setLogRecordFactory(_record_naming_the_file)


@contextmanager
def warnings_name(file: Path):
    """Log records (pypdf's warnings among them) emitted while ``file`` is read name it."""
    token = _reading.set(str(file))
    try:
        yield
    finally:
        _reading.reset(token)


def ensure_index(settings: Settings | None = None, progress: bool | Progress = True,
                 seeds: bool | None = None) -> IngestReport | None:
    """Build the seeds index when there is no index yet; otherwise do nothing.

    ``seeds``: build them into any missing index (the start script), never, or (None) into the
    default index only; a missing index that gets no seeds raises ``IndexUnavailable`` saying how
    to make one, so a mistyped ``RAG_INDEX_DIR`` is not silently filled. An existing index is
    never touched (documents a user removed stay removed) and no lock is taken, so a reader never
    waits for a running ingest.
    """
    settings = settings or get_settings()
    where = store_location(settings)
    if is_postgres(where):
        try:
            open_store(settings)
            return None
        except IndexUnavailable as exc:
            if "no collection" not in str(exc):
                raise
            missing = exc
    elif current_generation(where) is not None:
        return None
    else:
        missing = IndexUnavailable(f"no index at {where}: run `rag ingest FOLDER` first (with the same --index, "
                                   "--store or RAG_INDEX_DIR)")
    if not (is_default_index(settings) if seeds is None else seeds):
        raise missing
    if not settings.seeds_dir.is_dir():
        raise IndexUnavailable(f"no index at {where} and no seeds folder at {settings.seeds_dir}: run `rag ingest PATH`")
    return ingest([settings.seeds_dir], settings, progress=progress)


def is_default_index(settings: Settings) -> bool:
    """Whether ``settings`` name the project's own index folder (the one the seeds are built into)."""
    where = store_location(settings)
    return not is_postgres(where) and Path(where).resolve() == Path(Settings.index_dir).resolve()


def remove(names: Iterable[str], settings: Settings | None = None, *, index: Path | str | None = None) -> list[str]:
    """Remove documents by id, source path (relative to the folder it was ingested from) or
    absolute path; return the ids removed (unknown names raise)."""
    settings = adopt_embedder(settings or get_settings(), index)
    names = list(names)
    with open_writer(settings, index) as old:
        if old.is_new:
            raise IndexUnavailable(f"no index at {store_location(settings, index)}")
        matches = {n: {d for d in old.documents if {n, str(Path(n).expanduser().resolve())} & _names_of(old, d)}
                   for n in names}
        ambiguous = {n: ids for n, ids in matches.items()
                     if len({(old.origins.get(d), old.documents[d].source) for d in ids}) > 1}
        if ambiguous:
            raise KeyError("; ".join(f"{n} names {len(ids)} documents ({', '.join(sorted(ids))}): give the id or the "
                                     "absolute path" for n, ids in ambiguous.items()))
        doomed = set().union(*matches.values())
        missing = [n for n, ids in matches.items() if not ids]
        if missing:
            raise KeyError(f"not in the index: {', '.join(missing)}")
        keep = {k: v for k, v in old.documents.items() if k not in doomed}
        origins = {k: v for k, v in old.origins.items() if k in keep}
        old.commit(keep, origins, set(), [], np.zeros((0, old.dimension), np.float32))
    return sorted(doomed)


def _names_of(index, doc_id: str) -> set[str]:
    """The names ``remove`` accepts for a document: its id, its source and its absolute path."""
    doc = index.documents[doc_id]
    names = {doc_id, doc.source}
    if index.origins.get(doc_id):
        names.add(str(Path(index.origins[doc_id]) / doc.source))
    return names


def list_documents(settings: Settings | None = None, *, index: Path | str | None = None) -> list[Document]:
    """The documents in the index, sorted by id."""
    settings = settings or get_settings()
    return sorted(open_store(settings, index).documents.values(), key=lambda d: d.doc_id)


def _embed(chunks: list[Chunk], settings: Settings, progress: bool | Progress, old: Index | None = None,
           root: Path | None = None) -> tuple[np.ndarray, int]:
    """Vectors of ``chunks`` and how many were encoded. A chunk whose embedded text is already in
    ``old``, or in the batches an interrupted ingest left under ``root``, is not encoded again.

    Each batch is written to ``root/PARTIAL`` as soon as it is embedded (``.npy`` + JSON hashes),
    so a re-run after Ctrl-C resumes where it stopped; a successful save removes the folder.
    """
    embedder = get_embedder(settings.embedder, settings.threads)
    if not chunks:
        return np.zeros((0, embedder.dimension), dtype=np.float32), 0
    texts = [Index.chunk_text(c) for c in chunks]
    keys = [_text_key(t) for t in texts]
    known = _known_vectors(set(keys), old, root / PARTIAL if root else None, settings.embedder)
    # Longest first, so each batch pads little (the encoder sorts only within one call) and the
    # ETA errs on the long side.
    todo = sorted({k: i for i, k in enumerate(keys) if k not in known}.values(), key=lambda j: -len(texts[j]))
    bar = tqdm(total=len(todo), desc="embedding", unit="chunk", disable=not _console(progress, len(todo)))
    started = time.perf_counter()
    for i in range(0, len(todo), EMBED_BATCH):
        batch = todo[i : i + EMBED_BATCH]
        vectors = embedder.encode([texts[j] for j in batch], batch_size=settings.batch_size)
        known.update({keys[j]: v for j, v in zip(batch, vectors)})
        if root is not None:
            _save_partial(root / PARTIAL, settings.embedder, [keys[j] for j in batch], vectors)
        bar.update(len(batch))
        done = i + len(batch)
        rate = done / max(time.perf_counter() - started, 1e-9)
        _callback(progress, 0.1 + 0.85 * done / len(todo),
                  f"embedded {done}/{len(todo)} chunks, {rate:.1f} chunks/s, ETA {(len(todo) - done) / rate:.0f} s")
    bar.close()
    return np.stack([known[k] for k in keys]).astype(np.float32), len(todo)


PARTIAL = ".embedding-partial"


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _known_vectors(keys: set[str], old: Index | None, partial: Path | None, embedder: str) -> dict[str, np.ndarray]:
    """Vectors for ``keys`` already in the old index or in an interrupted ingest's batches."""
    known: dict[str, np.ndarray] = {}
    if old is not None and old.config.get("embedder") == embedder:
        for row, chunk in enumerate(old.chunks):
            key = _text_key(Index.chunk_text(chunk))
            if key in keys:
                known[key] = old.vectors[row]
    if partial is not None and (partial / "embedder").exists() and (partial / "embedder").read_text() == embedder:
        for names in sorted(partial.glob("*.json")):
            try:
                batch_keys = json.loads(names.read_text())
                vectors = np.load(names.with_suffix(".npy"), allow_pickle=False)
            except (OSError, ValueError):
                continue  # a batch cut short by the interruption
            known.update({k: v for k, v in zip(batch_keys, vectors) if k in keys})
    return known


def _save_partial(folder: Path, embedder: str, keys: list[str], vectors: np.ndarray) -> None:
    if not (folder / "embedder").exists() or (folder / "embedder").read_text() != embedder:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        (folder / "embedder").write_text(embedder)
    name = folder / uuid.uuid4().hex
    with open(name.with_suffix(".npy"), "wb") as f:
        np.save(f, vectors, allow_pickle=False)
    name.with_suffix(".json").write_text(json.dumps(keys))  # written last: marks the batch complete


def _console(progress: bool | Progress, n: int) -> bool:
    return progress is True and n > 1


def _callback(progress: bool | Progress, fraction: float, message: str) -> None:
    if callable(progress):
        progress(fraction, message)
