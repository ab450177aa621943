"""SDK v1 web services after their deployment: listed (``Webservice.list``, ``ws.webservices``), updated
(``service.update``: a JSON patch) and their keys regenerated (``service.regen_key``).

Routes of the REST spec ``modelManagement.json`` (2019-09-30: ``Services_ListQuery``, ``Services_Patch``,
``Services_RegenerateServiceKeys``), answered as azureml-core 1.61 reads them (``webservice.py``, ``aci.py``,
``aks.py``); what they leave open is said where it is decided.
"""

from __future__ import annotations

import copy
import re
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from . import azureml_v1_records as records
from .azureml_v1 import API, now, signed_in
from .azureml_v1_services import MMS, Operation, Service, WebservicesV1, bad_request
from .server import azure_error, json_response

#: The parts of a service record whose change starts its container again, from the (re)built image: its
#: environment, models and code (``update(inference_config=, models=)`` patch ``/environmentImageRequest``) and its
#: cores and memory (as ACI and AKS give a container its resources when they start it). Any other change (auth,
#: tags, timeouts, autoscaler...) applies to the running service; Azure's own split is not documented.
RESTARTING = {"environmentImageRequest", "containerResourceRequirements"}
#: Record keys a patch may not touch: the service's identity and what Azure ML itself keeps.
READ_ONLY = {"name", "computeType", "createdTime", "updatedTime", "state", "error", "scoringUri", "models"}


class PatchRefused(ValueError):
    """A patch operation the service cannot apply (its detail, for :func:`.bad_request`)."""


@dataclass
class ServiceManagement:
    """The routes for services that exist: list, update, regenerate keys."""

    services: WebservicesV1

    def install(self) -> None:
        server = self.services.standin.server
        routes = [
            ("GET", rf"{MMS}/services", self.list_services),
            ("PATCH", rf"{MMS}/services/(?P<name>[^/]+)", self.update_service),
            ("POST", rf"{MMS}/services/(?P<name>[^/]+)/regenerateKeys", self.regenerate_keys),
        ]
        for method, path, handler in routes:
            server.route(method, API, path)(signed_in(handler))

    def _all(self) -> list[Service]:
        with self.services._lock:
            return list(self.services.services.values())

    # -- listing -----------------------------------------------------------------------------------------------------

    def list_services(self, request: Request, match: re.Match[str]) -> Response:
        """``GET services``, which ``Webservice.list`` sends (``ws.webservices`` is its dictionary by name) with
        ``expand=true`` and its filters: ``computeType``, ``modelName``, ``modelId``, ``tags``, ``properties``
        (and the spec's ``name``); the spec's default order ``UpdatedAtDesc``; pages of ``count``."""
        args = request.args
        found = [
            records.expanded(service.record, request)
            for service in self._all()
            if passes(service.record, args.get("computeType"), args.get("name"))
            and serves(service.record, args.get("modelName"), args.get("modelId"))
            and records.matches(service.record.get("kvTags"), args.get("tags"))
            and records.matches(service.record.get("properties"), args.get("properties"))
        ]
        return json_response(200, records.page(records.ordered(found, args.get("orderby"), "UpdatedAtDesc"), request))

    # -- updates -------------------------------------------------------------------------------------------------------

    def update_service(self, request: Request, match: re.Match[str]) -> Response:
        """``PATCH services/<name>`` with the JSON patch ``AciWebservice.update``/``AksWebservice.update`` build
        (``replace`` of a record path, ``add`` of ``/properties/<key>``): 202 with ``Operation-Location`` (the spec
        allows 200 too; the SDK then polls the operation in ``wait_for_deployment``). A change of
        :data:`RESTARTING` rebuilds and restarts the container behind the same scoring URI; the rest applies at
        once. Refused: an operation still running (409, as a create), a patch of a path the record lacks or Azure
        ML keeps (400 in :func:`.bad_request`'s envelope: Azure's answer to one is not documented). Key and token
        auth together, which the SDK refuses before sending (aks.py ``_validate_update``), are not checked again."""
        service = self.services._service(match["name"])
        if service is None:
            return azure_error(404, "NotFound", f"No service with name {match['name']} found.")
        if service.operation.state == "Running":
            return azure_error(409, "Conflict", f"An operation on service {service.name} is still running.")
        try:
            record, touched = patched(service.record, request.get_json(silent=True))
        except PatchRefused as exc:
            return bad_request("InvalidPatch", str(exc))
        restart = bool(touched & RESTARTING)
        if "environmentImageRequest" in touched:
            record["models"] = records.served_models(
                self.services.workspace, record["environmentImageRequest"].get("modelIds")
            )
        # The operation's type and sub-operation for an update are not documented: the stand-in's.
        operation = Operation(str(uuid.uuid4()), "Service", state="Running" if restart else "Succeeded")
        operation.sub_operation = "BuildEnvironment" if restart else "UpdateService"
        # In place: the container's watch (:mod:`.v1_limits`) marks this very record Unhealthy if it dies.
        service.record.update(record, updatedTime=now(), state="Transitioning" if restart else record["state"])
        with self.services.limits._lock:  # AKS's request queue is made from the record: made again from the new one
            self.services.limits.queues.pop(record["scoringUri"], None)
        service.operation = operation
        if restart:
            threading.Thread(target=self.restart, args=(service,), name=f"update-{service.name}", daemon=True).start()
        return json_response(202, {}, {"Operation-Location": self.services.track(operation)})

    def restart(self, service: Service) -> None:
        """Build the image and start the container of ``service``'s updated record; its old container stops
        once the new one is up or has failed."""
        old = service.container
        self.services.provision_or_fail(service, {"environmentImageRequest": service.record["environmentImageRequest"]})
        if old is not None and old is not service.container:
            old.stop()

    # -- keys ----------------------------------------------------------------------------------------------------------

    def regenerate_keys(self, request: Request, match: re.Match[str]) -> Response:
        """``POST services/<name>/regenerateKeys`` (``regen_key``): the key named by ``keyType`` replaced by
        ``keyValue`` or a new key; the old one is refused from then on. The spec allows 200 with the keys or 202;
        ``regen_key`` requires ``Operation-Location`` (it raises without one) and polls it every 5 s, so: 202 with
        an operation that has ended. Refused as ``listkeys`` refuses a keyless service."""
        service = self.services._service(match["name"])
        if service is None:
            return azure_error(404, "NotFound", f"No service with name {match['name']} found.")
        if not service.record["authEnabled"]:
            return azure_error(400, "BadArgument", "Keys are not enabled for this service.")
        body = request.get_json(silent=True) or {}
        key_type = body.get("keyType")
        if key_type not in records.KEY_TYPES:
            return bad_request("InvalidKeyType", f"keyType must be Primary or Secondary, got {key_type!r}.")
        service.keys = records.regenerated(service.keys, key_type, body.get("keyValue"))
        # Its type and sub-operation are not documented: the stand-in's.
        operation = Operation(str(uuid.uuid4()), "RegenerateKeys", state="Succeeded", sub_operation="RegenerateKeys")
        return json_response(202, {}, {"Operation-Location": self.services.track(operation)})


