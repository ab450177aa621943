"""What the Azure fixtures of conftest.py give a test."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from standin import AzureStandIn
from standin.azureml_v1 import WorkspaceV1
from standin.azureml_v1_services import WebservicesV1

WORKSPACE = r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/workspaces/[^/]+"
#: The model-management paths of any workspace, as the stand-in's log of calls holds them.
MMS = rf"/modelmanagement/v1\.0{WORKSPACE}"


@dataclass
class AzureV1:
    """The stand-in's SDK v1 workspace, its web services, and a ``config.json`` for it."""

    standin: AzureStandIn
    workspace: WorkspaceV1
    services: WebservicesV1
    config_file: Path


def posted_services(azure_v1: AzureV1) -> list[dict]:
    """The bodies of the ``POST services`` (deployments) the stand-in received."""
    return [call.json() for call in azure_v1.standin.server.calls_to("POST", rf"{MMS}/services")]
