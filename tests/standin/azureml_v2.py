"""SDK v2 (azure-ai-ml): the workspace's management API, its blob storage and its endpoints' scoring hosts.

Shaped on Microsoft's recordings of the real service (Azure/azure-sdk-assets, folder
``python/sdk/ml/azure-ai-ml/tests/recordings/``), cited per route as ``OD[i]``: the entries of
``online_services/e2etests/test_online_deployment.pyTestOnlineDeploymenttest_online_deployment.json``
(commit b4cd9fb8; negative indexes count from the end), and on what azure-ai-ml 1.35.2 sends and parses
(``SDK:`` cites its source). Request bodies are checked against the published REST API (:mod:`.rest_spec`): a
body the spec refuses gets a 400 and is kept in :attr:`WorkspaceV2.refused`.

Long-running operations answer 201/202 with ``Azure-AsyncOperation`` and ``Location`` (OD[1], OD[17], OD[-2]);
the status URL says ``Updating`` until the operation ends, then ``Succeeded`` or ``Failed`` (OD[2..4]). Operations
end with time on the stand-in's fast clock (:mod:`.lro`), whether or not anyone polls. The recordings carry no
``Retry-After`` (the SDK then waits 5-30 s between polls); the stand-in adds ``retry-after-ms`` (read by
azure-core's ``get_retry_after``) so tests poll every few milliseconds.

A deployment runs the real inference server (:mod:`.container`) from an app root built from the blobs the SDK
uploaded: the code folder under ``/var/azureml-app/<folder>`` and the model file under
``azureml-models/<name>/<version>``, with ``AZUREML_MODEL_DIR``, ``AZUREML_ENTRY_SCRIPT`` and ``AML_APP_ROOT`` set
as the recorded deployment shows them (OD[-17]), with the Python of its environment's image build: the
environment version named by ``environmentId`` (its ``image`` and conda file), built by :mod:`.environments`. A
build that fails ends the deployment ``Failed`` with ``ImageBuildFailure``, its log behind ``getLogs`` and in the
workspace's storage (Microsoft's "Troubleshoot online endpoints", ERROR: ImageBuildFailure).
"""

from __future__ import annotations

import datetime
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import requests
from werkzeug.wrappers import Request, Response

from . import rest_spec, traffic as routing
from .aad import Entra
from .azureml_v2_limits import SKU_CORES, duration_seconds, limit_refusal, reserved_instances
from .blob import BlobStore
from .environment_registry import EnvironmentVersion, v1_definition_of_v2
from .environments import EnvironmentSpec, from_v2, unknown_environment
from .lro import DURATIONS_S, FastClock, Operation
from .server import Handler, StandInServer, azure_error, json_response

if TYPE_CHECKING:
    from . import AzureStandIn
    from .container import Lease

ARM = r"management\.azure\.com"
REGION = "eastus"
MFE_STATUS = "mfeOperationsStatus"
#: The deployment defaults the service fills in (OD[17]): 5 s per request, one request at a time per instance.
DEFAULT_REQUEST_SETTINGS = {"maxQueueWait": "PT0S", "requestTimeout": "PT5S", "maxConcurrentRequestsPerInstance": 1}
#: Largest scoring request body the stand-in relays (413 above it). Managed endpoints front the container with
#: their own gateway; the inference server's nginx in Azure ML images allows 100 MB bodies.
MAX_REQUEST_BYTES = 100 * 1024 * 1024
CONTAINER_START_TIMEOUT_S = 120.0
#: The storage container of the image build logs (ERROR: ImageBuildFailure: "'azureml' is the name of the blob
#: container in the storage account").
IMAGE_LOGS_CONTAINER = "azureml"
#: Endpoint names the service accepts: 3-32 characters, a letter first, no ``--`` (a DNS label of the scoring URI).
ENDPOINT_NAME = re.compile(r"(?!.*--)[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]")


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


@dataclass
class Resource:
    """An ARM resource as stored: its body (``name``, ``properties``...) and its running operation."""

    body: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.body["name"])

    @property
    def properties(self) -> dict[str, Any]:
        properties: dict[str, Any] = self.body["properties"]
        return properties


@dataclass
class Deployment(Resource):
    container: Lease | None = None
    #: The server of the deployment this one replaces (a PUT on an existing deployment): it serves until the new
    #: one has started, then is stopped (see :meth:`WorkspaceV2.put_deployment`).
    replaced: Lease | None = None
    operation: Operation | None = None
    concurrent: int = 0
    #: The log of its image build, when that failed (what ``getLogs`` answers then).
    build_log: str = ""


@dataclass
class Endpoint(Resource):
    keys: tuple[str, str] = field(default_factory=lambda: (uuid.uuid4().hex, uuid.uuid4().hex))
    deployments: dict[str, Deployment] = field(default_factory=dict)
    operation: Operation | None = None


