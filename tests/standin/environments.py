"""Environments built as Azure ML builds a deployment's image, each into a venv that its containers run from.

Azure ML builds the image of a deployment from the environment the SDK sent: the base image, then a conda
environment made from the conda specification (its Python, its conda packages, then its pip packages), and the
container starts the inference server from that environment. Its failures are the build's (Microsoft's
"Troubleshoot online endpoints", ERROR: ImageBuildFailure: a package that does not install) or the container's
(ERROR: ResourceNotReady: "a package that score.py tries to import that isn't included in the conda
environment"; azureml-core ``_model_management/_util.py``: a container without azureml-defaults has no server).

The stand-in builds each environment from PyPI wheels, on its own (not with the package's pre-flight resolver,
so that a mistake there is not mirrored here):

- the packages are resolved with ``uv pip compile`` for Linux x86_64 and the environment's Python
  (``python=X.Y`` of the conda specification), wheels only, for the glibc of the base image's Ubuntu release
  (:data:`UBUNTU_GLIBC`): a package without a wheel for that Python would be compiled on the image, which is
  how Microsoft's part-1 ``scikit-learn==0.22.1`` fails there;
- conda packages are looked up on PyPI under their PyPI names (:data:`PYPI_NAMES`); one that PyPI does not have
  fails the build with a log that says a conda-only package is beyond the stand-in;
- what resolves is installed with ``uv pip sync`` (from uv's cache: seconds) into ``<root>/<key>/venv``, made
  from that Python if this machine has it (pyenv's, the PATH's), else from the nearest one here, with the same
  pins: the build log says which Python the container runs on.

One venv per distinct environment (:attr:`EnvironmentSpec.key`), shared by every deployment, test and
pytest-xdist worker of a test run: each build holds a file lock, and a finished one is reused. What the stand-in
does not model (the contents of a base image used as is, Dockerfiles) fails the build with a log saying so.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from mnist_aci.versions import UV_ENV

#: Conda packages whose PyPI name differs (conda-forge's feedstock names); every other name is the same on PyPI.
PYPI_NAMES = {
    "pytorch": "torch",
    "py-xgboost": "xgboost",
    "matplotlib-base": "matplotlib",
    "pytables": "tables",
    "msgpack-python": "msgpack",
    "tensorflow-base": "tensorflow",
}
#: Conda packages that are the build's own installer tools (uv takes pip's place here).
INSTALLER_TOOLS = ("pip", "setuptools", "wheel")
#: glibc of each Ubuntu LTS release (Ubuntu's ``libc6`` package: xenial 2.23, bionic 2.27, focal 2.31, jammy
#: 2.35, noble 2.39), read from an Azure ML base image's name (``openmpi4.1.0-ubuntu22.04``).
UBUNTU_GLIBC = {"16.04": 23, "18.04": 27, "20.04": 31, "22.04": 35, "24.04": 39}
#: The manylinux_2_N levels ``uv pip compile --python-platform`` knows (uv 0.13: 2_17, 2_28, 2_31 to 2_40).
UV_GLIBC_LEVELS: tuple[int, ...] = (17, 28, *range(31, 41))
#: An image whose Ubuntu release is not in its name: PEP 600's manylinux_2_28 (AlmaLinux 8 and later).
UNKNOWN_IMAGE_GLIBC = 28
#: The Python of a conda specification that pins none: conda takes its newest; the stand-in, the one running it.
UNPINNED_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
RESOLVE_TIMEOUT_S = 300.0
INSTALL_TIMEOUT_S = 600.0
CONDA_SPEC = re.compile(r"^(?:[\w.-]+::)?(?P<name>[A-Za-z0-9_.\-]+)\s*(?P<constraint>.*)$")
NOT_ON_PYPI = re.compile(r"\b(?P<name>[A-Za-z0-9_.\-]+) was not found in the package registry")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) across processes and threads."""
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass(frozen=True)
class EnvironmentSpec:
    """What an image build is given, as the stand-in reads it: Python major.minor, PEP 508 requirements
    (conda packages under their PyPI names first, then the pip packages), the base image, and what it noted."""

    title: str
    python: str
    requirements: tuple[str, ...]
    base_image: str | None
    conda_names: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    #: Why the stand-in cannot build it at all (what it does not model); None when it can.
    unmodelled: str | None = None

    @property
    def glibc_minor(self) -> int:
        """The glibc of the base image (its Ubuntu release in its name), as a manylinux_2_N level uv knows."""
        release = re.search(r"ubuntu(\d\d\.04)", self.base_image or "")
        glibc = UBUNTU_GLIBC.get(release[1], UNKNOWN_IMAGE_GLIBC) if release else UNKNOWN_IMAGE_GLIBC
        return max(level for level in UV_GLIBC_LEVELS if level <= glibc)

    @property
    def key(self) -> str:
        """The build's identity: what is resolved, for which Python and platform (not the environment's name)."""
        content = json.dumps([self.python, self.glibc_minor, self.requirements, self.unmodelled])
        return hashlib.sha256(content.encode()).hexdigest()[:16]

    def describe(self) -> list[str]:
        """The first lines of the build log: what the build was given."""
        glibc = self.glibc_minor
        return [
            f"Building the image of {self.title} (the Azure stand-in: PyPI wheels into a venv).",
            f"Base image: {self.base_image or 'none'} (wheels up to manylinux_2_{glibc}, glibc 2.{glibc}).",
            f"Python: {self.python}.",
            f"Packages: {', '.join(self.requirements) or 'none'}.",
            *self.notes,
        ]


