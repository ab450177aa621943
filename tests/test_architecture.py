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
        env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": f"{source_root}:{ROOT}"},  # ROOT: tools/
        capture_output=True,
        text=True,
        check=False,
    )


LAYERS = "Layers: entry points"


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
        ("local/service.py", "from ..azure_v1 import deployment", LAYERS),
        ("local/store.py", "from ..azure_v2 import assets", LAYERS),
        ("azure_v1/registry.py", "from ..local import store", LAYERS),
        ("azure_v1/deployment.py", "from ..azure_v2 import endpoint", LAYERS),
        ("azure_v2/endpoint.py", "from ..azure_v1 import registry", LAYERS),
        ("azure_v2/assets.py", "from ..local import service", LAYERS),
        ("scoring.py", "from . import targets", LAYERS),
        ("service.py", "from .local import store", LAYERS),
        ("errors.py", "from . import tutorial", LAYERS),
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
    assert LAYERS in result.stdout
    assert "BROKEN" in result.stdout
    assert f"mnist_aci.{family}.newcomer" in result.stdout


#: A new target family, as docs/how-to/add-a-target.md says to write one: an options dataclass whose field declares
#: its flag, and a target that writes only what differs from the defaults. It registers nothing and its deploy starts
#: nothing: it says what it would serve, so the test sees the options that reached it.
CONSTANT_TARGET = """
\"\"\"The ``constant`` target: a service answering one digit to every image (it deploys nothing).\"\"\"

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..errors import DeploymentError
from ..flags import DEPLOYS, option
from ..service import Service
from ..target_base import Target, TargetOptions


@dataclass(frozen=True, kw_only=True)
class ConstantOptions(TargetOptions):
    digit: int = option(7, flag="--digit", help="constant target: the digit it answers", commands=DEPLOYS, type=int)


class Nowhere:
    \"\"\"A registry where every recipe has a model already, and nothing is kept.\"\"\"

    def latest(self) -> Any:
        return SimpleNamespace(name="sklearn_mnist", version="0", properties={})

    def trained_with(self, recipe: dict[str, str]) -> Any:
        return SimpleNamespace(name="sklearn_mnist", version="0", properties=recipe)

    def register(self, model_file: Path, properties: dict[str, str]) -> Any:
        return SimpleNamespace(name="sklearn_mnist", version="1", properties=properties)


class ConstantTarget(Target[ConstantOptions]):
    name = "constant"
    options_type = ConstantOptions
    serves_here = True

    def registry(self, connection: Any, store: Path) -> Nowhere:
        return Nowhere()

    def deploy(self, model: Any, options: ConstantOptions, *, entry_script: Path | None = None, **_: Any) -> Service:
        raise DeploymentError(f"constant deploy reached: {model.name}:{model.version} would answer {options.digit}")
"""


def add_the_constant_target(package: Path) -> None:
    """The new family's subpackage, and its one entry in the table (with its import): nothing else."""
    (package / "constant").mkdir()
    (package / "constant" / "__init__.py").write_text('"""The constant target."""\n')
    (package / "constant" / "target.py").write_text(CONSTANT_TARGET.lstrip())
    table = package / "targets.py"
    source = table.read_text()
    first_import, last_entry = "from .azure_v1.target import", "    EndpointTarget(),\n"
    assert source.count(first_import) == source.count(last_entry) == 1
    source = source.replace(first_import, f"from .constant.target import ConstantTarget\n{first_import}")
    table.write_text(source.replace(last_entry, f"{last_entry}    ConstantTarget(),\n"))


def cli_of(source_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``mnist-aci ARGS`` from the package under ``source_root``, run in it (nothing installed)."""
    env = {**os.environ, "PYTHONPATH": str(source_root)}
    command = [sys.executable, "-m", "mnist_aci.cli", *args]
    return subprocess.run(command, cwd=source_root, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.subprocess
def test_a_target_is_added_by_one_subpackage_and_one_table_entry(tmp_path: Path) -> None:
    package = copy_of_the_package(tmp_path)
    add_the_constant_target(package)

    contracts = lint_imports(tmp_path)
    helps = {command: cli_of(tmp_path, command, "--help") for command in ("run", "deploy", "train")}
    refused = cli_of(tmp_path, "train", "--target", "constant", "--digit", "3")
    run = cli_of(tmp_path, "run", "--target", "constant", "--digit", "3", "--dataset", "sample", "--no-download")

    assert contracts.returncode == 0, contracts.stdout
    assert all(result.returncode == 0 for result in helps.values())
    assert "{local,aci,aks,endpoint,constant}" in helps["run"].stdout
    assert "--digit DIGIT" in helps["run"].stdout
    assert "constant target: the digit it answers" in helps["deploy"].stdout
    assert "--digit" not in helps["train"].stdout
    assert refused.returncode == 2
    assert "mnist-aci train: error: --digit is an option of mnist-aci run, deploy only" in refused.stderr
    assert run.stderr == "mnist-aci: error: constant deploy reached: sklearn_mnist:0 would answer 3\n", run.stderr
    assert "Reusing" not in run.stdout  # its registry said nothing: the flow names no target
    assert lint_imports(tmp_path).returncode == 0


@pytest.mark.subprocess
def test_a_new_family_importing_another_breaks_the_contract_without_being_listed(tmp_path: Path) -> None:
    package = copy_of_the_package(tmp_path)
    add_the_constant_target(package)
    with (package / "constant" / "target.py").open("a") as source:
        source.write("\nfrom ..local import store  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "mnist_aci.constant is not allowed to import mnist_aci.local" in result.stdout
    assert "mnist_aci.constant.target -> mnist_aci.local.store" in result.stdout


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


@pytest.mark.parametrize("module", ["workflow.py", "cli.py", "targets.py", "deploy.py", "job.py"])
def test_the_flow_and_the_command_line_never_branch_on_a_target_name(module: str) -> None:
    assert target_name_comparisons(ROOT / "src" / "mnist_aci" / module) == []


def test_a_comparison_with_a_target_name_is_found(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('if options.target == "aks":\n    pass\nok = target in ("local", "x")\n')
    assert target_name_comparisons(sample) == ["options.target == 'aks'", "target in ('local', 'x')"]
