"""How a managed online endpoint shares its requests, through the real azure-ai-ml against the Azure stand-in: the
rollout gate beside the production traffic, a traffic split, mirror traffic, a deployment's environment variables
and an updated deployment's server."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import requests
from azure.core.exceptions import HttpResponseError
from hypothesis import given, strategies as st
from support.endpoints import deploy_to, primary_key, traffic
from support.project import SCORE_PY

from mnist_aci import predict
from mnist_aci.azure_v2 import operations, rollout
from mnist_aci.azure_v2.endpoint import create_endpoint, new_deployment
from mnist_aci.azure_v2.service import endpoint_exists, get_service
from mnist_aci.score_script import stage_scoring_folder
from mnist_aci.scoring import npy_body
from mnist_aci.tutorial import DEFAULT_INSTANCE_TYPE

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from azure.ai.ml import MLClient
    from azure.ai.ml.entities import Environment, ManagedOnlineDeployment, Model
    from standin.azureml_v2 import WorkspaceV2

    from mnist_aci.data import Dataset

WAIT_S = 120.0
#: score.py whose ``run`` answers with the deployment's variable ``MNIST_ACI_GREETING``.
GREETING_SCORE_PY = """
import os

def init():
    pass

def run(raw_data):
    return {"greeting": os.environ.get("MNIST_ACI_GREETING")}
"""


def holding_score_py(hold: Path) -> str:
    """The package's score.py, whose predictions wait while the file ``hold`` exists (a slow model)."""
    return (
        SCORE_PY.read_text()
        + f"""

_predict_now = score_io.predict


def _held_predict(model, images):
    import pathlib, time
    while pathlib.Path({str(hold)!r}).exists():
        time.sleep(0.01)
    return _predict_now(model, images)


score_io.predict = _held_predict
"""
    )


def deploy_script(
    ml_client: MLClient,
    registered: tuple[Model, Environment],
    name: str,
    script: str,
    folder: Path,
    variables: dict[str, str] | None = None,
) -> None:
    """Deployment ``blue`` of ``script`` on endpoint ``name`` (``variables``: its environment variables), with all
    the traffic: an existing endpoint gets the PUT of an existing deployment."""
    model, environment = registered
    path = folder / "score.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script)
    shutil.copy2(SCORE_PY.with_name("score_io.py"), folder)  # what the package's score.py imports; others ignore it
    code = stage_scoring_folder(path, folder / "code")
    deployment = new_deployment("blue", name, model, environment, code, DEFAULT_INSTANCE_TYPE, 1)
    deployment.environment_variables = dict(variables or {})
    if endpoint_exists(ml_client, name):
        operations.create_deployment(ml_client, deployment, None)
    else:
        create_endpoint(ml_client, deployment, timeout_sec=None, keep_failed=False)


def wait_until(condition: Callable[[], object], what: str) -> None:
    """Wait (at most :data:`WAIT_S`) until ``condition()`` holds."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.01)


def predict_connections() -> int:
    """The connections :func:`mnist_aci.predict` has open now: one thread of its pool each."""
    return sum(thread.name.startswith("mnist-aci-predict") for thread in threading.enumerate())


def in_thread(target: Callable[[], object]) -> tuple[threading.Thread, dict]:
    """``target()`` run in a thread; its result or exception lands in the dict."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = target()
        except BaseException as exc:  # reported by the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


@pytest.fixture
def client() -> Iterator[requests.Session]:
    """A client's kept-alive connection for scoring requests, closed after the test."""
    with requests.Session() as session:
        yield session


