"""The SDK v1 workspace of the stand-in, as the SDK v1 tests use it: loaded, with the small model and the tutorial's
environment registered, and an AKS cluster attached."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from mnist_aci.azure_v1 import registry
from mnist_aci.azure_v1.workspace import load_workspace

if TYPE_CHECKING:
    from pathlib import Path

    from azureml.core import Environment, Model, Workspace
    from support.azure import AzureV1


@pytest.fixture
def workspace(azure_v1: AzureV1) -> Workspace:
    return load_workspace(azure_v1.config_file)


@pytest.fixture
def model(workspace: Workspace, small_model_file: Path) -> Model:
    return registry.register_model(workspace, small_model_file)


@pytest.fixture
def environment(workspace: Workspace, model: Model) -> Environment:
    return registry.get_or_register_environment(workspace, registry.model_versions(model))


@pytest.fixture
def my_aks(azure_v1: AzureV1) -> str:
    """``my-aks``: an AKS cluster attached to the workspace as a compute target of that name."""
    azure_v1.workspace.aks_computes.add("my-aks")
    return "my-aks"