@dataclass
class WorkspaceV2:
    """One Azure ML workspace as azure-ai-ml sees it, with its storage account and endpoints."""

    standin: AzureStandIn
    subscription_id: str = "00000000-0000-4000-8000-0000000000f2"
    resource_group: str = "mnist-rg"
    name: str = "mnist-ws-v2"
    workspace_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    #: Azure's time, run fast: operations end when their time has passed on it (:mod:`.lro`).
    clock: FastClock = field(default_factory=FastClock)
    #: Milliseconds the SDK is told to wait between polls (``retry-after-ms``).
    poll_delay_ms: int = 5
    #: Cores of each VM family's quota (managed online endpoints take ``ceil(1.2 x instances) x the SKU's cores``
    #: per deployment, see :meth:`_quota_refusal`). 24: the lowest default of dedicated cores per region that
    #: Microsoft Learn's "Manage and increase quotas" page gives.
    core_quota: int = 24
    #: The error the next deployment operation ends with (a test's fault), e.g. ``{"code", "message"}``.
    next_deployment_error: dict[str, str] | None = None
    #: Hold every new operation in ``Updating`` until :meth:`release` (a time-out test).
    hold_operations: bool = False
    models: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    codes: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)
    #: Request bodies the REST spec refused: (method, path, the validator's message).
    refused: list[tuple[str, str, str]] = field(default_factory=list)
    #: Request bodies checked against the spec: (method, path, api-version).
    checked: list[tuple[str, str, str]] = field(default_factory=list)
    #: What the spec refuses but :data:`.rest_spec.KNOWN_DEVIATIONS` lists (the SDK sends it; Azure accepts it).
    tolerated: list[tuple[str, str, str]] = field(default_factory=list)
    #: The endpoints' traffic choices (seeded) and the copies sent to shadow deployments (:mod:`.traffic`).
    router: routing.Router = field(default_factory=routing.Router)
    mirrors: routing.MirrorCopies = field(default_factory=routing.MirrorCopies)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.blob = BlobStore(f"mnistws{self.workspace_id[:8]}st")

    # -- names ---------------------------------------------------------------------------------------------------

    @property
    def arm_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.name}"
        )

    @property
    def datastore_container(self) -> str:
        return f"azureml-blobstore-{self.workspace_id}"

    @property
    def code_container(self) -> str:
        return f"{self.workspace_id}-code"

    def config(self) -> dict[str, str]:
        """The workspace's ``config.json``, as the portal downloads it."""
        return {
            "subscription_id": self.subscription_id,
            "resource_group": self.resource_group,
            "workspace_name": self.name,
        }

    def scoring_host(self, endpoint: str) -> str:
        return f"{endpoint}.{REGION}.inference.ml.azure.com"

    # -- set-up --------------------------------------------------------------------------------------------------

    def install(self, server: StandInServer) -> None:
        """Register the routes: management calls need a token of the stand-in's tenant (401 otherwise)."""
        ws = re.escape(self.arm_id)
        endpoint = rf"{ws}/onlineEndpoints/(?P<endpoint>[^/]+)"
        deployment = rf"{endpoint}/deployments/(?P<deployment>[^/]+)"
        asset = rf"{ws}/(?P<kind>models|environments|codes)/(?P<name>[^/]+)"
        signed = [
            ("GET", ws, self.get_workspace),
            ("GET", rf"{ws}/datastores", self.list_datastores),
            ("GET", rf"{ws}/datastores/(?P<datastore>[^/]+)", self.get_datastore),
            ("POST", rf"{ws}/datastores/(?P<datastore>[^/]+)/listSecrets", self.list_secrets),
            ("GET", asset, self.get_container),
            ("GET", rf"{asset}/versions", self.list_versions),
            ("GET", rf"{asset}/versions/(?P<version>[^/]+)", self.get_version),
            ("PUT", rf"{asset}/versions/(?P<version>[^/]+)", self.put_version),
            ("POST", rf"{asset}/versions/(?P<version>[^/]+)/startPendingUpload", self.start_pending_upload),
            ("GET", endpoint, self.get_endpoint),
            ("PUT", endpoint, self.put_endpoint),
            ("DELETE", endpoint, self.delete_endpoint),
            ("POST", rf"{endpoint}/listKeys", self.list_keys),
            ("GET", rf"{endpoint}/deployments", self.list_deployments),
            ("GET", deployment, self.get_deployment),
            ("PUT", deployment, self.put_deployment),
            ("DELETE", deployment, self.delete_deployment),
            ("POST", rf"{deployment}/getLogs", self.get_logs),
            (
                "GET",
                rf"/subscriptions/{re.escape(self.subscription_id)}/providers/Microsoft\.MachineLearningServices"
                rf"/locations/{REGION}/(?P<kind>mfeOperationsStatus|mfeOperationResults)/(?P<operation>[^/]+)",
                self.get_operation,
            ),
        ]
        for method, path, handler in signed:
            server.route(method, ARM, path, first=True)(self._checked(handler))
        self.blob.install(server)
        server.route("POST", r"[a-z0-9-]+\." + REGION + r"\.inference\.ml\.azure\.com", r"/score")(self.score)

    def reset(self) -> None:
        """Forget every asset, endpoint and operation (between tests)."""
        with self._lock:
            self.models.clear()
            self.standin.environments.clear()
            self.codes.clear()
            self.endpoints.clear()
            self.operations.clear()
            self.refused.clear()
            self.checked.clear()
            self.tolerated.clear()
            self.next_deployment_error = None
            self.hold_operations = False
            self.core_quota = 24
        self.router.reset()
        self.mirrors.reset()
        self.clock.cancel_all()
        self.blob.reset([self.datastore_container, self.code_container])

    def release(self) -> None:
        """Let held operations move on (see :attr:`hold_operations`)."""
        with self._lock:
            self.hold_operations = False
            held = list(self.operations.values())
        for operation in held:
            operation.release()

    def _checked(self, handler: Handler) -> Handler:
        """Refuse unsigned calls (401) and bodies the REST spec refuses (400), as ARM would."""

        def checked(request: Request, match: re.Match[str]) -> Response:
            refused = Entra.refuse_unless_signed_in(request)
            if refused is not None:
                return refused
            if request.method in {"PUT", "POST"} and request.get_data():
                api_version = request.args.get("api-version", "")
                body = json.loads(request.get_data())
                invalid, tolerated = rest_spec.problems(request.method, request.path, api_version, body)
                with self._lock:
                    if rest_spec.definition_for(request.method, request.path, api_version):
                        self.checked.append((request.method, request.path, api_version))
                    if invalid:
                        self.refused.append((request.method, request.path, "; ".join(invalid)))
                    self.tolerated += [(request.method, request.path, problem) for problem in tolerated]
                if invalid:
                    return azure_error(400, "BadRequest", f"The request body is invalid: {'; '.join(invalid)}")
            with self._lock:
                return handler(request, match)

        checked.__name__ = handler.__name__
        return checked

    # -- long-running operations ---------------------------------------------------------------------------------

    def _start_operation(
        self, prefix: str, finish: Callable[[], dict[str, str] | None], *, kind: str = ""
    ) -> tuple[Operation, dict[str, str]]:
        """A new operation, ending after its duration (:data:`.lro.DURATIONS_S` of ``kind``, default ``prefix``) on
        the clock, and the headers of its 201/202 answer (OD[1]: ``Azure-AsyncOperation`` with an
        ``oeidp:``/``odidp:`` id, ``x-ms-async-operation-timeout: PT30M``)."""
        operation = Operation(f"{prefix}:{self.workspace_id}:{uuid.uuid4()}", finish, held=self.hold_operations)
        self.operations[operation.id] = operation
        self.clock.call_after(DURATIONS_S[kind or prefix], operation.time_is_up)
        base = (
            f"https://management.azure.com/subscriptions/{self.subscription_id}/providers/"
            f"Microsoft.MachineLearningServices/locations/{REGION}"
        )
        return operation, {
            "Azure-AsyncOperation": f"{base}/{MFE_STATUS}/{operation.id}?api-version=2022-02-01-preview",
            "x-ms-async-operation-timeout": "PT30M",
            "retry-after-ms": str(self.poll_delay_ms),
        }

    def get_operation(self, request: Request, match: re.Match[str]) -> Response:
        """Status polls, OD[2..4] (``Updating`` with ``endTime 0001-01-01...``, then ``Succeeded``); a failure
        carries ``error {code, message}``. ``mfeOperationResults`` (the DELETE's ``Location``, OD[-2]) answers 200."""
        operation = self.operations.get(match["operation"])
        if operation is None:
            return azure_error(404, "UserError", f"Operation {match['operation']} not found.")
        if match["kind"] == "mfeOperationResults":
            return Response(status=200 if not operation.running else 202)
        status = operation.answer()
        body: dict[str, Any] = {
            "id": request.path,
            "name": match["operation"],
            "status": status,
            "startTime": now(),
            "endTime": "0001-01-01T00:00:00+00:00" if operation.running else now(),
            "percentComplete": 0.0 if operation.running else 1.0,
        }
        if operation.error:
            body["error"] = operation.error
        return json_response(200, body, {"retry-after-ms": str(self.poll_delay_ms)})

    # -- workspace and datastore ---------------------------------------------------------------------------------

    def get_workspace(self, request: Request, match: re.Match[str]) -> Response:
        """OD[0]: the workspace (the SDK reads ``location`` before each endpoint or deployment PUT)."""
        return json_response(
            200,
            {
                "id": self.arm_id,
                "name": self.name,
                "type": "Microsoft.MachineLearningServices/workspaces",
                "location": REGION,
                "tags": {},
                "identity": {
                    "type": "SystemAssigned",
                    "principalId": str(uuid.uuid4()),
                    "tenantId": self.standin.entra.principal.tenant_id,
                },
                "kind": "Default",
                "sku": {"name": "Basic", "tier": "Basic"},
                "properties": {
                    "friendlyName": self.name,
                    "storageAccount": f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                    f"/providers/Microsoft.Storage/storageAccounts/{self.blob.account}",
                    "workspaceId": self.workspace_id,
                    "discoveryUrl": f"https://{REGION}.api.azureml.ms/discovery",
                    "provisioningState": "Succeeded",
                    "publicNetworkAccess": "Enabled",
                    "systemDatastoresAuthMode": "identity",
                },
            },
        )

    def get_datastore(self, request: Request, match: re.Match[str]) -> Response:
        """OD[11]: ``workspaceblobstore`` with ``credentials {"credentialsType": "None"}``: uploads use the
        caller's own token (SDK: ``_artifacts/_artifact_utilities.py`` get_datastore_info)."""
        if match["datastore"] != "workspaceblobstore":
            return azure_error(404, "UserError", f"Datastore {match['datastore']} not found.")
        return json_response(200, self.datastore())

    def list_datastores(self, request: Request, match: re.Match[str]) -> Response:
        """The datastore list (``datastores.get_default()`` asks for ``isDefault=true``): the one above."""
        return json_response(200, {"value": [self.datastore()]})

    def datastore(self) -> dict[str, Any]:
        """``workspaceblobstore`` as OD[11] shows it."""
        return {
            "id": f"{self.arm_id}/datastores/workspaceblobstore",
            "name": "workspaceblobstore",
            "type": "Microsoft.MachineLearningServices/workspaces/datastores",
            "properties": {
                "description": None,
                "tags": None,
                "properties": None,
                "isDefault": True,
                "credentials": {"credentialsType": "None"},
                "subscriptionId": self.subscription_id,
                "resourceGroup": self.resource_group,
                "datastoreType": "AzureBlob",
                "accountName": self.blob.account,
                "containerName": self.datastore_container,
                "endpoint": "core.windows.net",
                "protocol": "https",
                "serviceDataAccessAuthIdentity": "WorkspaceSystemAssignedIdentity",
            },
        }

    def list_secrets(self, request: Request, match: re.Match[str]) -> Response:
        """OD[12]: 400 "No secrets for credentials of type None." (the SDK then uses the caller's token)."""
        return azure_error(400, "UserError", "No secrets for credentials of type None.")

    # -- assets: models, environments, code ----------------------------------------------------------------------

    def _versions(self, kind: str, name: str) -> list[dict[str, Any]]:
        if kind == "models":
            return self.models.get(name, [])
        if kind == "environments":
            return [self._environment_resource(entry) for entry in self.standin.environments.versions(name)]
        return list(self.codes.get(name, {}).values())

    def _environment_resource(self, entry: EnvironmentVersion) -> dict[str, Any]:
        """The ARM ``EnvironmentVersion`` of a version of the workspace's environments, whichever SDK wrote it
        (:mod:`.environment_registry`)."""
        return {
            "id": f"{self.arm_id}/environments/{entry.name}/versions/{entry.version}",
            "name": entry.version,
            "type": "Microsoft.MachineLearningServices/workspaces/environments/versions",
            "properties": entry.v2_properties,
            "systemData": {"createdAt": entry.created_at, "createdBy": "standin", "lastModifiedAt": entry.created_at},
        }

    def get_container(self, request: Request, match: re.Match[str]) -> Response:
        """An asset's container: ``latestVersion`` and ``nextVersion`` (SDK: ``_utils/_asset_utils.py``
        ``_get_next_version_from_container``); 404 for a name never registered."""
        kind, name = match["kind"], match["name"]
        versions = self._versions(kind, name)
        if not versions:
            return azure_error(404, "UserError", f"Could not find asset with ID: {kind}/{name}")
        numbers = [int(v["name"]) for v in versions if str(v["name"]).isdigit()]
        latest = max(numbers) if numbers else 0
        return json_response(
            200,
            {
                "id": f"{self.arm_id}/{kind}/{name}",
                "name": name,
                "type": f"Microsoft.MachineLearningServices/workspaces/{kind}",
                "properties": {
                    "latestVersion": str(latest),
                    "nextVersion": str(latest + 1),
                    "isArchived": all(v["properties"].get("isArchived") for v in versions),
                    "description": None,
                    "tags": {},
                    "properties": {},
                },
            },
        )

    def list_versions(self, request: Request, match: re.Match[str]) -> Response:
        """A version list. Models: ``$orderBy=createdtime desc&$top=1`` for "latest", answered ``{"value": []}``
        when none is active (OD[10]); ``listViewType`` ActiveOnly (the default), ArchivedOnly or All. Code:
        ``hash=<sha256>`` finds an upload with the same content under any name (OD[7], CODE[0])."""
        kind, name = match["kind"], match["name"]
        if kind == "codes" and "hash" in request.args:
            found = [
                version
                for versions in self.codes.values()
                for version in versions.values()
                if version["properties"]["properties"].get("hash_sha256") == request.args["hash"]
            ]
            return json_response(200, {"value": found[:1]})
        view = request.args.get("listViewType", "ActiveOnly")
        versions = [
            v
            for v in self._versions(kind, name)
            if view == "All" or bool(v["properties"].get("isArchived")) == (view == "ArchivedOnly")
        ]
        versions.sort(key=lambda v: v["systemData"]["createdAt"], reverse=True)
        if "$top" in request.args:
            versions = versions[: int(request.args["$top"])]
        return json_response(200, {"value": versions})

    def get_version(self, request: Request, match: re.Match[str]) -> Response:
        kind, name, number = match["kind"], match["name"], match["version"]
        found = [v for v in self._versions(kind, name) if v["name"] == number]
        if not found:
            return azure_error(404, "UserError", f"Could not find asset with ID: {kind}/{name}/versions/{number}")
        return json_response(200, found[0])

    def put_version(self, request: Request, match: re.Match[str]) -> Response:
        """Register a version. Models: OD[15] (``flavors {}``, ``stage "Logged"``); environments: OD[9]
        (``osType``, ``environmentType``), an existing version with other content answers 409 and the SDK then
        registers ``nextVersion`` (SDK: ``operations/_environment_operations.py``); code: as OD[7]."""
        kind, name, number = match["kind"], match["name"], match["version"]
        sent = json.loads(request.get_data())
        properties = dict(sent["properties"])
        existing = [v for v in self._versions(kind, name) if v["name"] == number]
        if existing:
            if kind == "environments" and _content(existing[0]) != _content({"properties": properties}):
                return azure_error(
                    409,
                    "UserError",
                    f"Conflict: environment {name} version {number} already exists with other content; versions "
                    "are immutable.",
                )
            if kind != "models":
                return json_response(200, existing[0])
        properties |= {
            "provisioningState": "Succeeded",
            "stage": "Logged",
            "isArchived": properties.get("isArchived", False),
        }
        if kind == "models":
            properties |= {"flavors": properties.get("flavors") or {}, "jobName": None}
        if kind == "environments":
            properties |= {"osType": "Linux", "environmentType": "UserCreated", "autoRebuild": "Disabled"}
        version = {
            "id": f"{self.arm_id}/{kind}/{name}/versions/{number}",
            "name": number,
            "type": f"Microsoft.MachineLearningServices/workspaces/{kind}/versions",
            "properties": properties,
            "systemData": {"createdAt": now(), "createdBy": "standin", "lastModifiedAt": now()},
        }
        if kind == "models":
            versions = self.models.setdefault(name, [])
            versions[:] = [v for v in versions if v["name"] != number] + [version]
        elif kind == "environments":
            definition = v1_definition_of_v2(name, number, properties)
            self.standin.environments.add(EnvironmentVersion(name, number, definition, properties, "v2", now()))
        else:
            self.codes.setdefault(name, {})[number] = version
        return json_response(201 if not existing else 200, version, {"Location": request.url})

    def archive(self, model: str) -> None:
        """Archive every version of a model (as ``az ml model archive`` does)."""
        with self._lock:
            for version in self.models.get(model, []):
                version["properties"]["isArchived"] = True

    def start_pending_upload(self, request: Request, match: re.Match[str]) -> Response:
        """Code upload: a container SAS on the workspace's storage (spec example
        ``createOrGetStartPendingUpload.json``; SDK reads ``blobReferenceForConsumption.credential.sasUri``)."""
        container = f"{self.blob.url}/{self.code_container}"
        return json_response(
            200,
            {
                "blobReferenceForConsumption": {
                    "blobUri": container,
                    "storageAccountArmId": f"/subscriptions/{self.subscription_id}/resourceGroups/"
                    f"{self.resource_group}/providers/Microsoft.Storage/storageAccounts/{self.blob.account}",
                    "credential": {
                        "credentialType": "SAS",
                        "sasUri": f"{container}?{self.blob.container_sas(self.code_container)}",
                    },
                },
                "pendingUploadId": str(uuid.uuid4()),
                "pendingUploadType": "TemporaryBlobReference",
            },
        )

    # -- online endpoints ----------------------------------------------------------------------------------------

    def _endpoint(self, match: re.Match[str]) -> Endpoint | Response:
        found = self.endpoints.get(match["endpoint"])
        if found is None:
            return azure_error(404, "UserError", f"Online endpoint {match['endpoint']} not found.")
        return found

    def _deployment(self, match: re.Match[str]) -> tuple[Endpoint, Deployment] | Response:
        found = self._endpoint(match)
        if isinstance(found, Response):
            return found
        deployment = found.deployments.get(match["deployment"])
        if deployment is None:
            return azure_error(404, "UserError", f"Deployment {match['deployment']} not found.")
        return found, deployment

    def get_endpoint(self, request: Request, match: re.Match[str]) -> Response:
        """OD[5]/OD[-8]: the endpoint; ``scoringUri`` null while it is being created; ``traffic`` holds the
        non-zero shares only (the SDK fills in zeros from the deployment list)."""
        found = self._endpoint(match)
        return found if isinstance(found, Response) else json_response(200, found.body)

    def put_endpoint(self, request: Request, match: re.Match[str]) -> Response:
        """OD[1] (create) and OD[-13] (traffic): 201 ``Creating`` with ``scoringUri`` null, then polls. Traffic
        may only name deployments of the endpoint, and must add up to 100 or 0 (the service's rule)."""
        name = match["endpoint"]
        if not ENDPOINT_NAME.fullmatch(name):
            return azure_error(
                400, "BadArgument", f"Invalid endpoint name {name}: it is a DNS label of the scoring URI."
            )
        sent = json.loads(request.get_data())
        endpoint = self.endpoints.get(name)
        if endpoint is not None and endpoint.operation is not None and endpoint.operation.running:
            return azure_error(
                409, "UserError", f"Endpoint {name} has an operation in progress; try again when it ends."
            )
        traffic = routing.shares(sent["properties"].get("traffic"))
        unknown = sorted(set(traffic) - set(endpoint.deployments if endpoint else ()))
        if unknown:
            return azure_error(
                400, "BadArgument", f"Traffic names deployments that do not exist: {', '.join(unknown)}."
            )
        if traffic and sum(traffic.values()) != 100:
            return azure_error(400, "BadArgument", "The traffic shares must add up to 100.")
        mirror = routing.shares(sent["properties"].get("mirrorTraffic"))
        refused = routing.mirror_refusal(traffic, mirror, endpoint.deployments if endpoint else ())
        if refused is not None:
            return azure_error(400, "BadArgument", refused)
        properties = {
            "description": sent["properties"].get("description"),
            "properties": {"azureml.onlineendpointid": f"{self.arm_id}/onlineEndpoints/{name}".lower()},
            "scoringUri": None,
            "swaggerUri": None,
            "authMode": sent["properties"].get("authMode", "Key"),
            "provisioningState": "Creating",
            "compute": None,
            "traffic": endpoint.properties["traffic"] if endpoint else {},
            "mirrorTraffic": endpoint.properties["mirrorTraffic"] if endpoint else {},
            "publicNetworkAccess": "Enabled",
        }
        body = {
            "id": f"{self.arm_id}/onlineEndpoints/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
            "kind": "Managed",
            "location": REGION,
            "tags": sent.get("tags") or {},
            "identity": {
                "type": "SystemAssigned",
                "principalId": str(uuid.uuid4()),
                "tenantId": self.standin.entra.principal.tenant_id,
            },
            "properties": properties,
            "systemData": {"createdAt": now(), "createdBy": "standin", "lastModifiedAt": now()},
        }
        if endpoint is None:
            endpoint = self.endpoints[name] = Endpoint(body)
        else:
            endpoint.body = body

        def finish() -> None:
            with self._lock:
                properties.update(
                    provisioningState="Succeeded",
                    scoringUri=f"https://{self.scoring_host(name)}/score",
                    swaggerUri=f"https://{self.scoring_host(name)}/swagger.json",
                    traffic=traffic,
                    mirrorTraffic=mirror,
                )

        endpoint.operation, headers = self._start_operation("oeidp", finish)
        properties["properties"]["AzureAsyncOperationUri"] = headers["Azure-AsyncOperation"]
        return json_response(201, body, {**headers, "Location": request.url})

    def delete_endpoint(self, request: Request, match: re.Match[str]) -> Response:
        """OD[-2]: 202, body ``null``, ``Azure-AsyncOperation`` and ``Location`` (``mfeOperationResults``). The
        endpoint goes with its deployments. While an operation on it runs, 409 (ARM's conflict). An endpoint that
        does not exist: 204, body ``null``, no operation (recording ``online_services/e2etests/test_online_endpoint.py
        TestOnlineEndpointtest_online_endpoint_mir_e2e.json``, Azure/azure-sdk-assets commit f79c6895)."""
        found = self._endpoint(match)
        if isinstance(found, Response):
            return Response(status=204)
        if self._busy(found):
            return azure_error(
                409, "Conflict", f"Endpoint {found.name} has an operation in progress; delete it when that ends."
            )
        found.properties["provisioningState"] = "Deleting"

        def finish() -> None:
            with self._lock:
                gone = list(found.deployments.values())
                self.endpoints.pop(found.name, None)
            for deployment in gone:
                _stop_replaced_server(deployment)
                if deployment.container is not None:
                    deployment.container.stop()

        found.operation, accepted = self._accept_delete("oeidp", finish)
        return accepted

    def _accept_delete(self, prefix: str, finish: Callable[[], None]) -> tuple[Operation, Response]:
        """A DELETE's answer: 202 ``null`` with ``Azure-AsyncOperation`` and ``Location``, and its operation."""
        operation, headers = self._start_operation(prefix, finish, kind="delete")
        headers["Location"] = headers["Azure-AsyncOperation"].replace(MFE_STATUS, "mfeOperationResults")
        return operation, Response("null", status=202, headers=headers, content_type="application/json")

    def _busy(self, endpoint: Endpoint) -> bool:
        operations = [endpoint.operation, *(d.operation for d in endpoint.deployments.values())]
        return any(op is not None and op.running for op in operations)

    def list_keys(self, request: Request, match: re.Match[str]) -> Response:
        """OD[-4]: ``{"primaryKey", "secondaryKey"}``."""
        found = self._endpoint(match)
        if isinstance(found, Response):
            return found
        return json_response(200, {"primaryKey": found.keys[0], "secondaryKey": found.keys[1]})

    # -- deployments ---------------------------------------------------------------------------------------------

    def list_deployments(self, request: Request, match: re.Match[str]) -> Response:
        """OD[-6]: ``{"value": [...]}``, no ``nextLink``."""
        found = self._endpoint(match)
        if isinstance(found, Response):
            return found
        return json_response(200, {"value": [d.body for d in found.deployments.values()]})

    def get_deployment(self, request: Request, match: re.Match[str]) -> Response:
        """OD[-17]: the deployment, with the environment variables the service set once it succeeded."""
        found = self._deployment(match)
        if isinstance(found, Response):
            return found
        _endpoint, deployment = found
        return json_response(200, deployment.body)

    def put_deployment(self, request: Request, match: re.Match[str]) -> Response:
        """OD[17]: 201 ``Creating`` with the service's defaults filled in (``requestSettings`` PT5S / 1,
        ``scaleSettings`` Default, probes); the environment's image is built and the container started now, and the
        last poll waits for it: a build that fails or a server that does not start (``init()`` failed) ends the
        operation ``Failed``. A lack of quota is refused on the PUT itself (see :meth:`_quota_refusal`), and so is a
        SKU outside the list or a limit passed (:func:`.azureml_v2_limits.limit_refusal`)."""
        found = self._endpoint(match)
        if isinstance(found, Response):
            return found
        name = match["deployment"]
        sent = json.loads(request.get_data())
        sent_properties = sent["properties"]
        count = int(sent.get("sku", {}).get("capacity", 1))
        refused = limit_refusal(sent, found.deployments, name) or self._quota_refusal(
            found.name, name, sent_properties.get("instanceType"), count
        )
        if refused is not None:
            return refused
        properties = {
            "description": sent_properties.get("description"),
            "properties": {},
            "codeConfiguration": sent_properties.get("codeConfiguration"),
            "environmentId": sent_properties.get("environmentId"),
            "environmentVariables": sent_properties.get("environmentVariables") or {},
            "scaleSettings": {"scaleType": "Default"},
            "requestSettings": {**DEFAULT_REQUEST_SETTINGS, **(sent_properties.get("requestSettings") or {})},
            "modelMountPath": None,
            "appInsightsEnabled": False,
            "livenessProbe": _PROBE,
            "readinessProbe": _PROBE,
            "provisioningState": "Creating",
            "instanceType": sent_properties.get("instanceType"),
            "model": sent_properties.get("model"),
            "egressPublicNetworkAccess": "Enabled",
            "endpointComputeType": "Managed",
        }
        body = {
            "id": f"{self.arm_id}/onlineEndpoints/{found.name}/deployments/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
            "kind": "Managed",
            "location": REGION,
            "tags": sent.get("tags") or {},
            "sku": {"name": "Default", "tier": "Standard", "capacity": count},
            "properties": properties,
            "systemData": {"createdAt": now(), "createdBy": "standin", "lastModifiedAt": now()},
        }
        deployment = found.deployments[name] = Deployment(body, replaced=_replaced_server(found.deployments.get(name)))
        failure = self.next_deployment_error
        self.next_deployment_error = None
        if failure is None:
            build = self.standin.builds.build(self._environment_spec(properties["environmentId"]))
            if build.python is None:
                failure = self._image_build_failure(deployment, build.log)
            else:
                deployment.container = self._start_container(deployment, build.python)

        def finish() -> dict[str, str] | None:
            error = failure or self._wait_for_container(deployment)
            _stop_replaced_server(deployment)
            with self._lock:
                properties["provisioningState"] = "Failed" if error else "Succeeded"
            return error

        deployment.operation, headers = self._start_operation("odidp", finish)
        properties["properties"] = {"AzureAsyncOperationUri": headers["Azure-AsyncOperation"]}
        return json_response(201, body, {**headers, "Location": request.url})

    def _quota_refusal(self, endpoint: str, name: str, instance_type: str, count: int) -> Response | None:
        """Azure refuses a deployment beyond the quota on its PUT, synchronously: 400 ``(BadRequest) The request
        is invalid.`` with a detail ``InferencingClientCreateDeploymentFailed`` whose message carries the JSON of a
        validation problem, ``{"errors": {"VmSize": ["Not enough quota available for <SKU> in SubscriptionId <id>.
        Current usage/limit: u/l. Additional needed: n Please see ..."]}, ...}``, as users of azure-ai-ml and the
        CLI report it (Azure-Samples/rag-data-openai-python-promptflow#4, MicrosoftLearning/mslearn-azure-ml#30,
        microsoft/azure-realtime-fraud-detection#2); the envelope is ARM's ErrorResponse.

        A deployment needs ``ceil(1.2 x instances) x the SKU's cores`` of its VM family's quota (Microsoft Learn,
        "Manage and increase quotas", "Virtual machine quota allocation for deployment"); the reports agree: one
        Standard_DS3_v2 or Standard_F4s_v2 (4 cores) needs 8, one Standard_F16s_v2 32. Usage counts what the
        family's other deployments hold the same way (a deployment this PUT replaces aside): the reports all show
        usage 0, so the sources are silent on how Azure counts it. The SKU is one of the list
        (:func:`.azureml_v2_limits.limit_refusal` refused the others first)."""
        family = SKU_CORES[instance_type.lower()][0]
        used = sum(
            _cores_held(d.properties["instanceType"], int(d.body["sku"]["capacity"]))
            for e in self.endpoints.values()
            for d in e.deployments.values()
            if (e.name, d.name) != (endpoint, name)
            and SKU_CORES[d.properties["instanceType"].lower()][0] == family
            and d.properties["provisioningState"] != "Failed"
        )
        needed = _cores_held(instance_type, count)
        if used + needed <= self.core_quota:
            return None
        problem = {
            "errors": {
                "VmSize": [
                    f"Not enough quota available for {instance_type} in SubscriptionId {self.subscription_id}. "
                    f"Current usage/limit: {used}/{self.core_quota}. Additional needed: {needed} Please see "
                    "troubleshooting guide, available here: "
                    "https://aka.ms/oe-tsg#error-outofquota"
                ]
            },
            "type": "https://tools.ietf.org/html/rfc7231#section-6.5.1",
            "title": "One or more validation errors occurred.",
            "status": 400,
            "traceId": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01",
        }
        detail = "InferencingClient HttpRequest error, error detail: " + json.dumps(problem, separators=(",", ":"))
        return json_response(
            400,
            {
                "error": {
                    "code": "BadRequest",
                    "message": "The request is invalid.",
                    "details": [{"code": "InferencingClientCreateDeploymentFailed", "message": detail}],
                }
            },
        )

    def _environment_spec(self, environment_id: str | None) -> EnvironmentSpec:
        """What the image build is given: the environment version ``environmentId`` names in this workspace."""
        found = re.fullmatch(r".*/environments/([^/]+)/versions/([^/]+)", environment_id or "", re.I)
        version = self.standin.environments.get(found[1], found[2]) if found else None
        if found is None or version is None:
            return unknown_environment(str(environment_id))
        return from_v2(found[1], found[2], version.v2_properties)

    def _image_build_failure(self, deployment: Deployment, build_log: str) -> dict[str, str]:
        """The deployment's error after a failed image build; its log kept for ``getLogs`` and in the workspace's
        storage, where the error says it is (ERROR: ImageBuildFailure)."""
        deployment.build_log = build_log
        path = f"ImageLogs/{uuid.uuid4().hex}/build.log"
        self.blob.write(IMAGE_LOGS_CONTAINER, path, build_log.encode())
        return {
            "code": "ImageBuildFailure",
            "message": f"Image build failed: see the build log under the storage account '{self.blob.account}' in "
            f"the container '{IMAGE_LOGS_CONTAINER}' at the path '{path}'. Please see troubleshooting guide, "
            "available here: https://aka.ms/oe-tsg#error-imagebuildfailure",
        }

    def _start_container(self, deployment: Deployment, python: Path) -> Lease:
        """The app root from the uploads: code under ``/var/azureml-app/<folder>``, the model under
        ``azureml-models/<name>/<version>/<file>``; the variables the recorded deployment shows (OD[-17]); the
        server run by ``python``, its environment's build."""
        root = self.standin.new_folder(f"deployment-{deployment.name}-")
        code = self._code_version(deployment.properties["codeConfiguration"]["codeId"])
        code_url = urlparse(code["properties"]["codeUri"])
        container, _, folder = code_url.path.lstrip("/").partition("/")
        app_root = root / "var" / "azureml-app" / Path(folder).name
        for blob_name, data in self.blob.read(container, folder.rstrip("/") + "/").items():
            _write(app_root / blob_name[len(folder.rstrip("/")) + 1 :], data)
        model_name, model_version, model_uri = self._model_version(deployment.properties["model"])
        model_dir = root / "var" / "azureml-app" / "azureml-models" / model_name / model_version
        prefix = model_uri.split("/paths/", 1)[1]
        for blob_name, data in self.blob.read(self.datastore_container, prefix).items():
            _write(model_dir / Path(blob_name).name, data)
        environment = {  # the deployment's own variables, then the service's (the docs do not say which wins)
            **deployment.properties["environmentVariables"],
            "AZUREML_MODEL_DIR": str(model_dir),
            "AZUREML_ENTRY_SCRIPT": deployment.properties["codeConfiguration"]["scoringScript"],
            "AML_APP_ROOT": str(app_root),
        }
        deployment.properties["environmentVariables"] = {
            **deployment.properties["environmentVariables"],
            "AZUREML_MODEL_DIR": f"/var/azureml-app/azureml-models/{model_name}/{model_version}",
            "AZUREML_ENTRY_SCRIPT": environment["AZUREML_ENTRY_SCRIPT"],
            "AML_APP_ROOT": f"/var/azureml-app/{app_root.name}",
        }
        return self.standin.start_container(app_root, environment, environment["AZUREML_ENTRY_SCRIPT"], python)

    def _code_version(self, arm_id: str) -> dict[str, Any]:
        _, name, number = re.fullmatch(r".*/codes/([^/]+)/versions/([^/]+)", arm_id, re.I).group(0, 1, 2)  # type: ignore[union-attr]  # the SDK sends ARM ids of this form; another fails here
        return self.codes[name][number]

    def _model_version(self, arm_id: str) -> tuple[str, str, str]:
        name, number = re.fullmatch(r".*/models/([^/]+)/versions/([^/]+)", arm_id, re.I).group(1, 2)  # type: ignore[union-attr]  # the SDK sends ARM ids of this form; another fails here
        version = next(v for v in self.models[name] if v["name"] == number)
        return name, number, unquote(version["properties"]["modelUri"])

    @staticmethod
    def _wait_for_container(deployment: Deployment) -> dict[str, str] | None:
        container = deployment.container
        if container is not None and container.wait_until_started(CONTAINER_START_TIMEOUT_S):
            return None
        return {
            "code": "ResourceNotReady",
            "message": "User container has crashed or terminated. Please see troubleshooting guide, available "
            "here: https://aka.ms/oe-tsg#error-resourcenotready",
        }

    def delete_deployment(self, request: Request, match: re.Match[str]) -> Response:
        """202 with ``Location`` and ``Azure-AsyncOperation`` (spec: OnlineDeployments_Delete); 409 while an
        operation on it runs; a deployment with traffic cannot be deleted (400, the service's rule). A deployment
        that does not exist on an existing endpoint: 204 as for an endpoint (:meth:`delete_endpoint`; no recording
        shows it for a deployment: the stand-in's own, after the endpoint's); the endpoint missing: 404."""
        found = self._deployment(match)
        if isinstance(found, Response):
            return Response(status=204) if match["endpoint"] in self.endpoints else found
        endpoint, deployment = found
        if deployment.operation is not None and deployment.operation.running:
            return azure_error(409, "Conflict", f"Deployment {deployment.name} has an operation in progress.")
        if endpoint.properties["traffic"].get(deployment.name):
            return azure_error(400, "BadArgument", f"Deployment {deployment.name} takes traffic; move it first.")
        deployment.properties["provisioningState"] = "Deleting"

        def finish() -> None:
            with self._lock:
                endpoint.deployments.pop(deployment.name, None)
            _stop_replaced_server(deployment)
            if deployment.container is not None:
                deployment.container.stop()

        deployment.operation, accepted = self._accept_delete("odidp", finish)
        return accepted

    def get_logs(self, request: Request, match: re.Match[str]) -> Response:
        """getLogs: body ``{"tail": n}``, answer ``{"content": "..."}`` (spec example ``getLogs.json``): the
        container's log, or the image build's when that failed."""
        found = self._deployment(match)
        if isinstance(found, Response):
            return found
        _endpoint, deployment = found
        tail = int(json.loads(request.get_data() or b"{}").get("tail") or 5000)
        if deployment.container is not None:
            content = deployment.container.logs(tail)
        else:
            content = "\n".join(deployment.build_log.splitlines()[-tail:])
        return json_response(200, {"content": content})

    # -- the scoring host ----------------------------------------------------------------------------------------

    def score(self, request: Request, match: re.Match[str]) -> Response:
        """``https://<endpoint>.eastus.inference.ml.azure.com/score`` (OD[-3]). Key in ``Authorization:
        Bearer`` (401 otherwise); ``azureml-model-deployment`` picks a deployment, else the traffic does; a body
        over :data:`MAX_REQUEST_BYTES` is 413; past 2 x ``maxConcurrentRequestsPerInstance`` x instances in
        parallel, 429; past ``requestTimeout``, 408; any non-200 answer of the container becomes 424 with
        ``ms-azureml-model-error-statuscode`` and the container's body."""
        host = request.headers.get("X-Standin-Host", "")
        endpoint = self.endpoints.get(host.split(".")[0])
        if endpoint is None or endpoint.properties["scoringUri"] is None:
            return Response("no healthy upstream", status=404, content_type="text/plain")
        if request.headers.get("Authorization", "") not in {f"Bearer {key}" for key in endpoint.keys}:
            return azure_error(401, "Unauthorized", "Key based authentication failed: wrong or missing key.")
        named = request.headers.get(routing.DEPLOYMENT_HEADER)
        chosen = named if named is not None else self.router.live(endpoint.properties["traffic"])
        deployment = endpoint.deployments.get(chosen or "")
        if deployment is None or _serving(deployment) is None:
            return azure_error(404, "DeploymentNotFound", f"No deployment {chosen!r} on endpoint {endpoint.name}.")
        if request.content_length is not None and request.content_length > MAX_REQUEST_BYTES:
            return azure_error(413, "RequestEntityTooLarge", f"Request body larger than {MAX_REQUEST_BYTES} bytes.")
        if named is None:
            self._mirror(request, endpoint)
        return self._relay(request, deployment)

    def _mirror(self, request: Request, endpoint: Endpoint) -> None:
        """A copy of a live request to the shadow deployment, when this request falls in the mirrored share; its
        answer is dropped (:mod:`.traffic`)."""
        shadow = endpoint.deployments.get(self.router.shadow(endpoint.properties["mirrorTraffic"]) or "")
        if shadow is None or _serving(shadow) is None:
            return
        copy = Request.from_values(
            method="POST", data=request.get_data(), content_type=request.headers.get("Content-Type")
        )
        self.mirrors.send(shadow.name, lambda: self._relay(copy, shadow).status_code)

    def _relay(self, request: Request, deployment: Deployment) -> Response:
        settings = deployment.properties["requestSettings"]
        # Microsoft Learn, "Troubleshoot online endpoint deployment and scoring", HTTP status codes: 429 "Too many
        # pending requests": at most 2 x max_concurrent_requests_per_instance x instance_count requests are processed
        # in parallel, the others are refused. Those beyond max_concurrent_requests_per_instance per instance wait in
        # the instance (the container's server queues them) and their wait counts in request_timeout_ms (the YAML
        # reference: max_queue_wait_ms is deprecated, "increase request_timeout_ms to account for any networking/
        # queue delays"). How long Azure lets a queued request wait apart from that, the docs do not say.
        limit = 2 * int(settings["maxConcurrentRequestsPerInstance"]) * int(deployment.body["sku"]["capacity"])
        with self._lock:
            if deployment.concurrent >= limit:
                return azure_error(
                    429, "TooManyRequests", "Too many pending requests: the deployment's concurrency limit is reached."
                )
            deployment.concurrent += 1
        try:
            return _relay_with_timeout(request, deployment, duration_seconds(settings["requestTimeout"]))
        finally:
            with self._lock:
                deployment.concurrent -= 1