def score_once(
    client: requests.Session,
    workspace: WorkspaceV2,
    name: str,
    images: np.ndarray,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """One scoring request to endpoint ``name``, as a client sends it."""
    return client.post(
        f"https://{workspace.scoring_host(name)}/score",
        data=npy_body(images),
        headers={
            "Authorization": f"Bearer {primary_key(workspace, name)}",
            "Content-Type": "application/octet-stream",
            **(headers or {}),
        },
        timeout=60,
    )


def add_green(ml_client: MLClient, registered: tuple[Model, Environment], name: str, tmp_path: Path) -> None:
    model, environment = registered
    code = stage_scoring_folder(SCORE_PY, tmp_path / "green")
    green = new_deployment("green", name, model, environment, code, DEFAULT_INSTANCE_TYPE, 1)
    operations.create_deployment(ml_client, green, None)


@pytest.mark.server
def test_a_request_to_the_live_deployment_during_the_gate_is_answered(
    workspace: WorkspaceV2,
    ml_client: MLClient,
    registered: tuple[Model, Environment],
    sample_data: Dataset,
    tmp_path: Path,
) -> None:
    """blue takes 2 requests in parallel (1 instance x 1 request, doubled): the gate keeps one of them, never both."""
    hold = tmp_path / "hold"
    deploy_script(ml_client, registered, "mnist-ep-busy-gate", holding_score_py(hold), tmp_path / "blue")
    blue = workspace.endpoints["mnist-ep-busy-gate"].deployments["blue"]
    service = get_service(ml_client, "mnist-ep-busy-gate")
    hold.touch()
    data = (sample_data.x_train[:2500], sample_data.y_train[:2500])  # two requests of the gate's 2,000 images
    gate, rolled = in_thread(
        lambda: deploy_to(ml_client, registered, name="mnist-ep-busy-gate", rollout_data=data, min_accuracy=0.0)
    )
    try:
        wait_until(lambda: blue.concurrent >= 1 or not gate.is_alive(), "the gate to score blue")
        # every connection the gate opened (one thread of predict's each) has its request held by blue
        wait_until(lambda: blue.concurrent >= predict_connections() or not gate.is_alive(), "the gate's requests")
        gate_requests = blue.concurrent
        production, answered = in_thread(lambda: predict(service, sample_data.x_test[:5]))
        wait_until(lambda: blue.concurrent > gate_requests or not production.is_alive(), "the production request")
    finally:
        hold.unlink()
    production.join(WAIT_S)
    gate.join(WAIT_S)
    assert "error" not in answered, answered.get("error")
    assert answered["result"].shape == (5,)
    assert gate_requests == 1  # of the 2 requests blue takes in parallel
    assert "error" not in rolled, rolled.get("error")
    assert traffic(workspace, "mnist-ep-busy-gate") == {"green": 100}


@pytest.mark.server
def test_a_split_sends_each_deployment_its_share(
    workspace: WorkspaceV2,
    ml_client: MLClient,
    registered: tuple[Model, Environment],
    sample_data: Dataset,
    tmp_path: Path,
    client: requests.Session,
) -> None:
    deploy_to(ml_client, registered, name="mnist-ep-split")
    add_green(ml_client, registered, "mnist-ep-split", tmp_path)
    endpoint = ml_client.online_endpoints.get(name="mnist-ep-split")
    operations.set_traffic(ml_client, endpoint, {"blue": 90, "green": 10}, None)

    answered = Counter(
        score_once(client, workspace, "mnist-ep-split", sample_data.x_test[:1]).headers["azureml-model-deployment"]
        for _ in range(100)
    )
    assert sum(answered.values()) == 100
    assert 4 <= answered["green"] <= 20, answered  # 10 % of 100, drawn from the stand-in's seeded generator


@pytest.mark.server
def test_mirror_traffic_is_kept_and_copied_to_the_shadow_deployment(
    workspace: WorkspaceV2,
    ml_client: MLClient,
    registered: tuple[Model, Environment],
    sample_data: Dataset,
    tmp_path: Path,
    client: requests.Session,
) -> None:
    deploy_to(ml_client, registered, name="mnist-ep-mirror")
    add_green(ml_client, registered, "mnist-ep-mirror", tmp_path)
    endpoint = ml_client.online_endpoints.get(name="mnist-ep-mirror")
    endpoint.mirror_traffic = {"green": 50}
    operations.wait(ml_client.online_endpoints.begin_create_or_update(endpoint), "mirror", None)
    assert ml_client.online_endpoints.get(name="mnist-ep-mirror").mirror_traffic == {"green": 50}

    live = [score_once(client, workspace, "mnist-ep-mirror", sample_data.x_test[:1]) for _ in range(40)]
    assert {(answer.status_code, answer.headers["azureml-model-deployment"]) for answer in live} == {(200, "blue")}
    copies = workspace.mirrors.wait()
    assert 10 <= len(copies) <= 30, copies  # about half of the 40 live requests
    assert set(copies) == {("green", 200)}
    named = [
        score_once(client, workspace, "mnist-ep-mirror", sample_data.x_test[:1], {"azureml-model-deployment": "blue"})
    ]
    assert named[0].status_code == 200
    assert len(workspace.mirrors.wait()) == len(copies)  # a request naming its deployment is not mirrored

    # the package's change of traffic keeps the mirror setting
    operations.set_traffic(ml_client, ml_client.online_endpoints.get(name="mnist-ep-mirror"), {"blue": 100}, None)
    assert workspace.endpoints["mnist-ep-mirror"].properties["mirrorTraffic"] == {"green": 50}


#: Mirror settings Azure refuses, and what its refusal says.
REFUSED_MIRRORS = [
    ({"green": 60}, "at most 50 %"),
    ({"blue": 10}, "live or mirror traffic, not both"),
    ({"green": 10, "red": 10}, "one deployment only"),
    ({"red": 10}, "do not exist: red"),
]


@pytest.mark.server
def test_mirror_traffic_azure_refuses_is_refused(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment], tmp_path: Path
) -> None:
    deploy_to(ml_client, registered, name="mnist-ep-nomirror")
    add_green(ml_client, registered, "mnist-ep-nomirror", tmp_path)
    for mirror, refusal in REFUSED_MIRRORS:
        endpoint = ml_client.online_endpoints.get(name="mnist-ep-nomirror")
        endpoint.mirror_traffic = mirror
        with pytest.raises(HttpResponseError, match=refusal) as refused:
            ml_client.online_endpoints.begin_create_or_update(endpoint)
        assert refused.value.status_code == 400
    assert workspace.endpoints["mnist-ep-nomirror"].properties["mirrorTraffic"] == {}


