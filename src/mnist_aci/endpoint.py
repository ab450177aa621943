"""Steps 3-4 and 11 of the tutorial on SDK v2: a managed online endpoint instead of ACI, and a gated rollout.

A new endpoint is made as Microsoft's v2 examples make one: ``ManagedOnlineEndpoint(name, auth_mode="key")``
(v2 has no anonymous endpoints), a ``ManagedOnlineDeployment`` named ``blue`` running the same ``score.py``
(``CodeConfiguration(code=<folder of score.py and its contract>, scoring_script="score.py")``) on an instance
type, then 100 % of the traffic to ``blue``. A deployment that fails prints its provisioning state, the error
and the tail of its logs, raises one :class:`DeploymentError` and deletes what it created unless
``keep_failed``; Ctrl-C while waiting does the same.

On an existing endpoint, :func:`deploy` rolls the model out blue/green with a gate: the new deployment
(``green`` beside a live ``blue``, or the reverse) starts at 0 % traffic, both are scored on the test set
through the endpoint (the ``azureml-model-deployment`` header picks one), and traffic moves to the new one
only if its accuracy reaches the gate (default: the live deployment's); the old one is then deleted. Otherwise
the new deployment is deleted and the traffic stays as it was.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import endpoint_assets
from ._progress import step
from .errors import DeploymentError, RolloutError, ServiceCallError, ServiceNameError, TargetError, sdk_message
from .evaluation import evaluate
from .project_files import SCORE_PY
from .score_script import resolve_entry_script, stage_scoring_folder
from .scoring import predict, refused_call
from .service import Service
from .tutorial import DEFAULT_INSTANCE_TYPE, LOG_TAIL_LINES

log = logging.getLogger(__name__)

ENDPOINT_PREFIX = "sklearn-mnist-ep-"
#: Endpoint names: 3-32 characters, letters, digits and dashes, starting with a letter, no two dashes in a row
#: (the name is a DNS label of the scoring URL, ``<name>.<region>.inference.ml.azure.com``, where ``--`` is
#: reserved). They must be unique in the Azure region.
ENDPOINT_NAME_RULE = re.compile(r"(?!.*--)[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]")
DEPLOYMENT_NAMES = ("blue", "green")
#: The header that sends a request to one deployment of an endpoint, whatever the traffic rules.
DEPLOYMENT_HEADER = "azureml-model-deployment"
ENDPOINT_DESCRIPTION = "Predict MNIST with sklearn"
ENDPOINT_TAGS = {"data": "MNIST", "method": "sklearn"}

#: ``online_endpoints.invoke`` writes the key and the deployment name into a dict shared by every call in
#: the process (``EndpointInvokeFields.DEFAULT_HEADER``); calls go one at a time and clean it each time.
_INVOKE_LOCK = threading.Lock()
#: How the deployment serves requests: the service's defaults are 5 s and one request at a time per instance
#: (the recorded deployment answer: ``requestTimeout PT5S``, ``maxConcurrentRequestsPerInstance 1``). The
#: package keeps at most two requests in flight (``predict``'s connections, within the 2 x per-instance limit of
#: managed endpoints), of at most :data:`REQUEST_ROWS` images; 30 s leaves a small instance room for a cold start
#: and a full request.
REQUEST_TIMEOUT_MS = 30_000
MAX_CONCURRENT_REQUESTS = 1
#: Images per JSON request of the tutorial's call on an endpoint (about 5 MB of JSON for MNIST): the whole test
#: set in one request (52 MB) does not fit an endpoint's request time-out and bandwidth.
REQUEST_ROWS = 1000


def new_endpoint_name() -> str:
    """``sklearn-mnist-ep-`` and 8 random hex digits (endpoint names are unique per Azure region)."""
    return ENDPOINT_PREFIX + uuid.uuid4().hex[:8]


def check_endpoint_name(name: str) -> str:
    """Return ``name`` if Azure ML accepts it as an endpoint name, else raise :class:`ServiceNameError`."""
    if not isinstance(name, str) or not ENDPOINT_NAME_RULE.fullmatch(name):
        raise ServiceNameError(
            f"Invalid endpoint name {name!r}: use 3-32 characters, letters, digits and single dashes, starting with "
            f"a letter and ending with a letter or digit (for example {ENDPOINT_PREFIX}1a2b3c4d)."
        )
    return name


class _DropPollerDots(io.TextIOBase):
    """``sys.stdout`` without the dots azure-ai-ml's poller prints there after each status poll."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return len(text) if text.strip(".") == "" and text else self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()


