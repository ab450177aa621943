"""mnist-aci: the tutorial's phases from the command line.

``mnist-aci run`` does them all on the local target; ``--target aci --config config.json`` runs the real tutorial
(SDK v1), ``--target endpoint`` the same on a managed online endpoint (SDK v2); ``mnist-aci init`` copies the
tutorial's files into a folder to edit. Progress goes to stdout; errors of this package end as one line on stderr
and exit code 1; options that do not fit together exit 2, as argparse's own usage errors do, and so does a flag the
command does not use (the message names the commands that do). Every message is printed in the CLI's terms: a
keyword argument the library names (``timeout_sec=<seconds>``) as the flag that sets it (``--timeout <seconds>``).
The heavy modules (scikit-learn, the Azure SDK) are imported only by the commands that need them, so ``--help`` and
``--version`` answer at once.
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Sequence
from dataclasses import fields
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from ._console import console, flag_wording
from .errors import MnistAciError, OptionError, is_azure_ml_error, user_message
from .flags import DEPLOYS, Flag, flags_of
from .job import JobOptions
from .project_files import PROJECT_FILES, write_project_files
from .targets import TARGET_TABLE, not_taken, target_named

if TYPE_CHECKING:
    from .service import ScoringService
    from .target_base import TargetOptions

#: Every option of every command, once, with the commands that use it: those of a run (``JobOptions``) and of
#: each target's options, declared on the fields they set, then the two that only a command reads.
FLAGS = (
    *flags_of(JobOptions, *(target.options_type for target in TARGET_TABLE.values())),
    Flag("--scoring-uri", ("evaluate",), "local target: the scoring URI of a running service", dest="scoring_uri"),
    Flag(
        "--force", ("init",), "overwrite files of the same names", {"action": "store_true", "default": False}, "force"
    ),
)
#: The target a command works on when --target is not given: :class:`JobOptions`' default.
DEFAULT_TARGET = next(job_field.default for job_field in fields(JobOptions) if job_field.name == "target")
#: The library's messages in the CLI's terms (``timeout_sec=9`` as ``--timeout 9``): every line printed goes through it.
cli_terms = flag_wording(FLAGS)
#: The commands, with what each does (``mnist-aci --help``).
COMMANDS = {
    "init": f"copy the tutorial's files ({', '.join(PROJECT_FILES)}) into a folder",
    "run": "the whole tutorial: data, model, deploy, evaluate, delete",
    "train": "train the tutorial's model and register it",
    "deploy": "deploy the registered model (local: serve until Ctrl-C)",
    "evaluate": "score the test set through a running service",
    "delete": "delete a web service (aci/aks) or an endpoint",
}


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
    """``mnist-aci``'s parser: a subparser per command, with the flags of :data:`FLAGS` it uses, refusing the rest."""
    # Raw text: the --version line is not wrapped to the terminal width.
    parser = argparse.ArgumentParser(
        prog="mnist-aci", description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=version_line())
    commands = parser.add_subparsers(dest="command", required=True)
    for command, text in COMMANDS.items():
        sub = commands.add_parser(command, help=text, allow_abbrev=False)  # --keep is not --keep-failed
        for flag in FLAGS:  # not given, a flag is None: the library's default applies
            if command in flag.commands:
                sub.add_argument(flag.name, help=flag.help, dest=flag.dest, **{"default": None, **flag.settings})
        # The usage errors found after parsing show this command's usage; the commands read the target themselves.
        sub.set_defaults(command_parser=sub, target=DEFAULT_TARGET)
    init = commands.choices["init"]
    init.add_argument("folder", nargs="?", type=Path, default=Path(), help="where to write them (default: here)")
    return parser


def refuse_others(parser: argparse.ArgumentParser, command: str, extra: list[str]) -> None:
    """End the command as a usage error if anything is left on its command line: naming the commands that take a
    flag of other commands (``--port 80`` given to ``train``), else as argparse words it."""
    if not extra:
        return
    by_name = {flag.name: flag for flag in FLAGS}
    for given in extra:
        flag = by_name.get(given.partition("=")[0])
        if flag is not None and command not in flag.commands:
            parser.error(f"{flag.name} is an option of mnist-aci {', '.join(flag.commands)} only")
    parser.error(f"unrecognized arguments: {' '.join(extra)}")


def target_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> TargetOptions:
    """The chosen target's own options from the flags given; a flag it does not take ends the command as a usage
    error (exit code 2), a value it cannot use raises :class:`OptionError`."""
    target = target_named(args.target)
    names = {flag.dest: flag.name for flag in FLAGS}
    of_targets = {name for other in TARGET_TABLE.values() for name in other.options_type.field_names()}
    given = [dest for dest in names if dest in of_targets and getattr(args, dest, None) is not None]
    taken = target.options_type.field_names()
    foreign = [f"{names[dest]} {not_taken(target, dest)}" for dest in given if dest not in taken]
    if foreign:
        parser.error(cli_terms("; ".join(foreign)))
    options: TargetOptions = target.options_type(**{dest: getattr(args, dest) for dest in given})
    if args.command in DEPLOYS:
        target.check(options)
    return options


def options_from(parser: argparse.ArgumentParser, args: argparse.Namespace) -> JobOptions:
    """The job's options from the command line; what is not given keeps the library's defaults."""
    names = [job_field.name for job_field in fields(JobOptions)]
    given = {name: value for name in names if (value := getattr(args, name, None)) is not None}
    try:
        return JobOptions(**given, target_options=target_options(parser, args))
    except OptionError as exc:  # a value the target or the job cannot use: a usage error naming the flag
        flag = next((f.name for f in FLAGS if f.dest == exc.option), exc.option)
        parser.error(cli_terms(f"{flag} {exc.problem}"))


def check_usage(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Commands that do not fit the target end with ``parser.error`` (exit code 2)."""
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
        "  mnist-aci run --target aci --config config.json; or open the notebook in Jupyter\n"
        "  (pip install 'mnist-aci[notebook]' brings JupyterLab and a kernel; then: jupyter lab)."
    )


def dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.command == "init":
        initialise(args.folder, force=args.force)
        return
    from . import workflow
    from .job import JobResult

    check_usage(parser, args)
    options = options_from(parser, args)
    if args.command == "run":
        print(workflow.run_job(options).summary())
    elif args.command == "train":
        print(f"Registered model {workflow.model_label(workflow.train_registered(options))}")
    elif args.command == "deploy":
        workflow.deploy_registered(options)
    elif args.command == "evaluate":
        result = JobResult()
        workflow.evaluate_service(existing_service(args, options), workflow.load_dataset(options), options, result)
        print(result.summary())
    elif args.command == "delete":
        target_named(options.target).delete(existing_service(args, options))
        print(f"Deleted service {args.name}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 success, 1 error, 2 usage error, 130 interrupted)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    refuse_others(args.command_parser, args.command, extra)
    try:
        with console(cli_terms):
            dispatch(args.command_parser, args)
    except Exception as exc:
        if not isinstance(exc, MnistAciError) and not is_azure_ml_error(exc):
            raise
        print(f"mnist-aci: error: {cli_terms(user_message(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        stopped = "mnist-aci: interrupted; services this command was starting or serving were stopped."
        print(cli_terms("\n".join([stopped, *getattr(exc, "__notes__", ())])), file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
