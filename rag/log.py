"""The console of the faces (``rag`` commands, the start script): what they say on stderr.

``rag``'s own records show from INFO up (progress lines such as a first run's model preparation,
as bare messages; warnings with their level and logger). Other libraries' records and Python
warnings (TracerWarning, UserWarning, onnxruntime's hints logged on the root logger, bm25s's debug
lines, which bm25s lets through by setting its own logger to DEBUG) show only with ``verbose``, from
INFO up; errors of any library always show.
"""
from __future__ import annotations

import logging
import os
import sys

OWN = "rag"


class _Stderr(logging.StreamHandler):
    """Writes to the current ``sys.stderr`` (tests and servers may replace it after setup)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class _Console(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if record.levelno == logging.INFO and _is_own(record):
            return record.getMessage()  # a progress line
        return super().format(record)


def _is_own(record: logging.LogRecord) -> bool:
    return record.name == OWN or record.name.startswith(OWN + ".")


def configure(verbose: bool = False) -> None:
    """Set up the console once per process (calling again switches ``verbose``)."""
    least = logging.INFO if verbose else logging.ERROR

    def shown(record: logging.LogRecord) -> bool:
        return record.levelno >= (logging.INFO if _is_own(record) else least)

    handler = next((h for h in logging.root.handlers if isinstance(h, _Stderr)), None)
    if handler is None:
        handler = _Stderr()
        handler.setFormatter(_Console("%(levelname)s %(name)s: %(message)s"))
        logging.root.addHandler(handler)
    handler.filters = [shown]
    if verbose:
        logging.root.setLevel(logging.INFO)
    logging.getLogger(OWN).setLevel(logging.INFO)
    logging.captureWarnings(True)  # Python warnings become records of "py.warnings": shown as above
    if not verbose:
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
