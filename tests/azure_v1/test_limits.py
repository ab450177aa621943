"""SDK v1 services' limits through the real azureml-core, against the stand-in: the scoring timeout (504), AKS's
queue (503), ACI's resource caps, the container's memory and a container that stops after it started; and what
the package says about each."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
from azureml.core.webservice import AksWebservice

from mnist_aci import deploy_model, predict, predict_tutorial, service_key
from mnist_aci.azure_v1.config import aci_config
from mnist_aci.azure_v1.deployment import delete_service
from mnist_aci.errors import DeploymentError, ServiceCallError
from mnist_aci.scoring import tutorial_body

if TYPE_CHECKING:
    from azureml.core import Environment, Model, Workspace
    from azureml.core.webservice import AciWebservice
    from azureml.core.webservice.aks import AksServiceDeploymentConfiguration
    from support.azure import AzureV1

    from mnist_aci.data import Dataset

#: Each ``run`` takes any body (``rawhttp``), as score.py's does: the package's predict sends ``.npy``.
SLOW_RUN_SCORE_PY = """
import time
from azureml_inference_server_http.api.aml_request import rawhttp

def init():
    pass

@rawhttp
def run(request):
    time.sleep({seconds})
    return []
"""
MEMORY_HUNGRY_SCORE_PY = """
import numpy as np
from azureml_inference_server_http.api.aml_request import rawhttp

held = []

def init():
    pass

@rawhttp
def run(request):
    held.append(np.ones(2**30, dtype=np.uint8))  # 1 GiB, kept
    return []
"""
MEMORY_HUNGRY_INIT_SCORE_PY = """
import numpy as np

def init():
    global held
    held = np.ones(2**30, dtype=np.uint8)  # 1 GiB, kept

def run(raw_data):
    return []
"""
DYING_SCORE_PY = """
import os
import signal
from azureml_inference_server_http.api.aml_request import rawhttp

def init():
    pass

@rawhttp
def run(request):
    os.killpg(0, signal.SIGKILL)  # the whole container: the server and its workers
"""


def script(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "score.py"
    path.write_text(source)
    return path


def aks(my_aks: str, **settings: int) -> AksServiceDeploymentConfiguration:
    return AksWebservice.deploy_configuration(compute_target_name=my_aks, cpu_cores=1, memory_gb=1, **settings)


@pytest.mark.server
def test_aci_answers_504_past_its_one_minute_timeout_and_the_package_says_it_cannot_be_raised(
    azure_v1: AzureV1,
    workspace: Workspace,
    model: Model,
    environment: Environment,
    sample_data: Dataset,
    tmp_path: Path,
) -> None:
    azure_v1.services.limits.aci_scoring_timeout_s = 1.0  # the stand-in's own setting: ACI's minute, shortened
    slow = script(tmp_path, SLOW_RUN_SCORE_PY.format(seconds=5))
    service: AciWebservice = deploy_model("aci", model, workspace=workspace, environment=environment, entry_script=slow)
    try:
        images = sample_data.x_test[:5]
        assert requests.post(service.scoring_uri, data=tutorial_body(images), timeout=30).status_code == 504
        with pytest.raises(ServiceCallError) as failed:
            predict(service, images)
        with pytest.raises(ServiceCallError) as tutorial:  # the tutorial's service.run (the SDK retries it first)
            predict_tutorial(service, images)
    finally:
        delete_service(service)
    for error in (failed.value, tutorial.value):
        assert error.status == 504
        assert "took longer than its scoring timeout" in str(error)
        assert "one minute" in str(error)
        assert "chunk_rows" in str(error)


@pytest.mark.server
def test_aks_answers_504_past_scoring_timeout_ms_and_the_package_names_the_setting(
    azure_v1: AzureV1,
    workspace: Workspace,
    model: Model,
    environment: Environment,
    sample_data: Dataset,
    tmp_path: Path,
    my_aks: str,
) -> None:
    slow = script(tmp_path, SLOW_RUN_SCORE_PY.format(seconds=5))
    config = aks(my_aks, scoring_timeout_ms=1000)
    service: AksWebservice = deploy_model(
        "aks", model, workspace=workspace, environment=environment, entry_script=slow, deployment_config=config
    )
    try:
        with pytest.raises(ServiceCallError) as failed:
            predict(service, sample_data.x_test[:5])
    finally:
        delete_service(service)
    assert service.scoring_timeout_ms == 1000  # as the SDK read the service's record
    assert failed.value.status == 504
    assert "scoring_timeout_ms (1000 ms)" in str(failed.value)


@pytest.mark.server
def test_aks_answers_503_when_its_queue_is_full_and_the_package_says_what_to_raise(
    azure_v1: AzureV1,
    workspace: Workspace,
    model: Model,
    environment: Environment,
    sample_data: Dataset,
    tmp_path: Path,
    my_aks: str,
) -> None:
    """One replica taking one request at a time (the defaults), a wait of 100 ms in the queue: a second request
    while the first is scored is refused, after the package's own retries."""
    slow = script(tmp_path, SLOW_RUN_SCORE_PY.format(seconds=8))
    config = aks(my_aks, max_request_wait_time=100, autoscale_enabled=False, num_replicas=1)
    service: AksWebservice = deploy_model(
        "aks", model, workspace=workspace, environment=environment, entry_script=slow, deployment_config=config
    )
    body = tutorial_body(sample_data.x_test[:5])
    headers = {"Authorization": f"Bearer {service_key(service)}"}
    first: list[int] = []
    try:
        scoring = threading.Thread(
            target=lambda: first.append(requests.post(service.scoring_uri, data=body, headers=headers).status_code)
        )
        scoring.start()
        queue = azure_v1.services.limits.queue(azure_v1.services.services[service.name].record)
        assert queue is not None
        while queue.in_flight == 0 and scoring.is_alive():  # the first request is being scored
            scoring.join(0.05)
        with pytest.raises(ServiceCallError) as refused:
            predict(service, sample_data.x_test[:5], connections=1)
        scoring.join()
    finally:
        delete_service(service)
    assert first == [200]
    message = str(refused.value)
    assert refused.value.status == 503
    assert "queue is full" in message
    assert "max_request_wait_time (100 ms)" in message
    assert "num_replicas" in message


