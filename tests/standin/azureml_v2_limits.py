"""What Azure allows a managed online deployment, as the stand-in refuses it: the SKU list and the limits.

Intentionally a copy of the package's table (``mnist_aci.azure_v2.skus``), not an import: the stand-in answers as
Azure does whatever the package believes. Sources: Microsoft Learn, "Managed online endpoints SKU list"
(``reference-managed-online-endpoints-vm-sku-list.md``, MicrosoftDocs/azure-ai-docs commit 1d987e37) and "Manage
and increase quotas and limits" (``how-to-manage-quotas.md``, section "Azure Machine Learning online endpoints and
batch endpoints": 50 instances per deployment, 20 deployments per endpoint, a request time-out of at most 180 s
for managed online endpoints).

How Azure words these refusals no source shows (no recording, no example in the REST spec, no user report found):
the stand-in refuses each on the deployment's PUT, synchronously, in the envelope Azure uses for the refusals that
are reported, the quota's (400 ``(BadRequest) The request is invalid.`` with the cause in a detail, see
:meth:`.azureml_v2.WorkspaceV2._quota_refusal`); the details' codes and messages are the stand-in's own.
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.wrappers import Response

from .server import json_response

#: The managed online endpoints' SKUs by VM family: (SKU, cores) of each (Microsoft Learn, "Managed online endpoints
#: SKU list", reference-managed-online-endpoints-vm-sku-list.md, MicrosoftDocs/azure-ai-docs commit 1d987e37).
FAMILIES: dict[str, tuple[tuple[str, int], ...]] = {
    "standardDASv4Family": tuple((f"Standard_D{n}as_v4", n) for n in (2, 4, 8, 16, 32, 48, 64, 96)),
    "standardDAv4Family": tuple((f"Standard_D{n}a_v4", n) for n in (2, 4, 8, 16, 32, 48, 64, 96)),
    "standardDSv2Family": tuple((f"Standard_DS{i}_v2", n) for i, n in ((1, 1), (2, 2), (3, 4), (4, 8), (5, 16))),
    "standardESv3Family": tuple((f"Standard_E{n}s_v3", n) for n in (2, 4, 8, 16, 32, 48, 64)),
    "standardFSv2Family": tuple((f"Standard_F{n}s_v2", n) for n in (2, 4, 8, 16, 32, 48, 64, 72)),
    "standardFXMDVSFamily": tuple((f"Standard_FX{n}mds", n) for n in (4, 12, 24, 36, 48)),
    "standardLASv3Family": tuple((f"Standard_L{n}as_v3", n) for n in (8, 16, 32, 48, 64, 80)),
    "standardLSv2Family": tuple((f"Standard_L{n}s_v2", n) for n in (8, 16, 32, 48, 64, 80)),
    "standardLSv3Family": tuple((f"Standard_L{n}s_v3", n) for n in (8, 16, 32, 48, 64, 80)),
    "standardNCADSA100v4Family": tuple((f"Standard_NC{n}ads_A100_v4", n) for n in (24, 48, 96)),
    "standard NCASv3_T4 Family": tuple((f"Standard_NC{n}as_T4_v3", n) for n in (4, 8, 16, 64)),
    "standardNCSv2Family": tuple((f"Standard_NC{n}s_v2", n) for n in (6, 12, 24)),
    "standardNCSv3Family": tuple((f"Standard_NC{n}s_v3", n) for n in (6, 12, 24)),
    "standardNCADSH100v5Family": (("Standard_NC40ads_H100_v5", 40), ("Standard_NC80adis_H100_v5", 80)),
    "standard NDAMSv4_A100Family": (("Standard_ND96amsr_A100_v4", 96),),
    "standard NDASv4_A100 Family": (("Standard_ND96asr_v4", 96),),
    "standardNDSv2Family": (("Standard_ND40rs_v2", 40),),
    "standardNDv5H100Family": (("Standard_ND96is_H100_v5", 96), ("Standard_ND96isr_H100_v5", 96)),
    "standardNVADSA10v5Family": tuple(
        (f"Standard_NV{n}ad{m}s_A10_v5", n) for n, m in ((6, ""), (12, ""), (18, ""), (36, ""), (36, "m"), (72, ""))
    ),
}
#: The families whose SKUs skip the 20 % reservation (the list's "Skip 20% Reservation" column).
SKIP_RESERVATION = frozenset(
    {
        "standardNCADSA100v4Family",
        "standardNCADSH100v5Family",
        "standard NDAMSv4_A100Family",
        "standard NDASv4_A100 Family",
        "standardNDSv2Family",
        "standardNDv5H100Family",
    }
)
#: Each SKU in lower case (Azure's SKU names are case-insensitive): its VM family and cores.
SKU_CORES: dict[str, tuple[str, int]] = {
    sku.lower(): (family, cores) for family, skus in FAMILIES.items() for sku, cores in skus
}
MAX_INSTANCES = 50
MAX_DEPLOYMENTS = 20
MAX_REQUEST_TIMEOUT_S = 180.0


def reserved_instances(instance_type: str, count: int) -> int:
    """The instances a deployment holds quota for: ``ceil(1.2 x count)``, or ``count`` for the SKUs that skip the
    20 % reservation."""
    family = SKU_CORES[instance_type.lower()][0]
    return count if family in SKIP_RESERVATION else -(-6 * count // 5)


def limit_refusal(sent: dict[str, Any], deployments: dict[str, Any], name: str) -> Response | None:
    """The refusal of a deployment PUT (``sent``, named ``name``, on an endpoint holding ``deployments``) beyond
    the SKU list or a limit; None when within them. A deployment the PUT updates is not a new one."""
    properties = sent.get("properties") or {}
    instance_type = str(properties.get("instanceType"))
    count = int((sent.get("sku") or {}).get("capacity", 1))
    timeout = (properties.get("requestSettings") or {}).get("requestTimeout")
    if instance_type.lower() not in SKU_CORES:
        return _invalid(
            "InstanceTypeNotSupported",
            f"Instance type {instance_type} is not supported for managed online endpoints: see the managed online "
            "endpoints SKU list.",
        )
    if not 1 <= count <= MAX_INSTANCES:
        return _invalid(
            "InstanceCountLimitExceeded",
            f"Instance count {count} is outside 1 to {MAX_INSTANCES}, the limit of instances per deployment.",
        )
    if name not in deployments and len(deployments) >= MAX_DEPLOYMENTS:
        return _invalid(
            "DeploymentCountLimitExceeded",
            f"The endpoint already has {len(deployments)} deployments, the limit of deployments per endpoint.",
        )
    if timeout is not None and duration_seconds(timeout) > MAX_REQUEST_TIMEOUT_S:
        return _invalid(
            "RequestTimeoutLimitExceeded",
            f"Request timeout {timeout} is over {MAX_REQUEST_TIMEOUT_S:g} seconds, the most managed online "
            "endpoints allow.",
        )
    return None


def _invalid(code: str, message: str) -> Response:
    detail = {"code": code, "message": message}
    return json_response(
        400, {"error": {"code": "BadRequest", "message": "The request is invalid.", "details": [detail]}}
    )


def duration_seconds(duration: str) -> float:
    """An ISO 8601 duration of the service (``PT5S``, ``PT1M30S``) in seconds."""
    parts = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?", duration)
    if parts is None:
        raise ValueError(f"not a duration: {duration}")
    hours, minutes, seconds = (float(p) if p else 0.0 for p in parts.groups())
    return hours * 3600 + minutes * 60 + seconds
