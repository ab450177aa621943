"""Steps 3-4 and 11 of the tutorial on SDK v2: a managed online endpoint instead of ACI, and a gated rollout.

A new endpoint is made as Microsoft's v2 examples make one: ``ManagedOnlineEndpoint(name, auth_mode="key")``
(v2 has no anonymous endpoints), a ``ManagedOnlineDeployment`` named ``blue`` running the same ``score.py``
(``CodeConfiguration(code=<folder of score.py, score_io.py and the contract>, scoring_script="score.py")``) on
an instance type, then 100 % of the traffic to ``blue``. A deployment that fails prints its provisioning state,
the error and the tail of its logs, raises one :class:`DeploymentError` and deletes what it created unless
``keep_failed``; Ctrl-C while waiting does the same.

On an existing endpoint, :func:`deploy` rolls the model out blue/green through an accuracy gate
(:func:`~mnist_aci.azure_v2.rollout.rollout`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import step
from ..errors import ServiceNameError
from ..project_files import SCORE_PY
from ..score_script import resolve_entry_script, stage_scoring_folder
from ..service import Service
from ..tutorial import DEFAULT_INSTANCE_TYPE
from . import assets
from .cleanup import delete_endpoint_step, deployment_failure, endpoint_report, undo_on_failure
from .invoke import quiet_poller
from .operations import create_deployment, endpoint_resource, refused_on_request, set_traffic, wait
from .rollout import rollout
from .service import (
    DEPLOYMENT_NAMES,
    MAX_CONCURRENT_REQUESTS,
    REQUEST_TIMEOUT_MS,
    EndpointService,
    check_endpoint_name,
    endpoint_exists,
    get_service,
    new_endpoint_name,
)

ENDPOINT_DESCRIPTION = "Predict MNIST with sklearn"
ENDPOINT_TAGS = {"data": "MNIST", "method": "sklearn"}


def new_deployment(
    name: str, endpoint_name: str, model: Any, environment: Any, code: Path, instance_type: str, instance_count: int
) -> Any:
    """``ManagedOnlineDeployment`` of the registered model and environment running ``code``/score.py."""
    from azure.ai.ml.entities import CodeConfiguration, ManagedOnlineDeployment, OnlineRequestSettings

    return ManagedOnlineDeployment(
        name=name,
        endpoint_name=endpoint_name,
        model=f"azureml:{model.name}:{model.version}",
        environment=f"azureml:{environment.name}:{environment.version}",
        code_configuration=CodeConfiguration(code=str(code), scoring_script=SCORE_PY),
        instance_type=instance_type,
        instance_count=instance_count,
        request_settings=OnlineRequestSettings(
            request_timeout_ms=REQUEST_TIMEOUT_MS, max_concurrent_requests_per_instance=MAX_CONCURRENT_REQUESTS
        ),
    )


def create_endpoint(
    ml_client: Any, deployment: Any, *, timeout_sec: float | None, keep_failed: bool
) -> EndpointService:
    """A new key-auth endpoint, ``deployment`` (``blue``) on it, then 100 % of the traffic to it."""
    from azure.ai.ml.entities import ManagedOnlineEndpoint

    name = deployment.endpoint_name
    endpoint = ManagedOnlineEndpoint(
        name=name, auth_mode="key", description=ENDPOINT_DESCRIPTION, tags=dict(ENDPOINT_TAGS)
    )
    delete_endpoint = delete_endpoint_step(ml_client, name)
    with (
        undo_on_failure(
            f"Creation of endpoint {name}",
            delete_endpoint,
            keep_failed=keep_failed,
            report=lambda failure: endpoint_report(ml_client, name, failure),
        ),
        step(f"Creating endpoint {name} (key auth)"),
        quiet_poller(),
    ):
        with refused_on_request(f"endpoint {name}", endpoint_resource(name)):
            poller = ml_client.online_endpoints.begin_create_or_update(endpoint)
        wait(poller, f"Endpoint {name}", timeout_sec)
    with undo_on_failure(
        f"Deployment of endpoint {name}",
        delete_endpoint,
        keep_failed=keep_failed,
        report=deployment_failure(ml_client, deployment),
    ):
        create_deployment(ml_client, deployment, timeout_sec)
        set_traffic(ml_client, endpoint, {deployment.name: 100}, timeout_sec)
        return EndpointService(ml_client, ml_client.online_endpoints.get(name=name))


def deploy(
    model: Any,
    *,
    ml_client: Any,
    environment: Any,
    entry_script: str | Path | None = None,
    name: str | None = None,
    instance_type: str = DEFAULT_INSTANCE_TYPE,
    instance_count: int = 1,
    keep_failed: bool = False,
    timeout_sec: float | None = None,
    preflight: Callable[[Path, Path], object] | None = None,
    rollout_data: tuple[np.ndarray, np.ndarray] | None = None,
    min_accuracy: float | None = None,
) -> Service:
    """The endpoint target: deploy a registered v2 model with ``environment`` and wait.

    A new endpoint (``name`` absent from the workspace, default a new one) gets deployment ``blue`` with
    all the traffic. An existing endpoint gets the gated :func:`rollout`, which needs ``rollout_data``
    (test images and labels); without it an existing name is refused. The environment's pins must match
    the model's versions record; ``preflight(model_file, entry_script)``, when given, runs on a downloaded
    copy of the model before any deployment.
    """
    script = resolve_entry_script(entry_script)
    name = check_endpoint_name(new_endpoint_name() if name is None else name)
    existing = get_service(ml_client, name) if endpoint_exists(ml_client, name) else None
    if existing is not None and rollout_data is None:
        raise ServiceNameError(
            f"An endpoint called {name!r} already exists. Choose another name, or roll the model out to it with "
            f"the gated blue/green rollout: mnist-aci deploy --target endpoint --service-name {name}."
        )
    assets.check_environment_pins(environment, assets.model_versions(model))
    if preflight is not None:
        with tempfile.TemporaryDirectory(prefix="mnist-aci-model-") as folder:
            preflight(assets.download_model_file(ml_client, model, folder), script)
    with tempfile.TemporaryDirectory(prefix="mnist-aci-code-") as folder:
        code = stage_scoring_folder(script, Path(folder) / "code")

        def make_deployment(deployment_name: str) -> Any:
            return new_deployment(deployment_name, name, model, environment, code, instance_type, instance_count)

        if existing is not None and rollout_data is not None:
            return rollout(
                ml_client,
                existing,
                make_deployment,
                rollout_data,
                min_accuracy=min_accuracy,
                timeout_sec=timeout_sec,
                keep_failed=keep_failed,
            )
        return create_endpoint(
            ml_client, make_deployment(DEPLOYMENT_NAMES[0]), timeout_sec=timeout_sec, keep_failed=keep_failed
        )