def test_aci_refuses_more_cores_or_memory_than_a_container_group_has(
    azure_v1: AzureV1, workspace: Workspace, model: Model, environment: Environment
) -> None:
    with pytest.raises(DeploymentError) as refused:
        deploy_model(
            "aci",
            model,
            workspace=workspace,
            environment=environment,
            deployment_config=aci_config(cpu_cores=64, memory_gb=512),
        )
    message = str(refused.value)
    assert "The requested resource with '64' CPU and '512' GB memory is not available" in message
    assert "31 cores and 240 GB" in message
    assert azure_v1.services.services == {}  # nothing deployed


@pytest.mark.server
def test_a_container_over_its_memory_gb_is_killed_and_the_package_says_to_raise_memory_gb(
    azure_v1: AzureV1,
    workspace: Workspace,
    model: Model,
    environment: Environment,
    sample_data: Dataset,
    tmp_path: Path,
) -> None:
    hungry = script(tmp_path, MEMORY_HUNGRY_SCORE_PY)
    service: AciWebservice = deploy_model(
        "aci",
        model,
        workspace=workspace,
        environment=environment,
        entry_script=hungry,
        deployment_config=aci_config(memory_gb=0.5),
    )
    try:
        with pytest.raises(ServiceCallError) as failed:
            predict(service, sample_data.x_test[:5])
        service.update_deployment_state()
        assert service.state == "Unhealthy"
        assert "OOMKilled" in service.get_logs()
    finally:
        delete_service(service)
    message = str(failed.value)
    assert "out of memory" in message
    assert "Raise memory_gb (0.5 GB now)" in message


@pytest.mark.server
def test_a_container_out_of_memory_in_init_fails_its_deployment_saying_to_raise_memory_gb(
    azure_v1: AzureV1, workspace: Workspace, model: Model, environment: Environment, tmp_path: Path
) -> None:
    hungry = script(tmp_path, MEMORY_HUNGRY_INIT_SCORE_PY)
    with pytest.raises(DeploymentError) as failed:
        deploy_model(
            "aci",
            model,
            workspace=workspace,
            environment=environment,
            entry_script=hungry,
            deployment_config=aci_config(memory_gb=0.5),
        )
    message = str(failed.value)
    assert "OOMKilled" in message
    assert "its container ran out of memory: raise memory_gb" in message
    assert azure_v1.services.services == {}


@pytest.mark.server
def test_a_container_that_dies_after_starting_makes_the_service_unhealthy(
    azure_v1: AzureV1,
    workspace: Workspace,
    model: Model,
    environment: Environment,
    sample_data: Dataset,
    tmp_path: Path,
) -> None:
    dying = script(tmp_path, DYING_SCORE_PY)
    service: AciWebservice = deploy_model(
        "aci", model, workspace=workspace, environment=environment, entry_script=dying
    )
    try:
        with pytest.raises(ServiceCallError) as failed:
            predict(service, sample_data.x_test[:5])
        service.update_deployment_state()
        assert service.state == "Unhealthy"
        assert "exited with code -9" in service.error["message"]
    finally:
        delete_service(service)
    message = str(failed.value)
    assert "is Unhealthy" in message
    assert "exited with code -9" in message
