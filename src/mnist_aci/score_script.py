"""Step 2 of the tutorial: the entry script ``score.py`` (``init()`` loads the model, ``run(raw_data)`` predicts).

The project's ``score.py`` keeps the tutorial's contract; this module finds which one to deploy
(``mnist-aci init`` copies it into a folder of yours to edit).
"""

from __future__ import annotations

import logging
from pathlib import Path

from .project_files import SCORE_PY, packaged_file

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