@contextlib.contextmanager
def _quiet_poller() -> Iterator[None]:
    """No poller dots between the progress lines (``AzureMLPolling.update_status`` prints them)."""
    with contextlib.redirect_stdout(_DropPollerDots(sys.stdout)):
        yield


def _forget_call_headers() -> None:
    from azure.ai.ml.constants._endpoint import EndpointInvokeFields

    shared = EndpointInvokeFields.DEFAULT_HEADER
    shared.pop(EndpointInvokeFields.AUTHORIZATION, None)
    shared.pop(EndpointInvokeFields.MODEL_DEPLOYMENT, None)


@contextlib.contextmanager
def _refusals_as_service_call_errors(where: str) -> Iterator[None]:
    """While ``online_endpoints.invoke`` runs, a non-200 answer raises :class:`ServiceCallError` with the model's
    status and body: the SDK's own check (``validate_response``) reads ``error`` as an object, and score.py's
    ``{"error": "<text>"}`` makes it raise ``AttributeError``, a non-JSON body an ``MlException`` without status."""
    from azure.ai.ml.operations import _online_endpoint_operations as operations

    checked = getattr(operations, "validate_response")  # noqa: B009 - replaced for the call, put back after

    def check(response: Any) -> None:
        if response.status_code not in (200, 201):
            raise refused_call(where, response.status_code, response.headers, response.text()[:2000])
        checked(response)

    setattr(operations, "validate_response", check)  # noqa: B010
    try:
        yield
    finally:
        setattr(operations, "validate_response", checked)  # noqa: B010


def invoke(ml_client: Any, endpoint_name: str, body: str | bytes, deployment_name: str | None = None) -> Any:
    """``ml_client.online_endpoints.invoke(...)`` with ``body`` as the request file; the decoded answer.

    The SDK's shared default headers are cleaned before and after, so no key or deployment name set by one
    call reaches another. A refused call raises :class:`ServiceCallError` with the model's status and message.
    """
    from azure.core.exceptions import AzureError

    where = f"Endpoint {endpoint_name}"
    with _INVOKE_LOCK, tempfile.TemporaryDirectory(prefix="mnist-aci-request-") as folder:
        request = Path(folder, "request.json")
        request.write_bytes(body.encode("utf-8") if isinstance(body, str) else body)
        _forget_call_headers()
        try:
            with _refusals_as_service_call_errors(where):
                answer = ml_client.online_endpoints.invoke(
                    endpoint_name=endpoint_name, request_file=str(request), deployment_name=deployment_name
                )
        except AzureError as exc:
            status = getattr(exc, "status_code", None)
            raise ServiceCallError(f"{where} could not be called: {sdk_message(exc)}", status=status) from exc
        except ValueError as exc:  # invoke parses the request file before sending it
            raise ServiceCallError(
                f"The request body is not JSON ({exc}); online_endpoints.invoke sends JSON only. Send other "
                "bodies with mnist_aci.predict or a POST to service.scoring_uri."
            ) from exc
        finally:
            _forget_call_headers()
    try:
        return json.loads(answer)
    except ValueError as exc:
        raise ServiceCallError(
            f"Endpoint {endpoint_name} answered with a body that is not JSON: {answer[:500]}"
        ) from exc


def provisioning_state(resource: Any) -> str | None:
    """An endpoint's or deployment's provisioning state as Azure spells it (``Succeeded``, ``Creating``...):
    azure-ai-ml gives an enum whose ``str()`` is its Python name."""
    state = resource.provisioning_state
    return None if state is None else str(getattr(state, "value", state))


