"""Step 4 of the tutorial on SDK v2: the model ``sklearn_mnist`` and the environment ``tutorial-env``.

A model registered with SDK v1 is visible to SDK v2, so ``sklearn_mnist`` is reused from the workspace
registry; a local ``.pkl`` is registered as a ``custom_model`` with the tutorial's tags and its versions
record as properties, as SDK v1 registers it. ``tutorial-env`` becomes a v2 environment: a conda
specification pinned to the model's Python (major.minor), and ``==`` to its scikit-learn, numpy and joblib plus
the serving packages, on an Azure ML base image; the pins are resolved for the image's platform and Python
before they are registered, and an existing version whose pins differ from the model's is refused.

The workspace's blob datastore may hold no credentials (Azure's default for new workspaces): the model file is
then uploaded with the caller's own sign-in, which needs the Storage Blob Data Contributor role on the
workspace's storage account. That is said before the upload, and a refusal becomes one clear error.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelNotFoundError, WorkspaceError, sdk_message
from ..tutorial import ENVIRONMENT_NAME, ENVIRONMENT_VERSION, MODEL_DESCRIPTION, MODEL_FILENAME, MODEL_NAME, MODEL_TAGS
from ..versions import (
    check_versions,
    exact_pins,
    python_minor,
    read_versions,
    resolve_serving_packages,
    runtime_versions,
    serving_pip_packages,
    versions_from_properties,
)

log = logging.getLogger(__name__)

#: The Azure ML base image of the v2 environment (the one azureml-examples use since 2025).
BASE_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"

if TYPE_CHECKING:
    from azure.ai.ml import MLClient
    from azure.ai.ml.entities import Environment, Model


def get_model(ml_client: MLClient, name: str = MODEL_NAME, version: str | None = None) -> Model:
    """``ml_client.models.get(name, version)`` (default: the latest active version); :class:`ModelNotFoundError`,
    which says when the model's versions exist but are all archived."""
    from azure.ai.ml.exceptions import ValidationException
    from azure.core.exceptions import ResourceNotFoundError

    try:
        found: Model = ml_client.models.get(name=name, label="latest" if version is None else None, version=version)
        return found
    except (ResourceNotFoundError, ValidationException) as exc:  # no active version: the SDK's ValidationException
        archived = [] if version else archived_versions(ml_client, name)
        if archived:
            raise ModelNotFoundError(
                f"Every version of model {name!r} in this workspace is archived ({', '.join(archived)}). Restore "
                f"one (az ml model restore --name {name} --version {archived[0]}) or train and register a new one "
                "(mnist-aci train --target endpoint)."
            ) from exc
        raise ModelNotFoundError.unregistered(
            name,
            version,
            remedy="Train one (mnist-aci train --target endpoint) or register a model file with register_model().",
        ) from exc


def archived_versions(ml_client: MLClient, name: str) -> list[str]:
    """The archived versions of a model, newest first (``models.list(..., list_view_type=ARCHIVED_ONLY)``)."""
    from azure.ai.ml.constants import ListViewType
    from azure.core.exceptions import AzureError

    try:
        found = ml_client.models.list(name=name, list_view_type=ListViewType.ARCHIVED_ONLY)
        return sorted((str(model.version) for model in found), key=lambda v: (len(v), v), reverse=True)
    except AzureError:
        return []


def register_model(
    ml_client: MLClient, model_path: str | Path, *, name: str = MODEL_NAME, properties: dict[str, str] | None = None
) -> Model:
    """``ml_client.models.create_or_update(Model(type="custom_model", ...))`` with the tutorial's tags and
    description; the model file's versions record (and ``properties``) go into the model's properties.

    When the workspace's datastore holds no credentials the upload uses the caller's sign-in: that is said
    first, and a storage refusal becomes a :class:`WorkspaceError` naming the role to ask for."""
    from azure.ai.ml.entities import Model
    from azure.ai.ml.exceptions import ValidationException
    from azure.core.exceptions import HttpResponseError

    datastore = ml_client.datastores.get_default()
    account = getattr(datastore, "account_name", "the workspace's storage account")
    if type(datastore.credentials).__name__ == "NoneCredentialConfiguration":
        log.info(
            "    The model file is uploaded with your own sign-in (datastore %s holds no credentials): that needs "
            "the Storage Blob Data Contributor role on storage account %s.",
            datastore.name,
            account,
        )
    model = Model(
        name=name,
        path=str(model_path),
        type="custom_model",
        tags=dict(MODEL_TAGS),
        description=MODEL_DESCRIPTION,
        properties={**(read_versions(model_path) or {}), **(properties or {})},
    )
    try:
        registered: Model = ml_client.models.create_or_update(model)
        return registered
    except (ValidationException, HttpResponseError) as exc:
        text = sdk_message(exc)
        if "permission" not in text.lower() and "authoriz" not in text.lower():
            raise
        raise WorkspaceError(
            f"Storage account {account} refused the model upload ({text}). Your account needs the Storage Blob "
            "Data Contributor role on it (Azure portal: the storage account, Access control (IAM), Add role "
            "assignment), or the workspace's datastore needs credentials; then run again."
        ) from exc


def model_versions(model: Any) -> dict[str, str] | None:
    """The versions record stored in a registered model's properties (None if absent)."""
    return versions_from_properties(model.properties)


def download_model_file(ml_client: MLClient, model: Any, folder: str | Path) -> Path:
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
    """The environment's conda file: Python major.minor and every pip package pinned ``==`` (as SDK v1's
    ``tutorial-env``)."""
    return {
        "name": ENVIRONMENT_NAME,
        "channels": ["conda-forge"],
        "dependencies": [f"python={python_minor(versions['python'])}", "pip", {"pip": serving_pip_packages(versions)}],
    }


def build_environment(
    versions: dict[str, str] | None = None, *, name: str = ENVIRONMENT_NAME, version: str | None = None
) -> Environment:
    """A v2 ``Environment`` for score.py on :data:`BASE_IMAGE`, pinned to a model's versions (default: these);
    the pins are first resolved for the image's platform and Python (:class:`EnvironmentSpecError` if they
    cannot be installed there)."""
    from azure.ai.ml.entities import Environment

    versions = versions or runtime_versions()
    resolve_serving_packages(serving_pip_packages(versions), versions["python"])
    return Environment(
        name=name,
        version=version,
        image=BASE_IMAGE,
        conda_file=conda_specification(versions),
        description="score.py of the MNIST tutorial, pinned to the model's package versions",
    )


def register_environment(
    ml_client: MLClient, versions: dict[str, str] | None = None, *, name: str = ENVIRONMENT_NAME
) -> Environment:
    """Register ``tutorial-env`` pinned to ``versions`` (default: this Python's). As azure-ai-ml does without a
    version: the latest version if it has the same content, else (after the service's 409) the next one."""
    registered: Environment = ml_client.environments.create_or_update(build_environment(versions, name=name))
    return registered


def get_or_register_environment(
    ml_client: MLClient,
    versions: dict[str, str] | None = None,
    *,
    name: str = ENVIRONMENT_NAME,
    version: str | None = ENVIRONMENT_VERSION,
) -> Environment:
    """``ml_client.environments.get(name, version)`` (None: the latest), registering it pinned when absent."""
    from azure.core.exceptions import ResourceNotFoundError

    pinned = build_environment(versions, name=name, version=version)  # resolved for the image: no cloud call yet
    environment: Environment
    try:
        environment = ml_client.environments.get(
            name=name, label="latest" if version is None else None, version=version
        )
    except ResourceNotFoundError:
        environment = ml_client.environments.create_or_update(pinned)
    return environment


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
