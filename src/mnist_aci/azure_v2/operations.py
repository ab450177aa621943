"""The SDK's long-running operations, waited for with a time-out: a deployment, a change of traffic."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .._progress import step
from ..errors import DeploymentError, sdk_message
from .invoke import quiet_poller


class StillRunningError(DeploymentError):
    """A wait timed out: the operation goes on in Azure (and a delete is refused until it ends)."""


class RefusedError(DeploymentError):
    """Azure refused to create an endpoint or a deployment outright, on the request itself (a 4xx answer, no
    operation started, as a lack of quota is: the PUT answers 400): nothing was created, nothing runs or is billed."""

    def __init__(self, what: str, resource: str, cause: str, *, where: str = "") -> None:
        self.what = what
        self.resource = resource
        self.cause = cause
        super().__init__(f"Azure refused {what}{where}: {cause}")


def endpoint_resource(name: str) -> str:
    """An endpoint's path under the workspace: what a refusal and a clean-up step are about."""
    return f"onlineEndpoints/{name}"


def deployment_resource(endpoint_name: str, name: str) -> str:
    """A deployment's path under the workspace (see :func:`endpoint_resource`)."""
    return f"{endpoint_resource(endpoint_name)}/deployments/{name}"


@contextlib.contextmanager
def refused_on_request(what: str, resource: str, *, where: str = "") -> Iterator[None]:
    """A 4xx answer to the request that creates ``resource`` (before any operation started) raises
    :class:`RefusedError`: Azure created nothing."""
    from azure.core.exceptions import HttpResponseError

    try:
        yield
    except HttpResponseError as exc:
        if exc.status_code is None or not 400 <= exc.status_code < 500:
            raise
        raise RefusedError(what, resource, sdk_message(exc), where=where) from exc


def wait(poller: Any, what: str, timeout_sec: float | None) -> Any:
    """Wait for ``poller`` at most ``timeout_sec``; still running then raises :class:`StillRunningError`."""
    poller.wait(timeout=timeout_sec)  # not result(timeout=): on a running operation it parses a partial answer
    if not poller.done():
        raise StillRunningError(
            f"{what} did not finish within {timeout_sec:g} s; the operation goes on in Azure (status: "
            f"{poller.status()})."
        )
    return poller.result()


def create_deployment(ml_client: Any, deployment: Any, timeout_sec: float | None) -> None:
    """Create ``deployment`` and wait; a 4xx answer before any operation started raises :class:`RefusedError`."""
    name, endpoint_name = deployment.name, deployment.endpoint_name
    with (
        step(
            f"Creating deployment {deployment.name} on {deployment.endpoint_name}: "
            f"{deployment.instance_count} x {deployment.instance_type} (several minutes)",
            heartbeat_s=30,
        ),
        quiet_poller(),
    ):
        with refused_on_request(
            f"deployment {name}", deployment_resource(endpoint_name, name), where=f" of endpoint {endpoint_name}"
        ):
            poller = ml_client.online_deployments.begin_create_or_update(deployment)
        wait(poller, f"Deployment {deployment.name}", timeout_sec)


def set_traffic(ml_client: Any, endpoint: Any, traffic: dict[str, int], timeout_sec: float | None) -> None:
    shares = ", ".join(f"{name} {share} %" for name, share in traffic.items())
    with step(f"Traffic of {endpoint.name}: {shares}"):
        endpoint.traffic = traffic
        with quiet_poller():
            poller = ml_client.online_endpoints.begin_create_or_update(endpoint)
            wait(poller, f"Traffic of {endpoint.name}", timeout_sec)