def live_deployment(endpoint: Any) -> str | None:
    """The deployment that takes the most of an endpoint's traffic (None when none takes any)."""
    traffic = {name: int(share) for name, share in (endpoint.traffic or {}).items() if int(share) > 0}
    return max(traffic, key=lambda name: traffic[name]) if traffic else None


class EndpointService:
    """A managed online endpoint with the surface of the tutorial's ``AciWebservice``.

    ``run`` is the tutorial-shaped call (``online_endpoints.invoke``); ``mnist_aci.predict`` POSTs ``.npy``
    chunks to ``scoring_uri`` with the endpoint's key. Keys are fetched when needed and never shown.
    ``mnist_aci.predict_tutorial`` sends at most :attr:`max_rows_per_request` images per ``run``.
    """

    max_rows_per_request = REQUEST_ROWS

    def __init__(self, ml_client: Any, endpoint: Any) -> None:
        self._ml = ml_client
        self._name: str = endpoint.name
        self._scoring_uri: str = endpoint.scoring_uri

    @property
    def name(self) -> str:
        return self._name

    @property
    def scoring_uri(self) -> str:
        return self._scoring_uri

    @property
    def auth_enabled(self) -> bool:
        return True  # SDK v2 endpoints always need a key or a token

    @property
    def state(self) -> str | None:
        """The endpoint's provisioning state (``Succeeded``, ``Failed``, ``Deleting``...)."""
        return provisioning_state(self._ml.online_endpoints.get(name=self._name))

    def get_keys(self) -> tuple[str | None, str | None]:
        keys = self._ml.online_endpoints.get_keys(name=self._name)
        return keys.primary_key, keys.secondary_key

    def run(self, input_data: str | bytes) -> Any:
        """The tutorial's ``service.run(input_data=...)``: the JSON body through ``online_endpoints.invoke``."""
        return invoke(self._ml, self._name, input_data)

    def get_logs(self, num_lines: int = 5000) -> str:
        """The last ``num_lines`` lines of the log of the deployment taking the traffic."""
        deployment = live_deployment(self._ml.online_endpoints.get(name=self._name))
        if deployment is None:
            return f"(endpoint {self._name} has no deployment taking traffic)"
        return str(self._ml.online_deployments.get_logs(name=deployment, endpoint_name=self._name, lines=num_lines))

    def delete(self) -> None:
        """``ml_client.online_endpoints.begin_delete(name=...)``: the endpoint and its deployments."""
        with _quiet_poller():
            self._ml.online_endpoints.begin_delete(name=self._name).result()

    def __repr__(self) -> str:
        return f"EndpointService(name={self._name!r}, scoring_uri={self._scoring_uri!r})"


def get_service(ml_client: Any, name: str) -> EndpointService:
    """An existing endpoint by name; :class:`ServiceNameError` when there is none."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return EndpointService(ml_client, ml_client.online_endpoints.get(name=check_endpoint_name(name)))
    except ResourceNotFoundError as exc:
        raise ServiceNameError(f"No endpoint called {name!r} in this workspace.") from exc


def endpoint_exists(ml_client: Any, name: str) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        ml_client.online_endpoints.get(name=name)
    except ResourceNotFoundError:
        return False
    return True


class StillRunningError(DeploymentError):
    """A wait timed out: the operation goes on in Azure (and a delete is refused until it ends)."""


def _wait(poller: Any, what: str, timeout_sec: float | None) -> Any:
    """Wait for ``poller`` at most ``timeout_sec``; still running then raises :class:`StillRunningError`."""
    poller.wait(timeout=timeout_sec)  # not result(timeout=): on a running operation it parses a partial answer
    if not poller.done():
        raise StillRunningError(
            f"{what} did not finish within {timeout_sec:g} s; the operation goes on in Azure (status: "
            f"{poller.status()})."
        )
    return poller.result()


def failure_hint(message: str, instance_type: str, instance_count: int) -> str:
    """What to change after a failed deployment, from the service's error message."""
    text = message.lower()
    if "quota" in text:
        return (
            f"Azure has not enough VM quota for {instance_count} x {instance_type} (managed online endpoints also "
            "reserve 20 % extra for upgrades, and a rollout runs the old and the new deployment side by side: "
            "twice the instances). Request more quota for that VM family in the Azure portal (Quotas), lower "
            "--instance-count, or choose another --instance-type."
        )
    if "sku" in text or "instance type" in text or "instancetype" in text:
        return (
            f"Instance type {instance_type} is not accepted here: choose one of the managed online endpoints' "
            "SKUs with --instance-type (for example Standard_DS1_v2, Standard_F2s_v2, Standard_DS2_v2)."
        )
    return (
        "Check score.py's init() and the environment; run the local pre-flight (mnist-aci deploy --target local) "
        "to reproduce it on your machine."
    )


