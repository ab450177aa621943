"""SDK v1 services after their deployment, through the real azureml-core against the stand-in: the user's own keys,
``regen_key``, ``service.update``, ``ws.webservices`` and ``Webservice.list``, ``service.models``, ``Model.list``."""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

import pytest
import requests
from azureml.core import Model
from azureml.core.webservice import AciWebservice, AksWebservice, Webservice
from support.azure import MMS, posted_services
from support.project import SCORE_PY

from mnist_aci import deploy_model, predict
from mnist_aci.azure_v1 import registry
from mnist_aci.azure_v1.config import inference_config
from mnist_aci.azure_v1.deployment import delete_service
from mnist_aci.score_script import stage_scoring_folder
from mnist_aci.scoring import tutorial_body

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    from azureml.core import Environment, Workspace
    from azureml.core.webservice.webservice import WebserviceDeploymentConfiguration
    from sklearn.multiclass import OneVsRestClassifier
    from support.azure import AzureV1

    from mnist_aci.data import Dataset

pytestmark = pytest.mark.server

MINE = ("my-own-primary-key-0123456789", "my-own-secondary-key-0123456789")


def status_with(service: Webservice, images: np.ndarray, authorization: str | None) -> int:
    """The status of a raw scoring call carrying ``Authorization: authorization`` (none when None)."""
    headers = {"Content-Type": "application/json"} | ({"Authorization": authorization} if authorization else {})
    return requests.post(service.scoring_uri, data=tutorial_body(images), headers=headers, timeout=60).status_code


def own_keys_config(target: str, compute: str) -> WebserviceDeploymentConfiguration:
    if target == "aks":
        return AksWebservice.deploy_configuration(
            compute_target_name=compute, primary_key=MINE[0], secondary_key=MINE[1]
        )
    return AciWebservice.deploy_configuration(auth_enabled=True, primary_key=MINE[0], secondary_key=MINE[1])


@pytest.mark.parametrize("target", ["aci", "aks"])
def test_the_users_own_keys_are_the_services_and_regenerated_keys_replace_them(
    target: str,
    azure_v1: AzureV1,
    workspace: Workspace,
    model: Model,
    environment: Environment,
    my_aks: str,
    small_model: OneVsRestClassifier,
    sample_data: Dataset,
) -> None:
    config = own_keys_config(target, my_aks)
    service: AciWebservice | AksWebservice = deploy_model(
        target, model, workspace=workspace, environment=environment, deployment_config=config
    )
    images = sample_data.x_test[:20]
    expected = small_model.predict(images).tolist()
    try:
        (sent,) = posted_services(azure_v1)
        assert sent["keys"] == {"primaryKey": MINE[0], "secondaryKey": MINE[1]}
        assert service.get_keys() == MINE
        assert [status_with(service, images, f"Bearer {key}") for key in MINE] == [200, 200]
        assert predict(service, images).tolist() == expected

        service.regen_key("Primary")
        primary, secondary = service.get_keys()
        assert (primary != MINE[0], secondary) == (True, MINE[1])
        assert status_with(service, images, f"Bearer {MINE[0]}") == 401
        assert predict(service, images).tolist() == expected  # the package reads the new key
        service.regen_key("Secondary", set_key="chosen-secondary-key-0123456789")
        assert service.get_keys() == (primary, "chosen-secondary-key-0123456789")
        assert status_with(service, images, "Bearer chosen-secondary-key-0123456789") == 200
        regenerated = azure_v1.standin.server.calls_to("POST", rf"{MMS}/services/{service.name}/regenerateKeys")
        assert [call.json() for call in regenerated] == [
            {"keyType": "Primary", "keyValue": None},
            {"keyType": "Secondary", "keyValue": "chosen-secondary-key-0123456789"},
        ]
    finally:
        delete_service(service)


