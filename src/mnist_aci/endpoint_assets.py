"""Step 4 of the tutorial on SDK v2: the model ``sklearn_mnist`` and the environment ``tutorial-env``.

A model registered with SDK v1 is visible to SDK v2, so ``sklearn_mnist`` is reused from the workspace
registry; a local ``.pkl`` is registered as a ``custom_model`` with the tutorial's tags and its versions
record as properties, as SDK v1 registers it. ``tutorial-env`` becomes a v2 environment: a conda
specification pinned ``==`` to the model's Python, scikit-learn, numpy and joblib plus the serving
packages, on an Azure ML base image; an existing version whose pins differ from the model's is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ModelNotFoundError
from .tutorial import ENVIRONMENT_NAME, ENVIRONMENT_VERSION, MODEL_DESCRIPTION, MODEL_FILENAME, MODEL_NAME, MODEL_TAGS
from .versions import (
    check_versions,
    exact_pins,
    read_versions,
    runtime_versions,
    serving_pip_packages,
    versions_from_properties,
)

#: The Azure ML base image of the v2 environment (the one azureml-examples use since 2025).
BASE_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"


def get_model(ml_client: Any, name: str = MODEL_NAME, version: str | None = None) -> Any:
    """``ml_client.models.get(name, version)`` (default: the latest version); :class:`ModelNotFoundError`."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        if version is None:
            return ml_client.models.get(name=name, label="latest")
        return ml_client.models.get(name=name, version=version)
    except ResourceNotFoundError as exc:
        raise ModelNotFoundError(
            f"No model {name!r}{f' version {version}' if version else ''} is registered in this workspace. "
            "Train one (mnist-aci train --target endpoint) or register a model file with register_model()."
        ) from exc


def register_model(
    ml_client: Any, model_path: str | Path, *, name: str = MODEL_NAME, properties: dict[str, str] | None = None
) -> Any:
    """``ml_client.models.create_or_update(Model(type="custom_model", ...))`` with the tutorial's tags and
    description; the model file's versions record (and ``properties``) go into the model's properties."""
    from azure.ai.ml.entities import Model

    model = Model(
        name=name,
        path=str(model_path),
        type="custom_model",
        tags=dict(MODEL_TAGS),
        description=MODEL_DESCRIPTION,
        properties={**(read_versions(model_path) or {}), **(properties or {})},
    )
    return ml_client.models.create_or_update(model)


def model_versions(model: Any) -> dict[str, str] | None:
    """The versions record stored in a registered model's properties (None if absent)."""
    return versions_from_properties(model.properties)


def download_model_file(ml_client: Any, model: Any, folder: str | Path) -> Path:
    """``ml_client.models.download(...)`` into ``folder``: the path of the model file in it."""
    ml_client.models.download(name=model.name, version=model.version, download_path=str(folder))
    found = sorted(Path(folder).rglob(MODEL_FILENAME))
    if not found:
        raise ModelNotFoundError(
            f"Model {model.name}:{model.version} holds no {MODEL_FILENAME}: it is not the tutorial's model. "
            "Register the tutorial's model file (mnist-aci train --target endpoint --retrain)."
        )
    return found[0]


def conda_specification(versions: dict[str, str]) -> dict[str, Any]:
    """The environment's conda file: Python and every pip package pinned ``==`` (as SDK v1's ``tutorial-env``)."""
    return {
        "name": ENVIRONMENT_NAME,
        "channels": ["conda-forge"],
        "dependencies": [f"python={versions['python']}", "pip", {"pip": serving_pip_packages(versions)}],
    }


def build_environment(
    versions: dict[str, str] | None = None, *, name: str = ENVIRONMENT_NAME, version: str | None = None
) -> Any:
    """A v2 ``Environment`` for score.py on :data:`BASE_IMAGE`, pinned to a model's versions (default: these)."""
    from azure.ai.ml.entities import Environment

    return Environment(
        name=name,
        version=version,
        image=BASE_IMAGE,
        conda_file=conda_specification(versions or runtime_versions()),
        description="score.py of the MNIST tutorial, pinned to the model's package versions",
    )


def register_environment(
    ml_client: Any, versions: dict[str, str] | None = None, *, name: str = ENVIRONMENT_NAME
) -> Any:
    """Register the next version of ``tutorial-env`` pinned to ``versions`` (default: this Python's)."""
    return ml_client.environments.create_or_update(build_environment(versions, name=name))


def get_or_register_environment(
    ml_client: Any,
    versions: dict[str, str] | None = None,
    *,
    name: str = ENVIRONMENT_NAME,
    version: str | None = ENVIRONMENT_VERSION,
) -> Any:
    """``ml_client.environments.get(name, version)`` (None: the latest), registering it pinned when absent."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        if version is None:
            return ml_client.environments.get(name=name, label="latest")
        return ml_client.environments.get(name=name, version=version)
    except ResourceNotFoundError:
        return ml_client.environments.create_or_update(build_environment(versions, name=name, version=version))


def pinned_versions(environment: Any) -> dict[str, str]:
    """The exact pins of a v2 environment's conda file (conda ``python=X`` and pip ``name==version``)."""
    specification = environment.conda_file if isinstance(environment.conda_file, dict) else {}
    specs: list[object] = []
    for dependency in specification.get("dependencies") or []:
        specs.extend(dependency.get("pip") or [] if isinstance(dependency, dict) else [dependency])
    return exact_pins(specs)


def check_environment_pins(environment: Any, model_versions: dict[str, str] | None) -> None:
    """:func:`~mnist_aci.versions.check_versions` of a model against a v2 environment's pins."""
    where = f"environment {environment.name!r} version {environment.version}"
    check_versions(model_versions, pinned_versions(environment), where)
