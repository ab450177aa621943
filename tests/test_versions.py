"""The cloud environment's pins resolved as the image will: uv, or pip for a user without uv, give one verdict."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mnist_aci.errors import EnvironmentSpecError
from mnist_aci.versions import (
    UV_ENV,
    image_platforms,
    resolve_serving_packages,
    resolver_command,
    runtime_versions,
    serving_pip_packages,
)


def use_resolver(monkeypatch: pytest.MonkeyPatch, resolver: str, tmp_path: Path) -> None:
    """Make ``resolver`` the one :func:`resolver_command` picks: uv, or pip with no uv anywhere to be found."""
    if resolver == "pip":
        monkeypatch.delenv(UV_ENV, raising=False)
        monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no uv on PATH
        assert resolver_command("3.11")[:3] == [sys.executable, "-m", "pip"]
    else:
        assert Path(resolver_command("3.11")[0]).name == "uv", "the tests run with uv (the Makefile's or PATH's)"


def test_pip_is_given_every_manylinux_tag_an_image_with_glibc_2_28_installs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tags = image_platforms()
    assert tags[0] == "manylinux_2_28_x86_64"
    # most of PyPI's Linux wheels carry only the older tags, which pip matches literally
    assert {"manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"} <= set(tags)
    assert "manylinux_2_29_x86_64" not in tags
    use_resolver(monkeypatch, "pip", tmp_path)
    command = resolver_command("3.11")
    given = [command[index + 1] for index, argument in enumerate(command) if argument == "--platform"]
    assert given == tags


@pytest.mark.subprocess
@pytest.mark.parametrize("resolver", ["uv", "pip"])
def test_uv_and_pip_give_the_same_verdict_on_the_same_pins(
    resolver: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_resolver(monkeypatch, resolver, tmp_path)
    # the project's own serving pins install (orjson and others ship manylinux_2_17 wheels only)
    resolve_serving_packages(serving_pip_packages(runtime_versions()), "3.11")
    # scikit-learn 0.20.0 has no wheel for Python 3.11 on Linux
    with pytest.raises(EnvironmentSpecError, match=r"(?s)cannot be installed on the cloud image.*scikit-learn"):
        resolve_serving_packages(["numpy==1.26.4", "scikit-learn==0.20.0"], "3.11")
