"""SDK v1 (azureml-core): the workspace and the services its calls reach, answered as azureml-core parses them.

Built by reading azureml-core 1.61 and logging what it sends through the stand-in. Each route names the SDK
code that sends the request and reads the answer.
"""

from __future__ import annotations

import datetime
import re
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from . import azureml_v1_records as records
from .aad import Entra
from .environment_registry import EnvironmentRegistry, EnvironmentVersion, v2_properties_of_v1
from .server import Handler, StandInServer, azure_error, json_response

ARM = r"management\.azure\.com"
STORAGE_ACCOUNT = "mnistws0storage"
BLOB = rf"{STORAGE_ACCOUNT}\.blob\.core\.windows\.net"
REGION = "westeurope"
API = rf"{REGION}\.api\.azureml\.ms"
WORKSPACE_PATH = (
    r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)"
)


@dataclass
class WorkspaceV1:
    """One Azure ML workspace and what SDK v1 stored in it."""

    subscription_id: str = "00000000-0000-4000-8000-000000000001"
    resource_group: str = "mnist-rg"
    name: str = "mnist-ws"
    workspace_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    tenant_id: str = ""
    blobs: dict[str, bytes] = field(default_factory=dict)
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: The workspace's environments, shared with SDK v2's routes (:mod:`.environment_registry`).
    registry: EnvironmentRegistry = field(default_factory=EnvironmentRegistry)
    #: The AKS clusters attached to the workspace as compute targets, by compute name (the ``computeName`` a
    #: deployment names). A test attaches the ones it deploys to; attaching through the SDK is not modelled.
    aks_computes: set[str] = field(default_factory=set)

    @property
    def arm_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.name}"
        )

    @property
    def environments(self) -> dict[str, list[dict[str, Any]]]:
        """Each environment's versions as the v1 routes answer them, oldest first."""
        return {name: [entry.v1 for entry in self.registry.versions(name)] for name in self.registry.names()}

    def reset(self) -> None:
        """An empty workspace again: no blobs, assets, models, environments or attached AKS clusters."""
        for store in (self.blobs, self.assets, self.models, self.aks_computes):
            store.clear()
        self.registry.clear()

    def config(self) -> dict[str, str]:
        """The workspace's ``config.json``, as the portal downloads it."""
        return {
            "subscription_id": self.subscription_id,
            "resource_group": self.resource_group,
            "workspace_name": self.name,
        }

    def install(self, server: StandInServer, entra: Entra) -> None:
        """Register the workspace's routes; all but discovery, cloud metadata and SAS-signed blob calls need a
        token the stand-in's tenant issued."""
        self.tenant_id = entra.principal.tenant_id
        mms = rf"/modelmanagement/v1\.0{WORKSPACE_PATH}"
        environment = rf"/environment/v1\.0{WORKSPACE_PATH}/environments/(?P<name>[^/]+)"
        blob = r"/(?P<container>[^/]+)/(?P<blob>.+)"
        public = [
            ("GET", ARM, r"/metadata/endpoints", self.cloud_metadata),
            ("GET", API, r"/discovery", self.discovery),
            ("PUT", BLOB, blob, self.put_blob),
            ("HEAD", BLOB, blob, self.head_blob),
            ("GET", BLOB, blob, self.get_blob),
        ]
        signed = [
            ("GET", ARM, r"/subscriptions", self.list_subscriptions),
            ("GET", ARM, WORKSPACE_PATH, self.get_workspace),
            (
                "POST",
                API,
                rf"/artifact/v2\.0{WORKSPACE_PATH}/artifacts/batch/metadata/(?P<origin>[^/]+)/(?P<container>[^/]+)",
                self.artifact_batch_metadata,
            ),
            (
                "GET",
                API,
                rf"/artifact/v2\.0{WORKSPACE_PATH}/artifacts/prefix/contentinfo/(?P<origin>[^/]+)/(?P<container>[^/]+)/(?P<path>.+)",
                self.artifact_contentinfo,
            ),
            ("POST", API, rf"{mms}/assets", self.create_asset),
            ("GET", API, rf"{mms}/assets/(?P<id>[^/]+)", self.get_asset),
            ("POST", API, rf"{mms}/models", self.register_model),
            ("GET", API, rf"{mms}/models", self.list_models),
            ("GET", API, rf"{mms}/models/(?P<id>[^/]+)", self.get_model),
            ("PUT", API, environment, self.put_environment),
            ("GET", API, rf"{environment}(/versions/(?P<version>[^/]+))?", self.get_environment),
        ]
        for method, host, path, handler in public:
            server.route(method, host, path)(handler)
        for method, host, path, handler in signed:
            server.route(method, host, path)(signed_in(handler))

    def _is_mine(self, match: re.Match[str]) -> bool:
        return (match["sub"], match["rg"].lower(), match["ws"].lower()) == (
            self.subscription_id,
            self.resource_group.lower(),
            self.name.lower(),
        )

    def list_subscriptions(self, request: Request, match: re.Match[str]) -> Response:
        """``GET /subscriptions`` (ARM): azureml-core lists them after a service principal signs in."""
        return json_response(
            200,
            {
                "value": [
                    {
                        "id": f"/subscriptions/{self.subscription_id}",
                        "subscriptionId": self.subscription_id,
                        "tenantId": self.tenant_id,
                        "displayName": "Stand-in subscription",
                        "state": "Enabled",
                    }
                ]
            },
        )

    def get_workspace(self, request: Request, match: re.Match[str]) -> Response:
        """The ARM workspace resource."""
        if not self._is_mine(match):
            return azure_error(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.MachineLearningServices/workspaces/{match['ws']}' under resource group "
                f"'{match['rg']}' was not found.",
            )
        return json_response(200, self.workspace_resource())

    def workspace_resource(self) -> dict[str, object]:
        rg_id = f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
        return {
            "id": self.arm_id,
            "name": self.name,
            "type": "Microsoft.MachineLearningServices/workspaces",
            "location": REGION,
            "tags": {},
            "identity": {"type": "SystemAssigned", "principalId": str(uuid.uuid4()), "tenantId": self.tenant_id},
            "sku": {"name": "Basic", "tier": "Basic"},
            "properties": {
                "friendlyName": self.name,
                "description": "",
                "storageAccount": f"{rg_id}/providers/Microsoft.Storage/storageAccounts/mnistws0storage",
                "keyVault": f"{rg_id}/providers/Microsoft.KeyVault/vaults/mnistws0keyvault",
                "applicationInsights": f"{rg_id}/providers/Microsoft.insights/components/mnistws0insights",
                "containerRegistry": f"{rg_id}/providers/Microsoft.ContainerRegistry/registries/mnistws0registry",
                "discoveryUrl": f"https://{REGION}.api.azureml.ms/discovery",
                "workspaceId": self.workspace_id,
                "provisioningState": "Succeeded",
                "hbiWorkspace": False,
                "mlFlowTrackingUri": f"azureml://{REGION}.api.azureml.ms/mlflow/v1.0{self.arm_id}",
            },
        }

    # -- discovery (section 2b of the notes) ---------------------------------------------------------------------

    def cloud_metadata(self, request: Request, match: re.Match[str]) -> Response:
        """ARM's cloud metadata: an empty list makes azureml-core keep its built-in Azure endpoints."""
        return json_response(200, [])

    def discovery(self, request: Request, match: re.Match[str]) -> Response:
        """The workspace's service hosts (Microsoft's "Drill down into workspaces", with the ``studio`` key
        azureml-core requires): one regional host for every service."""
        api = f"https://{REGION}.api.azureml.ms"
        names = ("api", "experimentation", "history", "hyperdrive", "modelmanagement", "pipelines", "labeling")
        return json_response(200, {**dict.fromkeys(names, api), "studio": "https://ml.azure.com"})

    # -- artifacts and blob storage --------------------------------------------------------------------------------

    def artifact_batch_metadata(self, request: Request, match: re.Match[str]) -> Response:
        """Where to upload each file of a model: a SAS URL per path in the workspace's storage account."""
        origin, container = match["origin"], match["container"]
        artifacts, content = {}, {}
        for entry in request.get_json()["paths"]:
            path = entry["path"]
            ids = {"origin": origin, "container": container, "path": path}
            artifacts[path] = {"artifactId": f"{origin}/{container}/{path}", **ids}
            blob = f"ExperimentRun/dcid.{container}/{path}"
            content[path] = {
                "contentUri": f"https://{STORAGE_ACCOUNT}.blob.core.windows.net/azureml/{blob}?{SAS}",
                **ids,
            }
        return json_response(200, {"artifacts": artifacts, "artifactContentInformation": content, "errors": {}})

    def artifact_contentinfo(self, request: Request, match: re.Match[str]) -> Response:
        """A SAS URL for each uploaded file under an artifact prefix (``Model.download``)."""
        origin, container, prefix = match["origin"], match["container"], match["path"]
        folder = f"azureml/ExperimentRun/dcid.{container}/"
        found = [
            {
                "contentUri": f"https://{STORAGE_ACCOUNT}.blob.core.windows.net/{blob}?{SAS}",
                "origin": origin,
                "container": container,
                "path": blob.removeprefix(folder),
            }
            for blob in sorted(self.blobs)
            if blob.startswith(folder + prefix)
        ]
        return json_response(200, {"value": found})

    def put_blob(self, request: Request, match: re.Match[str]) -> Response:
        """Put Blob (a block blob in one request, as the vendored azure-storage-blob sends a small file)."""
        if request.headers.get("x-ms-blob-type") != "BlockBlob":
            return blob_error(400, "InvalidHeaderValue", "x-ms-blob-type must be BlockBlob here.")
        self.blobs[f"{match['container']}/{match['blob']}"] = request.get_data()
        return Response(status=201, headers=blob_headers(request.get_data()))

    def head_blob(self, request: Request, match: re.Match[str]) -> Response:
        data = self.blobs.get(f"{match['container']}/{match['blob']}")
        if data is None:
            return Response(status=404, headers={"x-ms-error-code": "BlobNotFound"})
        return Response(status=200, headers={**blob_headers(data), "Content-Length": str(len(data))})

    def get_blob(self, request: Request, match: re.Match[str]) -> Response:
        """Get Blob, whole or the byte range the client asks for (``x-ms-range``/``Range``: 206)."""
        data = self.blobs.get(f"{match['container']}/{match['blob']}")
        if data is None:
            return blob_error(404, "BlobNotFound", "The specified blob does not exist.")
        asked = request.headers.get("x-ms-range") or request.headers.get("Range") or ""
        wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", asked)
        if wanted is None:
            return Response(data, status=200, headers=blob_headers(data), content_type="application/octet-stream")
        first = int(wanted[1])
        last = min(int(wanted[2]) if wanted[2] else len(data) - 1, len(data) - 1)
        headers = {**blob_headers(data), "Content-Range": f"bytes {first}-{last}/{len(data)}"}
        return Response(data[first : last + 1], status=206, headers=headers, content_type="application/octet-stream")

    def artifact_bytes(self, artifact_id: str) -> bytes:
        """The uploaded content of an artifact (``origin/container/path``)."""
        _origin, container, path = artifact_id.split("/", 2)
        return self.blobs[f"azureml/ExperimentRun/dcid.{container}/{path}"]

    # -- models (sections 3d, 3e and 4) ----------------------------------------------------------------------------

    def create_asset(self, request: Request, match: re.Match[str]) -> Response:
        asset = {**request.get_json(), "id": uuid.uuid4().hex, "createdTime": now()}
        self.assets[asset["id"]] = asset
        return json_response(200, asset)

    def get_asset(self, request: Request, match: re.Match[str]) -> Response:
        asset = self.assets.get(match["id"])
        if asset is None:
            return json_response(404, {"code": "NotFound", "statusCode": 404, "message": "Asset not found"})
        return json_response(200, asset)

    def register_model(self, request: Request, match: re.Match[str]) -> Response:
        body = request.get_json()
        versions = self.models.setdefault(body["name"], [])
        model = {
            "datasets": [],
            "kvTags": {},
            "properties": {},
            **body,
            "id": f"{body['name']}:{len(versions) + 1}",
            "version": len(versions) + 1,
            "createdTime": now(),
            "framework": "Custom",
        }
        versions.append(model)
        return json_response(200, model)

    def list_models(self, request: Request, match: re.Match[str]) -> Response:
        """``MLModels_ListQuery`` (``Model(ws, name)`` with ``count=1``, ``Model.list(ws, ...)`` with
        ``count=255``: ``models_client.py`` ``query``): every model of the workspace, or those passing the filters
        the SDK sends (``name``, ``framework``, ``runId``, ``tags``, ``properties``, ``latestVersionOnly``), in
        the spec's ``orderBy`` (default ``CreatedAtDesc``: newest first), a page of ``count`` at a time
        (:func:`.azureml_v1_records.page`)."""
        args = request.args
        wanted = {"name": args.get("name"), "framework": args.get("framework"), "runId": args.get("runId")}
        found = [
            model
            for versions in self.models.values()
            for model in (versions[-1:] if args.get("latestVersionOnly", "").lower() == "true" else versions)
            if all(value is None or model.get(key) == value for key, value in wanted.items())
            and records.matches(model.get("kvTags"), args.get("tags"))
            and records.matches(model.get("properties"), args.get("properties"))
        ]
        return json_response(200, records.page(records.ordered(found, args.get("orderBy"), "CreatedAtDesc"), request))

    def get_model(self, request: Request, match: re.Match[str]) -> Response:
        name, _, version = urllib.parse.unquote(match["id"]).partition(":")
        for model in self.models.get(name, []):
            if str(model["version"]) == version:
                return json_response(200, model)
        return json_response(
            404, {"code": "NotFound", "statusCode": 404, "message": f"Model {name}:{version} not found"}
        )

    def model_file(self, model: dict[str, Any]) -> tuple[str, bytes]:
        """The file name and content of a model registered from one file."""
        asset = self.assets[model["url"].removeprefix("aml://asset/")]
        artifact_id = asset["artifacts"][0]["prefix"]
        return artifact_id.rsplit("/", 1)[-1], self.artifact_bytes(artifact_id)

    # -- environments (environment_client.py) ----------------------------------------------------------------------

    def put_environment(self, request: Request, match: re.Match[str]) -> Response:
        """Register a definition as the next version (the SDK sends no version for a new one); the answer is
        the stored definition with the service's field names, as ``Environment._deserialize_and_add_to_object``
        reads it."""
        name = urllib.parse.unquote(match["name"])
        body = request.get_json()
        stored = {
            "name": name,
            "version": self.registry.next_version(name),
            "python": body["python"],
            "environmentVariables": body.get("EnvironmentVariables") or {},
            "docker": body.get("Docker") or {},
            "spark": body.get("Spark") or {},
            "r": body.get("r"),
            "inferencingStackVersion": body.get("InferencingStackVersion"),
        }
        entry = EnvironmentVersion(name, stored["version"], stored, v2_properties_of_v1(stored), "v1", now())
        self.registry.add(entry)
        return json_response(200, stored)

    def get_environment(self, request: Request, match: re.Match[str]) -> Response:
        name = urllib.parse.unquote(match["name"])
        versions = [entry.v1 for entry in self.registry.versions(name)]
        wanted = match["version"]
        found = [env for env in versions if wanted is None or env["version"] == wanted]
        if not found:
            which = f"{name} version {wanted}" if wanted else name
            return azure_error(404, "NotFound", f"Environment {which} not found in the workspace.")
        return json_response(200, found[-1])


def signed_in(handler: Handler) -> Handler:
    """``handler``, answering Azure's 401 first to a request without a token of the stand-in's tenant."""

    def checked(request: Request, match: re.Match[str]) -> Response:
        return Entra.refuse_unless_signed_in(request) or handler(request, match)

    checked.__name__ = handler.__name__
    return checked


SAS = "sv=2019-07-07&sr=b&sig=c3RhbmQtaW4&se=2099-01-01T00%3A00%3A00Z&sp=rcw"


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


def blob_headers(data: bytes) -> dict[str, str]:
    return {
        "ETag": f'"0x{uuid.uuid4().hex[:15].upper()}"',
        "Last-Modified": datetime.datetime.now(datetime.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT"),
        "x-ms-blob-type": "BlockBlob",
        "x-ms-version": "2019-07-07",
        "x-ms-request-server-encrypted": "true",
    }


def blob_error(status: int, code: str, message: str) -> Response:
    body = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(body, status=status, headers={"x-ms-error-code": code}, content_type="application/xml")
