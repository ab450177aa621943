"""The versions record of a model file and the rule that serving must match it (a leaf module).

Unpickling a model with other scikit-learn/numpy/joblib versions than it was saved with is this
tutorial's most reported failure. Every saved model gets a record of Python and those packages'
versions beside it; every target refuses to serve it with other ones.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from .errors import EnvironmentSpecError, MnistAciWarning, VersionMismatchError

VERSIONS_SUFFIX = ".versions.json"
#: The packages whose versions must match between training and serving.
PINNED_PACKAGES = ("scikit-learn", "numpy", "joblib")
#: Serving packages of a cloud environment besides the model's pins: the inference server that runs
#: score.py, and orjson and pysimdjson for its JSON path, each pinned to the version score.py is tested with here.
#: ``azureml-defaults`` (SDK v1's serving bundle) stays unpinned, as the tutorial lists it.
SERVING_PACKAGES = ("azureml-inference-server-http", "orjson", "pysimdjson")
#: An exact pin: pip ``name==version`` or conda ``name=version[=build]``.
EXACT_PIN = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*==?\s*([^=<>!~,;\s]+)")


def runtime_versions() -> dict[str, str]:
    """The versions a model saved now depends on: Python and :data:`PINNED_PACKAGES`."""
    return {"python": platform.python_version(), **{name: version(name) for name in PINNED_PACKAGES}}


def versions_path(model_path: str | Path) -> Path:
    """Where the versions record of a model file lives (beside it)."""
    return Path(f"{model_path}{VERSIONS_SUFFIX}")


def read_versions(model_path: str | Path) -> dict[str, str] | None:
    """The versions record saved beside a model file, or None when there is none."""
    record = versions_path(model_path)
    if not record.is_file():
        return None
    content = json.loads(record.read_text(encoding="utf-8"))
    return {str(key): str(value) for key, value in content.items()}


def python_minor(python_version: str) -> str:
    """``3.11`` of ``3.11.7``: what a model needs of Python, and what an environment should pin (an image's
    conda channels need not carry every patch release)."""
    return ".".join(python_version.split(".")[:2])


#: How long the resolver may take (it reads package indexes; a warm cache answers in seconds).
RESOLVE_TIMEOUT_S = 300.0
#: Overrides the ``uv`` found on PATH (the resolver of :func:`resolve_serving_packages`).
UV_ENV = "MNIST_ACI_UV"
#: The newest glibc the cloud images are assumed to have (manylinux_2_28: AlmaLinux 8, Ubuntu 20.04 and later).
IMAGE_GLIBC_MINOR = 28


def image_platforms(glibc_minor: int = IMAGE_GLIBC_MINOR) -> list[str]:
    """The wheel platform tags an x86_64 image with glibc 2.``glibc_minor`` installs, newest first, as the image's
    own pip would accept them (PEP 600 ``manylinux_2_N`` down to 2.5, with the PEP 599/571/513 aliases)."""
    aliases = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    tags = []
    for minor in range(glibc_minor, 4, -1):
        tags.append(f"manylinux_2_{minor}_x86_64")
        if minor in aliases:
            tags.append(f"{aliases[minor]}_x86_64")
    return tags


def resolver_command(python_version: str) -> list[str]:
    """The command that resolves requirements (one per line on stdin) for Linux x86_64 and ``python_version``
    as the cloud image will, from wheels only (a source build is what fails late on the image): ``uv pip
    compile`` (``$MNIST_ACI_UV``, else the ``uv`` on PATH), else this Python's ``pip install --dry-run`` given
    every platform tag of :func:`image_platforms` (pip matches each ``--platform`` literally). uv is told never to
    download an interpreter: it resolves for ``python_version`` without one (otherwise it fetches a CPython build
    of that version first when this machine has none)."""
    uv = os.environ.get(UV_ENV) or shutil.which("uv")
    if uv:
        return [
            uv,
            "pip",
            "compile",
            "--no-python-downloads",
            "--python-platform",
            f"x86_64-manylinux_2_{IMAGE_GLIBC_MINOR}",
            "--python-version",
            python_minor(python_version),
            "--only-binary",
            ":all:",
            "--no-header",
            "--no-annotate",
            "--quiet",
            "-",
        ]
    platforms = [argument for tag in image_platforms() for argument in ("--platform", tag)]
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--quiet",
        "--ignore-installed",
        "--only-binary=:all:",
        *platforms,
        "--python-version",
        python_minor(python_version),
        "--report",
        "-",
        "-r",
        "/dev/stdin",
    ]


@functools.lru_cache(maxsize=16)
def _resolve(packages: tuple[str, ...], python_version: str, command: tuple[str, ...]) -> str:
    try:
        done = subprocess.run(
            command, input="\n".join(packages), capture_output=True, text=True, timeout=RESOLVE_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvironmentSpecError(
            f"Could not check that the serving environment installs on the cloud image ({exc}). Install uv "
            f"(pip install uv) or set {UV_ENV} to a uv binary, and check that the package index is reachable."
        ) from exc
    if done.returncode != 0:
        explanation = "\n  ".join(done.stderr.strip().splitlines()[-8:])
        raise EnvironmentSpecError(
            f"The serving environment cannot be installed on the cloud image (Linux x86_64, Python "
            f"{python_version}); the image build would fail after many minutes. The resolver says:\n  "
            f"{explanation}\nPin versions that exist for that platform and Python (retrain the model with them if "
            "they are the model's), then run again."
        )
    return done.stdout


def resolve_serving_packages(packages: Sequence[str], python_version: str) -> None:
    """Check, before any cloud call, that pip ``packages`` install together on the serving image: Linux
    x86_64 with Python ``python_version`` (major.minor). Raises :class:`EnvironmentSpecError` saying why not.

    Shared by SDK v1's and v2's ``tutorial-env``; each set of pins is resolved once per process and resolver.
    """
    python = python_minor(python_version)
    _resolve(tuple(packages), python, tuple(resolver_command(python)))


def serving_pip_packages(model_versions: dict[str, str]) -> list[str]:
    """The pip pins of a cloud environment for score.py and a model with ``model_versions``:
    :data:`SERVING_PACKAGES` at this machine's versions, then ``name==version`` of each pinned package."""
    serving = [f"{package}=={version(package)}" for package in SERVING_PACKAGES]
    return serving + [f"{package}=={model_versions[package]}" for package in PINNED_PACKAGES]


