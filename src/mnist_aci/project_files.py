"""The tutorial's working files, shipped inside the package: ``score.py``, the files that go beside it wherever
it is deployed (:data:`SCORE_SIBLINGS`: its helpers ``score_io.py`` and its service contract ``swagger3.json``),
the notebook, ``config.json.example``.

In a source checkout ``mnist_aci/files/`` holds links to the top-level files (the single source users see
and edit); a built wheel carries copies. :func:`write_project_files` is ``mnist-aci init``.
"""

from __future__ import annotations

import contextlib
import shutil
from importlib import resources
from pathlib import Path

from . import _atomic
from .errors import ProjectFilesError

SCORE_PY = "score.py"
#: What ``score.py`` imports beside the tutorial's few lines: reading requests, refusals, publishing the contract.
SCORE_IO = "score_io.py"
#: The OpenAPI 3 contract of ``score.py``'s ``/score``, kept beside it: the inference server serves it.
CONTRACT = "swagger3.json"
#: The files staged beside ``score.py`` wherever it goes (every target, ``mnist-aci init``, the wheel).
SCORE_SIBLINGS = (SCORE_IO, CONTRACT)
NOTEBOOK = "img-classification-part2-deploy.ipynb"
CONFIG_EXAMPLE = "config.json.example"
PROJECT_FILES = (SCORE_PY, *SCORE_SIBLINGS, NOTEBOOK, CONFIG_EXAMPLE)


def packaged_file(name: str) -> Path:
    """The path of one of :data:`PROJECT_FILES` as installed with the package."""
    if name not in PROJECT_FILES:
        raise ValueError(f"{name!r} is not one of the tutorial's files: {', '.join(PROJECT_FILES)}.")
    path = Path(str(resources.files("mnist_aci") / "files" / name))
    if not path.is_file():
        raise ProjectFilesError(
            f"The package's copy of {name} is missing ({path}). Reinstall mnist-aci (pip install --force-reinstall)."
        )
    return path


def write_project_files(folder: str | Path, *, force: bool = False) -> list[Path]:
    """Copy the tutorial's files into ``folder`` (created if needed); returns the paths written.

    Refuses, before writing anything, when one of them exists already, unless ``force``. Each file is written
    whole or not at all; if one cannot be written, the files and folders this call created are removed and
    :class:`ProjectFilesError` says why (no permission, a read-only disk, a parent that is a file, a full disk).
    """
    target = Path(folder)
    try:
        existing = files_in_the_way(target, force=force)
        sources = {name: packaged_file(name) for name in PROJECT_FILES}
        return copy_all(sources, target, existing)
    except ProjectFilesError:
        raise
    except OSError as exc:
        raise ProjectFilesError(
            f"Cannot write the tutorial's files into {target}: {exc.strerror or exc}. Choose a folder you can "
            "create and write to: mnist-aci init FOLDER."
        ) from exc


def files_in_the_way(target: Path, *, force: bool) -> set[Path]:
    """The tutorial's files that exist in ``target`` already (refused unless ``force``)."""
    if target.exists() and not target.is_dir():
        raise ProjectFilesError(f"{target} exists and is not a folder. Choose another folder.")
    existing = [target / name for name in PROJECT_FILES if (target / name).exists()]
    if existing and not force:
        raise ProjectFilesError(
            f"Refusing to overwrite {', '.join(str(path) for path in existing)}. Move them away, choose another "
            "folder, or pass force=True to replace them with the tutorial's originals."
        )
    return set(existing)


def copy_all(sources: dict[str, Path], target: Path, existing: set[Path]) -> list[Path]:
    """Copy each of ``sources`` into ``target`` as its name, atomically. If one fails (or the copy is interrupted),
    the files written that were not in ``existing`` and the folders created are removed again."""
    new_folders = [path for path in (target, *target.parents) if not path.exists()]  # the deepest first
    written: list[Path] = []
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name, source in sources.items():
            with _atomic.atomic_path(target / name) as tmp:
                shutil.copyfile(source, tmp)
            written.append(target / name)
    except BaseException:
        for path in set(written) - existing:
            path.unlink(missing_ok=True)
        for path in new_folders:
            with contextlib.suppress(OSError):  # left as it is if something else was put in it meanwhile
                path.rmdir()
        raise
    return written
