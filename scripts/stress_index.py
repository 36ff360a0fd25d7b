"""Reader/writer stress test of the index: readers must never fail while a writer swaps generations.

One process (the writer) ingests and removes small documents in a loop; this process loads the
index with ``Index.load`` in a tight loop and counts failures. Prints one JSON line:
``{"loads": ..., "failures": ..., "swaps": ..., "errors": [...]}``; exits 1 on any failure.

    .venv/bin/python scripts/stress_index.py --loads 100000          # the acceptance run
    .venv/bin/python scripts/stress_index.py --seconds 20            # a short run (the test suite)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

TOPICS = ["Glaciers carve U-shaped valleys as they move slowly downhill.",
          "Volcanoes release ash and lava when magma reaches the surface.",
          "Coral reefs are built by colonies of tiny animals called polyps.",
          "Tides rise and fall twice a day because of the moon's gravity."]


def writer(workdir: Path) -> None:
    """Ingest and remove documents until ``workdir/stop`` appears; write the swap count to ``workdir/swaps``."""
    import rag
    from rag.config import Settings

    settings = Settings.from_env(index_dir=workdir / "index")
    docs = workdir / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for i, topic in enumerate(TOPICS):
        (docs / f"d{i}.txt").write_text(f"{topic} Note number {i}.")
    rag.ingest([docs], settings, progress=False)
    swaps, n, parent = 1, 0, os.getppid()
    while not (workdir / "stop").exists() and os.getppid() == parent:  # stop with the reader, however it ends
        n += 1
        (docs / "extra.txt").write_text(f"{TOPICS[n % len(TOPICS)]} Revision {n}.")
        rag.ingest([docs], settings, progress=False)
        rag.remove(["extra.txt"], settings)
        (docs / "extra.txt").unlink()
        swaps += 2
        (workdir / "swaps").write_text(str(swaps))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long (0: no limit)")
    parser.add_argument("--loads", type=int, default=0, help="stop after this many loads (0: no limit)")
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: a new temporary one)")
    parser.add_argument("--writer", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="rag-stress-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.writer:
        writer(workdir)
        return 0
    if not args.seconds and not args.loads:
        args.seconds = 60

    from rag.index import Index, current_generation

    root = workdir / "index"
    proc = subprocess.Popen([sys.executable, __file__, "--writer", "--workdir", str(workdir)])
    try:
        while current_generation(root) is None or not (workdir / "swaps").exists():
            if proc.poll() is not None:
                raise SystemExit(f"the writer exited with {proc.returncode}")
            time.sleep(0.2)
        loads, failures, errors = 0, 0, Counter()
        started = time.monotonic()
        while (not args.seconds or time.monotonic() - started < args.seconds) and (not args.loads or loads < args.loads):
            try:
                Index.load(root)
            except Exception as exc:  # noqa: BLE001  every failure counts
                failures += 1
                errors[f"{type(exc).__name__}: {str(exc)[:160]}"] += 1
            loads += 1
            if loads % 10_000 == 0:
                print(f"{loads} loads, {failures} failures, {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        elapsed = time.monotonic() - started
    finally:
        (workdir / "stop").touch()
        try:
            proc.wait(timeout=600)  # the writer finishes its ingest + remove
        except subprocess.TimeoutExpired:
            proc.kill()
    swaps = int((workdir / "swaps").read_text())
    print(json.dumps({"loads": loads, "failures": failures, "swaps": swaps, "seconds": round(elapsed, 1),
                      "errors": errors.most_common(5)}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
