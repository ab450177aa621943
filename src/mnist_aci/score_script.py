"""Step 2 of the tutorial: the entry script ``score.py`` (``init()`` loads the model, ``run(raw_data)`` predicts).

The project's ``score.py`` keeps the tutorial's contract; this module finds which one to deploy.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .errors import DeploymentError

log = logging.getLogger(__name__)


def default_entry_script() -> Path:
    """``score.py`` in the current folder, else the project's own ``score.py`` (beside ``src/``)."""
    here = Path("score.py")
    if here.is_file():
        return here
    project = Path(__file__).resolve().parents[2] / "score.py"
    if project.is_file():
        return project
    raise DeploymentError(
        "No score.py in the current folder and none beside the mnist_aci sources. Pass entry_script=."
    )


def resolve_entry_script(entry_script: str | Path | None) -> Path:
    """The entry script to deploy (``entry_script``, else :func:`default_entry_script`), said out loud."""
    script = Path(entry_script) if entry_script else default_entry_script()
    log.info("    entry script: %s", script.resolve())
    return script