def conda_requirement(spec: str) -> tuple[str, str]:
    """A conda match spec (``name``, ``name=1.2``, ``name==1.2.3``, ``name>=1,<2``, ``name 1.2``, ``channel::name``,
    a build string after a second ``=``) as ``(name, PEP 508 requirement)``: conda's ``=1.2`` is ``1.2*``."""
    match = CONDA_SPEC.match(spec.strip())
    if match is None:
        return spec.strip(), spec.strip()
    name, constraint = match["name"].lower(), match["constraint"].strip()
    pypi = PYPI_NAMES.get(name, name)
    if not constraint:
        return name, pypi
    if constraint.startswith("=="):
        return name, f"{pypi}=={constraint[2:].split('=')[0]}"  # a build string after a further "=" is dropped
    if constraint[0] in "<>!~":
        return name, pypi + constraint
    version = constraint.lstrip("=").split("=")[0].split()[0]
    return name, f"{pypi}=={version}" if version.endswith("*") else f"{pypi}=={version}.*"


def from_conda(
    specification: dict[str, Any], *, title: str, base_image: str | None, unmodelled: str | None = None
) -> EnvironmentSpec:
    """The spec of a conda specification (``dependencies``: conda match specs and a ``pip`` list)."""
    python, conda, pip, conda_names, notes = None, [], [], [], []
    for dependency in specification.get("dependencies") or []:
        if isinstance(dependency, dict):
            for line in (str(line).strip() for line in dependency.get("pip") or []):
                if line.startswith("-"):
                    notes.append(f"Not modelled: pip option {line!r} (packages come from PyPI).")
                else:
                    pip.append(line)
            continue
        name, requirement = conda_requirement(str(dependency))
        if name == "python":
            found = re.search(r"\d+\.\d+", requirement)
            python = found[0] if found else None
        elif name in INSTALLER_TOOLS:
            notes.append(f"Not modelled: conda {dependency} (the installer's own tool).")
        else:
            conda.append(requirement)
            conda_names.append(PYPI_NAMES.get(name, name))
    if python is None:
        notes.append(f"No python pin: conda would take its newest Python; the stand-in takes {UNPINNED_PYTHON}.")
    if conda:
        notes.append(f"Conda packages, looked up on PyPI: {', '.join(conda)}.")
    return EnvironmentSpec(
        title,
        python or UNPINNED_PYTHON,
        (*conda, *pip),
        base_image,
        tuple(conda_names),
        tuple(notes),
        unmodelled,
    )