def deployment_report(ml_client: Any, endpoint_name: str, deployment_name: str) -> str:
    """Provisioning state and the tail of ``online_deployments.get_logs(...)`` of a deployment."""
    from azure.core.exceptions import AzureError

    try:
        state = provisioning_state(ml_client.online_deployments.get(name=deployment_name, endpoint_name=endpoint_name))
    except AzureError as exc:
        state = f"unknown ({sdk_message(exc)})"
    try:
        logs = ml_client.online_deployments.get_logs(
            name=deployment_name, endpoint_name=endpoint_name, lines=LOG_TAIL_LINES
        )
    except AzureError as exc:  # the logs may be what is broken
        logs = f"(logs unavailable: {exc.__class__.__name__})"
    return f"deployment {deployment_name}: provisioning state {state}\n--- last lines of get_logs() ---\n{logs}"


@dataclass(frozen=True)
class Undo:
    """A clean-up step: what it does (``label``), how, and the command that does it by hand."""

    label: str
    action: Callable[[], object]
    by_hand: str

    def run(self) -> str | None:
        """Run it: None when done, else what went wrong and what to do (logged, not raised over the error
        being reported)."""
        from azure.core.exceptions import AzureError

        try:
            with _quiet_poller():
                self.action()
        except AzureError as exc:
            log.warning("Could not %s: %s", self.label, sdk_message(exc))
            return (
                f"Could not {self.label} ({sdk_message(exc)}): it may still exist and be billed; "
                f"{self.by_hand} when it is done."
            )
        return None


def delete_endpoint_step(ml_client: Any, name: str) -> Undo:
    return Undo(
        f"delete endpoint {name}",
        lambda: ml_client.online_endpoints.begin_delete(name=name).result(),
        f"delete it with `az ml online-endpoint delete --name {name}`",
    )


def delete_deployment_step(ml_client: Any, endpoint_name: str, name: str) -> Undo:
    return Undo(
        f"delete deployment {name}",
        lambda: ml_client.online_deployments.begin_delete(name=name, endpoint_name=endpoint_name).result(),
        f"delete it with `az ml online-deployment delete --name {name} --endpoint-name {endpoint_name}`",
    )


@contextlib.contextmanager
def _undo_on_failure(what: str, undo: Undo, *, keep_failed: bool, report: Callable[[str], str]) -> Iterator[None]:
    """Run the block; an Azure error, a time-out, a failed call or Ctrl-C inside it runs ``undo`` unless
    ``keep_failed``. Errors become one :class:`DeploymentError` with ``report(problem)``; Ctrl-C goes on."""
    from azure.core.exceptions import AzureError

    try:
        yield
    except KeyboardInterrupt:
        if not keep_failed:
            log.warning("Interrupted: %s", undo.run() or f"done: {undo.label}")
        raise
    except (AzureError, DeploymentError, ServiceCallError) as exc:
        problem = sdk_message(exc)
        details = report(problem)
        log.error("%s failed: %s\n%s", what, problem, details)
        cleanup = f"It was kept for inspection (keep_failed); {undo.by_hand} when done."
        if isinstance(exc, StillRunningError):  # Azure refuses a delete (409) while the operation runs
            cleanup = (
                f"Not cleaned up, as Azure refuses to {undo.label} while the operation runs: "
                f"{undo.by_hand} once it has ended."
            )
        elif not keep_failed:
            cleanup = undo.run() or f"Done: {undo.label}."
        raise DeploymentError(f"{what} failed: {problem}\n{cleanup}\n{details}") from exc


