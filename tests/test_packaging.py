"""The package as a user installs it: the built sdist and wheel, installed in a fresh environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest
from support.project import ROOT

from mnist_aci.project_files import CONFIG_EXAMPLE, CONTRACT, NOTEBOOK, SCORE_IO, SCORE_PY
from mnist_aci.versions import UV_ENV

TOP_LEVEL = {
    SCORE_PY: ROOT / SCORE_PY,
    SCORE_IO: ROOT / SCORE_IO,
    CONTRACT: ROOT / CONTRACT,
    NOTEBOOK: ROOT / "notebooks" / NOTEBOOK,
    CONFIG_EXAMPLE: ROOT / CONFIG_EXAMPLE,
}


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist, and the wheel built from it, as ``python -m build`` makes them from a copy of the tree."""
    tree = tmp_path_factory.mktemp("tree") / "mnist-aci"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in tracked.split():
        source, target = ROOT / name, tree / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    out = tree.parent / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out)],
        cwd=tree,
        capture_output=True,
        check=True,
    )
    return {"sdist": next(out.glob("*.tar.gz")), "wheel": next(out.glob("*.whl"))}


def test_the_wheel_carries_the_tutorials_files_and_the_type_information(dists: dict[str, Path]) -> None:
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        names = set(wheel.namelist())
        for name, source in TOP_LEVEL.items():
            assert wheel.read(f"mnist_aci/files/{name}") == source.read_bytes(), name
    assert {"mnist_aci/py.typed", "mnist_aci/__init__.pyi", "mnist_aci/cli.py"} <= names


def test_the_sdist_carries_the_top_level_files_and_the_packaged_links(dists: dict[str, Path]) -> None:
    with tarfile.open(dists["sdist"]) as sdist:
        names = {member.name.split("/", 1)[1] for member in sdist.getmembers() if "/" in member.name}
    assert {SCORE_PY, SCORE_IO, CONTRACT, CONFIG_EXAMPLE, "pyproject.toml", "src/mnist_aci/py.typed"} <= names
    assert "CHANGELOG.md" in names
    assert {f"src/mnist_aci/files/{name}" for name in TOP_LEVEL} <= names


def wheel_metadata(wheel_path: Path) -> list[str]:
    """The lines of the wheel's ``.dist-info/METADATA``."""
    with zipfile.ZipFile(wheel_path) as wheel:
        metadata = next(name for name in wheel.namelist() if name.endswith(".dist-info/METADATA"))
        return wheel.read(metadata).decode().splitlines()


def test_the_wheel_and_the_sdist_carry_the_license_and_declare_it(dists: dict[str, Path]) -> None:
    license_text = (ROOT / "LICENSE").read_bytes()
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        licenses = [name for name in wheel.namelist() if name.endswith(".dist-info/licenses/LICENSE")]
        assert [wheel.read(name) for name in licenses] == [license_text]
    with tarfile.open(dists["sdist"]) as sdist:
        member = next(member for member in sdist.getmembers() if member.name.split("/", 1)[1:] == ["LICENSE"])
        carried = sdist.extractfile(member)
        assert carried is not None
        assert carried.read() == license_text
    lines = wheel_metadata(dists["wheel"])
    assert {"License-Expression: MIT", "License-File: LICENSE"} <= set(lines)


