"""Progress through ``logging``: the library logs, the CLI and the notebook choose to show it.

Every module logs to ``logging.getLogger("mnist_aci.<module>")``. Unconfigured, nothing reaches the
screen but warnings (Python's default); :func:`show_progress` shows the progress lines as plain text
on stdout, as the CLI and the notebook do.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

PACKAGE_LOGGER = "mnist_aci"
#: The ``extra`` of a log record that starts a step of the flow; :func:`show_progress` shows it as ``==> ...``.
STEP = {"progress_step": True}
log = logging.getLogger(__name__)


class _ProgressFormatter(logging.Formatter):
    """The message alone; a step's first line marked ``==>``."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return f"==> {text}" if getattr(record, "progress_step", False) else text


class _StdoutHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stdout`` is when a line is logged (a notebook or a test may swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def show_progress(level: int = logging.INFO) -> logging.Handler:
    """Show the package's progress lines on stdout, message only (idempotent); returns the handler."""
    logger = logging.getLogger(PACKAGE_LOGGER)
    handler = next((h for h in logger.handlers if isinstance(h, _StdoutHandler)), None)
    if handler is None:
        handler = _StdoutHandler()
        handler.setFormatter(_ProgressFormatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)
    return handler


def hide_progress(handler: logging.Handler) -> None:
    """Undo :func:`show_progress`."""
    logger = logging.getLogger(PACKAGE_LOGGER)
    logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)


@contextmanager
def step(title: str, *, heartbeat_s: float = 10.0) -> Iterator[None]:
    """Log ``title``, a line every ``heartbeat_s`` seconds while it runs, then its duration."""
    log.info("%s", title, extra=STEP)
    start = time.perf_counter()
    done = threading.Event()

    def beat() -> None:
        while not done.wait(heartbeat_s):
            log.info("    ... %.0f s", time.perf_counter() - start)

    ticker = threading.Thread(target=beat, daemon=True)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()
    log.info("    done in %.1f s", time.perf_counter() - start)
