"""The gated blue/green rollout of a new model onto an existing endpoint."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from .._progress import STEP, step
from ..errors import DeploymentError, RolloutError, sdk_message
from ..evaluation import evaluate
from ..scoring import DEFAULT_CONNECTIONS, predict
from . import quota
from .cleanup import CleanupError, delete_deployment_step, deployment_failure, undo_on_failure
from .operations import create_deployment, set_traffic
from .service import DEPLOYMENT_HEADER, DEPLOYMENT_NAMES, EndpointService, live_deployment, provisioning_state

log = logging.getLogger(__name__)


def parallel_requests(deployment: Any) -> int:
    """Requests a managed deployment takes in parallel before it answers 429: 2 x
    ``max_concurrent_requests_per_instance`` (the service's default: 1) x instances (Microsoft Learn,
    "Troubleshoot online endpoint deployment and scoring", 429 "Too many pending requests")."""
    settings = getattr(deployment, "request_settings", None)
    per_instance = getattr(settings, "max_concurrent_requests_per_instance", None) or 1
    return 2 * int(per_instance) * int(deployment.instance_count or 1)


def gate_connections(live: Any) -> int:
    """Connections the gate keeps to the live deployment: half of what it takes in parallel, at least one, at most
    :data:`~mnist_aci.scoring.DEFAULT_CONNECTIONS`; the other half stays free for the production traffic."""
    return max(1, min(DEFAULT_CONNECTIONS, parallel_requests(live) // 2))


def deployment_accuracy(
    service: EndpointService,
    deployment_name: str,
    images: np.ndarray,
    labels: np.ndarray,
    connections: int = DEFAULT_CONNECTIONS,
) -> float:
    """Accuracy of one deployment on ``images``, scored through the endpoint (the deployment header picks it) over
    ``connections`` connections."""
    with step(f"Scoring {len(labels):,} test images on deployment {deployment_name}"):
        predicted = predict(service, images, headers={DEPLOYMENT_HEADER: deployment_name}, connections=connections)
    accuracy = evaluate(labels, predicted).accuracy
    log.info("    %s: accuracy %.4f", deployment_name, accuracy)
    return accuracy


def rollout(
    ml_client: Any,
    service: EndpointService,
    make_deployment: Callable[[str], Any],
    test_data: tuple[np.ndarray, np.ndarray],
    *,
    min_accuracy: float | None = None,
    timeout_sec: float | None = None,
    keep_failed: bool = False,
) -> EndpointService:
    """Gated blue/green rollout on an existing endpoint.

    ``make_deployment(name)`` builds the new deployment. It starts at 0 % traffic beside the live one; both
    are scored on ``test_data`` through the endpoint; traffic moves to the new one only if its accuracy is at
    least ``min_accuracy`` (default: the live deployment's), and the old one is deleted. Otherwise the new
    one is deleted, the traffic is left as it was, and :class:`RolloutError` says why.
    """
    endpoint = ml_client.online_endpoints.get(name=service.name)
    live = live_deployment(endpoint)
    if live is None:
        raise DeploymentError(
            f"Endpoint {service.name} has no deployment taking traffic, so there is nothing to roll out against. "
            "Delete it (mnist-aci delete --target endpoint) or give it traffic first."
        )
    new = DEPLOYMENT_NAMES[1] if live == DEPLOYMENT_NAMES[0] else DEPLOYMENT_NAMES[0]
    listed = list(ml_client.online_deployments.list(endpoint_name=service.name))
    others = sorted(d.name for d in listed if d.name != live)
    if others:
        raise DeploymentError(
            f"Endpoint {service.name} already has deployment(s) {', '.join(others)} beside the live {live!r}: "
            "an earlier rollout was left unfinished. Delete them (az ml online-deployment delete) and run again."
        )
    deployment = make_deployment(new)
    live_now = next(d for d in listed if d.name == live)
    beside = [quota.held(live_now)]
    delete_new = delete_deployment_step(ml_client, service.name, new)
    images, labels = test_data
    log.info("Rollout on %s: %s is live; the new model goes to %s at 0 %% traffic", service.name, live, new, extra=STEP)
    log.info(
        "    %s and %s run side by side until the gate decides: the rollout needs %s.",
        live,
        new,
        quota.needs([*beside, quota.held(deployment)]),
    )
    log.info(
        "    The gate scores %s over %d connection(s) of the %d requests it takes in parallel; the rest stay free "
        "for its traffic.",
        live,
        gate_connections(live_now),
        parallel_requests(live_now),
    )
    with undo_on_failure(
        f"Rollout of deployment {new}",
        delete_new,
        keep_failed=keep_failed,
        report=lambda failure: (
            deployment_failure(ml_client, deployment, beside)(failure) + f"\n{live} keeps the traffic."
        ),
    ):
        create_deployment(ml_client, deployment, timeout_sec)
    with undo_on_failure(
        f"Scoring of the test set for the rollout of {new}",
        delete_new,
        keep_failed=keep_failed,
        report=lambda _failure: f"The traffic was not changed: {live} keeps it.",
    ):
        live_accuracy = deployment_accuracy(service, live, images, labels, gate_connections(live_now))
        new_accuracy = deployment_accuracy(service, new, images, labels)
    gate = live_accuracy if min_accuracy is None else min_accuracy
    gate_name = f"the live {live}'s accuracy" if min_accuracy is None else "the minimum accuracy asked for"
    if new_accuracy < gate:
        with step(f"Gate refused: deleting deployment {new}; {live} keeps the traffic"):
            try:
                delete_new.run()
                cleanup = f"Deployment {new} was deleted;"
            except CleanupError as exc:
                log.warning("%s", exc)
                cleanup = str(exc)
        raise RolloutError(
            f"Rollout refused: {new} scored {new_accuracy:.4f}, below the gate of {gate:.4f} ({gate_name}). "
            f"{cleanup} {live} still takes the traffic of {service.name}."
        )
    log.info("Gate passed: %s %.4f >= %.4f (%s)", new, new_accuracy, gate, gate_name, extra=STEP)
    shift_traffic(ml_client, service.name, live, new, timeout_sec)
    with step(f"Deleting the old deployment {live}"):
        try:
            delete_deployment_step(ml_client, service.name, live).run()
        except CleanupError as exc:
            log.warning("%s takes the traffic; the old deployment %s is still there. %s", new, live, exc)
    return service


def shift_traffic(ml_client: Any, endpoint_name: str, live: str, new: str, timeout_sec: float | None) -> None:
    """All the traffic to ``new``; a failure says where the endpoint stands and how to finish by hand."""
    from azure.core.exceptions import AzureError

    try:
        endpoint = ml_client.online_endpoints.get(name=endpoint_name)  # as it is now, not minutes ago
        set_traffic(ml_client, endpoint, {new: 100, live: 0}, timeout_sec)
    except (AzureError, DeploymentError) as exc:
        raise DeploymentError(
            f"{new} passed the gate, but moving the traffic to it failed: {sdk_message(exc)}. Both deployments "
            f"are kept; {traffic_now(ml_client, endpoint_name)} Finish with `az ml online-endpoint update "
            f'--name {endpoint_name} --traffic "{new}=100 {live}=0"` once no operation runs, or delete {new}.'
        ) from exc


def traffic_now(ml_client: Any, endpoint_name: str) -> str:
    """Where an endpoint's traffic stands, as Azure says now (a change may still be under way)."""
    from azure.core.exceptions import AzureError

    try:
        endpoint = ml_client.online_endpoints.get(name=endpoint_name)
    except AzureError as exc:
        return f"its traffic could not be read ({sdk_message(exc)})."
    shares = ", ".join(f"{name} {share} %" for name, share in (endpoint.traffic or {}).items()) or "none"
    state = provisioning_state(endpoint)
    running = (
        f" A change is still under way (provisioning state {state})." if state not in ("Succeeded", "Failed") else ""
    )
    return f"its traffic now: {shares}.{running}"
