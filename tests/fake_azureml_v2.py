"""An SDK v2 workspace for tests, built from the real classes.

``MLClient`` is ``create_autospec(MLClient, instance=True, spec_set=True)`` and each operations object is
autospecced from its own class (autospec of ``MLClient`` alone leaves them unspecced), so a wrong argument
fails the test. Their side effects behave as the service does: models and environments are registered
with versions, a deployment runs its code folder's ``score.py`` with its model on the real local inference
server, and the endpoint's scoring URI is a router on 127.0.0.1 that checks the key and sends each request
to the deployment named by ``azureml-model-deployment``, else to the one with the traffic.
"""

from __future__ import annotations

import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock

import requests
from azure.ai.ml import MLClient
from azure.ai.ml.constants._endpoint import EndpointInvokeFields
from azure.ai.ml.entities import EndpointAuthKeys, Environment, Model
from azure.ai.ml.operations import (
    EnvironmentOperations,
    ModelOperations,
    OnlineDeploymentOperations,
    OnlineEndpointOperations,
)
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.polling import LROPoller

from mnist_aci.local_service import LocalWebservice, start_local_service

PRIMARY_KEY = "primary-key-never-printed"
DEPLOYMENT_HEADER = "azureml-model-deployment"


def done(result: Any = None) -> Any:
    """A finished ``LROPoller`` (autospecced) whose result is ``result``."""
    poller = mock.create_autospec(LROPoller, instance=True)
    poller.result.return_value = result
    poller.done.return_value = True
    return poller


