"""What the Azure fixtures of conftest.py give a test."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from standin import AzureStandIn
from standin.azureml_v1 import WorkspaceV1
from standin.azureml_v1_services import WebservicesV1


@dataclass
class AzureV1:
    """The stand-in's SDK v1 workspace, its web services, and a ``config.json`` for it."""

    standin: AzureStandIn
    workspace: WorkspaceV1
    services: WebservicesV1
    config_file: Path
