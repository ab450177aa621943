"""What Azure allows a managed online deployment: its SKUs (VM sizes) and its limits.

The SKUs are Microsoft Learn's "Managed online endpoints SKU list"; the limits its "Manage and increase quotas and
limits" page, section "Azure Machine Learning online endpoints and batch endpoints": 50 instances per deployment,
20 deployments per endpoint, a request time-out of at most 180 seconds. Checked before any call to Azure, so
that a value Azure would refuse is said in the caller's terms, at once.
"""

from __future__ import annotations

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
#: Each SKU, in lower case (Azure's SKU names are case-insensitive): its VM family and cores.
SKUS: dict[str, tuple[str, int]] = {
    sku.lower(): (family, cores) for family, skus in FAMILIES.items() for sku, cores in skus
}
#: Instances of one deployment, deployments of one endpoint (both "allow exception": a support request raises them).
MAX_INSTANCES = 50
MAX_DEPLOYMENTS = 20
#: A request's time-out at most, in milliseconds (``request_settings.request_timeout_ms``).
MAX_REQUEST_TIMEOUT_MS = 180_000
#: SKUs said in messages as examples of the list.
EXAMPLES = ("Standard_DS1_v2", "Standard_DS2_v2", "Standard_F2s_v2", "Standard_E2s_v3")


def is_managed_sku(instance_type: str) -> bool:
    """Whether managed online endpoints run ``instance_type`` (any case)."""
    return instance_type.lower() in SKUS


def skips_reservation(instance_type: str) -> bool:
    """Whether Azure reserves no 20 % extra of the quota for ``instance_type`` (some GPU SKUs)."""
    family = SKUS.get(instance_type.lower(), ("", 0))[0]
    return family in SKIP_RESERVATION
