"""Helpers for the UI tests: run ``app.py`` in a subprocess on a free port with its own index."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rag.ui import WARMED_UP  # a light import: gradio loads lazily

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 300  # building the seeds index embeds every chunk on 2 shared cores


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningApp:
    url: str
    port: int
    workdir: Path
    log: Path
    process: subprocess.Popen

    @property
    def uploads(self) -> Path:
        return self.workdir / "uploads"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


@contextmanager
def running_app(workdir: Path, env: dict[str, str] | None = None, args: list[str] | None = None,
                ready: str = "config", settled: bool = True):
    """Start ``python app.py`` (or ``python *args``) with ``RAG_INDEX_DIR=workdir/index``; wait
    until ``GET ready`` answers 200 and, if ``settled``, until the app has loaded its models (their
    loading holds up requests for seconds on a busy machine)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = workdir / "app.log"
    full_env = {
        **os.environ,
        "RAG_INDEX_DIR": str(workdir / "index"),
        "RAG_HOST": "127.0.0.1",
        "RAG_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, *(args or [str(ROOT / "app.py")])], cwd=ROOT, env=full_env,
                                stdout=out, stderr=subprocess.STDOUT)
    app = RunningApp(f"http://127.0.0.1:{port}/", port, workdir, log, proc)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {proc.returncode}:\n{app.log_tail()}")
            try:
                with urllib.request.urlopen(app.url + ready, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"app.py did not start within {START_TIMEOUT}s:\n{app.log_tail()}")
            time.sleep(0.1)  # fine enough for scripts/bench.py to time the cold start with it
        while settled and not any(m in app.log.read_text(errors="replace") for m in (WARMED_UP, "warm-up of")):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"app.py did not load its models within {START_TIMEOUT}s:\n{app.log_tail()}")
            time.sleep(0.1)
        yield app
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """Terminate ``proc``, killing it if it does not end within 20 s."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
