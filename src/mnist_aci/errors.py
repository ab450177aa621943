"""The package's exceptions: each message says what happened and what to do.

Every error a user can cause derives from :class:`MnistAciError`; the CLI turns it into one
line on stderr. Each class also subclasses the built-in type it refines, so an existing
``except ValueError`` or ``except FileNotFoundError`` keeps working.
"""

from __future__ import annotations


class MnistAciError(Exception):
    """Base class of every error this package raises on purpose."""


class WorkspaceConfigError(MnistAciError, FileNotFoundError):
    """The workspace ``config.json`` is missing or malformed."""


class WorkspaceError(MnistAciError, RuntimeError):
    """The workspace exists in config.json but cannot be reached (login, permissions, name)."""


class ProjectFilesError(MnistAciError, FileExistsError):
    """The tutorial's files cannot be written (they exist already) or are missing from the installation."""


class DataError(MnistAciError, ValueError):
    """MNIST files are missing, truncated, corrupt or cannot be downloaded."""


class TrainingError(MnistAciError, ValueError):
    """Training data or parameters are unusable."""


class ModelNotFoundError(MnistAciError, LookupError):
    """No registered model has that name (or version)."""


class ModelRecordError(MnistAciError, ValueError):
    """A registered model's record in the local store is damaged (it exists, but cannot be read)."""


class ModelIntegrityError(MnistAciError, ValueError):
    """A model file no longer matches the SHA-256 recorded when it was registered."""


class VersionMismatchError(MnistAciError, ValueError):
    """The environment's pinned packages differ from those the model was saved with."""


class EnvironmentSpecError(MnistAciError, ValueError):
    """A serving environment's packages cannot be installed on the serving image's platform and Python."""


class ServiceNameError(MnistAciError, ValueError):
    """A web service name that Azure ML would refuse, or one that already exists."""


class DeploymentError(MnistAciError, RuntimeError):
    """A deployment ended Failed/Unhealthy, timed out, or its server could not start."""


class RolloutError(DeploymentError):
    """A gated rollout refused the new deployment (it scored below the gate); the live one was left as it was."""


class TargetError(MnistAciError, ValueError):
    """A deployment target that does not exist, or arguments that the chosen target cannot use."""


class ModelTypeError(MnistAciError, TypeError):
    """A model object of the wrong kind for the chosen target (e.g. an Azure model for the local target)."""


class PortInUseError(DeploymentError):
    """The port asked for the local service is already taken."""


class ServiceCallError(MnistAciError, RuntimeError):
    """A call to the scoring service failed (non-2xx answer, lost connection, timeout)."""

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class MnistAciWarning(UserWarning):
    """Something the user should act on, though the step went ahead (e.g. a model without a versions record)."""


def sdk_message(exc: BaseException) -> str:
    """The first meaningful line of an Azure ML SDK exception (AzureMLException keeps it in ``message``)."""
    text = str(getattr(exc, "message", "") or exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0][:500] if lines else exc.__class__.__name__