def from_v1(environment: dict[str, Any]) -> EnvironmentSpec:
    """The spec of an SDK v1 environment definition (``environmentImageRequest.environment``, as azureml-core's
    ``Environment._serialize_to_dict`` writes it: ``python.condaDependencies``, ``docker.baseImage``...)."""
    python, docker = environment.get("python") or {}, environment.get("docker") or {}
    unmodelled = None
    if docker.get("baseDockerfile"):
        unmodelled = "a Dockerfile (docker.base_dockerfile): the stand-in does not run its steps"
    elif python.get("userManagedDependencies"):
        unmodelled = "user-managed dependencies: the packages are the base image's own, which the stand-in cannot see"
    return from_conda(
        python.get("condaDependencies") or {},
        title=f"environment {environment.get('name')} version {environment.get('version')}",
        base_image=docker.get("baseImage"),
        unmodelled=unmodelled,
    )


def from_v2(name: str, version: str, properties: dict[str, Any]) -> EnvironmentSpec:
    """The spec of an SDK v2 environment version (``properties``: ``image``, ``condaFile`` as YAML text,
    ``build`` for a Docker build context), as azure-ai-ml's ``Environment._to_rest_object`` sends it."""
    title = f"environment {name} version {version}"
    conda_file = properties.get("condaFile")
    unmodelled = None
    if properties.get("build"):
        unmodelled = "a Docker build context: the stand-in does not run its Dockerfile"
    elif not conda_file:
        unmodelled = f"image {properties.get('image')} used as is: the stand-in cannot see what it holds"
    specification = yaml.safe_load(conda_file) if conda_file else {}
    return from_conda(specification or {}, title=title, base_image=properties.get("image"), unmodelled=unmodelled)


def unknown_environment(reference: str) -> EnvironmentSpec:
    """The spec of an environment the stand-in's workspace does not hold (a curated or registry one)."""
    return EnvironmentSpec(
        f"environment {reference}",
        UNPINNED_PYTHON,
        (),
        None,
        unmodelled="an environment outside this workspace (curated or in a registry): its image is not modelled",
    )


# -- this machine's Pythons ----------------------------------------------------------------------------------------


def _minor_of(name: str) -> tuple[int, int] | None:
    found = re.fullmatch(r"python(\d)\.(\d+)", name)
    return (int(found[1]), int(found[2])) if found else None


def _candidates() -> Iterator[Path]:
    """Interpreters named ``pythonX.Y``: this Python's base, pyenv's versions, then the PATH's."""
    yield Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)  # the real home: the tests point HOME elsewhere
    yield from sorted(Path(os.environ.get("PYENV_ROOT") or home / ".pyenv").glob("versions/*/bin/python*.*"))
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        yield from sorted(Path(folder or ".").glob("python*.*"))


