"""Step 4 of the tutorial on Azure (SDK v1): the registered model ``sklearn_mnist`` and ``tutorial-env``.

Models are registered with the notebook's tags and description and, beside them, the versions
record of the model file (as model properties). The environment pins those exact versions, and
:func:`check_environment_pins` refuses a deployment whose environment would unpickle the model
with other ones.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DeploymentError, ModelNotFoundError
from ..tutorial import ENVIRONMENT_NAME, ENVIRONMENT_VERSION, MODEL_DESCRIPTION, MODEL_NAME, MODEL_TAGS
from ..versions import (
    check_serving_versions,
    exact_pins,
    python_minor,
    read_versions,
    resolve_serving_packages,
    runtime_versions,
    serving_pip_packages,
    versions_from_properties,
)
from .sdk_errors import azure_ml_call, describe

if TYPE_CHECKING:
    from azureml.core import Environment, Model, Workspace


def get_model(workspace: Workspace, name: str = MODEL_NAME, version: int | None = None) -> Model:
    """``Model(ws, 'sklearn_mnist')``; :class:`ModelNotFoundError` when it is not registered."""
    from azureml.core import Model
    from azureml.exceptions import ModelNotFoundException, WebserviceException

    with azure_ml_call(f"Looking up model {name!r} in the workspace"):
        try:
            return Model(workspace, name, version=version)
        except (ModelNotFoundException, WebserviceException) as exc:
            if "not found" not in str(exc).lower():
                raise
            raise ModelNotFoundError.unregistered(
                name, version, remedy="Train one (mnist-aci train) or register a model file with register_model()."
            ) from exc


def register_model(
    workspace: Workspace,
    model_path: str | Path,
    *,
    name: str = MODEL_NAME,
    tags: dict[str, str] | None = None,
    description: str = MODEL_DESCRIPTION,
    properties: dict[str, str] | None = None,
) -> Model:
    """The notebook's prerequisite cell: ``Model.register(...)`` with its tags and description.

    The model file's versions record (and ``properties``) go into the model's properties. ``Model.register``
    uploads only files below the current folder; a file elsewhere is uploaded from a copy made there for the
    call (:func:`below_current_folder`), under its own name.
    """
    from azureml.core import Model

    source = Path(model_path)
    if not source.is_file():
        raise ModelNotFoundError(f"Cannot register {source}: no such file. Train a model first (mnist-aci train).")
    with below_current_folder(source) as uploadable, azure_ml_call(f"Registering model {name!r} from {source}"):
        return Model.register(
            workspace=workspace,
            model_path=str(uploadable),
            model_name=name,
            tags=dict(MODEL_TAGS if tags is None else tags),
            properties={**(read_versions(source) or {}), **(properties or {})},
            description=description,
        )


@contextmanager
def below_current_folder(path: Path) -> Iterator[Path]:
    """``path`` relative to the current folder, or a copy of the file in a temporary folder made there.

    SDK v1's ``Model.register`` refuses any path outside the current folder with a bare ``PermissionError``
    (``Model._validate_model_path``). The copy keeps the file's name, which the registered model keeps too,
    and is removed after the block.
    """
    here = Path.cwd().resolve()
    resolved = path.resolve()
    if resolved.is_relative_to(here):
        yield resolved.relative_to(here)
        return
    with tempfile.TemporaryDirectory(prefix=".mnist-aci-upload-", dir=here) as folder:
        copy = Path(folder) / path.name
        shutil.copyfile(resolved, copy)
        yield Path(os.path.relpath(copy, here))


def build_environment(versions: dict[str, str] | None = None, *, name: str = ENVIRONMENT_NAME) -> Environment:
    """An environment for score.py, pinned to the versions a model was saved with (default: these)."""
    from azureml.core import Environment
    from azureml.core.conda_dependencies import CondaDependencies

    versions = versions or runtime_versions()
    env = Environment(name)
    env.python.conda_dependencies = CondaDependencies.create(
        python_version=python_minor(versions["python"]),
        pip_packages=["azureml-defaults", *serving_pip_packages(versions)],
    )
    return env


def register_environment(
    workspace: Workspace, versions: dict[str, str] | None = None, *, name: str = ENVIRONMENT_NAME
) -> Environment:
    """Register a new version of ``tutorial-env`` pinned to ``versions`` (default: this Python's)."""
    with azure_ml_call(f"Registering environment {name!r}"):
        return build_environment(versions, name=name).register(workspace=workspace)


def get_or_register_environment(
    workspace: Workspace,
    versions: dict[str, str] | None = None,
    *,
    name: str = ENVIRONMENT_NAME,
    version: str | None = ENVIRONMENT_VERSION,
) -> Environment:
    """``Environment.get(workspace=ws, name="tutorial-env", version="1")``, registering it when absent."""
    from azureml.core import Environment

    try:
        return Environment.get(workspace=workspace, name=name, version=version)
    except Exception as exc:  # the SDK raises a bare Exception carrying the HTTP code
        if "Code: 404" not in str(exc):
            raise DeploymentError(describe(f"Getting environment {name!r} version {version}", exc)) from exc
    return register_environment(workspace, versions, name=name)


def pinned_versions(environment: Environment) -> dict[str, str]:
    """The exact pins of an environment: pip ``name==version`` and conda ``name=version[=build]``."""
    deps = environment.python.conda_dependencies
    return exact_pins([*deps.conda_packages, *deps.pip_packages])


def check_environment_pins(environment: Environment, model_versions: dict[str, str] | None) -> None:
    """:func:`~mnist_aci.versions.check_serving_versions` of a model against an Azure ML environment's own pins."""
    where = f"environment {environment.name!r} version {environment.version}"
    check_serving_versions(model_versions, pinned_versions(environment), where)


def check_environment_installs(environment: Environment) -> None:
    """Resolve an environment's pip packages for the cloud image (Linux x86_64, the environment's Python)
    before any deployment: a pin the image cannot install fails here in seconds, not after its build."""
    packages = [spec for spec in environment.python.conda_dependencies.pip_packages if not spec.startswith("-")]
    python = pinned_versions(environment).get("python", runtime_versions()["python"])
    resolve_serving_packages(packages, python)


def model_versions(model: Model) -> dict[str, str] | None:
    """The versions record stored in a registered model's properties (None if absent)."""
    return versions_from_properties(model.properties)
