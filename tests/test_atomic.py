"""Atomic output files: whole or absent, with the mode ``open()`` gives under the umask."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from mnist_aci import _atomic

umasks = st.integers(min_value=0, max_value=0o777)


@contextmanager
def umask(value: int) -> Iterator[None]:
    previous = os.umask(value)
    try:
        yield
    finally:
        os.umask(previous)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def open_mode(folder: Path) -> int:
    """The mode a plain ``open(..., "w")`` gives a new file in ``folder``, as the yardstick."""
    probe = folder / "probe"
    probe.write_text("")
    return mode_of(probe)


@settings(deadline=None)  # the disk's speed varies with the machine's load
@given(umasks)
def test_every_writer_gives_the_mode_open_gives_under_the_umask(value: int) -> None:
    with tempfile.TemporaryDirectory() as name, umask(value):
        folder = Path(name)
        written = [
            _atomic.write_text(folder / "service.log", "log\n"),
            _atomic.write_json(folder / "metrics.json", {"accuracy": 0.9}),
        ]
        with _atomic.atomic_path(folder / "conf.png") as tmp:
            tmp.write_bytes(b"png")
        written.append(folder / "conf.png")
        expected = open_mode(folder)
        assert expected == 0o666 & ~value
        assert {path.name: mode_of(path) for path in written} == {path.name: expected for path in written}


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_replaced_file_gets_the_umasks_mode_too(tmp_path: Path, mask: int, mode: int) -> None:
    target = tmp_path / "metrics.json"
    target.write_text("old\n")
    target.chmod(0o600)
    with umask(mask):
        _atomic.write_json(target, [1])
    assert (mode_of(target), target.read_text()) == (mode, "[\n  1\n]\n")


@settings(deadline=None)  # the disk's speed varies with the machine's load
@given(st.binary(max_size=64))
def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary_file(old: bytes) -> None:
    with tempfile.TemporaryDirectory() as name:
        target = Path(name) / "predictions.png"
        target.write_bytes(old)
        with pytest.raises(RuntimeError, match="disk full"), _atomic.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("disk full")
        assert target.read_bytes() == old
        assert [path.name for path in Path(name).iterdir()] == ["predictions.png"]
