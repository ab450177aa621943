"""The SDK v2 tests' fixtures: the stand-in's workspace as the package signs in to it, and the small model
registered there with its environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.ai.ml import MLClient
from azure.ai.ml.entities import Environment, Model
from standin.azureml_v2 import WorkspaceV2
from support.processes import inference_servers, wait_until_gone

from mnist_aci.azure_v2 import assets as endpoint_assets, workspace as endpoint_workspace


@pytest.fixture
def config_file(workspace_v2: WorkspaceV2, tmp_path: Path) -> Path:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(workspace_v2.config()))
    return config


@pytest.fixture
def ml_client(config_file: Path) -> MLClient:
    """The package's own sign-in and ``MLClient.from_config``, against the stand-in."""
    return endpoint_workspace.load_ml_client(config_file)


@pytest.fixture
def workspace(workspace_v2: WorkspaceV2) -> Iterator[WorkspaceV2]:
    """The stand-in's workspace; no inference server of a test outlives it."""
    servers_before = inference_servers()
    yield workspace_v2
    workspace_v2.standin.reset()
    assert not wait_until_gone(inference_servers() - servers_before)
    assert workspace_v2.refused == [], "a request body the REST spec refuses"


@pytest.fixture
def registered(workspace: WorkspaceV2, ml_client: MLClient, small_model_file: Path) -> tuple[Model, Environment]:
    """The small model registered as SDK v2 registers it, and tutorial-env v2 pinned to it."""
    model = endpoint_assets.register_model(ml_client, small_model_file, properties={"training_data": "test"})
    environment = endpoint_assets.get_or_register_environment(ml_client, endpoint_assets.model_versions(model))
    return model, environment
