"""Request bodies checked against the published REST API of Microsoft.MachineLearningServices.

The OpenAPI 2.0 extracts under ``spec/`` (see its README: source, commits, license) are turned into JSON Schema
(draft 4) for :mod:`jsonschema`, with OpenAPI's own rules: ``allOf`` parents merged into one object (so a
strict ``additionalProperties: false`` sees the inherited properties), ``x-nullable`` allowing null, a
``discriminator`` choosing the subtype named by ``x-ms-discriminator-value``, and enums enforced only when not
``modelAsString`` (extensible enums accept other values). A ``$ref`` to a definition that was not extracted
accepts any value.

:data:`KNOWN_DEVIATIONS` lists what azure-ai-ml 1.35.2 sends that its api-version does not define; those are
reported apart (and asserted in the tests), every other refusal is a 400 of the stand-in.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema

SPEC = Path(__file__).with_name("spec")
COMMON = "common-types/v3"
#: (method, path pattern, api-version) -> the body's definition.
OPERATIONS: list[tuple[str, str, str, str]] = [
    ("PUT", r".*/onlineEndpoints/[^/]+", "2022-02-01-preview", "OnlineEndpointTrackedResource"),
    ("PUT", r".*/onlineEndpoints/[^/]+/deployments/[^/]+", "2023-04-01-preview", "OnlineDeploymentTrackedResource"),
    ("POST", r".*/onlineEndpoints/[^/]+/deployments/[^/]+/getLogs", "2023-04-01-preview", "DeploymentLogsRequest"),
]
#: What the SDK sends beyond its api-version's definitions: (api-version, where in the body, what is wrong).
#: The traffic update echoes ``publicNetworkAccess`` from the endpoint it read (SDK:
#: ``operations/_online_endpoint_operations.py`` begin_create_or_update); OnlineEndpoint defines it only from
#: later api-versions (2023-04-01-preview has it), 2022-02-01-preview's is ``additionalProperties: false``.
KNOWN_DEVIATIONS = {("2022-02-01-preview", "properties", "'publicNetworkAccess' was unexpected")}


@functools.cache
def _definitions(file: str) -> dict[str, Any]:
    definitions: dict[str, Any] = json.loads((SPEC / file).read_text())["definitions"]
    return definitions


def _target(file: str, ref: str) -> tuple[str, str]:
    """The (file, definition) a ``$ref`` in ``file`` points to."""
    where, _, pointer = ref.partition("#/definitions/")
    if where:
        file = f"{COMMON}/{Path(where).name}"
    return file, pointer


def _flatten(file: str, name: str) -> dict[str, Any] | None:
    """A definition with its ``allOf`` parents merged in (OpenAPI inheritance); None if not extracted."""
    definition = _definitions(file).get(name)
    if definition is None:
        return None
    merged: dict[str, Any] = {"properties": {}, "required": []}
    for parent in definition.get("allOf", []):
        base = _flatten(*_target(file, parent["$ref"])) or {}
        merged["properties"] |= base.get("properties", {})  # already (file, node) pairs
        merged["required"] += base.get("required", [])
    merged["properties"] |= {k: (file, v) for k, v in definition.get("properties", {}).items()}
    merged["required"] += definition.get("required", [])
    for key in ("type", "enum", "x-ms-enum", "discriminator", "additionalProperties", "x-ms-discriminator-value"):
        if key in definition:
            merged[key] = definition[key]
    return merged


def _subtypes(file: str, name: str) -> dict[str, str]:
    """The extracted definitions deriving from ``name``, by their discriminator value."""
    found = {}
    for other, definition in _definitions(file).items():
        parents = [parent.get("$ref") for parent in definition.get("allOf", [])]
        if f"#/definitions/{name}" in parents and "x-ms-discriminator-value" in definition:
            found[definition["x-ms-discriminator-value"]] = other
    return found


def _schema_of_definition(file: str, name: str, seen: frozenset[str] = frozenset()) -> dict[str, Any]:
    key = f"{file}#{name}"
    flat = _flatten(file, name)
    if flat is None or key in seen:
        return {}
    seen = seen | {key}
    schema = _object_schema(flat, seen)
    prop = flat.get("discriminator")
    subtypes = _subtypes(file, name) if prop else {}
    if subtypes:
        choices = []
        for value, subtype in subtypes.items():
            sub = _object_schema(_flatten(file, subtype) or {}, seen)
            sub.setdefault("properties", {})[prop] = {"enum": [value]}
            choices.append(sub)
        return {"anyOf": choices}
    return schema


def _object_schema(flat: dict[str, Any], seen: frozenset[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {}
    if "type" in flat:
        schema["type"] = flat["type"]
    if "enum" in flat and not flat.get("x-ms-enum", {}).get("modelAsString", False):
        schema["enum"] = flat["enum"]
    if flat.get("properties"):
        schema["properties"] = {k: _schema(f, v, seen) for k, (f, v) in flat["properties"].items()}
    if flat.get("required"):
        schema["required"] = sorted(set(flat["required"]))
    if flat.get("additionalProperties") is False:
        schema["additionalProperties"] = False
    return schema


def _schema(file: str, node: dict[str, Any], seen: frozenset[str]) -> dict[str, Any]:
    """JSON Schema for one OpenAPI schema node of ``file``."""
    if "$ref" in node:
        schema = _schema_of_definition(*_target(file, node["$ref"]), seen)
    else:
        schema = {k: node[k] for k in ("type", "minLength", "maxLength", "pattern", "minimum", "maximum") if k in node}
        if "enum" in node and not node.get("x-ms-enum", {}).get("modelAsString", False):
            schema["enum"] = node["enum"]
        if "properties" in node:
            schema["properties"] = {k: _schema(file, v, seen) for k, v in node["properties"].items()}
        if "required" in node:
            schema["required"] = node["required"]
        if isinstance(node.get("additionalProperties"), dict):
            schema["additionalProperties"] = _schema(file, node["additionalProperties"], seen)
        elif node.get("additionalProperties") is False:
            schema["additionalProperties"] = False
        if "items" in node:
            schema["items"] = _schema(file, node["items"], seen)
    if node.get("x-nullable") and schema:
        return {"anyOf": [schema, {"type": "null"}]}
    return schema


@functools.cache
def body_schema(api_version: str, definition: str) -> dict[str, Any]:
    """The JSON Schema of a request body: ``definition`` of the extract for ``api_version``."""
    return _schema_of_definition(f"{api_version}/mfe.json", definition)


def definition_for(method: str, path: str, api_version: str) -> str | None:
    """The definition a request body must match, if the stand-in checks that operation."""
    for op_method, pattern, version, definition in OPERATIONS:
        if op_method == method and version == api_version and re.fullmatch(pattern, path, re.I):
            return definition
    return None


def problems(method: str, path: str, api_version: str, body: Any) -> tuple[list[str], list[str]]:
    """What the spec refuses in ``body``, and the :data:`KNOWN_DEVIATIONS` found in it (both as messages)."""
    definition = definition_for(method, path, api_version)
    if definition is None:
        return [], []
    refused: list[str] = []
    tolerated: list[str] = []
    for error in jsonschema.Draft4Validator(body_schema(api_version, definition)).iter_errors(body):
        where = "/".join(str(part) for part in error.absolute_path) or "(body)"
        message = f"{definition} at {where}: {error.message}"
        known = any(
            version == api_version and where == place and text in error.message
            for version, place, text in KNOWN_DEVIATIONS
        )
        (tolerated if known else refused).append(message)
    return refused, tolerated
