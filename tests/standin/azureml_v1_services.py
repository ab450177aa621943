"""SDK v1 web services (ACI and AKS) of the stand-in's workspace: deploy, operations, logs, keys, scoring, delete.

Answers are shaped as azureml-core 1.61 parses them (``azureml/core/webservice/webservice.py``, ``aci.py``,
``aks.py``): the validation calls before a deployment, ``POST /services`` answering 202 with
``Operation-Location``, the operation polled by ``wait_for_deployment`` (its states, ``error`` and
``operationDetails.subOperationType``), the service record with the keys each web service class requires, and
``listkeys``/``token``/``logs``/``DELETE``. The scoring front checks a key (key auth) or an unexpired token
(AKS token auth) before it relays a request.

A deployment runs on this machine: its container's app root (``/var/azureml-app`` in Azure) is laid out from
what the SDK uploaded, the driver program as ``main.py``, the source directory's archive unpacked, each model
under ``azureml-models/<name>/<version>/``, and the real inference server is started from it with the
environment variables the SDK sent (:mod:`.container`), with the Python of the environment's build. Its
scoring URI routes to that server. The image is built from the environment definition the SDK sent
(``environmentImageRequest.environment``: its conda dependencies, pip packages, Python and base image) by
:mod:`.environments`: a build that fails ends the operation ``Failed`` with ``EnvironmentBuildFailed`` and the
build log behind ``operationLog``.
"""

from __future__ import annotations

import io
import re
import secrets
import tarfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from . import AzureStandIn, azureml_v1_records as records
from .azureml_v1 import API, REGION, WORKSPACE_PATH, WorkspaceV1, now, signed_in
from .container import Lease
from .environments import from_v1
from .server import azure_error, json_response, relay, target_host
from .v1_limits import (
    AKS_MAX_CONCURRENT_REQUESTS,
    AKS_MAX_QUEUE_WAIT_MS,
    AKS_SCORING_TIMEOUT_MS,
    Limits,
    aci_resources_refusal,
    mark_unhealthy,
)

MMS = rf"/modelmanagement/v1\.0{WORKSPACE_PATH}"
ACI_HOST = rf"(?P<id>[0-9a-f]{{32}})\.{REGION}\.azurecontainer\.io"
AKS_HOST = rf"(?P<cluster>[a-z0-9-]+)\.{REGION}\.cloudapp\.azure\.com"
#: How long a container may take to answer its liveness route (the SDK's own wait has no limit by default).
START_TIMEOUT_S = 180.0
#: nginx in front of the inference server (``client_max_body_size 100m``).
MAX_BODY_BYTES = 100 * 1024 * 1024
#: The autoscaler settings Azure ML applies to an AKS service that leaves them out: the SDK sends null for each
#: (``AksServiceDeploymentConfiguration._build_create_payload``, or no ``autoScaler`` at all when
#: ``autoscale_enabled`` is not given) and documents these defaults in ``AksServiceDeploymentConfiguration``'s
#: docstring (aks.py: min 1, max 10 replicas, refresh every 1 s, 70 % target utilization).
AUTOSCALER_DEFAULTS = {"minReplicas": 1, "maxReplicas": 10, "refreshPeriodInSeconds": 1, "targetUtilization": 70}
#: Seconds from issuing an AKS service token to its ``refreshAfter``: Azure ML does not document it (the
#: stand-in's choice; a test sets :attr:`WebservicesV1.token_refresh_s` to 0 for tokens due for renewal at once).
TOKEN_REFRESH_S = 3600.0
#: How long a token stays valid past its ``refreshAfter``: 12 hours, as azureml-core says where it renews one
#: (webservice.py ``_webservice_session``: "Tokens are valid for 12 hours pass the refresh time").
TOKEN_VALID_AFTER_REFRESH_S = 12 * 3600


@dataclass
class Operation:
    id: str
    operation_type: str
    state: str = "Running"
    sub_operation: str = "BuildEnvironment"
    error: dict[str, Any] | None = None
    log_uri: str | None = None

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "operationType": self.operation_type,
            "state": self.state,
            "createdTime": now(),
            "operationDetails": {"subOperationType": self.sub_operation},
        }
        if self.error is not None:
            body["error"] = self.error
        if self.log_uri is not None:
            body["operationLog"] = self.log_uri
        return body


