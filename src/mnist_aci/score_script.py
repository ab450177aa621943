"""Step 2 of the tutorial: the entry script ``score.py`` (``init()`` loads the model, ``run(raw_data)`` predicts).

The project's ``score.py`` keeps the tutorial's contract, published beside it as the OpenAPI 3 document
``swagger3.json``, and imports its request handling from ``score_io.py`` beside it; this module finds which
script to deploy (``mnist-aci init`` copies all three into a folder of yours to edit) and stages it with the
files beside it in the folder that every target deploys.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

from .errors import DeploymentError
from .project_files import CONTRACT, SCORE_IO, SCORE_PY, SCORE_SIBLINGS, packaged_file

log = logging.getLogger(__name__)


def default_entry_script() -> Path:
    """``score.py`` in the current folder, else the one installed with the package."""
    here = Path(SCORE_PY)
    return here if here.is_file() else packaged_file(SCORE_PY)


def resolve_entry_script(entry_script: str | Path | None) -> Path:
    """The entry script to deploy (``entry_script``, else :func:`default_entry_script`), said out loud
    (as given, or as "the one installed with mnist-aci": no machine's paths in a notebook's outputs)."""
    script = Path(entry_script) if entry_script else default_entry_script()
    if not entry_script and script != Path(SCORE_PY):  # the default fell back to the installed copy
        log.info("    entry script: score.py installed with mnist-aci (mnist-aci init copies it here to edit)")
        log.debug("    installed at %s", script)
    else:
        log.info("    entry script: %s", script)
    return script


#: The ``?version=`` of ``/swagger.json`` that serves :data:`~mnist_aci.project_files.CONTRACT`.
CONTRACT_VERSION = "3"


def stage_scoring_folder(entry_script: str | Path, folder: str | Path) -> Path:
    """Copy ``entry_script`` (as ``score.py``) and the files beside it that go with it (``score_io.py``, the
    contract ``swagger3.json``: :data:`~mnist_aci.project_files.SCORE_SIBLINGS`) into ``folder``; returns ``folder``.

    The folder (created if needed) holds nothing else: the inference server reads any ``config.json``
    beside the script as its own settings. It serves ``swagger3.json`` from there at
    ``/swagger.json?version=3``; a script without one beside it is staged alone (and logged), and the
    server then serves a generic document of its own there (empty input and output schemas). A script that
    imports ``score_io`` without ``score_io.py`` beside it is refused: it could not start.
    """
    script, target = Path(entry_script), Path(folder)
    if not script.is_file():
        raise DeploymentError(f"Entry script {script} does not exist. Pass the path of score.py.")
    siblings = [script.parent / name for name in SCORE_SIBLINGS if (script.parent / name).is_file()]
    if script.parent / SCORE_IO not in siblings and imports_score_io(script):
        raise DeploymentError(
            f"Entry script {script} imports score_io, but there is no {SCORE_IO} beside it. Copy {SCORE_IO} next "
            f"to it (mnist-aci init FOLDER writes score.py with {SCORE_IO} and {CONTRACT}), then deploy again."
        )
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(script, target / SCORE_PY)
    for sibling in siblings:
        shutil.copyfile(sibling, target / sibling.name)
    if script.parent / CONTRACT not in siblings:
        log.info("    no %s beside %s: the service is deployed without its published contract", CONTRACT, script)
    return target


#: An ``import score_io`` or ``from score_io import ...`` statement, at the start of a line.
IMPORTS_SCORE_IO = re.compile(rf"^\s*(?:import|from)\s+{Path(SCORE_IO).stem}\b", re.MULTILINE)


def imports_score_io(script: Path) -> bool:
    """Whether ``script`` imports ``score_io`` (the project's score.py does; the tutorial's own does not)."""
    return IMPORTS_SCORE_IO.search(script.read_text(encoding="utf-8", errors="replace")) is not None
