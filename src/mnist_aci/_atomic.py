"""Atomic file output: a result file is either complete or absent, never half-written."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` in one step."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        Path(tmp).replace(target)
    finally:
        if Path(tmp).exists():
            Path(tmp).unlink()


def write_text(target: str | Path, content: str) -> Path:
    """Write ``content`` as UTF-8 text, atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(content, encoding="utf-8")
    return Path(target)


def write_json(target: str | Path, content: Any) -> Path:
    """Write ``content`` as indented JSON, atomically."""
    return write_text(target, json.dumps(content, indent=2, sort_keys=True) + "\n")