@dataclass
class Service:
    record: dict[str, Any]
    operation: Operation
    keys: tuple[str, str] = field(default_factory=lambda: (records.new_key(), records.new_key()))
    #: The access tokens issued for it (token auth), each with its ``expiryOn`` (seconds since the epoch).
    tokens: dict[str, int] = field(default_factory=dict)
    container: Lease | None = None

    @property
    def name(self) -> str:
        return str(self.record["name"])


@dataclass
class Failures:
    """What the next deployment meets, set by a test: a refused resource check, an image build that fails
    whatever its environment (the build log given)."""

    quota_message: str | None = None
    build_log: str | None = None


@dataclass
class WebservicesV1:
    """The workspace's web services; deployments run as local containers of ``standin``."""

    standin: AzureStandIn
    workspace: WorkspaceV1
    services: dict[str, Service] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)
    failures: Failures = field(default_factory=Failures)
    build_logs: dict[str, str] = field(default_factory=dict)
    token_refresh_s: float = TOKEN_REFRESH_S
    limits: Limits = field(default_factory=Limits)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self) -> None:
        server = self.standin.server
        signed = [
            ("POST", API, rf"{MMS}/services/validate(/name/(?P<name>[^/]+)|/resource)?", self.validate),
            ("POST", API, rf"{MMS}/services", self.create_service),
            ("GET", API, rf"{MMS}/services/(?P<name>[^/]+)", self.get_service),
            ("GET", API, rf"{MMS}/services/(?P<name>[^/]+)/logs", self.get_logs),
            ("POST", API, rf"{MMS}/services/(?P<name>[^/]+)/listkeys", self.list_keys),
            ("POST", API, rf"{MMS}/services/(?P<name>[^/]+)/token", self.issue_token),
            ("DELETE", API, rf"{MMS}/services/(?P<name>[^/]+)", self.delete_service),
            ("GET", API, rf"{MMS}/operations/(?P<id>[^/]+)", self.get_operation),
        ]
        for method, host, path, handler in signed:
            server.route(method, host, path)(signed_in(handler))
        server.route("GET", API, r"/operationlogs/(?P<id>[^/]+)")(self.operation_log)
        for host in (ACI_HOST, AKS_HOST):
            server.route("POST", host, r"(/api/v1/service/(?P<name>[^/]+))?/score")(self.score)
            server.route("GET", host, r"(/api/v1/service/(?P<name>[^/]+))?/swagger\.json")(self.swagger)

    def reset(self) -> None:
        """Forget every service (the stand-in stops their containers), the injected failures and token settings."""
        with self._lock:
            self.services.clear()
            self.operations.clear()
            self.failures = Failures()
            self.token_refresh_s = TOKEN_REFRESH_S
            self.limits = Limits()

    # -- validation (Webservice._check_for_* and check_for_existing_webservice) -----------------------------------

    def validate(self, request: Request, match: re.Match[str]) -> Response:
        """200 with ``{}`` lets the SDK go on; 200 with ``{"error": {"message"}}`` makes it raise that message."""
        name = match["name"]
        if name is not None:
            if name in self.services:
                return json_response(
                    200, {"error": {"code": "ServiceExists", "message": f"Service {name} already exists."}}
                )
            return json_response(200, {})
        if match.group(0).endswith("/resource") and self.failures.quota_message:
            return json_response(200, {"error": {"code": "QuotaExceeded", "message": self.failures.quota_message}})
        if match.group(0).endswith("/resource") and (refusal := aci_resources_refusal(request.get_json(), REGION)):
            return json_response(200, {"error": {"code": "ResourceNotAvailable", "message": refusal}})
        return json_response(200, {})

    # -- deployment ----------------------------------------------------------------------------------------------------

    def create_service(self, request: Request, match: re.Match[str]) -> Response:
        payload = request.get_json()
        name = payload["name"]
        if payload["computeType"] == "AKS" and payload.get("computeName") not in self.workspace.aks_computes:
            return compute_not_found(payload.get("computeName"), self.workspace.name)
        if key_auth(payload) and payload.get("aadAuthEnabled"):
            return both_auths_refused()
        if refusal := aci_resources_refusal(payload, REGION):
            return bad_request("ResourceNotAvailable", refusal)
        if name in self.services and self.services[name].operation.state == "Running":
            return azure_error(409, "Conflict", f"An operation on service {name} is still running.")
        operation = Operation(str(uuid.uuid4()), "Service")
        service = Service(self.service_record(payload), operation, keys=records.initial_keys(payload))
        with self._lock:
            old = self.services.get(name)
            self.services[name] = service
        if old is not None and old.container is not None:
            old.container.stop()
        threading.Thread(
            target=self.provision_or_fail, args=(service, payload), name=f"deploy-{name}", daemon=True
        ).start()
        return json_response(202, {}, {"Operation-Location": self.track(operation)})

    def track(self, operation: Operation) -> str:
        """Keep ``operation`` for ``wait_for_deployment`` (and ``regen_key``) to poll; its ``Operation-Location``."""
        with self._lock:
            self.operations[operation.id] = operation
        return f"https://{REGION}.api.azureml.ms/modelmanagement/v1.0{self.workspace.arm_id}/operations/{operation.id}"

    def service_record(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The service as ``Webservice(ws, name)`` reads it; the keys each class requires are all present."""
        name, compute = payload["name"], payload["computeType"]
        resources = payload.get("containerResourceRequirements") or {}
        record: dict[str, Any] = {
            "name": name,
            "computeType": compute,
            "createdTime": now(),
            "updatedTime": now(),
            "description": payload.get("description"),
            "kvTags": payload.get("kvTags") or {},
            "properties": payload.get("properties") or {},
            "state": "Transitioning",
            "error": None,
            "authEnabled": key_auth(payload),
            "appInsightsEnabled": bool(payload.get("appInsightsEnabled")),
            "containerResourceRequirements": {
                "cpu": resources.get("cpu"),
                "memoryInGB": resources.get("memoryInGB"),
                "cpuLimit": resources.get("cpuLimit"),
                "memoryInGBLimit": resources.get("memoryInGBLimit"),
                "gpu": resources.get("gpu"),
            },
            "scoringUri": None,
            "environmentImageRequest": payload.get("environmentImageRequest"),
            "models": records.served_models(
                self.workspace, (payload.get("environmentImageRequest") or {}).get("modelIds")
            ),
        }
        if compute == "ACI":
            record |= {
                "cname": None,
                "location": REGION,
                "publicIp": None,
                "sslCertificate": None,
                "sslEnabled": False,
                "sslKey": None,
                "publicFqdn": None,
            }
        else:
            record |= {
                "computeName": payload.get("computeName"),
                "autoScaler": autoscaler(payload),
                "dataCollection": payload.get("dataCollection") or {"eventHubEnabled": False, "storageEnabled": False},
                "maxConcurrentRequestsPerContainer": payload.get(
                    "maxConcurrentRequestsPerContainer", AKS_MAX_CONCURRENT_REQUESTS
                ),
                "maxQueueWaitMs": payload.get("maxQueueWaitMs", AKS_MAX_QUEUE_WAIT_MS),
                "numReplicas": payload.get("numReplicas"),
                "scoringTimeoutMs": payload.get("scoringTimeoutMs", AKS_SCORING_TIMEOUT_MS),
                "livenessProbeRequirements": payload.get("livenessProbeRequirements"),
                "aadAuthEnabled": bool(payload.get("aadAuthEnabled")),
                "namespace": "azureml-mnist-ws",
            }
        return record

    def provision_or_fail(self, service: Service, payload: dict[str, Any]) -> None:
        """:meth:`provision`; a bug of the stand-in ends the operation Failed (saying so) instead of leaving the
        SDK polling a Running operation for ever."""
        try:
            self.provision(service, payload)
        except Exception as exc:
            self.finish(service, "Failed", "StandInError", f"the stand-in failed to provision: {exc!r}")

    def provision(self, service: Service, payload: dict[str, Any]) -> None:
        """Build the image (the environment, :mod:`.environments`), lay out the app root, start the container from
        the build, report."""
        operation, record = service.operation, service.record
        image_request = payload["environmentImageRequest"]
        if self.failures.build_log is not None:
            build_log, python = self.failures.build_log, None
        else:
            build = self.standin.builds.build(from_v1(image_request["environment"]))
            build_log, python = build.log, build.python
        if python is None:
            operation.log_uri = f"https://{REGION}.api.azureml.ms/operationlogs/{operation.id}"
            self.build_logs[operation.id] = build_log
            self.finish(
                service,
                "Failed",
                "EnvironmentBuildFailed",
                f"Image build failed. For more details, check log file {operation.log_uri}",
            )
            return
        operation.sub_operation = "DeployService"
        app_root = self.standin.new_folder(f"{service.name}-") / "azureml-app"
        variables = self.lay_out_app_root(app_root, image_request)
        entry_script = variables.get("AZUREML_ENTRY_SCRIPT", "main.py")
        container = self.standin.start_container(app_root, variables, entry_script, python)
        service.container = container
        self.limits.watch(container, record, lambda reason: mark_unhealthy(record, reason))
        if not container.wait_until_started(START_TIMEOUT_S):
            container.stop()
            compute = record["computeType"]
            self.finish(
                service,
                "Failed",
                f"{compute.title()}DeploymentFailed",
                f"{compute} Deployment failed with exception: Your container application crashed. This may be "
                "caused by errors in your scoring file's init() function.\n\t1. Please check the logs for your "
                f"container instance: {service.name}. From the AML SDK, you can run print(service.get_logs()) if "
                "you have service object to fetch the logs.",
            )
            return
        record["scoringUri"] = record["scoringUri"] or self.scoring_uri(record)  # an update keeps it
        self.finish(service, "Succeeded")

    def finish(self, service: Service, state: str, code: str = "", message: str = "") -> None:
        """End the operation; the service is Healthy after a success, Failed otherwise."""
        if state == "Succeeded":
            service.record["state"] = "Healthy"
        else:
            error = {"code": code, "statusCode": 400, "message": message}
            service.record |= {"state": "Failed", "error": error}
            service.operation.error = error
        service.record["updatedTime"] = now()
        service.operation.state = state

    def lay_out_app_root(self, app_root: Path, image_request: dict[str, Any]) -> dict[str, str]:
        """Write the container's ``/var/azureml-app`` from the uploaded assets and models; its variables."""
        app_root.mkdir(parents=True)
        for asset in image_request["assets"]:
            content = self.workspace.artifact_bytes(asset["url"].removeprefix("aml://artifact/"))
            if asset.get("unpack"):
                with tarfile.open(fileobj=io.BytesIO(content)) as archive:
                    archive.extractall(app_root, filter="data")
            else:
                target = "main.py" if asset["id"] == image_request.get("driverProgram") else asset["id"]
                (app_root / target).write_bytes(content)
        model_dirs = []
        for model_id in image_request.get("modelIds", []):
            name, _, number = model_id.partition(":")
            model = next(m for m in self.workspace.models[name] if str(m["version"]) == number)
            filename, content = self.workspace.model_file(model)
            folder = app_root / "azureml-models" / name / number
            folder.mkdir(parents=True)
            (folder / filename).write_bytes(content)
            model_dirs.append(folder)
        variables = dict(image_request["environment"].get("environmentVariables") or {})
        model_dir = model_dirs[0] if len(model_dirs) == 1 else app_root / "azureml-models"
        return {**variables, "AZUREML_MODEL_DIR": str(model_dir)}

    @staticmethod
    def scoring_uri(record: dict[str, Any]) -> str:
        if record["computeType"] == "ACI":
            return f"http://{uuid.uuid4().hex}.{REGION}.azurecontainer.io/score"
        cluster = f"{record['computeName']}-{uuid.uuid4().hex[:6]}".lower()
        return f"http://{cluster}.{REGION}.cloudapp.azure.com:80/api/v1/service/{record['name']}/score"

    # -- reading, keys, logs ---------------------------------------------------------------------------------------

    def _service(self, name: str) -> Service | None:
        with self._lock:
            return self.services.get(name)

    def get_service(self, request: Request, match: re.Match[str]) -> Response:
        service = self._service(match["name"])
        if service is None:
            return azure_error(404, "NotFound", f"No service with name {match['name']} found.")
        return json_response(200, records.expanded(service.record, request))

    def get_operation(self, request: Request, match: re.Match[str]) -> Response:
        operation = self.operations.get(match["id"])
        if operation is None:
            return azure_error(404, "NotFound", f"Operation {match['id']} not found.")
        return json_response(200, operation.payload())

    def operation_log(self, request: Request, match: re.Match[str]) -> Response:
        log = self.build_logs.get(match["id"])
        if log is None:
            return azure_error(404, "NotFound", "No such operation log.")
        return Response(log, status=200, content_type="text/plain")

    def list_keys(self, request: Request, match: re.Match[str]) -> Response:
        service = self._service(match["name"])
        if service is None:
            return azure_error(404, "NotFound", f"No service with name {match['name']} found.")
        if not service.record["authEnabled"]:
            return azure_error(400, "BadArgument", "Keys are not enabled for this service.")
        return json_response(200, {"primaryKey": service.keys[0], "secondaryKey": service.keys[1]})

    def issue_token(self, request: Request, match: re.Match[str]) -> Response:
        """``POST services/<name>/token``, which ``get_token``/``get_access_token`` call (aks.py
        ``_internal_get_access_token``): 201 with the REST spec's ``AuthToken`` (``Services_GetServiceToken``),
        ``refreshAfter`` and ``expiryOn`` in seconds since the epoch, as the SDK reads them
        (``WebServiceAccessToken``: ``datetime.fromtimestamp``). ``tokenType`` is not specified: ``Bearer``, the
        scheme the SDK sends the token with. A service without token auth is refused as ``listkeys`` refuses a
        keyless one (the shape of that refusal is not documented)."""
        service = self._service(match["name"])
        if service is None:
            return azure_error(404, "NotFound", f"No service with name {match['name']} found.")
        if not service.record.get("aadAuthEnabled"):
            return azure_error(400, "BadArgument", "Token authentication is not enabled for this service.")
        refresh_after = int(time.time() + self.token_refresh_s)
        token, expiry_on = secrets.token_urlsafe(32), refresh_after + TOKEN_VALID_AFTER_REFRESH_S
        with self._lock:
            service.tokens[token] = expiry_on
        body = {"accessToken": token, "tokenType": "Bearer", "refreshAfter": refresh_after, "expiryOn": expiry_on}
        return json_response(201, body)

    def expire_tokens(self) -> None:
        """End every token issued so far, as time would (a test's shortcut: nothing waits)."""
        with self._lock:
            for service in self.services.values():
                service.tokens = dict.fromkeys(service.tokens, 0)

    def get_logs(self, request: Request, match: re.Match[str]) -> Response:
        service = self._service(match["name"])
        if service is None:
            return azure_error(404, "NotFound", f"No service with name {match['name']} found.")
        tail = request.args.get("tail", type=int)
        content = service.container.logs(tail) if service.container is not None else ""
        return json_response(200, {"content": content})

    # -- deletion ----------------------------------------------------------------------------------------------------

    def delete_service(self, request: Request, match: re.Match[str]) -> Response:
        """202 with an operation, done before the answer (the SDK then polls once); 409 while an operation runs;
        204 when there is no such service (the SDK prints that it found none)."""
        service = self._service(match["name"])
        if service is None:
            return Response(status=204)
        if service.operation.state == "Running":
            return azure_error(
                409, "Conflict", f"Service {service.name} has an operation in progress; try again when it has ended."
            )
        if service.container is not None:
            service.container.stop()
        operation = Operation(str(uuid.uuid4()), "Delete", state="Succeeded", sub_operation="DeleteService")
        with self._lock:
            self.services.pop(service.name, None)
        return json_response(202, {}, {"Operation-Location": self.track(operation)})

    # -- the scoring hosts -------------------------------------------------------------------------------------------

    def _service_at(self, request: Request) -> Service | None:
        """The service whose scoring URI has the host this request was sent to (each has its own)."""
        host = target_host(request)
        with self._lock:
            for service in self.services.values():
                if urllib.parse.urlsplit(service.record.get("scoringUri") or "").hostname == host:
                    return service
        return None

    def score(self, request: Request, match: re.Match[str]) -> Response:
        """The service's front: its key or token when auth is on, nginx's body limit, then the container's own
        answer."""
        service = self._service_at(request)
        if service is None or service.container is None or not service.container.running:
            return Response("upstream connect error or disconnect/reset before headers", status=502)
        if not authorized(service, request):
            return Response(status=401, headers={"WWW-Authenticate": "Bearer"})
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return Response("<html><body><h1>413 Request Entity Too Large</h1></body></html>", status=413)
        return self.limits.score(service.record, service.container, request)

    def swagger(self, request: Request, match: re.Match[str]) -> Response:
        service = self._service_at(request)
        if service is None or service.container is None:
            return Response(status=502)
        return relay(request, service.container.base_url, path="/swagger.json")


def authorized(service: Service, request: Request) -> bool:
    """Whether a scoring request carries what the service's auth asks for, as ``Authorization: Bearer`` (aks.py
    ``run``): one of its keys with key auth, a token the token route issued and that has not expired with token
    auth (Microsoft's v1 docs: a request needs an unexpired token); anything without either."""
    key_auth_on, token_auth_on = service.record["authEnabled"], service.record.get("aadAuthEnabled")
    if not (key_auth_on or token_auth_on):
        return True
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    if key_auth_on:
        return credential in service.keys
    return service.tokens.get(credential, 0) > time.time()


def both_auths_refused() -> Response:
    """Azure ML's refusal of a service with both key and token auth (Microsoft's v1 docs: "You can't enable both";
    the SDK's own ``update`` check: token auth needs key auth turned off). With ``authEnabled`` left out, AKS's key
    auth is on (:func:`key_auth`), so token auth needs ``authEnabled: false`` (aks.py's own example:
    ``deploy_configuration(token_auth_enabled=True, auth_enabled=False)``). This refusal is not documented: its
    envelope is :func:`bad_request`'s, its code and message the stand-in's."""
    return bad_request("AuthConflict", "Key and token authentication cannot both be enabled: set authEnabled false.")


def bad_request(code: str, message: str) -> Response:
    """A ``POST services`` refusal as users report them: 400 ``BadRequest`` "The request is invalid", the cause in
    ``details`` (the spec's ``ModelErrorResponse``; microsoft/MLOpsPython#171)."""
    body = {
        "code": "BadRequest",
        "statusCode": 400,
        "message": "The request is invalid",
        "details": [{"code": code, "message": message}],
    }
    return json_response(400, body)


def compute_not_found(compute: str | None, workspace: str) -> Response:
    """Azure ML's refusal of a deployment to an AKS compute target the workspace does not have (``computeName``,
    which ``Model.deploy`` takes from ``compute_target_name``: model.py ``_deploy_with_environment_image_request``).
    Users report :func:`bad_request`'s envelope for a compute Azure ML cannot deploy to (one not in Succeeded
    state); the detail for a compute that does not exist at all is not documented: its code and message are the
    stand-in's."""
    return bad_request(
        "ComputeResourceNotFound", f"Compute resource {compute} is not attached to workspace {workspace}."
    )


def key_auth(payload: dict[str, Any]) -> bool:
    """Whether a new service takes keys: as sent, else its compute's default. The SDK leaves ``authEnabled`` out
    when it is not given (aks.py, aci.py ``_build_create_payload``); Microsoft's v1 docs ("Configure authentication
    for models deployed as web services"): AKS services have key-based auth enabled by default, ACI services
    disabled."""
    sent = payload.get("authEnabled")
    return payload["computeType"] == "AKS" if sent is None else bool(sent)


def autoscaler(payload: dict[str, Any]) -> dict[str, Any]:
    """An AKS service's ``autoScaler`` as its record holds it: the REST spec's ``AutoScaler`` with all five keys
    (modelManagement.json 2019-09-30; ``AutoScaler.deserialize`` in aks.py requires each), what the SDK sent or
    else :data:`AUTOSCALER_DEFAULTS`; autoscaling is on unless turned off or a replica count is fixed
    (``autoscale_enabled``: "Defaults to True if num_replicas is None", aks.py)."""
    sent = payload.get("autoScaler") or {}
    enabled = sent.get("autoscaleEnabled")
    return {
        "autoscaleEnabled": payload.get("numReplicas") is None if enabled is None else enabled,
        **{key: default if sent.get(key) is None else sent[key] for key, default in AUTOSCALER_DEFAULTS.items()},
    }
