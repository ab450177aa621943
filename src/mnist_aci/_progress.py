"""Progress lines for steps that take more than a second."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def step(title: str, *, heartbeat_s: float = 10.0) -> Iterator[None]:
    """Print ``title``, a line every ``heartbeat_s`` seconds while it runs, then its duration."""
    print(f"==> {title}", flush=True)
    start = time.perf_counter()
    done = threading.Event()

    def beat() -> None:
        while not done.wait(heartbeat_s):
            print(f"    ... {time.perf_counter() - start:.0f} s", flush=True)

    ticker = threading.Thread(target=beat, daemon=True)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()
    print(f"    done in {time.perf_counter() - start:.1f} s", flush=True)