def invoke_greeting(ml_client: MLClient, name: str, folder: Path) -> str:
    request = folder / "request.json"
    request.write_text(json.dumps({"data": []}))
    return str(json.loads(ml_client.online_endpoints.invoke(endpoint_name=name, request_file=str(request)))["greeting"])


@pytest.mark.server
def test_a_deployments_environment_variables_reach_its_container(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment], tmp_path: Path
) -> None:
    variables = {"MNIST_ACI_GREETING": "hello"}
    deploy_script(ml_client, registered, "mnist-ep-env", GREETING_SCORE_PY, tmp_path / "v1", variables)
    assert invoke_greeting(ml_client, "mnist-ep-env", tmp_path) == "hello"
    assert (
        ml_client.online_deployments.get("blue", endpoint_name="mnist-ep-env").environment_variables[
            "MNIST_ACI_GREETING"
        ]
        == "hello"
    )


@pytest.mark.server
def test_an_updated_deployment_stops_its_old_server_for_the_new_one(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment], tmp_path: Path
) -> None:
    deploy_script(
        ml_client, registered, "mnist-ep-update", GREETING_SCORE_PY, tmp_path / "v1", {"MNIST_ACI_GREETING": "hello"}
    )
    first = workspace.endpoints["mnist-ep-update"].deployments["blue"].container
    assert first is not None
    assert first.running

    deploy_script(
        ml_client, registered, "mnist-ep-update", GREETING_SCORE_PY, tmp_path / "v2", {"MNIST_ACI_GREETING": "bonjour"}
    )
    assert invoke_greeting(ml_client, "mnist-ep-update", tmp_path) == "bonjour"
    assert first.stopped  # not left running beside the new one
    second = workspace.endpoints["mnist-ep-update"].deployments["blue"].container
    assert second is not None
    assert second.running


def live_deployment_of(per_instance: int | None, instances: int) -> ManagedOnlineDeployment:
    from azure.ai.ml.entities import ManagedOnlineDeployment, OnlineRequestSettings

    settings = (
        None if per_instance is None else OnlineRequestSettings(max_concurrent_requests_per_instance=per_instance)
    )
    return ManagedOnlineDeployment(name="blue", instance_count=instances, request_settings=settings)


@pytest.mark.parametrize(
    ("per_instance", "instances", "parallel", "connections"),
    [(None, 1, 2, 1), (1, 1, 2, 1), (1, 2, 4, 2), (2, 1, 4, 2), (4, 3, 24, 2)],
)
def test_the_gate_keeps_half_of_the_live_deployments_parallel_requests_at_most(
    per_instance: int | None, instances: int, parallel: int, connections: int
) -> None:
    live = live_deployment_of(per_instance, instances)
    assert rollout.parallel_requests(live) == parallel
    assert rollout.gate_connections(live) == connections


@given(per_instance=st.integers(1, 1000), instances=st.integers(1, 50))
def test_the_gate_never_takes_the_live_deployments_whole_capacity(per_instance: int, instances: int) -> None:
    live = live_deployment_of(per_instance, instances)
    connections = rollout.gate_connections(live)
    assert 1 <= connections <= rollout.parallel_requests(live) // 2
