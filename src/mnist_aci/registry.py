"""Step 4 of the tutorial on Azure (SDK v1): the registered model ``sklearn_mnist`` and ``tutorial-env``.

Models are registered with the notebook's tags and description and, beside them, the versions
record of the model file (as model properties). The environment pins those exact versions, and
:func:`check_environment_pins` refuses a deployment whose environment would unpickle the model
with other ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import DeploymentError, ModelNotFoundError
from .tutorial import ENVIRONMENT_NAME, ENVIRONMENT_VERSION, MODEL_DESCRIPTION, MODEL_NAME, MODEL_TAGS
from .versions import (
    check_versions,
    exact_pins,
    read_versions,
    runtime_versions,
    serving_pip_packages,
    versions_from_properties,
)


def get_model(workspace: Any, name: str = MODEL_NAME, version: int | None = None) -> Any:
    """``Model(ws, 'sklearn_mnist')``; :class:`ModelNotFoundError` when it is not registered."""
    from azureml.core import Model
    from azureml.exceptions import ModelNotFoundException, WebserviceException

    try:
        return Model(workspace, name, version=version)
    except (ModelNotFoundException, WebserviceException) as exc:
        if "not found" not in str(exc).lower():
            raise
        raise ModelNotFoundError(
            f"No model {name!r}{f' version {version}' if version else ''} is registered in this workspace. "
            "Train one (mnist-aci train) or register a model file with register_model()."
        ) from exc


def register_model(
    workspace: Any,
    model_path: str | Path,
    *,
    name: str = MODEL_NAME,
    tags: dict[str, str] | None = None,
    description: str = MODEL_DESCRIPTION,
    properties: dict[str, str] | None = None,
) -> Any:
    """The notebook's prerequisite cell: ``Model.register(...)`` with its tags and description.

    The model file's versions record (and ``properties``) go into the model's properties.
    """
    from azureml.core import Model

    return Model.register(
        workspace=workspace,
        model_path=str(model_path),
        model_name=name,
        tags=dict(MODEL_TAGS if tags is None else tags),
        properties={**(read_versions(model_path) or {}), **(properties or {})},
        description=description,
    )


def get_or_register_model(workspace: Any, model_path: str | Path, *, name: str = MODEL_NAME) -> Any:
    """The registered model ``name``, registering ``model_path`` first when there is none."""
    try:
        return get_model(workspace, name)
    except ModelNotFoundError:
        return register_model(workspace, model_path, name=name)


def build_environment(versions: dict[str, str] | None = None, *, name: str = ENVIRONMENT_NAME) -> Any:
    """An environment for score.py, pinned to the versions a model was saved with (default: these)."""
    from azureml.core import Environment
    from azureml.core.conda_dependencies import CondaDependencies

    versions = versions or runtime_versions()
    env = Environment(name)
    env.python.conda_dependencies = CondaDependencies.create(
        python_version=versions["python"], pip_packages=["azureml-defaults", *serving_pip_packages(versions)]
    )
    return env


def register_environment(
    workspace: Any, versions: dict[str, str] | None = None, *, name: str = ENVIRONMENT_NAME
) -> Any:
    """Register a new version of ``tutorial-env`` pinned to ``versions`` (default: this Python's)."""
    return build_environment(versions, name=name).register(workspace=workspace)


def get_or_register_environment(
    workspace: Any,
    versions: dict[str, str] | None = None,
    *,
    name: str = ENVIRONMENT_NAME,
    version: str | None = ENVIRONMENT_VERSION,
) -> Any:
    """``Environment.get(workspace=ws, name="tutorial-env", version="1")``, registering it when absent."""
    from azureml.core import Environment

    try:
        return Environment.get(workspace=workspace, name=name, version=version)
    except Exception as exc:  # the SDK raises a bare Exception carrying the HTTP code
        if "Code: 404" not in str(exc):
            raise DeploymentError(f"Could not get environment {name!r} version {version}: {exc}") from exc
    return register_environment(workspace, versions, name=name)


def pinned_versions(environment: Any) -> dict[str, str]:
    """The exact pins of an environment: pip ``name==version`` and conda ``name=version[=build]``."""
    deps = environment.python.conda_dependencies
    return exact_pins([*deps.conda_packages, *deps.pip_packages])


def check_environment_pins(environment: Any, model_versions: dict[str, str] | None) -> None:
    """:func:`check_versions` of a model against an Azure ML environment's pins."""
    where = f"environment {environment.name!r} version {environment.version}"
    check_versions(model_versions, pinned_versions(environment), where)


def model_versions(model: Any) -> dict[str, str] | None:
    """The versions record stored in a registered model's properties (None if absent)."""
    return versions_from_properties(model.properties)