def _serving(deployment: Deployment) -> Lease | None:
    """The server answering for a deployment: the one it replaces until its own has started."""
    return deployment.replaced or deployment.container


def _replaced_server(previous: Deployment | None) -> Lease | None:
    """The server a PUT on an existing deployment replaces (a server it was itself still replacing is stopped)."""
    if previous is None:
        return None
    if previous.replaced is not None:
        previous.replaced.stop()
    return previous.container


def _stop_replaced_server(deployment: Deployment) -> None:
    """An updated deployment's old server stops once the update ends. Microsoft's quota documentation reserves 20 %
    of a deployment's cores "for upgrades": new instances start beside the old ones, which go once the upgrade is
    done; whether the old ones stay when the update fails, the sources do not say (the stand-in stops them)."""
    if deployment.replaced is not None:
        deployment.replaced.stop()
        deployment.replaced = None


def _relay_with_timeout(request: Request, deployment: Deployment, timeout_s: float) -> Response:
    server = _serving(deployment)
    assert server is not None
    headers = {k: v for k, v in request.headers.items() if k.lower() in {"content-type", "accept"}}
    try:
        with requests.Session() as direct:
            direct.trust_env = False
            answer = direct.post(
                server.base_url + "/score", data=request.get_data(), headers=headers, timeout=timeout_s
            )
    except requests.Timeout:
        return azure_error(408, "RequestTimeout", f"Request timed out after {timeout_s:g} s (request_timeout_ms).")
    except requests.ConnectionError:
        return Response("upstream connect error", status=502, content_type="text/plain")
    common = {"azureml-model-deployment": deployment.name, "x-ms-run-function-failed": str(answer.status_code != 200)}
    if answer.status_code == 200:
        return Response(answer.content, status=200, headers=common, content_type=answer.headers.get("Content-Type"))
    return Response(
        answer.content,
        status=424,
        headers={
            **common,
            "ms-azureml-model-error-statuscode": str(answer.status_code),
            "ms-azureml-model-error-reason": "model_error",
        },
        content_type=answer.headers.get("Content-Type"),
    )


_PROBE = {"failureThreshold": 30, "successThreshold": 1, "timeout": "PT2S", "period": "PT10S", "initialDelay": "PT10S"}


def _cores_held(instance_type: str, count: int) -> int:
    """``ceil(1.2 x count) x the SKU's cores`` (no 20 % for the SKUs that skip it), in whole numbers."""
    return reserved_instances(instance_type, count) * SKU_CORES[instance_type.lower()][1]


def _content(version: dict[str, Any]) -> tuple[Any, ...]:
    properties = version["properties"]
    return properties.get("condaFile"), properties.get("image"), properties.get("build")


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
