"""Atomic file output: a result file is either complete or absent, never half-written."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: The mode a new file is asked for, as ``open()`` asks: the umask (and any default ACL) then applies.
NEW_FILE_MODE = 0o666


def create_beside(target: Path) -> Path:
    """Create an empty file of a new, hidden name beside ``target``: its mode is the one ``open()`` would give
    ``target`` (0o666 less the umask), not ``tempfile.mkstemp``'s 0o600."""
    while True:
        candidate = target.with_name(f".{target.name}.{secrets.token_hex(6)}{target.suffix}")
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, NEW_FILE_MODE))
        except FileExistsError:  # another writer's name: draw again
            continue
        return candidate


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` in one step."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = create_beside(target)
    try:
        yield tmp
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(target: str | Path, content: str) -> Path:
    """Write ``content`` as UTF-8 text, atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(content, encoding="utf-8")
    return Path(target)


def write_json(target: str | Path, content: Any) -> Path:
    """Write ``content`` as indented JSON, atomically."""
    return write_text(target, json.dumps(content, indent=2, sort_keys=True) + "\n")
