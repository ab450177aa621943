"""The tutorial's working files, shipped inside the package: ``score.py``, its service contract
``swagger3.json``, the notebook, ``config.json.example``.

In a source checkout ``mnist_aci/files/`` holds links to the top-level files (the single source users see
and edit); a built wheel carries copies. :func:`write_project_files` is ``mnist-aci init``.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from .errors import ProjectFilesError

SCORE_PY = "score.py"
#: The OpenAPI 3 contract of ``score.py``'s ``/score``, kept beside it: the inference server serves it.
CONTRACT = "swagger3.json"
NOTEBOOK = "img-classification-part2-deploy.ipynb"
CONFIG_EXAMPLE = "config.json.example"
PROJECT_FILES = (SCORE_PY, CONTRACT, NOTEBOOK, CONFIG_EXAMPLE)


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

    Refuses, before writing anything, when one of them exists already, unless ``force``.
    """
    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise ProjectFilesError(f"{target} exists and is not a folder. Choose another folder.")
    existing = [target / name for name in PROJECT_FILES if (target / name).exists()]
    if existing and not force:
        raise ProjectFilesError(
            f"Refusing to overwrite {', '.join(str(path) for path in existing)}. Move them away, choose another "
            "folder, or pass --force to replace them with the tutorial's originals."
        )
    sources = {name: packaged_file(name) for name in PROJECT_FILES}
    target.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copyfile(source, target / name)) for name, source in sources.items()]
