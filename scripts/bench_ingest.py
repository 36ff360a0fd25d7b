"""Ingest speed, side by side in one run: `rag ingest`, its raw encoder, and the LangChain tutorial.

    .venv/bin/python scripts/bench_ingest.py ../shared/datasets/scifact/corpus.jsonl [--docs 1500]

1. rag: ``rag.ingest`` of the first N documents into a fresh index (model already loaded).
2. raw encoder: the same embedder (same backend) encoding exactly the chunk texts that ingest embedded,
   in one call.
3. LangChain tutorial pipeline (python.langchain.com "Build a semantic search engine"): documents →
   ``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)`` →
   ``InMemoryVectorStore.add_documents`` with sentence-transformers embeddings of the same model
   (what ``HuggingFaceEmbeddings`` does: ``model.encode(texts)``, on torch whatever ``RAG_EMBEDDER`` says).
Prints one JSON line per pipeline and the two ratios the issue sets targets for.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus", type=Path, help="a BEIR corpus.jsonl")
    ap.add_argument("--docs", type=int, default=1500)
    args = ap.parse_args()
    import rag
    from rag.config import Settings
    from rag.embed import get_embedder
    from rag.index import Index

    lines = [ln for ln in args.corpus.read_text().splitlines() if ln.strip()][: args.docs]
    rows = [json.loads(ln) for ln in lines]
    settings = Settings.from_env()
    embedder = get_embedder(settings.embedder, settings.threads)
    embedder.encode(["warm up"])
    out = {"embedder": settings.embedder, "load average at start": round(os.getloadavg()[0], 2), "documents": len(rows)}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "corpus.jsonl").write_text("\n".join(lines) + "\n")
        started = time.perf_counter()
        report = rag.ingest([Path(tmp) / "corpus.jsonl"], settings.replace(index_dir=Path(tmp) / "index"),
                            progress=False)
        seconds = time.perf_counter() - started
        texts = [Index.chunk_text(c) for c in Index.load(Path(tmp) / "index").chunks]
    out["rag"] = {"seconds": round(seconds, 2), "chunks": report.chunks_embedded,
                  "docs/s": round(len(rows) / seconds, 2), "chunks/s": round(report.chunks_embedded / seconds, 2)}
    print(json.dumps({"rag": out["rag"]}), flush=True)

    started = time.perf_counter()
    embedder.encode(texts, batch_size=settings.batch_size)
    seconds = time.perf_counter() - started
    out["raw encoder"] = {"seconds": round(seconds, 2), "chunks": len(texts), "chunks/s": round(len(texts) / seconds, 2)}
    print(json.dumps({"raw encoder": out["raw encoder"]}), flush=True)

    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_core.vectorstores import InMemoryVectorStore
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    class SentenceTransformerEmbeddings(Embeddings):
        def embed_documents(self, texts):
            return embedder.model.encode(texts).tolist()

        def embed_query(self, text):
            return embedder.model.encode(text).tolist()

    started = time.perf_counter()
    docs = [Document(page_content=f"{r.get('title', '')}\n{r['text']}", metadata={"id": r["_id"]}) for r in rows]
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True).split_documents(docs)
    InMemoryVectorStore(SentenceTransformerEmbeddings()).add_documents(splits)
    seconds = time.perf_counter() - started
    out["langchain tutorial"] = {"seconds": round(seconds, 2), "chunks": len(splits),
                                 "docs/s": round(len(rows) / seconds, 2), "chunks/s": round(len(splits) / seconds, 2)}
    print(json.dumps({"langchain tutorial": out["langchain tutorial"]}), flush=True)
    out["ingest / raw encoder (chunks/s)"] = round(out["rag"]["chunks/s"] / out["raw encoder"]["chunks/s"], 3)
    out["ingest / langchain (docs/s)"] = round(out["rag"]["docs/s"] / out["langchain tutorial"]["docs/s"], 3)
    out["load average at end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
