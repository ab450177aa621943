"""What managed online deployments take of the VM quota: ``ceil(1.2 x instances) x the SKU's cores`` each, and a
rollout holds two (Microsoft Learn, "Manage and increase quotas", "Virtual machine quota allocation for
deployment")."""

from __future__ import annotations

from fractions import Fraction
from math import ceil

import pytest
from hypothesis import given, strategies as st

from mnist_aci.azure_v2.quota import SKUS, cores_by_family, needs
from mnist_aci.azure_v2.skus import skips_reservation

ONE_DS1 = ("blue", "Standard_DS1_v2", 1)


@pytest.mark.parametrize(
    ("deployments", "cores"),
    [
        ([ONE_DS1], {"standardDSv2Family": 2}),
        ([ONE_DS1, ("green", "Standard_DS1_v2", 1)], {"standardDSv2Family": 4}),  # a rollout
        ([("blue", "Standard_F2s_v2", 1)], {"standardFSv2Family": 4}),
        ([("blue", "Standard_F2s_v2", 1), ("green", "Standard_F2s_v2", 1)], {"standardFSv2Family": 8}),
        ([("blue", "Standard_F2s_v2", 2)], {"standardFSv2Family": 6}),
        ([("blue", "Standard_DS3_v2", 10)], {"standardDSv2Family": 48}),  # the quota page's own example
        # users' reports' "Additional needed": 8, 8 and 32 (they do not give the count; one instance fits them)
        ([("blue", "Standard_DS3_v2", 1)], {"standardDSv2Family": 8}),
        ([("blue", "Standard_F4s_v2", 1)], {"standardFSv2Family": 8}),
        ([("blue", "STANDARD_F16S_V2", 1)], {"standardFSv2Family": 32}),
        ([ONE_DS1, ("green", "Standard_F2s_v2", 1)], {"standardDSv2Family": 2, "standardFSv2Family": 4}),
        ([ONE_DS1, ("green", "Standard_XX", 1)], None),
        ([("blue", "Standard_NC24ads_A100_v4", 2)], {"standardNCADSA100v4Family": 48}),  # skips the 20 %
    ],
)
def test_cores_each_vm_family_needs(deployments: list[tuple[str, str, int]], cores: dict[str, int] | None) -> None:
    assert cores_by_family(deployments) == cores


@given(st.sampled_from(sorted(SKUS)), st.integers(min_value=1, max_value=1000), st.integers(1, 1000))
def test_a_deployment_needs_ceil_1_2_n_times_the_cores_and_a_rollout_holds_two(sku: str, live: int, new: int) -> None:
    family, cores = SKUS[sku]
    reserve = 1 if skips_reservation(sku) else Fraction(6, 5)  # some GPU SKUs skip the 20 % (the SKU list)
    needed = {n: ceil(reserve * n) * cores for n in (live, new)}
    assert cores_by_family([("blue", sku, live)]) == {family: needed[live]}
    assert cores_by_family([("blue", sku, live), ("green", sku, new)]) == {family: needed[live] + needed[new]}


def test_needs_says_the_total_and_the_arithmetic_of_each_deployment() -> None:
    assert needs([ONE_DS1, ("green", "Standard_F2s_v2", 2)]) == (
        "2 cores of the standardDSv2Family quota and 6 cores of the standardFSv2Family quota (blue: 1 x "
        "Standard_DS1_v2, ceil(1.2 x 1) = 2 instances x 1 core = 2; green: 2 x Standard_F2s_v2, ceil(1.2 x 2) = 3 "
        "instances x 2 cores = 6)"
    )
    assert needs([("blue", "Standard_XX", 4)]) == (
        "ceil(1.2 x instances) x each SKU's cores of its VM family's quota (blue: 4 x Standard_XX, ceil(1.2 x 4) = 5 "
        "instances x the cores of Standard_XX)"
    )