@cache
def local_pythons() -> dict[tuple[int, int], tuple[str, Path]]:
    """This machine's Pythons by major.minor: ``(full version, path)``, the first of each that runs (a pyenv shim of
    a version that is not active does not)."""
    found: dict[tuple[int, int], tuple[str, Path]] = {}
    for path in _candidates():
        minor = _minor_of(path.name)
        if minor is None or minor in found or not path.is_file():
            continue
        try:
            done = subprocess.run(
                [str(path), "-c", "import platform; print(platform.python_version())"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0 and done.stdout.startswith(f"{minor[0]}.{minor[1]}"):
            found[minor] = (done.stdout.strip(), path)
    return found


def nearest_python(wanted: tuple[int, int], available: Iterable[tuple[int, int]]) -> tuple[int, int]:
    """The available Python closest to ``wanted`` (the same minor first; on a tie, the newer)."""
    return min(available, key=lambda have: (abs(have[0] * 100 + have[1] - wanted[0] * 100 - wanted[1]), -have[1]))


# -- builds ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Build:
    """A finished build: its log, and the venv's Python (None when the build failed)."""

    log: str
    python: Path | None

    @property
    def succeeded(self) -> bool:
        return self.python is not None


class EnvironmentBuilds:
    """The builds of a test run, one venv per distinct environment under ``root`` (shared by pytest-xdist workers)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def build(self, spec: EnvironmentSpec) -> Build:
        """The build of ``spec``: made now, or the one another deployment or worker finished (a file lock each)."""
        self.root.mkdir(parents=True, exist_ok=True)
        folder = self.root / spec.key
        with locked(self.root / f"{spec.key}.lock"):
            if (folder / "built").is_file():
                return Build((folder / "build.log").read_text(), folder / "venv" / "bin" / "python")
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            log = spec.describe()
            python = self._build(spec, folder, log)
            (folder / "build.log").write_text("\n".join(log) + "\n")
            if python is not None:
                (folder / "built").touch()
            return Build("\n".join(log) + "\n", python)

    def _build(self, spec: EnvironmentSpec, folder: Path, log: list[str]) -> Path | None:
        """Resolve, then install into ``folder/venv``; each step's outcome appended to ``log``."""
        if spec.unmodelled is not None:
            log.append(f"The stand-in cannot build this environment: {spec.unmodelled} (not Azure's verdict).")
            return None
        (folder / "requirements.in").write_text("".join(f"{line}\n" for line in spec.requirements))
        log.append(f"Resolving for Linux x86_64, Python {spec.python}, wheels only:")
        resolved = _run(
            [
                *("pip", "compile", "requirements.in", "--output-file", "requirements.txt"),
                *("--python-platform", f"x86_64-manylinux_2_{spec.glibc_minor}", "--python-version", spec.python),
                *("--only-binary", ":all:", "--no-header", "--no-annotate", "--quiet"),
            ],
            folder,
            RESOLVE_TIMEOUT_S,
        )
        if resolved.returncode != 0:
            log.extend(resolved.stderr.strip().splitlines())
            missing = [name for name in NOT_ON_PYPI.findall(resolved.stderr) if name in spec.conda_names]
            if missing:
                log.append(
                    f"{', '.join(missing)}: a conda package the stand-in looked up on PyPI, which does not have it. A "
                    "conda-only package is beyond the stand-in (a limitation of the stand-in, not Azure's verdict)."
                )
            log.append("Image build failed: the packages above cannot be installed on the image.")
            return None
        pins = (folder / "requirements.txt").read_text().split()
        log.append(f"Resolved {len(pins)} packages: {' '.join(pins)}")
        return self._install(spec, folder, log)

    def _install(self, spec: EnvironmentSpec, folder: Path, log: list[str]) -> Path | None:
        """The resolved pins into a venv of the environment's Python, else of the nearest Python here."""
        wanted = (int(spec.python.split(".")[0]), int(spec.python.split(".")[1]))
        pythons = local_pythons()
        here = nearest_python(wanted, pythons)
        version, interpreter = pythons[here]
        if here == wanted:
            log.append(f"The container runs on Python {version} ({interpreter}).")
        else:
            log.append(
                f"Python {spec.python} is not on this machine: the container runs on Python {version} "
                f"({interpreter}), the nearest here, with the pins resolved for {spec.python}."
            )
        venv = folder / "venv"
        into = str(venv / "bin" / "python")
        steps = (
            ["venv", "--quiet", "--python", str(interpreter), str(venv)],
            ["pip", "sync", "--quiet", "--python", into, "--only-binary", ":all:", "requirements.txt"],
        )
        for step in steps:
            done = _run(step, folder, INSTALL_TIMEOUT_S)
            if done.returncode != 0:
                log.extend(done.stderr.strip().splitlines())
                log.append(
                    f"The stand-in could not install these pins on Python {version}, the Python it runs the "
                    "container on (a limitation of the stand-in, not Azure's verdict)."
                )
                return None
        log.append("Image build succeeded.")
        return venv / "bin" / "python"


def _run(arguments: list[str], cwd: Path, timeout_s: float) -> subprocess.CompletedProcess[str]:
    """``uv <arguments>`` in ``cwd``, with no project's configuration and no Python downloads."""
    uv = os.environ.get(UV_ENV) or shutil.which("uv")
    if uv is None:
        raise RuntimeError(f"the stand-in builds environments with uv: put it on PATH or set {UV_ENV}")
    environment = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1"}
    try:
        return subprocess.run(
            [uv, *arguments], cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(exc.cmd, 1, "", f"uv took over {timeout_s:g} s: {' '.join(arguments[:2])}")
