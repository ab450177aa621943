"""The tutorial's names and defaults, shared by every target (a leaf module: it imports nothing).

The registered model ``sklearn_mnist`` with the notebook's tags and description, its file name,
the environment ``tutorial-env`` version ``"1"``, and the package's own shared settings.
"""

from __future__ import annotations

from typing import Literal

MODEL_NAME = "sklearn_mnist"
MODEL_FILENAME = "sklearn_mnist_model.pkl"
MODEL_TAGS = {"data": "mnist", "model": "classification"}
MODEL_DESCRIPTION = "Mnist handwriting recognition"
ENVIRONMENT_NAME = "tutorial-env"
ENVIRONMENT_VERSION = "1"

Target = Literal["local", "aci", "aks"]
#: Where the tutorial's model can be deployed: the inference server on 127.0.0.1, ACI, AKS.
TARGETS: tuple[Target, ...] = ("local", "aci", "aks")

#: Environment variable holding a service key for the scoring calls (never printed).
KEY_ENV = "MNIST_ACI_SERVICE_KEY"
#: How many lines of a service's log a failure report shows.
LOG_TAIL_LINES = 40
