"""The stand-in itself: the real SDKs' sign-in reaches it through the proxy, and it refuses what it does not model."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import EnvironmentCredential
from azureml.core.authentication import ServicePrincipalAuthentication
from standin.container import ContainerPool, fingerprint
from standin.environments import conda_requirement, from_conda, from_v1, local_pythons, nearest_python
from support.project import SCORE_PY

from mnist_aci.azure_v2.assets import BASE_IMAGE, conda_specification
from mnist_aci.versions import runtime_versions

if TYPE_CHECKING:
    from standin import AzureStandIn
    from standin.environments import EnvironmentBuilds

MANAGEMENT_SCOPE = "https://management.azure.com/.default"


def test_azure_identity_signs_in_with_the_service_principal_of_the_environment(azure_standin: AzureStandIn) -> None:
    token = EnvironmentCredential().get_token(MANAGEMENT_SCOPE)

    assert token.token
    assert azure_standin.entra.issued == 1
    assert [call.host for call in azure_standin.server.calls] == ["login.microsoftonline.com"] * len(
        azure_standin.server.calls
    )


def test_azureml_core_signs_in_with_a_service_principal(azure_standin: AzureStandIn) -> None:
    principal = azure_standin.entra.principal
    auth = ServicePrincipalAuthentication(principal.tenant_id, principal.client_id, principal.client_secret)

    header = auth.get_authentication_header()

    assert header["Authorization"].startswith("Bearer ")
    assert azure_standin.entra.issued >= 1


def test_a_wrong_secret_is_refused_as_entra_refuses_it(
    azure_standin: AzureStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "not-the-secret")

    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        EnvironmentCredential().get_token(MANAGEMENT_SCOPE)
    assert azure_standin.entra.issued == 0


def test_a_request_no_service_models_is_a_404_kept_for_the_test(azure_standin: AzureStandIn) -> None:
    answer = requests.get("https://example.blob.core.windows.net/nothing?comp=list", timeout=30)

    assert answer.status_code == 404
    assert "no route" in answer.json()["error"]["message"]
    assert [str(call) for call in azure_standin.server.unknown] == [
        "GET https://example.blob.core.windows.net/nothing?comp=list -> 404"
    ]
    azure_standin.server.unknown.clear()  # checked: the fixture fails any other test that sends one


def test_bearer_tokens_are_checked(azure_standin: AzureStandIn) -> None:
    from standin.aad import Entra
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    token = EnvironmentCredential().get_token(MANAGEMENT_SCOPE).token
    signed = Request(EnvironBuilder(headers=[("Authorization", f"Bearer {token}")]).get_environ())
    forged = Request(EnvironBuilder(headers=[("Authorization", "Bearer e30.e30.c2ln")]).get_environ())

    assert Entra.refuse_unless_signed_in(signed) is None
    refused = Entra.refuse_unless_signed_in(forged)
    assert refused is not None
    assert refused.status_code == 401


def app_root_with(folder: Path, script: Path, model_file: Path) -> tuple[Path, dict[str, str]]:
    """A container's app root as the services lay it out: the script, and the model under azureml-models."""
    app_root = folder / "azureml-app"
    model_dir = app_root / "azureml-models" / "sklearn_mnist" / "1"
    model_dir.mkdir(parents=True)
    shutil.copy(script, app_root / "score.py")
    shutil.copy(SCORE_PY.with_name("score_io.py"), app_root / "score_io.py")  # what the project's score.py imports
    shutil.copy(model_file, model_dir / model_file.name)
    return app_root, {"AZUREML_MODEL_DIR": str(model_dir)}


@pytest.fixture(scope="module")
def serving_python(environment_builds: EnvironmentBuilds) -> Path:
    """The package's v2 environment (pinned to this machine's versions), built as the stand-in builds it: its venv's
    Python."""
    spec = from_conda(conda_specification(runtime_versions()), title="tutorial-env", base_image=BASE_IMAGE)
    build = environment_builds.build(spec)
    assert build.python is not None, build.log
    return build.python


@pytest.mark.server
def test_deployments_of_the_same_files_share_one_server_and_see_their_own_log(
    tmp_path: Path, small_model_file: Path, serving_python: Path
) -> None:
    pool = ContainerPool()
    try:
        first = pool.lease(*app_root_with(tmp_path / "a", SCORE_PY, small_model_file), "score.py", serving_python)
        assert first.wait_until_started(120)
        body = json.dumps({"data": [[0.0] * 784]})
        answer = requests.post(
            first.base_url + "/score", body, headers={"Content-Type": "application/json"}, timeout=60
        )
        assert answer.status_code == 200
        assert "POST /score" in first.logs()
        first.stop()
        assert not first.running

        second = pool.lease(*app_root_with(tmp_path / "b", SCORE_PY, small_model_file), "score.py", serving_python)
        assert second.container is first.container
        assert second.wait_until_started(120)
        assert "ready for serving traffic" in second.logs()  # the start-up lines, not the first deployment's call
        assert "POST /score" not in second.logs()
        assert pool.started == 1

        changed = tmp_path / "changed.py"
        changed.write_text(SCORE_PY.read_text() + "\n# another script\n")
        third = pool.lease(*app_root_with(tmp_path / "c", changed, small_model_file), "score.py", serving_python)
        assert third.container is not second.container
        assert pool.started == 2
        third.stop()  # never started: not kept
        assert pool.idle == []
        second.stop()
        assert pool.idle == [(second.key, first.container)]
    finally:
        pool.close()
    assert not first.container.running


