"""The tutorial's names and defaults, shared by every target (a leaf module: it imports nothing).

The registered model ``sklearn_mnist`` with the notebook's tags and description, its file name,
the environment ``tutorial-env`` version ``"1"``, and the package's own shared settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

MODEL_NAME = "sklearn_mnist"
MODEL_FILENAME = "sklearn_mnist_model.pkl"
MODEL_TAGS = {"data": "mnist", "model": "classification"}
MODEL_DESCRIPTION = "Mnist handwriting recognition"
ENVIRONMENT_NAME = "tutorial-env"
ENVIRONMENT_VERSION = "1"
#: Part 1's regularization rate: ``LogisticRegression(C=1.0 / 0.5)``.
DEFAULT_REGULARIZATION = 0.5

#: How an SDK v1 web service authorizes calls: a key (ACI, AKS), or an access token (AKS only).
AuthMode = Literal["key", "token"]

#: The endpoint target's default instance type: the smallest managed online endpoints accept (1 core,
#: 3.5 GB; the model and the server need less than 0.5 GB).
DEFAULT_INSTANCE_TYPE = "Standard_DS1_v2"
#: How long the local target waits for its server to start, in seconds, when no ``timeout_sec`` is given. The cloud
#: targets have none: the SDKs' waits last until Azure ends the deployment.
LOCAL_TIMEOUT_S = 120.0

#: The local model store's folder (below the current folder, or a parent's: see :func:`project_store`).
DEFAULT_STORE = Path(".mnist_aci") / "models"
#: Environment variable holding a service key for the scoring calls (never printed).
KEY_ENV = "MNIST_ACI_SERVICE_KEY"
#: How many lines of a service's log a failure report shows.
LOG_TAIL_LINES = 40


def project_store(start: Path | None = None) -> Path:
    """The local model store a run uses by default: :data:`DEFAULT_STORE` in the current folder (``start``) or, when
    it has none, in the nearest parent folder that has one (a notebook started in ``notebooks/`` shares the project's
    models); when no folder has one, the current folder's."""
    here = Path.cwd() if start is None else Path(start)
    found = next((folder for folder in here.parents if (folder / DEFAULT_STORE).is_dir()), None)
    return found / DEFAULT_STORE if found is not None and not (here / DEFAULT_STORE).is_dir() else DEFAULT_STORE