def endpoint_report(ml_client: Any, name: str, problem: str) -> str:
    """Provisioning state of an endpoint that failed, and what to change."""
    from azure.core.exceptions import AzureError

    try:
        state = provisioning_state(ml_client.online_endpoints.get(name=name))
    except AzureError as exc:
        state = f"unknown ({sdk_message(exc)})"
    hint = (
        "Endpoint names are unique in the Azure region: choose another --service-name if it is taken. Check "
        "that your account may create endpoints in this workspace."
    )
    if "quota" in problem.lower():
        hint = "The subscription's quota of endpoints is used up: delete unused endpoints or request more quota."
    return f"endpoint {name}: provisioning state {state}\n{hint}"


def _deployment_failure(ml_client: Any, deployment: Any) -> Callable[[str], str]:
    def report(problem: str) -> str:
        details = deployment_report(ml_client, deployment.endpoint_name, deployment.name)
        return f"{details}\n{failure_hint(problem, deployment.instance_type, deployment.instance_count)}"

    return report


def _create_deployment(ml_client: Any, deployment: Any, timeout_sec: float | None) -> None:
    with (
        step(
            f"Creating deployment {deployment.name} on {deployment.endpoint_name}: "
            f"{deployment.instance_count} x {deployment.instance_type} (several minutes)",
            heartbeat_s=30,
        ),
        _quiet_poller(),
    ):
        poller = ml_client.online_deployments.begin_create_or_update(deployment)
        _wait(poller, f"Deployment {deployment.name}", timeout_sec)


def _set_traffic(ml_client: Any, endpoint: Any, traffic: dict[str, int], timeout_sec: float | None) -> None:
    shares = ", ".join(f"{name} {share} %" for name, share in traffic.items())
    with step(f"Traffic of {endpoint.name}: {shares}"):
        endpoint.traffic = traffic
        with _quiet_poller():
            poller = ml_client.online_endpoints.begin_create_or_update(endpoint)
            _wait(poller, f"Traffic of {endpoint.name}", timeout_sec)


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
        _undo_on_failure(
            f"Creation of endpoint {name}",
            delete_endpoint,
            keep_failed=keep_failed,
            report=lambda problem: endpoint_report(ml_client, name, problem),
        ),
        step(f"Creating endpoint {name} (key auth)"),
        _quiet_poller(),
    ):
        _wait(ml_client.online_endpoints.begin_create_or_update(endpoint), f"Endpoint {name}", timeout_sec)
    with _undo_on_failure(
        f"Deployment of endpoint {name}",
        delete_endpoint,
        keep_failed=keep_failed,
        report=_deployment_failure(ml_client, deployment),
    ):
        _create_deployment(ml_client, deployment, timeout_sec)
        _set_traffic(ml_client, endpoint, {deployment.name: 100}, timeout_sec)
        return EndpointService(ml_client, ml_client.online_endpoints.get(name=name))