def test_a_container_in_another_environments_build_is_another_container(tmp_path: Path, small_model_file: Path) -> None:
    app_root, environment = app_root_with(tmp_path, SCORE_PY, small_model_file)
    one, other = (Path(f"/builds/{key}/venv/bin/python") for key in ("a", "b"))

    assert fingerprint(app_root, environment, "score.py", one) == fingerprint(app_root, environment, "score.py", one)
    assert fingerprint(app_root, environment, "score.py", one) != fingerprint(app_root, environment, "score.py", other)


@pytest.mark.parametrize(
    ("spec", "requirement"),
    [
        ("scikit-learn==0.22.1", "scikit-learn==0.22.1"),
        ("numpy=1.23.5", "numpy==1.23.5.*"),  # conda's "=" is a prefix match
        ("conda-forge::pytorch=2.1=py39_0", "torch==2.1.*"),  # channel and build string dropped, PyPI's name
        ("scipy >=1.10,<2", "scipy>=1.10,<2"),
        ("joblib 1.4", "joblib==1.4.*"),
        ("pandas=2.*", "pandas==2.*"),
        ("matplotlib-base", "matplotlib"),
    ],
)
def test_conda_match_specs_become_pypi_requirements(spec: str, requirement: str) -> None:
    assert conda_requirement(spec)[1] == requirement


def test_an_environment_is_read_as_its_image_build_reads_it() -> None:
    """SDK v1's tutorial-env of part 1, as ``Environment._serialize_to_dict`` sends it (``CondaDependencies.create``
    with its default Python and index options)."""
    spec = from_v1(
        {
            "name": "tutorial-env",
            "version": "1",
            "python": {
                "userManagedDependencies": False,
                "condaDependencies": {
                    "dependencies": [
                        "python=3.10.18",
                        {"pip": ["--extra-index-url https://pypi.python.org/simple", "azureml-defaults"]},
                        "scikit-learn==0.22.1",
                        "pip=23.0.1",
                    ]
                },
            },
            "docker": {"baseImage": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:20230530.v1"},
        }
    )
    assert (spec.python, spec.requirements, spec.conda_names) == (
        "3.10",
        ("scikit-learn==0.22.1", "azureml-defaults"),
        ("scikit-learn",),
    )
    assert spec.glibc_minor == 31  # Ubuntu 20.04's glibc 2.31
    assert spec.unmodelled is None
    assert any("--extra-index-url" in note for note in spec.notes)
    user_managed = from_v1({"python": {"userManagedDependencies": True}, "docker": {"baseImage": "my/image"}})
    assert "user-managed" in str(user_managed.unmodelled)
    assert user_managed.glibc_minor == 28  # an image of unknown release: manylinux_2_28


def test_a_container_runs_on_the_environments_python_else_the_nearest_here() -> None:
    assert nearest_python((3, 9), [(3, 8), (3, 9), (3, 11)]) == (3, 9)
    assert nearest_python((3, 9), [(3, 11)]) == (3, 11)  # a machine with one Python
    assert nearest_python((3, 10), [(3, 9), (3, 11)]) == (3, 11)  # a tie: the newer
    assert nearest_python((3, 7), [(3, 6), (3, 11), (3, 12)]) == (3, 6)


def test_a_conda_only_package_fails_the_build_saying_it_is_beyond_the_standin(
    environment_builds: EnvironmentBuilds,
) -> None:
    spec = from_conda({"dependencies": ["python=3.11", "libgcc-ng=13.2.0"]}, title="conda-env", base_image=BASE_IMAGE)

    build = environment_builds.build(spec)

    assert build.python is None
    assert "libgcc-ng was not found in the package registry" in build.log
    assert "libgcc-ng: a conda package the stand-in looked up on PyPI" in build.log
    assert "a limitation of the stand-in, not Azure's verdict" in build.log


def test_a_python_this_machine_lacks_is_resolved_for_and_run_on_the_nearest_one_here(
    environment_builds: EnvironmentBuilds,
) -> None:
    pythons = local_pythons()
    if (3, 14) in pythons:
        pytest.skip("this machine has Python 3.14")
    spec = from_conda({"dependencies": ["python=3.14", {"pip": ["six==1.17.0"]}]}, title="env", base_image=BASE_IMAGE)

    build = environment_builds.build(spec)

    assert build.python is not None, build.log
    version, _ = pythons[nearest_python((3, 14), pythons)]
    assert "Resolving for Linux x86_64, Python 3.14, wheels only:" in build.log
    assert f"Python 3.14 is not on this machine: the container runs on Python {version}" in build.log
    ran = subprocess.run(
        [build.python, "-c", "import platform, six; print(platform.python_version(), six.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert ran.stdout.split() == [version, "1.17.0"]


def test_telemetry_is_accepted_as_application_insights_accepts_it(azure_standin: AzureStandIn) -> None:
    answer = requests.post("https://westus2-0.in.applicationinsights.azure.com/v2.1/track", json=[{}, {}], timeout=30)

    assert (answer.status_code, answer.json()) == (200, {"itemsReceived": 2, "itemsAccepted": 2, "errors": []})
    assert azure_standin.telemetry.items == 2


def test_the_vm_metadata_address_answers_nothing_as_off_azure(azure_standin: AzureStandIn) -> None:
    """azure-ai-ml's telemetry asks it whether it runs on an Azure VM; a connection error means "Not in VM"."""
    with pytest.raises(requests.ConnectionError):
        requests.get(
            "http://169.254.169.254/metadata/instance/compute?api-version=2017-12-01&format=json",
            headers={"Metadata": "True"},
            timeout=30,
        )