@pytest.fixture(scope="module")
def installed(dists: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with only the wheel installed; its dependencies are this
    environment's (the locked ones), reached through a .pth file, so nothing is downloaded."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # with the pip Python bundles
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (site / "locked-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    subprocess.run([*pip, str(dists["wheel"])], check=True)
    return venv


def run_installed(venv: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in ("MNIST_DATA_DIR", "PYTHONPATH")}
    return subprocess.run(
        [str(venv / "bin" / "mnist-aci"), *args],
        cwd=cwd,
        env={**env, "MPLBACKEND": "Agg", "VIRTUAL_ENV": str(venv)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.subprocess
@pytest.mark.server
def test_a_user_with_only_the_wheel_can_init_and_run_the_tutorial(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import mnist_aci; print(mnist_aci.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert where.startswith(str(installed)), "the test must use the installed wheel, not the sources"

    mine = tmp_path / "mine"
    assert run_installed(installed, ["init", str(mine)], tmp_path).returncode == 0
    result = run_installed(installed, ["run", "--dataset", "sample", "--no-download"], mine)
    assert result.returncode == 0, result.stderr
    assert "    entry script: score.py\n" in result.stdout
    assert "Overall accuracy:" in result.stdout

    bare = tmp_path / "bare"
    bare.mkdir()
    result = run_installed(installed, ["run", "--dataset", "sample", "--no-download"], bare)
    assert result.returncode == 0, result.stderr
    assert "entry script: score.py installed with mnist-aci" in result.stdout
    assert "(deleted)" in result.stdout


# -- the pip user's lane: the wheel installed by pip alone, no uv anywhere, deploying to the cloud targets ------

#: pip's cache on this machine, read before a fixture moves HOME to the stand-in's.
PIP_CACHE = Path.home() / ".cache" / "pip"


def without_uv(venv: Path) -> dict[str, str]:
    """The environment a pip user's shell has: the venv's programs first, the system's after, no uv on PATH and
    no ``MNIST_ACI_UV``; what else the fixtures set (the stand-in's proxy and CA) is kept."""
    system = [folder for folder in os.defpath.split(os.pathsep) if folder and not shutil.which("uv", path=folder)]
    drop = (UV_ENV, "MNIST_DATA_DIR", "PYTHONPATH", "VIRTUAL_ENV")
    env = {key: value for key, value in os.environ.items() if key not in drop}
    env |= {"PATH": os.pathsep.join([str(venv / "bin"), *system]), "PIP_CACHE_DIR": str(PIP_CACHE)}
    assert shutil.which("uv", path=env["PATH"]) is None
    return env | {"MPLBACKEND": "Agg", "VIRTUAL_ENV": str(venv)}


@pytest.fixture(scope="module")
def pip_installed(dists: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel and its dependencies installed by pip alone, at the versions of
    uv.lock given as pip constraints (the versions this suite tests; pip resolves them without backtracking)."""
    uv = os.environ.get(UV_ENV) or shutil.which("uv")
    assert uv, "the tests run with uv (the Makefile's or PATH's): it exports uv.lock as pip constraints"
    folder = tmp_path_factory.mktemp("pip-user")
    constraints = folder / "constraints.txt"
    export = [uv, "export", "--frozen", "--no-hashes", "--no-emit-project", "--quiet", "-o", str(constraints)]
    subprocess.run(export, cwd=ROOT, check=True, capture_output=True)
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # with the pip Python bundles
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-c", str(constraints)]
    done = subprocess.run([*pip, str(dists["wheel"])], env=without_uv(venv), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return venv


#: What pip prints when it rejects a release and tries an older one (backtracking), at its first rejection.
BACKTRACKING = "pip is looking at multiple versions of"


def test_pip_resolves_the_wheels_dependencies_without_backtracking(dists: dict[str, Path], tmp_path: Path) -> None:
    """A user's ``pip install`` of the wheel, with no constraints: the bounds in pyproject.toml let pip settle
    each dependency at its first candidate (without them it backtracks through OpenTelemetry and
    azureml-dataprep releases for minutes)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # with the pip Python bundles
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--dry-run", "--report", str(tmp_path / "report")]
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        [*pip, str(dists["wheel"])], env=env | {"PIP_CACHE_DIR": str(PIP_CACHE)},
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-3000:]
    backtracked = [line for line in done.stdout.splitlines() if BACKTRACKING in line]
    assert backtracked == [], "\n".join(backtracked)


def cloud_config(target: str, request: pytest.FixtureRequest, folder: Path) -> Path:
    """The stand-in's workspace config.json for ``target``: SDK v1's for aci, SDK v2's for endpoint."""
    if target == "aci":
        config: Path = request.getfixturevalue("azure_v1").config_file
        return config
    config = folder / "config.json"
    config.write_text(json.dumps(request.getfixturevalue("workspace_v2").config()), encoding="utf-8")
    return config


@pytest.mark.subprocess
@pytest.mark.server
@pytest.mark.parametrize("target", ["aci", "endpoint"])
def test_a_pip_user_without_uv_deploys_to_the_cloud_to_the_end(
    pip_installed: Path, target: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    config = cloud_config(target, request, tmp_path)  # first: its fixtures set the stand-in's environment
    env = without_uv(pip_installed)
    python = str(pip_installed / "bin" / "python")
    resolver = [python, "-c", "from mnist_aci.versions import resolver_command; print(*resolver_command('3.11')[:3])"]
    assert subprocess.run(resolver, env=env, capture_output=True, text=True, check=True).stdout.split() == [
        python, "-m", "pip"
    ]  # fmt: skip

    result = subprocess.run(
        [str(pip_installed / "bin" / "mnist-aci"), "run", "--target", target, "--config", str(config),
         "--dataset", "sample", "--no-download"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    assert "Overall accuracy:" in result.stdout
    assert "(deleted)" in result.stdout


def test_the_notebook_extra_brings_a_jupyter_front_end_and_a_kernel(dists: dict[str, Path]) -> None:
    lines = wheel_metadata(dists["wheel"])
    assert "Provides-Extra: notebook" in lines
    extra = [line for line in lines if line.startswith("Requires-Dist:") and 'extra == "notebook"' in line]
    assert {line.split()[1].split(">")[0] for line in extra} == {"jupyterlab", "ipykernel"}