def test_an_update_applies_auth_at_once_and_new_models_behind_the_same_scoring_uri(
    azure_v1: AzureV1,
    workspace: Workspace,
    model: Model,
    environment: Environment,
    small_model: OneVsRestClassifier,
    small_model_file: Path,
    sample_data: Dataset,
    tmp_path: Path,
) -> None:
    service: AciWebservice = deploy_model("aci", model, workspace=workspace, environment=environment)
    images = sample_data.x_test[:20]
    expected = small_model.predict(images).tolist()
    try:
        uri = service.scoring_uri
        assert status_with(service, images, None) == 200

        service.update(auth_enabled=True, tags={"stage": "keys"}, description="now with keys")
        service.wait_for_deployment()
        assert (service.state, service.auth_enabled, service.tags) == ("Healthy", True, {"stage": "keys"})
        assert service.description == "now with keys"
        assert status_with(service, images, None) == 401
        assert predict(service, images).tolist() == expected  # the package sees key auth and sends the key

        newer = registry.register_model(workspace, small_model_file)
        source = stage_scoring_folder(SCORE_PY, tmp_path / "source" / "app")
        service.update(models=[newer], inference_config=inference_config(environment, source))
        service.wait_for_deployment()
        assert service.state == "Healthy"
        assert [served.id for served in service.models] == [newer.id] == ["sklearn_mnist:2"]
        assert service.scoring_uri == uri
        assert predict(service, images).tolist() == expected
        assert sum(container.running for container in azure_v1.standin.containers) == 1  # the old one stopped
        (patched, _) = azure_v1.standin.server.calls_to("PATCH", rf"{MMS}/services/{service.name}")
        assert {"op": "replace", "path": "/authEnabled", "value": True} in patched.json()

        renamed = [{"op": "replace", "path": "/name", "value": "another-name"}]  # Azure ML keeps a service's name
        headers = workspace._auth_object.get_authentication_header()
        refused = requests.patch(patched.url, json=renamed, headers=headers, timeout=60)
        assert (refused.status_code, refused.json()["message"]) == (400, "The request is invalid")
        assert Webservice(workspace, service.name).name == service.name
    finally:
        delete_service(service)


def test_the_troubleshooting_pages_first_steps_list_the_workspaces_services_and_their_models(
    azure_v1: AzureV1, workspace: Workspace, model: Model, environment: Environment
) -> None:
    """Microsoft's v1 troubleshooting page starts with ``ws.webservices`` and a service's ``get_logs()``."""
    service = deploy_model("aci", model, workspace=workspace, environment=environment)
    try:
        listed = workspace.webservices
        assert list(listed) == [service.name]
        found = listed[service.name]
        assert isinstance(found, AciWebservice)
        assert (found.state, found.scoring_uri) == ("Healthy", service.scoring_uri)
        assert [served.id for served in found.models] == [model.id]
        assert [served.id for served in Webservice(workspace, service.name).models] == [model.id]
        assert "Listening at" in found.get_logs()
        assert [s.name for s in Webservice.list(workspace, model_name="sklearn_mnist")] == [service.name]
        assert [s.name for s in Webservice.list(workspace, model_id=model.id, tags=[["data", "MNIST"]])] == [
            service.name
        ]
        assert Webservice.list(workspace, compute_type="AKS") == []
        assert Webservice.list(workspace, model_name="another_model") == []
    finally:
        delete_service(service)
    assert workspace.webservices == {}


def test_model_list_lists_every_model_newest_first_with_the_sdks_filters(
    azure_v1: AzureV1, workspace: Workspace, small_model_file: Path
) -> None:
    first = registry.register_model(workspace, small_model_file)
    other = registry.register_model(workspace, small_model_file, name="other_model", tags={"kind": "other"})
    second = registry.register_model(workspace, small_model_file)

    assert Model(workspace, "sklearn_mnist").version == second.version
    assert [m.id for m in Model.list(workspace)] == [second.id, other.id, first.id]
    assert [m.id for m in Model.list(workspace, name="sklearn_mnist")] == [second.id, first.id]
    assert [m.id for m in Model.list(workspace, latest=True)] == [second.id, other.id]
    assert [m.id for m in Model.list(workspace, tags=[["kind", "other"]])] == [other.id]
    assert [m.id for m in Model.list(workspace, tags=["kind"])] == [other.id]
    assert Model.list(workspace, name="nothing_of_that_name") == []


def test_model_list_follows_the_pages_of_the_service(
    azure_v1: AzureV1, workspace: Workspace, small_model_file: Path
) -> None:
    """Pages of ``count`` models: ``Model.list`` sends the ``$skipToken`` of each ``nextLink`` back. One model is
    registered through the SDK, 21 more versions of it put in the stand-in's store directly (registering 22 through
    the SDK takes half a minute)."""
    registry.register_model(workspace, small_model_file)
    (versions,) = azure_v1.workspace.models.values()
    versions += [versions[0] | {"id": f"sklearn_mnist:{n}", "version": n} for n in range(2, 23)]

    listed = Model.list(workspace, page_count=20)

    assert [m.version for m in listed] == list(range(22, 0, -1))
    queries = [urllib.parse.parse_qs(call.query) for call in azure_v1.standin.server.calls_to("GET", rf"{MMS}/models")]
    assert [query.get("$skipToken") for query in queries if query["count"] == ["20"]] == [None, ["20"]]
