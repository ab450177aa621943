"""The test lanes (tests/support/lanes.py): `make check` runs what the markers say; a unit test starts nothing."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from typing import TYPE_CHECKING

import pytest
from support import lanes
from support.project import ROOT

if TYPE_CHECKING:
    from pathlib import Path

pytest_plugins = ["pytester"]

#: A conftest for the inner pytest runs: the lanes' hooks, and fixtures named like the suite's.
INNER_CONFTEST = """
import subprocess, sys
import pytest
from support.lanes import install_audit_hook, lanes_of, mark_from_fixtures, watching

install_audit_hook()

def pytest_collection_modifyitems(items):
    mark_from_fixtures(items)

@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    with watching(item):
        return (yield)

@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    with watching(item):
        return (yield)

@pytest.fixture(scope="session")
def standin_session():
    return "a stand-in"

@pytest.fixture
def azure_v1(standin_session):
    return "a workspace behind " + standin_session
"""
MARKERS = "\n".join(f"    {lane}: {lane}" for lane in lanes.LANES)


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makeini(f"[pytest]\naddopts = --strict-markers -p no:cacheprovider\nmarkers =\n{MARKERS}\n")
    pytester.syspathinsert(ROOT / "tests")
    return pytester


def test_a_unit_test_that_starts_a_process_fails_and_the_process_is_not_started(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        test_inner="""
        import os, subprocess, sys

        def test_spawns(tmp_path):
            subprocess.run([sys.executable, "-c", f"open({str(tmp_path / 'ran')!r}, 'w')"], check=False)

        def test_forks():
            if os.fork() == 0:
                os._exit(0)
        """
    )
    result = inner.runpytest_inprocess()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*test_spawns is a unit test but started a process: *python* -c *"])
    result.stdout.fnmatch_lines(["*test_forks is a unit test but started a process: os.fork*"])
    assert not list(inner.path.rglob("ran"))


def test_a_unit_test_that_swallows_the_refusal_still_fails(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        test_inner="""
        import subprocess

        def test_swallows():
            try:
                subprocess.run(["true"], check=False)
            except Exception:
                pass
        """
    )
    result = inner.runpytest_inprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*test_swallows started 1 process(es) (first: true) but is in no process lane*"])


def test_a_lane_fixture_marks_the_tests_using_it_even_through_another_fixture(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        test_inner="""
        def test_direct(standin_session):
            pass

        def test_through_another(azure_v1):
            pass

        def test_pure():
            pass
        """
    )
    result = inner.runpytest_inprocess("-m", lanes.UNIT_LANE, "-v")
    result.assert_outcomes(passed=1, deselected=2)
    result.stdout.fnmatch_lines(["*test_pure PASSED*"])
    standin = inner.runpytest_inprocess("-m", "standin")
    standin.assert_outcomes(passed=2, deselected=1)


@pytest.mark.subprocess
def test_a_marked_test_that_starts_the_server_unsaid_fails(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        test_inner="""
        import subprocess, sys
        import pytest

        @pytest.mark.subprocess
        def test_serves_unsaid():
            subprocess.run([sys.executable, "-c", "pass", "azureml_inference_server_http.server.entry:app"])

        @pytest.mark.subprocess
        def test_runs_python():
            subprocess.run([sys.executable, "-c", "pass"])
        """
    )
    result = inner.runpytest_inprocess()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_serves_unsaid started the inference server but is not marked server*"])


def test_an_unknown_marker_is_an_error(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        test_inner="""
        import pytest

        @pytest.mark.sever
        def test_typo():
            pass
        """
    )
    result = inner.runpytest_inprocess()
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*'sever' not found in `markers` configuration option*"])


def test_the_lanes_are_the_registered_markers_and_make_check_runs_the_unit_lane() -> None:
    pytest_options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    registered = [marker.split(":")[0] for marker in pytest_options["markers"]]
    assert registered == list(lanes.LANES)
    assert "--strict-markers" in pytest_options["addopts"]
    makefile = (ROOT / "Makefile").read_text()
    (unit_lane,) = re.findall(r"^UNIT_LANE := (.*)$", makefile, re.M)
    assert unit_lane == lanes.UNIT_LANE
    assert '-m "$(UNIT_LANE)"' in makefile


@pytest.mark.subprocess
def test_make_test_stress_without_stress_ng_says_how_to_install_it_and_installs_nothing(tmp_path: Path) -> None:
    """No stress-ng on PATH, and an apt-get there that records being called: make stops before its other steps."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    called = tmp_path / "apt-get-called"
    apt_get = bin_dir / "apt-get"
    apt_get.write_text(f"#!/bin/sh\ntouch {called}\n")
    apt_get.chmod(0o755)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}  # no MAKEFLAGS or ARGS from a make running the suite

    make = shutil.which("make")
    assert make
    result = subprocess.run([make, "test-stress"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)

    assert result.returncode != 0
    assert "make test-stress needs stress-ng on PATH" in result.stderr
    assert "'sudo apt-get install stress-ng' (Debian, Ubuntu)" in result.stderr
    assert not called.exists()
    assert "pytest" not in result.stdout


def third_party_imports() -> list[str]:
    """The modules that the tests, the stand-in and the package import from other distributions (and the
    standard library), by name: everything but the project's own modules."""
    own = {"mnist_aci", "conftest", "support", "standin", "score"}
    own |= {path.stem for path in (ROOT / "tests").rglob("test_*.py")}
    names = set()
    for path in [*(ROOT / "tests").rglob("*.py"), *(ROOT / "src" / "mnist_aci").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return sorted(name for name in names if name.split(".")[0] not in own and name != "__future__")


@pytest.mark.subprocess
def test_the_suite_is_collected_where_linux_s_prctl_is_missing() -> None:
    """On macOS the suite must start. Collected here with ``sys.platform`` set to ``darwin`` and no ``prctl``:
    the modules of other distributions are imported first (some pick their platform's code at import, which
    is not there on Linux); the project's own modules (conftest, the stand-in, the tests, the package) are
    imported under the patched platform."""
    probe = (
        "import contextlib, ctypes, importlib, sys\n"
        "for name in sys.argv[2:]:\n"
        "    with contextlib.suppress(ImportError):  # mitmproxy: the proxy's addon runs in mitmdump's venv\n"
        "        importlib.import_module(name)\n"
        "class NoPrctl(ctypes.CDLL):\n"
        "    def __getattr__(self, name):\n"
        "        if name == 'prctl':\n"
        "            raise AttributeError('no prctl on this platform')\n"
        "        return super().__getattr__(name)\n"
        "ctypes.CDLL = NoPrctl\n"
        "sys.platform = 'darwin'\n"
        "import pytest\n"
        "sys.exit(pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', sys.argv[1]]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(ROOT / "tests"), *third_party_imports()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"^\d+ tests collected", result.stdout, re.M), result.stdout[-3000:]
