"""SDK v2 operations in time: they end whether or not anyone polls; deleting what does not exist.

Through the real azure-ai-ml against the stand-in (``tests/standin``), as :mod:`test_endpoint`, with the same
fixtures (``tests/azure_v2/conftest.py``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
import requests
from azure.identity import EnvironmentCredential
from support.endpoints import deploy_to

if TYPE_CHECKING:
    from collections.abc import Callable

    from azure.ai.ml import MLClient
    from azure.ai.ml.entities import Environment, Model
    from standin.azureml_v2 import WorkspaceV2

ENDPOINTS = r".*/onlineEndpoints/[^/]+"
STATUS = r".*/mfeOperation(sStatus|Results)/[^/]+"
#: How long a test waits for the stand-in to reach a state (real seconds; the operations take milliseconds).
STATE_DEADLINE_S = 30.0


def wait_for(condition: Callable[[], object], what: str) -> None:
    """Wait until ``condition()`` holds (at most :data:`STATE_DEADLINE_S`), else fail saying ``what``."""
    deadline = time.monotonic() + STATE_DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"still not {what} after {STATE_DEADLINE_S:g} s"
        time.sleep(0.01)


def raw_delete(workspace: WorkspaceV2, path: str) -> requests.Response:
    """A DELETE sent as a script would send it (through the stand-in's proxy, signed), whose operation nobody polls."""
    token = EnvironmentCredential().get_token("https://management.azure.com/.default").token
    return requests.delete(
        f"https://management.azure.com{workspace.arm_id}/{path}?api-version=2023-04-01-preview",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


@pytest.mark.server
def test_a_delete_nobody_polls_still_ends_and_stops_the_server(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment]
) -> None:
    deploy_to(ml_client, registered, name="mnist-ep-unpolled")
    lease = workspace.endpoints["mnist-ep-unpolled"].deployments["blue"].container
    assert lease is not None
    workspace.standin.server.calls.clear()
    answer = raw_delete(workspace, "onlineEndpoints/mnist-ep-unpolled")
    assert (answer.status_code, answer.json()) == (202, None)
    assert "mfeOperationsStatus" in answer.headers["Azure-AsyncOperation"]
    wait_for(lambda: "mnist-ep-unpolled" not in workspace.endpoints, "deleted")
    wait_for(lambda: lease.stopped, "stopped")
    assert workspace.standin.server.calls_to("GET", STATUS) == []


def test_deleting_an_endpoint_that_does_not_exist_answers_204(workspace: WorkspaceV2, ml_client: MLClient) -> None:
    ml_client.online_endpoints.begin_delete(name="mnist-ep-absent").result()
    (call,) = workspace.standin.server.calls_to("DELETE", ENDPOINTS)
    assert call.status == 204
