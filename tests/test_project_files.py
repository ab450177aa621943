"""mnist-aci init's writer: all the tutorial's files, or none of those it was writing."""

from __future__ import annotations

import errno
import shutil
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings, strategies as st

from mnist_aci.errors import ProjectFilesError
from mnist_aci.project_files import PROJECT_FILES, packaged_file, write_project_files

copy_file = shutil.copyfile
failures = st.sampled_from([OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()])


def failing_at(call: int, failure: BaseException) -> Any:
    """``shutil.copyfile`` that writes part of the ``call``-th file (0-based), then raises ``failure``."""
    calls = iter(range(len(PROJECT_FILES)))

    def copy(source: Path, destination: Path) -> Path:
        if next(calls) == call:
            Path(destination).write_bytes(Path(source).read_bytes()[:10])
            raise failure
        return Path(copy_file(source, destination))

    return copy


def contents(folder: Path) -> dict[str, bytes | None]:
    """Everything under ``folder`` (hidden files too) by relative path: a file's bytes, None for a folder."""
    return {str(path.relative_to(folder)): path.read_bytes() if path.is_file() else None for path in folder.rglob("*")}


@settings(deadline=None)  # the disk's speed varies with the machine's load
@given(
    call=st.integers(min_value=0, max_value=len(PROJECT_FILES) - 1),
    failure=failures,
    before=st.sets(st.sampled_from(PROJECT_FILES)),
    depth=st.integers(min_value=0, max_value=2),
)
def test_a_failed_write_leaves_the_files_there_before_and_removes_the_rest(
    call: int, failure: BaseException, before: set[str], depth: int
) -> None:
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        (root / "notes.txt").write_text("mine\n")
        for file in before:
            (root / file).write_text(f"my {file}\n")
        folder = root.joinpath(*["new"] * depth)
        there = contents(root)
        with mock.patch("shutil.copyfile", failing_at(call, failure)), pytest.raises(type(failure)) as raised:
            write_project_files(folder, force=True)
        if isinstance(failure, OSError):
            assert raised.type is ProjectFilesError
            assert f"into {folder}: No space left on device." in str(raised.value)
        originals = {file: packaged_file(file).read_bytes() for file in PROJECT_FILES}
        left = contents(root)
        assert set(left) == set(there)  # nothing new: no file, no temporary file, no folder
        assert all(left[path] in (there[path], originals.get(path)) for path in left)  # each one whole
