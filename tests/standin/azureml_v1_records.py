"""What SDK v1's service and model records hold beyond a deployment: the keys, the models a service serves, and the
filters and pages of the model-management lists.

Each follows Microsoft's model-management REST spec (``modelManagement.json``, 2019-09-30, in
Azure/azure-rest-api-specs: ``specification/machinelearningservices/data-plane/Microsoft.MachineLearningServices/
preview/2019-09-30/``) as azureml-core 1.61 sends and reads it; where both are silent, the comment says so.
"""

from __future__ import annotations

import secrets
import urllib.parse
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from .server import target_host

if TYPE_CHECKING:
    from .azureml_v1 import WorkspaceV1

#: Every property of the spec's ``Model`` (and ``createdBy``, which the SDK reads too): ``Model.deserialize``
#: (model.py ``_initialize``) indexes each, so a service's ``models`` carry them all, null where unset.
MODEL_KEYS = (
    "id",
    "name",
    "framework",
    "frameworkVersion",
    "version",
    "datasets",
    "url",
    "mimeType",
    "description",
    "createdTime",
    "modifiedTime",
    "unpack",
    "parentModelId",
    "runId",
    "experimentName",
    "kvTags",
    "properties",
    "createdBy",
)
KEY_TYPES = ("Primary", "Secondary")


def new_key() -> str:
    return secrets.token_urlsafe(24)


def initial_keys(payload: dict[str, Any]) -> tuple[str, str]:
    """A new service's keys: the user's own, as the create request carries them (the spec's ``keys``:
    ``AuthKeys``; the SDK fills ``keys.primaryKey``/``secondaryKey`` from ``deploy_configuration(primary_key=,
    secondary_key=)`` only when a primary key is given, ``_build_base_create_payload`` in webservice.py), each one
    left null made by the service."""
    sent = payload.get("keys") or {}
    return sent.get("primaryKey") or new_key(), sent.get("secondaryKey") or new_key()


def regenerated(keys: tuple[str, str], key_type: str, value: str | None) -> tuple[str, str]:
    """``keys`` with the ``Primary`` or ``Secondary`` one replaced by ``value``, else by a new key (the spec's
    ``RegenerateServiceKeysRequest``: ``keyType``, ``keyValue``; ``regen_key(key, set_key=None)`` sends them)."""
    fresh = value or new_key()
    return (fresh, keys[1]) if key_type == "Primary" else (keys[0], fresh)


def model_view(model: dict[str, Any]) -> dict[str, Any]:
    """A registered model as a service record lists it: every key of :data:`MODEL_KEYS`, null where unset."""
    return {**dict.fromkeys(MODEL_KEYS), "datasets": [], **model}


def served_models(workspace: WorkspaceV1, model_ids: Iterable[str] | None) -> list[dict[str, Any]]:
    """The registered models a service serves (``environmentImageRequest.modelIds``: ``name:version``), as the
    spec's ``ACIServiceResponse``/``AKSServiceResponse`` list them under ``models``."""
    found = []
    for model_id in model_ids or ():
        name, _, version = model_id.partition(":")
        found += [model_view(m) for m in workspace.models.get(name, []) if str(m["version"]) == version]
    return found


def expanded(record: dict[str, Any], request: Request) -> dict[str, Any]:
    """A service record as ``GET services[/<name>]`` answers it: with its ``models`` only when ``expand=true``
    (the spec: "Set to True to include Model details", default false; the SDK always sends ``expand=true``).
    What Azure puts in ``models`` without it is not documented: the stand-in leaves them out."""
    if request.args.get("expand", "false").lower() == "true":
        return record
    return {key: value for key, value in record.items() if key != "models"}


def matches(found: dict[str, Any] | None, query: str | None) -> bool:
    """Whether a ``tags``/``properties`` dictionary passes the spec's filter: "a comma separated string of tags
    key or tags key=value" (``Webservice.list`` and ``Model.list`` build it from ``['key', ['key2', 'value']]``)."""
    found = found or {}
    for wanted in filter(None, (query or "").split(",")):
        key, has_value, value = wanted.partition("=")
        if key not in found or (has_value and found[key] != value):
            return False
    return True


def page(items: list[dict[str, Any]], request: Request) -> dict[str, Any]:
    """One page of a list (the spec's ``Paginated...List``: ``value`` and, while more remain, an absolute
    ``nextLink`` carrying ``$skipToken``, which ``Model.list`` sends back and ``Webservice.list`` follows as is).
    ``count`` is the page size; without it the page size Azure uses is not documented: the whole list is one
    page here."""
    start = int(request.args.get("$skipToken") or 0)
    count = request.args.get("count", type=int) or len(items) or 1
    body: dict[str, Any] = {"value": items[start : start + count]}
    if start + count < len(items):
        query = {**request.args.to_dict(), "$skipToken": str(start + count)}
        body["nextLink"] = f"https://{target_host(request)}{request.path}?{urllib.parse.urlencode(query)}"
    return body


def ordered(items: list[dict[str, Any]], order_by: str | None, default: str) -> list[dict[str, Any]]:
    """``items`` in the spec's ``orderBy`` order (``CreatedAtDesc``, ``CreatedAtAsc``, ``UpdatedAtDesc``,
    ``UpdatedAtAsc``; ``default`` when not given) of their ``createdTime``, or their ``updatedTime`` (a service) or
    ``modifiedTime`` (a model) falling back on it; ISO 8601 times, so text order is time order, and ties keep
    their order of creation."""
    wanted = order_by or default
    updated = ("updatedTime", "modifiedTime") if wanted.startswith("UpdatedAt") else ()

    def when(item: dict[str, Any]) -> str:
        return next((item[key] for key in (*updated, "createdTime") if item.get(key)), "")

    by_time = sorted(enumerate(items), key=lambda pair: (when(pair[1]), pair[0]), reverse=wanted.endswith("Desc"))
    return [item for _, item in by_time]