def not_found(what: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(f"{what} not found")


class FakeAzureML:
    """The workspace's state, and the autospecced ``client`` that reads and changes it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.models: dict[str, list[Model]] = {}
        self.environments: dict[tuple[str, str], Environment] = {}
        self.endpoints: dict[str, Any] = {}
        self.deployments: dict[tuple[str, str], Any] = {}
        self.servers: dict[tuple[str, str], LocalWebservice] = {}
        self.code_files: dict[str, list[str]] = {}
        self.router = self._start_router()
        self.client = self._build_client()

    # --- the router: the endpoint's scoring URI -------------------------------------------------
    @property
    def scoring_uri(self) -> str:
        return f"http://127.0.0.1:{self.router.server_address[1]}/score"

    def _route(self, headers: Any) -> LocalWebservice | None:
        endpoint_name = next(iter(self.endpoints), None)
        if endpoint_name is None:
            return None
        chosen = headers.get(DEPLOYMENT_HEADER)
        if chosen is None:
            traffic = {k: v for k, v in (self.endpoints[endpoint_name].traffic or {}).items() if v > 0}
            chosen = max(traffic, key=traffic.get) if traffic else None
        return self.servers.get((endpoint_name, chosen))

    def _start_router(self) -> ThreadingHTTPServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Authorization") != f"Bearer {PRIMARY_KEY}":
                    self._answer(401, b'{"error": "no valid key"}')
                    return
                server = fake._route(self.headers)
                if server is None:
                    self._answer(404, b'{"error": "no such deployment"}')
                    return
                answer = requests.post(
                    server.scoring_uri, data=body, headers={"Content-Type": self.headers["Content-Type"]}, timeout=120
                )
                self._answer(answer.status_code, answer.content)

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        router = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=router.serve_forever, daemon=True).start()
        return router

    # --- the client ---------------------------------------------------------------------------------
    def _build_client(self) -> Any:
        client = mock.create_autospec(MLClient, instance=True, spec_set=True)
        client.models = models = mock.create_autospec(ModelOperations, instance=True)
        client.environments = environments = mock.create_autospec(EnvironmentOperations, instance=True)
        client.online_endpoints = endpoints = mock.create_autospec(OnlineEndpointOperations, instance=True)
        client.online_deployments = deployments = mock.create_autospec(OnlineDeploymentOperations, instance=True)
        models.get.side_effect = self._get_model
        models.create_or_update.side_effect = self._register_model
        models.download.side_effect = self._download_model
        environments.get.side_effect = self._get_environment
        environments.create_or_update.side_effect = self._register_environment
        endpoints.get.side_effect = self._get_endpoint
        endpoints.begin_create_or_update.side_effect = self._create_endpoint
        endpoints.get_keys.return_value = EndpointAuthKeys(primary_key=PRIMARY_KEY, secondary_key="secondary")
        endpoints.invoke.side_effect = self._invoke
        endpoints.begin_delete.side_effect = self._delete_endpoint
        deployments.begin_create_or_update.side_effect = self._create_deployment
        deployments.get.side_effect = self._get_deployment
        deployments.list.side_effect = lambda endpoint_name, **_: [
            d for (e, _n), d in self.deployments.items() if e == endpoint_name
        ]
        deployments.get_logs.side_effect = self._deployment_logs
        deployments.begin_delete.side_effect = self._delete_deployment
        return client

    def _get_model(self, name: str, version: str | None = None, label: str | None = None) -> Model:
        versions = self.models.get(name, [])
        found = [m for m in versions if m.version == version] if version else versions[-1:]
        if not found:
            raise not_found(f"model {name}")
        return found[0]

    def _register_model(self, model: Model, **_: Any) -> Model:
        versions = self.models.setdefault(model.name, [])
        registered = Model(
            name=model.name,
            version=str(len(versions) + 1),
            type=model.type,
            path=str(model.path),
            tags=model.tags,
            description=model.description,
            properties=model.properties,
        )
        versions.append(registered)
        return registered

    def _download_model(self, name: str, version: str, download_path: str = ".") -> None:
        source = Path(self._get_model(name, version).path)
        target = Path(download_path, name)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target / source.name)

    def _get_environment(self, name: str, version: str | None = None, label: str | None = None) -> Environment:
        found = [e for (n, v), e in self.environments.items() if n == name and (version is None or v == version)]
        if not found:
            raise not_found(f"environment {name}")
        return found[-1]

    def _register_environment(self, environment: Environment) -> Environment:
        version = environment.version or str(1 + sum(n == environment.name for n, _v in self.environments))
        registered = Environment(
            name=environment.name, version=version, image=environment.image, conda_file=environment.conda_file
        )
        self.environments[(environment.name, version)] = registered
        return registered

    def _get_endpoint(self, name: str, **_: Any) -> Any:
        if name not in self.endpoints:
            raise not_found(f"endpoint {name}")
        return self._snapshot(self.endpoints[name])  # a copy, as the service sends one: changing it changes nothing

    def _create_endpoint(self, endpoint: Any, **_: Any) -> Any:
        stored = self._snapshot(endpoint)
        stored.scoring_uri, stored.provisioning_state = self.scoring_uri, "Succeeded"
        self.endpoints[endpoint.name] = stored
        return done(self._snapshot(stored))

    @staticmethod
    def _snapshot(endpoint: Any) -> Any:
        copy = mock.Mock(
            spec=["name", "auth_mode", "traffic", "scoring_uri", "provisioning_state"],
            auth_mode=endpoint.auth_mode,
            traffic=dict(endpoint.traffic or {}),
            scoring_uri=getattr(endpoint, "scoring_uri", None),
            provisioning_state=getattr(endpoint, "provisioning_state", None),
        )
        copy.name = endpoint.name
        return copy

    def _create_deployment(self, deployment: Any, **_: Any) -> Any:
        code = Path(deployment.code_configuration.code)
        self.code_files[deployment.name] = sorted(p.name for p in code.iterdir())
        _, name, version = deployment.model.split(":")
        model_file = Path(self._get_model(name, version).path)
        server = start_local_service(
            model_file, code / deployment.code_configuration.scoring_script, name=deployment.name
        )
        server.wait_for_deployment()
        key = (deployment.endpoint_name, deployment.name)
        self.servers[key] = server
        self.deployments[key] = mock.Mock(provisioning_state="Succeeded", spec=["name", "provisioning_state"])
        self.deployments[key].name = deployment.name
        return done(deployment)

    def _get_deployment(self, name: str, endpoint_name: str, **_: Any) -> Any:
        if (endpoint_name, name) not in self.deployments:
            raise not_found(f"deployment {name}")
        return self.deployments[(endpoint_name, name)]

    def _deployment_logs(self, name: str, endpoint_name: str, lines: int, **_: Any) -> str:
        server = self.servers.get((endpoint_name, name))
        return server.get_logs(lines) if server is not None else ""

    def _delete_deployment(self, name: str, endpoint_name: str, **_: Any) -> Any:
        server = self.servers.pop((endpoint_name, name), None)
        if server is not None:
            server.delete()
        self.deployments.pop((endpoint_name, name), None)
        return done()

    def _delete_endpoint(self, name: str | None = None, **_: Any) -> Any:
        for endpoint_name, deployment in list(self.deployments):
            if endpoint_name == name:
                self._delete_deployment(deployment, endpoint_name)
        self.endpoints.pop(name, None)
        return done()

    def _invoke(self, endpoint_name: str, *, request_file: str, deployment_name: str | None = None, **_: Any) -> str:
        # As the SDK does: the key and the deployment go into a dict shared by every call in the process.
        headers = EndpointInvokeFields.DEFAULT_HEADER
        headers[EndpointInvokeFields.AUTHORIZATION] = f"Bearer {PRIMARY_KEY}"
        if deployment_name:
            headers[EndpointInvokeFields.MODEL_DEPLOYMENT] = deployment_name
        answer = requests.post(self.scoring_uri, data=Path(request_file).read_bytes(), headers=headers, timeout=120)
        if not answer.ok:
            raise HttpResponseError(message=answer.text, response=mock.Mock(status_code=answer.status_code))
        return answer.text

    def close(self) -> None:
        for name in list(self.endpoints):
            self._delete_endpoint(name)
        for server in self.servers.values():
            server.delete()
        self.router.shutdown()
        self.router.server_close()