def passes(record: dict[str, Any], compute_type: str | None, name: str | None) -> bool:
    """Whether a service is of ``compute_type`` and called ``name`` (each when given; the SDK sends the compute
    type as the user typed it, so it is compared ignoring case)."""
    return (compute_type is None or record["computeType"].upper() == compute_type.upper()) and (
        name is None or record["name"] == name
    )


def serves(record: dict[str, Any], model_name: str | None, model_id: str | None) -> bool:
    """Whether a service serves a model called ``model_name`` and the model ``model_id`` (each when given)."""
    ids = (record.get("environmentImageRequest") or {}).get("modelIds") or []
    return (model_name is None or any(i.partition(":")[0] == model_name for i in ids)) and (
        model_id is None or model_id in ids
    )


def patched(record: dict[str, Any], patch: Any) -> tuple[dict[str, Any], set[str]]:
    """A copy of ``record`` with the JSON patch ``patch`` applied, and the top-level keys it touched. Paths that
    reach into an object the record lacks or holds null (``/livenessProbeRequirements/periodSeconds`` of a
    service deployed without one) create it: the SDK sends such paths, and Azure's answer to them is not
    documented."""
    if not isinstance(patch, list):
        raise PatchRefused("The body must be a JSON patch: a list of operations.")
    result, touched = copy.deepcopy(record), set()
    for operation in patch:
        op, path = (operation.get("op"), operation.get("path")) if isinstance(operation, dict) else (None, None)
        parts = path.split("/")[1:] if isinstance(path, str) and path.startswith("/") else []
        if op not in ("add", "replace") or not parts or parts[0] in READ_ONLY or parts[0] not in result:
            raise PatchRefused(f"Cannot apply {operation!r} to a {record['computeType']} service.")
        target = result
        for part in parts[:-1]:
            if not isinstance(target.get(part), dict):
                target[part] = {}
            target = target[part]
        target[parts[-1]] = operation.get("value")
        touched.add(parts[0])
    return result, touched