def deployment_accuracy(
    service: EndpointService, deployment_name: str, images: np.ndarray, labels: np.ndarray
) -> float:
    """Accuracy of one deployment on ``images``, scored through the endpoint (the deployment header picks it)."""
    with step(f"Scoring {len(labels):,} test images on deployment {deployment_name}"):
        predicted = predict(service, images, headers={DEPLOYMENT_HEADER: deployment_name})
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
    others = sorted(d.name for d in ml_client.online_deployments.list(endpoint_name=service.name) if d.name != live)
    if others:
        raise DeploymentError(
            f"Endpoint {service.name} already has deployment(s) {', '.join(others)} beside the live {live!r}: "
            "an earlier rollout was left unfinished. Delete them (az ml online-deployment delete) and run again."
        )
    deployment = make_deployment(new)
    delete_new = delete_deployment_step(ml_client, service.name, new)
    images, labels = test_data
    log.info("==> Rollout on %s: %s is live; the new model goes to %s at 0 %% traffic", service.name, live, new)
    log.info(
        "    %s and %s run side by side until the gate decides: the rollout needs VM quota for twice %d x %s "
        "(plus the 20 %% reserve of managed endpoints).",
        live,
        new,
        deployment.instance_count,
        deployment.instance_type,
    )
    with _undo_on_failure(
        f"Rollout of deployment {new}",
        delete_new,
        keep_failed=keep_failed,
        report=lambda problem: _deployment_failure(ml_client, deployment)(problem) + f"\n{live} keeps the traffic.",
    ):
        _create_deployment(ml_client, deployment, timeout_sec)
    with _undo_on_failure(
        f"Scoring of the test set for the rollout of {new}",
        delete_new,
        keep_failed=keep_failed,
        report=lambda problem: f"The traffic was not changed: {live} keeps it.",
    ):
        live_accuracy = deployment_accuracy(service, live, images, labels)
        new_accuracy = deployment_accuracy(service, new, images, labels)
    gate = live_accuracy if min_accuracy is None else min_accuracy
    gate_name = f"the live {live}'s accuracy" if min_accuracy is None else "the minimum accuracy asked for"
    if new_accuracy < gate:
        with step(f"Gate refused: deleting deployment {new}; {live} keeps the traffic"):
            cleanup = delete_new.run() or f"Deployment {new} was deleted;"
        raise RolloutError(
            f"Rollout refused: {new} scored {new_accuracy:.4f}, below the gate of {gate:.4f} ({gate_name}). "
            f"{cleanup} {live} still takes the traffic of {service.name}."
        )
    log.info("==> Gate passed: %s %.4f >= %.4f (%s)", new, new_accuracy, gate, gate_name)
    shift_traffic(ml_client, service.name, live, new, timeout_sec)
    with step(f"Deleting the old deployment {live}"):
        failure = delete_deployment_step(ml_client, service.name, live).run()
    if failure is not None:
        log.warning("%s takes the traffic; the old deployment %s is still there. %s", new, live, failure)
    return service


def shift_traffic(ml_client: Any, endpoint_name: str, live: str, new: str, timeout_sec: float | None) -> None:
    """All the traffic to ``new``; a failure says where the endpoint stands and how to finish by hand."""
    from azure.core.exceptions import AzureError

    try:
        endpoint = ml_client.online_endpoints.get(name=endpoint_name)  # as it is now, not minutes ago
        _set_traffic(ml_client, endpoint, {new: 100, live: 0}, timeout_sec)
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
    if instance_count < 1:
        raise TargetError(f"instance_count must be at least 1, got {instance_count}.")
    if min_accuracy is not None and not 0.0 <= min_accuracy <= 1.0:
        raise TargetError(f"min_accuracy is an accuracy between 0 and 1, got {min_accuracy}.")
    script = resolve_entry_script(entry_script)
    name = check_endpoint_name(new_endpoint_name() if name is None else name)
    existing = get_service(ml_client, name) if endpoint_exists(ml_client, name) else None
    if existing is not None and rollout_data is None:
        raise ServiceNameError(
            f"An endpoint called {name!r} already exists. Choose another name, or roll the model out to it with "
            f"the gated blue/green rollout: mnist-aci deploy --target endpoint --service-name {name}."
        )
    endpoint_assets.check_environment_pins(environment, endpoint_assets.model_versions(model))
    if preflight is not None:
        with tempfile.TemporaryDirectory(prefix="mnist-aci-model-") as folder:
            preflight(endpoint_assets.download_model_file(ml_client, model, folder), script)
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