def exact_pins(specs: Iterable[object]) -> dict[str, str]:
    """``{name: version}`` of the exact pins among package specs (others, such as ``pip``, are skipped)."""
    pins = {}
    for spec in specs:
        match = EXACT_PIN.match(str(spec))
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def versions_from_properties(properties: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The versions record stored in a registered model's properties (None if absent)."""
    properties = properties or {}
    record = {key: str(properties[key]) for key in ("python", *PINNED_PACKAGES) if key in properties}
    return record or None


def version_mismatches(
    model_versions: dict[str, str], serving_versions: dict[str, str], source: str = "model saved with"
) -> list[str]:
    """What differs between a model's versions (``source`` says where they come from) and the versions that
    would load it."""
    problems = []
    for package in PINNED_PACKAGES:
        wanted, got = model_versions.get(package), serving_versions.get(package)
        if wanted and wanted != got:
            problems.append(f"{package}: {source} {wanted}, serving with {got or 'an unpinned version'}")
    wanted, got = model_versions.get("python"), serving_versions.get("python")
    if wanted and (not got or python_minor(wanted) != python_minor(got)):
        problems.append(f"python: {source} {wanted}, serving with {got or 'an unpinned version'}")
    return problems


def serving_package_mismatches(pins: dict[str, str]) -> list[str]:
    """The :data:`SERVING_PACKAGES` a cloud environment's ``pins`` lack or pin at other versions than the ones
    score.py runs with here (and in the pre-flight)."""
    problems = []
    for package in SERVING_PACKAGES:
        wanted, got = version(package), pins.get(package)
        if got != wanted:
            problems.append(f"{package}: score.py runs with {wanted}, the environment has {got or 'none'}")
    return problems


def check_serving_versions(model_versions: dict[str, str] | None, pins: dict[str, str], where: str) -> None:
    """Refuse a cloud environment whose own ``pins`` would not serve the model as the pre-flight did here.

    Its serving packages must be those score.py runs with here; its scikit-learn, numpy, joblib and Python
    those of the model's versions record, or, for a model without one, those that loaded it here (a warning
    says the record is missing). Raises :class:`VersionMismatchError` naming each difference.
    """
    if model_versions is None:
        warnings.warn(
            f"This model has no versions record: {where} is checked against the scikit-learn/numpy/joblib "
            "versions that load it on this machine. Re-save it with mnist_aci.save_model to record its own.",
            MnistAciWarning,
            stacklevel=2,
        )
        problems = version_mismatches(runtime_versions(), pins, source="loaded here with")
    else:
        problems = version_mismatches(model_versions, pins)
    problems = serving_package_mismatches(pins) + problems
    if problems:
        raise VersionMismatchError(
            f"Refusing to deploy: {where} pins other packages than the ones this model is served with:\n  "
            + "\n  ".join(problems)
            + "\nRegister a new version of the environment pinned to them (mnist-aci ... --register-environment, "
            "or mnist_aci.register_environment(ws, versions)) and deploy with it."
        )


def check_versions(model_versions: dict[str, str] | None, serving_versions: dict[str, str], where: str) -> None:
    """Refuse to serve a model with package versions other than those it was saved with.

    A model without a record cannot be checked: that is a warning (``warnings.warn``), not a refusal.
    """
    if model_versions is None:
        warnings.warn(
            "This model has no versions record, so its scikit-learn/numpy/joblib versions cannot "
            f"be checked against {where}. Re-save it with mnist_aci.save_model to get one.",
            MnistAciWarning,
            stacklevel=2,
        )
        return
    problems = version_mismatches(model_versions, serving_versions)
    if problems:
        raise VersionMismatchError(
            f"Refusing to deploy: {where} would load the model with other package versions than it was "
            "saved with, which breaks unpickling:\n  " + "\n  ".join(problems) + "\n"
            "Register a new version of the environment pinned to the model's versions "
            "(mnist-aci ... --register-environment, or mnist_aci.register_environment(ws, versions)), "
            "or retrain the model with the serving versions."
        )


def sdk_version() -> str:
    """The installed Azure ML SDK version, as the tutorial prints it (``azureml.core.VERSION``).

    Read where ``azureml.core`` takes it from: importing ``azureml.core`` itself costs 1.5 s of CPU, which the
    local target, that otherwise never imports it, would pay only to print this line."""
    from azureml._base_sdk_common import __version__

    return str(__version__)
