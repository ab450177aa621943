"""One workspace, two SDKs: what the v1 tutorial registered is what ``--target endpoint`` finds.

On Azure, SDK v1 and SDK v2 share a workspace's environments (Microsoft Learn, "Upgrade to v2": v2 reuses
"existing assets like models and environments created using v1"). The stand-in keeps one registry of
environments behind both SDK families' routes (``standin/environment_registry.py``), so ``tutorial-env``
version 1 written by azureml-core is the version 1 that azure-ai-ml reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support.endpoints import sent
from support.project import SCORE_PY

from mnist_aci import deploy_model, predict
from mnist_aci.azure_v1 import registry as v1_registry
from mnist_aci.azure_v1.workspace import load_workspace
from mnist_aci.azure_v2 import assets as endpoint_assets
from mnist_aci.errors import VersionMismatchError
from mnist_aci.tutorial import ENVIRONMENT_NAME

if TYPE_CHECKING:
    from azure.ai.ml import MLClient
    from standin.azureml_v2 import WorkspaceV2
    from support.azure import AzureV1

    from mnist_aci.data import Dataset

ENDPOINTS = r".*/onlineEndpoints/[^/]+"
ENVIRONMENT_VERSIONS = rf".*/environments/{ENVIRONMENT_NAME}/versions/[^/]+"


def register_tutorial_env_with_v1(azure_v1: AzureV1, model_file: Path, folder: Path, **other_pins: str) -> None:
    """What ``mnist-aci run --target aci`` registers first: the model and ``tutorial-env`` version 1, by SDK v1,
    pinned to the model's versions (or to ``other_pins``: a model trained elsewhere). Signed in with the v1
    routes' own ``config.json`` (see docs/explanation/standin.md)."""
    config = folder / "v1" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps(azure_v1.workspace.config()), encoding="utf-8")
    workspace = load_workspace(config)
    model = v1_registry.register_model(workspace, model_file)
    versions = {**(v1_registry.model_versions(model) or {}), **other_pins}
    v1_registry.get_or_register_environment(workspace, versions)


@pytest.mark.server
def test_endpoint_deploys_with_the_tutorial_env_the_v1_tutorial_registered(
    azure_v1: AzureV1,
    workspace: WorkspaceV2,
    ml_client: MLClient,
    small_model_file: Path,
    sample_data: Dataset,
    tmp_path: Path,
) -> None:
    register_tutorial_env_with_v1(azure_v1, small_model_file, tmp_path)
    model = endpoint_assets.register_model(ml_client, small_model_file)

    service = deploy_model("endpoint", model, ml_client=ml_client, entry_script=SCORE_PY, name="mnist-ep-v1-env")

    assert sent(workspace, "PUT", ENVIRONMENT_VERSIONS) == []  # v2 found version 1: it registered none
    (entry,) = workspace.standin.environments.versions(ENVIRONMENT_NAME)  # no second version registered by v2
    assert (entry.version, entry.written_by) == ("1", "v1")
    (deployment,) = workspace.endpoints["mnist-ep-v1-env"].deployments.values()
    assert deployment.properties["environmentId"].endswith(f"/environments/{ENVIRONMENT_NAME}/versions/1")
    images = sample_data.x_test[:20]
    assert predict(service, images).tolist() == service.run(json.dumps({"data": images.tolist()}))
    service.delete()


def test_the_v1_environment_reads_in_v2_as_v1_wrote_it(
    azure_v1: AzureV1, workspace: WorkspaceV2, ml_client: MLClient, small_model_file: Path, tmp_path: Path
) -> None:
    register_tutorial_env_with_v1(azure_v1, small_model_file, tmp_path)
    model = endpoint_assets.register_model(ml_client, small_model_file)

    environment = endpoint_assets.get_or_register_environment(ml_client, endpoint_assets.model_versions(model))

    (written,) = azure_v1.workspace.environments[ENVIRONMENT_NAME]
    assert environment.version == "1"
    assert environment.conda_file == written["python"]["condaDependencies"]  # azureml-defaults and all
    assert environment.image == written["docker"]["baseImage"]  # SDK v1's default base image
    endpoint_assets.check_environment_pins(environment, endpoint_assets.model_versions(model))


def test_a_v1_environment_pinned_to_other_versions_is_refused_with_what_to_do(
    azure_v1: AzureV1, workspace: WorkspaceV2, ml_client: MLClient, small_model_file: Path, tmp_path: Path
) -> None:
    register_tutorial_env_with_v1(azure_v1, small_model_file, tmp_path, numpy="1.26.0")
    model = endpoint_assets.register_model(ml_client, small_model_file)

    with pytest.raises(VersionMismatchError) as refused:
        deploy_model("endpoint", model, ml_client=ml_client, entry_script=SCORE_PY, name="mnist-ep-v1-env")

    message = str(refused.value)
    assert f"environment {ENVIRONMENT_NAME!r} version 1" in message
    assert "numpy" in message
    assert "--register-environment" in message
    assert sent(workspace, "PUT", ENDPOINTS) == []  # refused before anything was created
