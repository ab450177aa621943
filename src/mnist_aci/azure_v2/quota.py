"""What managed online deployments take of the subscription's VM quota, in cores.

Azure ML reserves 20 % extra for upgrades: a deployment of ``n`` instances of a SKU needs ``ceil(1.2 x n) x the
SKU's cores`` of its VM family's quota (Microsoft Learn, "Manage and increase quotas and limits for resources
with Azure Machine Learning", section "Virtual machine quota allocation for deployment": 10 x Standard_DS3_v2,
4 cores each, need 48). A rollout holds the live and the new deployment at once, so it needs both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .skus import SKUS, skips_reservation

__all__ = ["SKUS", "Held", "cores_by_family", "held", "needs", "reserved_instances"]

#: A deployment as the quota sees it: its name, instance type and instance count.
Held = tuple[str, str, int]


def held(deployment: Any) -> Held:
    """An SDK deployment (``ManagedOnlineDeployment``) as the quota sees it."""
    return deployment.name, deployment.instance_type, deployment.instance_count


def reserved_instances(count: int, instance_type: str = "") -> int:
    """``ceil(1.2 x count)``, in whole numbers: the instances a deployment of ``count`` holds quota for (``count``
    for the SKUs that skip the 20 % reservation)."""
    return count if skips_reservation(instance_type) else -(-6 * count // 5)


def cores_by_family(deployments: Sequence[Held]) -> dict[str, int] | None:
    """Cores ``deployments``, held at once, need of each VM family's quota; None if a SKU is outside :data:`SKUS`."""
    totals: dict[str, int] = {}
    for _name, instance_type, count in deployments:
        sku = SKUS.get(instance_type.lower())
        if sku is None:
            return None
        family, cores = sku
        totals[family] = totals.get(family, 0) + reserved_instances(count, instance_type) * cores
    return totals


def needs(deployments: Sequence[Held]) -> str:
    """What ``deployments``, held at once, need of the quota, with the arithmetic: ``4 cores of the
    standardDSv2Family quota (blue: 1 x Standard_DS1_v2, ceil(1.2 x 1) = 2 instances x 1 core = 2; green: ...)``."""
    each = "; ".join(_arithmetic(*deployment) for deployment in deployments)
    totals = cores_by_family(deployments)
    if totals is None:
        return f"ceil(1.2 x instances) x each SKU's cores of its VM family's quota ({each})"
    said = " and ".join(f"{cores} cores of the {family} quota" for family, cores in totals.items())
    return f"{said} ({each})"


def _arithmetic(name: str, instance_type: str, count: int) -> str:
    reserved = reserved_instances(count, instance_type)
    sku = SKUS.get(instance_type.lower())
    said = f"{name}: {count} x {instance_type}, ceil(1.2 x {count}) = {reserved} instances"
    if skips_reservation(instance_type):
        said = f"{name}: {count} x {instance_type} (no 20 % reserve for this SKU) = {reserved} instances"
    if sku is None:
        return f"{said} x the cores of {instance_type}"
    cores = sku[1]
    return f"{said} x {cores} core{'s' if cores > 1 else ''} = {reserved * cores}"
