from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from unittest import mock

import azureml.core
import pytest
from azureml.core import Workspace
from azureml.core.authentication import InteractiveLoginAuthentication
from support.processes import free_port
from support.project import ROOT

from mnist_aci.azure_v1.workspace import load_workspace
from mnist_aci.azure_v2.workspace import load_ml_client
from mnist_aci.cli import main
from mnist_aci.errors import WorkspaceConfigError, WorkspaceError
from mnist_aci.versions import UV_ENV, sdk_version
from mnist_aci.workspace_config import config_search_paths, read_workspace_config

if TYPE_CHECKING:
    from collections.abc import Callable

    from support.azure import AzureV1

VALID = {"subscription_id": "sub", "resource_group": "rg", "workspace_name": "ws"}


def test_sdk_version_is_the_installed_sdk() -> None:
    assert sdk_version() == azureml.core.VERSION


def test_missing_config_lists_every_path_searched_and_points_at_the_example(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceConfigError, match="config.json.example") as info:
        read_workspace_config(tmp_path)
    message = str(info.value)
    for path in config_search_paths(tmp_path):
        assert str(path) in message
    assert str(tmp_path / ".azureml" / "config.json") in message


def test_search_order_follows_the_sdk(tmp_path: Path) -> None:
    paths = config_search_paths(tmp_path)
    assert paths[0] == tmp_path.resolve() / ".azureml" / "config.json"
    assert tmp_path.resolve() / "config.json" in paths
    assert paths.index(tmp_path.resolve() / "aml_config" / "config.json") < paths.index(
        tmp_path.resolve() / "config.json"
    )


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        (json.dumps({"subscription_id": "sub"}), "lacks resource_group, workspace_name"),
        (json.dumps({**VALID, "workspace_name": ""}), "lacks workspace_name"),
    ],
)
def test_malformed_config_is_one_clear_error(tmp_path: Path, content: str, match: str) -> None:
    (tmp_path / "config.json").write_text(content)
    with pytest.raises(WorkspaceConfigError, match=match):
        read_workspace_config(tmp_path / "config.json")


def test_malformed_config_never_echoes_values(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"subscription_id": "secret-subscription-id"}))
    with pytest.raises(WorkspaceConfigError) as info:
        read_workspace_config(tmp_path)
    assert "secret-subscription-id" not in str(info.value)


def test_load_workspace_opens_the_workspace_of_the_file_found(azure_v1: AzureV1, tmp_path: Path) -> None:
    """Through the real azureml-core and the Azure stand-in, signed in as the environment's service principal."""
    config = tmp_path / "project" / ".azureml" / "config.json"
    config.parent.mkdir(parents=True)
    config.write_text(azure_v1.config_file.read_text())

    workspace = load_workspace(config.parents[1])

    assert (workspace.name, workspace.resource_group) == (azure_v1.workspace.name, azure_v1.workspace.resource_group)
    assert workspace.location == "westeurope"
    assert azure_v1.standin.entra.issued >= 1


def test_tenant_id_logs_in_on_that_tenant(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(VALID))
    auth_class = mock.create_autospec(InteractiveLoginAuthentication)
    with (
        mock.patch("azureml.core.authentication.InteractiveLoginAuthentication", auth_class),
        mock.patch.object(Workspace, "from_config", autospec=True) as from_config,
    ):
        load_workspace(tmp_path / "config.json", tenant_id="my-tenant")
    auth_class.assert_called_once_with(tenant_id="my-tenant")
    from_config.assert_called_once_with(path=str(tmp_path / "config.json"), auth=auth_class.return_value)


