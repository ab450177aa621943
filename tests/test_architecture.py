"""The shape of the package: one-way imports, the service protocol, a quiet library, a documented public API."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING
from unittest import mock

import pytest
from azure.ai.ml import MLClient
from support.project import ROOT, SCORE_PY

import mnist_aci
import mnist_aci.targets
from mnist_aci._progress import hide_progress
from mnist_aci.azure_v2.service import EndpointService
from mnist_aci.local.server import ServerProcess
from mnist_aci.local.service import LocalWebservice
from mnist_aci.scoring import ServiceEndpoint
from mnist_aci.service import ScoringService, Service

if TYPE_CHECKING:
    from mnist_aci.data import Dataset

LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def lint_imports(source_root: Path) -> subprocess.CompletedProcess[str]:
    """Run the import contracts of pyproject.toml against the package found under ``source_root``."""
    return subprocess.run(
        [LINT_IMPORTS, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=source_root,
        env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(source_root)},
        capture_output=True,
        text=True,
        check=False,
    )


FAMILIES = "Target families never import each other"


def copy_of_the_package(tmp_path: Path) -> Path:
    """A copy of the package under ``tmp_path``, checked to keep every contract before a test breaks one."""
    package = tmp_path / "mnist_aci"
    shutil.copytree(ROOT / "src" / "mnist_aci", package, ignore=shutil.ignore_patterns("__pycache__"))
    assert lint_imports(tmp_path).returncode == 0
    return package


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("module", "forbidden_import", "contract"),
    [
        ("local/service.py", "from ..azure_v1 import deployment", FAMILIES),
        ("local/store.py", "from ..azure_v2 import assets", FAMILIES),
        ("azure_v1/registry.py", "from ..local import store", FAMILIES),
        ("azure_v1/deployment.py", "from ..azure_v2 import endpoint", FAMILIES),
        ("azure_v2/endpoint.py", "from ..azure_v1 import registry", FAMILIES),
        ("azure_v2/assets.py", "from ..local import service", FAMILIES),
        ("scoring.py", "from . import targets", "Layers"),
        ("service.py", "from .local import store", "Layers"),
        ("errors.py", "from . import tutorial", "Layers"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(
    tmp_path: Path, module: str, forbidden_import: str, contract: str
) -> None:
    package = copy_of_the_package(tmp_path)
    with (package / module).open("a") as source:
        source.write(f"\n{forbidden_import}  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert contract in result.stdout
    assert "BROKEN" in result.stdout


@pytest.mark.subprocess
@pytest.mark.parametrize(("family", "other"), [("local", "azure_v1"), ("azure_v1", "azure_v2"), ("azure_v2", "local")])
def test_a_new_module_in_a_family_is_under_the_contracts_without_being_listed(
    tmp_path: Path, family: str, other: str
) -> None:
    package = copy_of_the_package(tmp_path)
    (package / family / "newcomer.py").write_text(
        f'"""A module nobody listed."""\n\nfrom ..{other} import __name__ as _\n'
    )
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert FAMILIES in result.stdout
    assert "BROKEN" in result.stdout
    assert f"mnist_aci.{family}.newcomer" in result.stdout


@pytest.mark.subprocess
def test_a_new_module_must_be_placed_in_a_layer(tmp_path: Path) -> None:
    package = copy_of_the_package(tmp_path)
    (package / "stray.py").write_text('"""Not in any layer."""\n')
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "mnist_aci.stray" in result.stdout


@pytest.mark.subprocess
def test_every_service_class_satisfies_the_protocol(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    local = LocalWebservice("protocol", ServerProcess(process, tmp_path, write_end), 1)
    os.close(read_end)
    try:
        assert isinstance(local, Service)
    finally:
        local.delete()
    assert isinstance(ServiceEndpoint("http://127.0.0.1:1/score"), ScoringService)
    assert not isinstance(ServiceEndpoint("http://127.0.0.1:1/score"), Service)
    endpoint = mock.Mock(scoring_uri="https://ep.region.inference.ml.azure.com/score")
    endpoint.name = "ep"
    assert isinstance(EndpointService(mock.create_autospec(MLClient, instance=True), endpoint), Service)


QUIET_USE = """
import numpy as np
import mnist_aci
from mnist_aci._progress import hide_progress
from mnist_aci.local.store import LocalModelStore

data = mnist_aci.resolve_dataset(download=False)
model = mnist_aci.train_model(data.x_train[:500], data.y_train[:500])
store = LocalModelStore("store")
registered = store.register(mnist_aci.save_model(model, "out"))
service = mnist_aci.deploy_model("local", registered, entry_script={score!r})
labels = mnist_aci.predict(service, data.x_test[:20])
assert (labels == model.predict(data.x_test[:20])).all()
mnist_aci.delete_service(service)
"""


@pytest.mark.subprocess
@pytest.mark.server
def test_the_library_prints_nothing_to_stdout_when_logging_is_not_configured(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "MNIST_DATA_DIR"}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(QUIET_USE.format(score=str(SCORE_PY)))],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "Falling back to the MNIST sample" in result.stderr  # a warning: Python's last-resort handler


def test_show_progress_shows_the_progress_lines_on_stdout(
    capsys: pytest.CaptureFixture[str], sample_data: Dataset
) -> None:
    handler = mnist_aci.show_progress()
    try:
        assert mnist_aci.show_progress() is handler
        mnist_aci.train_model(sample_data.x_train[:300], sample_data.y_train[:300])
    finally:
        hide_progress(handler)
    out = capsys.readouterr().out
    assert out.startswith("==> Training on 300 images")
    assert "    done in " in out


def test_the_public_api_is_all_importable_and_in_the_module_s_table() -> None:
    for name in mnist_aci.__all__:
        assert getattr(mnist_aci, name) is not None
    assert mnist_aci.__version__ == importlib.metadata.version("mnist-aci")
    for name in mnist_aci.__all__:
        if name != "__version__":
            assert name in mnist_aci.__doc__, f"{name} is public but not in the module's API table"


def target_name_comparisons(path: Path) -> list[str]:
    """Comparisons of anything with a target's name (``x == "aci"``, ``x in ("local", ...)``) in a module."""
    names = set(mnist_aci.targets.TARGET_TABLE)
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            constants = [part for part in ast.walk(node) if isinstance(part, ast.Constant)]
            if any(constant.value in names for constant in constants):
                found.append(ast.unparse(node))
    return found


@pytest.mark.parametrize("module", ["workflow.py", "cli.py", "targets.py"])
def test_the_flow_and_the_command_line_never_branch_on_a_target_name(module: str) -> None:
    assert target_name_comparisons(ROOT / "src" / "mnist_aci" / module) == []


def test_a_comparison_with_a_target_name_is_found(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('if options.target == "aks":\n    pass\nok = target in ("local", "x")\n')
    assert target_name_comparisons(sample) == ["options.target == 'aks'", "target in ('local', 'x')"]
