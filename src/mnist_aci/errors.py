"""The package's exceptions: each message says what happened and what to do.

Every error a user can cause derives from :class:`MnistAciError`; the CLI turns it into one
line on stderr. Each class also subclasses the built-in type it refines, so an existing
``except ValueError`` or ``except FileNotFoundError`` keeps working.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from typing import Any

#: SDK v1's own errors, by module: ``AzureMLException``, and msrest's ``HttpOperationError`` (what
#: ``Model(ws, name)`` raises on a refused call).
SDK_V1_ERRORS = (("azureml.exceptions", "AzureMLException"), ("msrest.exceptions", "HttpOperationError"))
#: azure-core's base error: SDK v2's and azure-identity's.
AZURE_CORE_ERRORS = (("azure.core.exceptions", "AzureError"),)
#: azure-core's parsed error body (``HttpResponseError.error``): code, message, and details of the same shape.
AZURE_CORE_ERROR_BODY = (("azure.core.exceptions", "ODataV4Format"),)
#: The most of an SDK error's message a user is shown.
SDK_MESSAGE_CHARS = 1500
#: What a request that never reached its server raises (no network, a proxy that refused it, a name DNS could not
#: resolve), by module; the built-in ``ConnectionError`` and ``socket.gaierror`` are checked too.
CONNECTION_ERRORS = (
    ("requests.exceptions", "ConnectionError"),  # ProxyError, SSLError and ConnectTimeout are ConnectionErrors
    ("urllib3.exceptions", "NewConnectionError"),  # NameResolutionError is one
    ("urllib3.exceptions", "ProxyError"),
    ("urllib3.exceptions", "ConnectTimeoutError"),
    ("azure.core.exceptions", "ServiceRequestError"),  # azure-core: the request was never answered
)
#: What to do when Azure could not be reached.
NETWORK_HELP = (
    "Check this machine's network connection and its proxy settings (HTTPS_PROXY, NO_PROXY, and the proxy's "
    "certificate in REQUESTS_CA_BUNDLE), then run again."
)


class MnistAciError(Exception):
    """Base class of every error this package raises on purpose."""


class WorkspaceConfigError(MnistAciError, FileNotFoundError):
    """The workspace ``config.json`` is missing or malformed."""


class WorkspaceError(MnistAciError, RuntimeError):
    """The workspace exists in config.json but cannot be reached (login, permissions, name)."""


class ProjectFilesError(MnistAciError, FileExistsError):
    """The tutorial's files cannot be written (they exist already, or the folder cannot be made or written to) or
    are missing from the installation."""


class DataError(MnistAciError, ValueError):
    """MNIST files are missing, truncated, corrupt or cannot be downloaded."""


class TrainingError(MnistAciError, ValueError):
    """Training data or parameters are unusable."""


class ModelNotFoundError(MnistAciError, LookupError):
    """No registered model has that name (or version), or a model file to register is missing."""

    model_name: str | None = None
    version: object = None
    where: str | None = None

    @classmethod
    def unregistered(
        cls, name: str, version: object = None, *, where: str = "this workspace", known: str = "", remedy: str
    ) -> ModelNotFoundError:
        """No model ``name`` (at ``version``) registered in ``where``; ``known`` lists what is, ``remedy`` says what
        to do."""
        which = f"{name!r} version {version}" if version else repr(name)
        error = cls(f"No model {which} is registered in {where}{known}. {remedy}")
        error.model_name, error.version, error.where = name, version, where
        return error


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


class OptionError(TargetError):
    """An option a target cannot use (a value out of range, or one it needs and was not given)."""

    def __init__(self, option: str, problem: str) -> None:
        self.option = option
        self.problem = problem
        super().__init__(f"{option} {problem}.")


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
    """What an Azure SDK exception says. An azure-core error with a parsed body (``exc.error``): the code and
    message of the body and of each of its details, where Azure puts the cause (a deployment beyond the quota is
    "(BadRequest) The request is invalid." with the quota in a detail). Any other: its first meaningful line
    (AzureMLException keeps it in ``message``)."""
    body = getattr(exc, "error", None)
    if _is_one_of(body, AZURE_CORE_ERROR_BODY):
        return " ".join(_error_body(body))[:SDK_MESSAGE_CHARS]
    text = str(getattr(exc, "message", "") or exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0][:500] if lines else exc.__class__.__name__


def _error_body(error: Any) -> Iterator[str]:
    """``(code) message`` of an azure-core error body, then of each of its details, depth first."""
    code = f"({error.code}) " if error.code else ""
    yield code + _validation_errors(str(error.message or ""))
    for detail in error.details:
        yield from _error_body(detail)


def _validation_errors(message: str) -> str:
    """A message that ends in the JSON of a validation problem, told as its errors: Azure's refusal of a
    deployment says ``InferencingClient HttpRequest error, error detail: {"errors": {"VmSize": ["Not enough
    quota ..."]}, "title": ...}``, told as ``VmSize: Not enough quota ...``. Any other message as it is."""
    start = message.find("{")
    try:
        problem = json.loads(message[start:]) if start >= 0 else None
    except ValueError:
        return message
    errors = problem.get("errors") if isinstance(problem, dict) else None
    if not isinstance(errors, dict) or not errors:
        return message
    return "; ".join(
        f"{field}: {text}"
        for field, texts in errors.items()
        for text in (texts if isinstance(texts, list) else [texts])
    )


def user_message(exc: BaseException) -> str:
    """What a user is shown of ``exc``: this package's message, the meaningful line of an Azure SDK's error, else
    the exception's own text; each of its notes (``add_note``: what went wrong after it) on lines of its own."""
    if isinstance(exc, MnistAciError):
        text = str(exc)
    elif is_azure_ml_error(exc):
        text = f"Azure ML: {sdk_message(exc)}"
    else:
        text = str(exc) or exc.__class__.__name__
    return "\n".join([text, *getattr(exc, "__notes__", ())])


def _is_one_of(value: object, kinds: tuple[tuple[str, str], ...]) -> bool:
    """Whether ``value`` is an instance of one of ``kinds`` (module, class name) among the modules loaded: an SDK
    never imported made nothing, so nothing is imported for the check."""
    loaded = (getattr(sys.modules.get(module), name, None) for module, name in kinds)
    return any(isinstance(value, kind) for kind in loaded if isinstance(kind, type))


def is_sdk_v1_error(exc: BaseException) -> bool:
    """Whether ``exc`` is one of SDK v1's errors."""
    return _is_one_of(exc, SDK_V1_ERRORS)


def is_azure_ml_error(exc: BaseException) -> bool:
    """Whether ``exc`` is one of the Azure SDKs' own errors (SDK v1's, or azure-core's: SDK v2 and azure-identity)."""
    return _is_one_of(exc, SDK_V1_ERRORS + AZURE_CORE_ERRORS)


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception behind it: its cause or context (as a traceback shows them) and the inner
    exception an SDK wrapped (azure-core's and msrest's ``inner_exception``, azure-core's ``exc_value``)."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        context = None if current.__suppress_context__ else current.__context__
        wrapped = (getattr(current, name, None) for name in ("inner_exception", "exc_value"))
        pending += [e for e in (current.__cause__, context, *wrapped) if isinstance(e, BaseException)]


def connection_failure(exc: BaseException) -> str | None:
    """If a request behind ``exc`` never reached its server, what failed, in a few words (``ProxyError:
    [Errno 111] Connection refused``: the failed request's kind, then the root of its chain); else None."""
    unanswered = (
        e for e in causes(exc) if isinstance(e, ConnectionError | socket.gaierror) or _is_one_of(e, CONNECTION_ERRORS)
    )
    failed = next(unanswered, None)
    if failed is None:
        return None
    reasons = [e for e in causes(failed) if str(e)] or [failed]
    return f"{failed.__class__.__name__}: {sdk_message(reasons[-1])}"