def test_a_workspace_that_does_not_exist_is_one_clear_error(
    azure_v1: AzureV1, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In Python the tenant is the parameter tenant_id; on the command line, the flag --tenant-id."""
    config = {**azure_v1.workspace.config(), "workspace_name": "no-such-ws"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(WorkspaceError, match=r"workspace 'no-such-ws'.*pass tenant_id=<tenant>\."):
        load_workspace(tmp_path)
    assert main(["delete", "--target", "aci", "--config", str(tmp_path / "config.json"), "--service-name", "s"]) == 1
    assert "pass --tenant-id <tenant>." in capsys.readouterr().err


@pytest.fixture
def no_network(azure_v1: AzureV1, monkeypatch: pytest.MonkeyPatch) -> AzureV1:
    """The stand-in's service principal and config.json, with every proxy variable pointing at a port nothing
    listens on: each request to Azure fails to connect, as on a machine without network or with a dead proxy."""
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{free_port()}")
    return azure_v1


def assert_says_azure_is_unreachable(message: str) -> None:
    assert "Could not reach Azure" in message
    assert "Connection refused" in message
    assert "network connection and its proxy settings (HTTPS_PROXY" in message
    for wrong_advice in ("az login", "resource group", "tenant", "account"):
        assert wrong_advice not in message


@pytest.mark.parametrize("load", [load_workspace, load_ml_client], ids=["sdk-v1", "sdk-v2"])
def test_no_network_is_said_so_and_not_taken_for_a_login_or_a_name(
    no_network: AzureV1, load: Callable[[Path], object]
) -> None:
    """Through the real SDKs: v1's sign-in lets requests' ProxyError escape, v2's chain of credentials keeps only
    its message; both are reported as Azure out of reach."""
    with pytest.raises(WorkspaceError) as info:
        load(no_network.config_file)
    assert_says_azure_is_unreachable(str(info.value))


@pytest.mark.parametrize("target", ["aci", "endpoint"])
def test_the_cli_without_network_says_azure_could_not_be_reached(
    no_network: AzureV1, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    code = main(["delete", "--target", target, "--config", str(no_network.config_file), "--service-name", "svc"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("mnist-aci: error: Could not reach Azure ")
    assert_says_azure_is_unreachable(err)


def test_an_unfilled_copy_of_the_example_is_refused_before_any_sdk_call(tmp_path: Path) -> None:
    example = (ROOT / "config.json.example").read_text()
    (tmp_path / "config.json").write_text(example)
    with (
        mock.patch.object(Workspace, "from_config", autospec=True) as from_config,
        pytest.raises(WorkspaceConfigError) as info,
    ):
        load_workspace(tmp_path / "config.json")
    from_config.assert_not_called()
    message = str(info.value)
    assert "subscription_id, resource_group, workspace_name" in message
    assert "placeholders" in message


def test_one_unfilled_field_is_named_alone(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({**VALID, "resource_group": " <my rg> "}))
    with pytest.raises(WorkspaceConfigError, match=r"placeholders for resource_group\. Fill"):
        read_workspace_config(tmp_path / "config.json")


@pytest.mark.subprocess
@pytest.mark.parametrize("resolver", ["uv", "pip"])
@pytest.mark.parametrize("command", ["run --target aci", "run --target endpoint", "train --target aks"])
def test_an_unfilled_config_is_refused_before_the_resolver_or_the_data(
    tmp_path: Path, command: str, resolver: str
) -> None:
    """The example copied unchanged: the fields to fill are named at once, before the environment is resolved
    (a uv that does not exist would fail it; pip would pass it and go on) or any data is loaded."""
    (tmp_path / "config.json").write_text((ROOT / "config.json.example").read_text())
    env = {key: value for key, value in os.environ.items() if key not in ("MNIST_DATA_DIR", UV_ENV)}
    if resolver == "uv":
        env[UV_ENV] = str(tmp_path / "no-such-uv")
    else:
        env["PATH"] = str(Path(sys.executable).parent)  # the venv's programs only: no uv
    cli = str(Path(sys.executable).parent / "mnist-aci")

    result = subprocess.run(
        [cli, *command.split(), "--config", "config.json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert result.returncode == 1
    assert result.stderr.startswith("mnist-aci: error: config.json still holds the example's placeholders for ")
    assert "subscription_id, resource_group, workspace_name" in result.stderr
    assert "Loading data" not in result.stdout
    assert "resolver" not in result.stderr
