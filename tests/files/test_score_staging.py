"""score.py reads like the tutorial's, and score_io.py, which it imports, goes beside it wherever it goes."""

from __future__ import annotations

import ast
import json
import shutil
from typing import TYPE_CHECKING

import pytest
import requests
from support.project import ROOT, SCORE_PY

from mnist_aci.errors import DeploymentError
from mnist_aci.local.service import start_local_service
from mnist_aci.project_files import CONTRACT, SCORE_IO, SCORE_SIBLINGS, write_project_files
from mnist_aci.score_script import stage_scoring_folder
from mnist_aci.scoring import tutorial_body

if TYPE_CHECKING:
    from pathlib import Path

    from sklearn.multiclass import OneVsRestClassifier

    from mnist_aci.data import Dataset

#: One screen of an editor or a notebook's code cell.
SCREEN_LINES = 50
#: The tutorial's comments in its score.py (tutorial-deploy-models-with-aml, "Create scoring script").
TUTORIAL_COMMENTS = (
    "# AZUREML_MODEL_DIR is an environment variable created during deployment.",
    "# It is the path to the model folder (./azureml-models/$MODEL_NAME/$VERSION)",
    "# For multiple models, it points to the folder containing all deployed models (./azureml-models)",
    "# make prediction",
    "# you can return any data type as long as it is JSON-serializable",
)
#: The tutorial's own score.py, which imports no score_io.
TUTORIAL_SCORE_PY = "import os\n\ndef init():\n    pass\n\ndef run(raw_data):\n    return []\n"


def test_score_py_is_the_tutorials_init_and_run_on_one_screen_with_its_comments() -> None:
    text = SCORE_PY.read_text()
    functions = [node for node in ast.parse(text).body if isinstance(node, ast.FunctionDef)]
    assert [function.name for function in functions] == ["init", "run"]
    assert functions[-1].end_lineno is not None
    assert functions[-1].end_lineno <= SCREEN_LINES
    for comment in TUTORIAL_COMMENTS:
        assert comment in text


def test_the_folder_mnist_aci_init_writes_is_staged_whole(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write_project_files(project)
    staged = stage_scoring_folder(project / "score.py", tmp_path / "app")
    assert sorted(path.name for path in staged.iterdir()) == sorted(["score.py", *SCORE_SIBLINGS])
    for name in SCORE_SIBLINGS:
        assert (staged / name).read_bytes() == (ROOT / name).read_bytes()


def test_a_score_py_importing_score_io_without_it_beside_is_refused_before_staging(tmp_path: Path) -> None:
    alone = tmp_path / "mine" / "score.py"
    alone.parent.mkdir()
    shutil.copy(SCORE_PY, alone)
    with pytest.raises(DeploymentError, match=f"imports score_io, but there is no {SCORE_IO} beside it") as refused:
        stage_scoring_folder(alone, tmp_path / "app")
    assert "mnist-aci init FOLDER" in str(refused.value)
    assert not (tmp_path / "app").exists()


def test_a_score_py_without_score_io_that_does_not_import_it_is_staged_alone(tmp_path: Path) -> None:
    tutorial = tmp_path / "tutorial" / "score.py"
    tutorial.parent.mkdir()
    tutorial.write_text(TUTORIAL_SCORE_PY)
    staged = stage_scoring_folder(tutorial, tmp_path / "app")
    assert [path.name for path in staged.iterdir()] == ["score.py"]


@pytest.mark.server
def test_the_local_target_serves_the_folder_mnist_aci_init_wrote(
    tmp_path: Path, small_model_file: Path, small_model: OneVsRestClassifier, sample_data: Dataset
) -> None:
    project = tmp_path / "project"
    write_project_files(project)
    with start_local_service(small_model_file, project / "score.py", name="init-folder") as service:
        service.wait_for_deployment()
        assert (service.stage_dir / "app" / SCORE_IO).read_bytes() == (project / SCORE_IO).read_bytes()
        images = sample_data.x_test[:5]
        assert service.run(tutorial_body(images)) == small_model.predict(images).tolist()
        assert requests.get(service.swagger_uri, timeout=30).json() == json.loads((project / CONTRACT).read_text())
