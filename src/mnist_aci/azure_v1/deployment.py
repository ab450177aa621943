"""Steps 3-4 and 11 of the tutorial on Azure (SDK v1): deploy to ACI (or AKS), wait, delete the service.

The tutorial's calls are kept as they are: ``AciWebservice.deploy_configuration(cpu_cores=1,
memory_gb=1, tags=..., description=...)``, ``InferenceConfig(entry_script="score.py",
environment=myenv)`` (with a ``source_directory`` that holds ``score.py``, ``score_io.py`` and the
contract ``swagger3.json``), ``Model.deploy(workspace=ws, name=..., models=[model], inference_config=...,
deployment_config=...)`` and ``service.wait_for_deployment(show_output=True)``. Around them: the
service name is checked before any call, an existing name needs an explicit ``overwrite``, and a
deployment that fails prints its state, error and log tail, raises one :class:`DeploymentError`
and deletes the half-made service unless ``keep_failed``.
"""

from __future__ import annotations

import logging
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DeploymentError, ServiceNameError, sdk_message
from ..score_script import resolve_entry_script, stage_scoring_folder
from ..service import Service, memory_exhausted, startup_error
from ..tutorial import LOG_TAIL_LINES, MODEL_FILENAME
from . import registry
from .config import inference_config
from .sdk_errors import azure_ml_call

if TYPE_CHECKING:
    from azureml.core import Workspace
    from azureml.core.webservice import Webservice

log = logging.getLogger(__name__)

SERVICE_PREFIX = "sklearn-mnist-svc-"
SERVICE_NAME_RULE = re.compile(r"[a-z][a-z0-9-]{1,30}[a-z0-9]")
#: Where ``wait_for_deployment``'s message points when the image build failed.
BUILD_LOG = re.compile(r"More information can be found here: (\S+)")
#: Where the contract is served: SDK v1 unpacks the source directory below the container's app root
#: (``/var/azureml-app/app``) and the inference server reads ``swagger3.json`` from the app root only, so
#: score.py's ``init()`` copies it there (``publish_contract``).
CONTRACT_NOTE = (
    "contract: the service's swagger URI with ?version=3 serves score.py's swagger3.json, which score.py's "
    "init() copies into the container's app root (a read-only one would leave Azure ML's generic document)"
)
#: What score.py's ``init()`` logs when the app root refused the contract (``UNPUBLISHED`` in score_io.py). Microsoft
#: documents that the server serves "your own swaggers" placed in ``AML_APP_ROOT`` (azureml-inference-server-http's
#: changelog, in its package description); whether ACI's or AKS's app root is writable, it does not say.
CONTRACT_UNPUBLISHED = "the contract stays unpublished"
CONTRACT_NOT_SERVED = (
    "contract: not served. The container's app root is read-only, so score.py's init() could not copy "
    "swagger3.json there, and the service's swagger URI with ?version=3 serves Azure ML's generic document. "
    "Scoring is not affected; the contract is the swagger3.json beside your score.py."
)


def new_service_name() -> str:
    """The tutorial's name: ``'sklearn-mnist-svc-' + str(uuid.uuid4())[:4]``."""
    return SERVICE_PREFIX + str(uuid.uuid4())[:4]


def check_service_name(name: str) -> str:
    """Return ``name`` if Azure ML accepts it as a web service name, else raise :class:`ServiceNameError`."""
    if not isinstance(name, str) or not SERVICE_NAME_RULE.fullmatch(name):
        raise ServiceNameError(
            f"Invalid service name {name!r}: use 3-32 characters, lowercase letters, digits and dashes, "
            "starting with a letter and ending with a letter or digit (for example "
            f"{SERVICE_PREFIX}ab12)."
        )
    return name


def service_exists(workspace: Workspace, name: str) -> bool:
    """Whether a web service called ``name`` exists in the workspace."""
    from azureml.core.webservice import Webservice
    from azureml.exceptions import WebserviceException

    with azure_ml_call(f"Looking up service {name!r}"):
        try:
            Webservice(workspace, name)
        except WebserviceException as exc:
            if "notfound" in str(exc).replace(" ", "").lower():
                return False
            raise
    return True


def failure_report(service: Any, sdk_error: BaseException | None = None) -> str:
    """State, error, the build log's address when the image build failed, and the tail of ``get_logs()``."""
    try:
        logs = service.get_logs()
    except Exception as exc:  # the logs may be what is broken
        logs = f"(logs unavailable: {exc.__class__.__name__})"
    lines = [f"state: {service.state}", f"error: {service.error}"]
    build_log = BUILD_LOG.search(str(sdk_error or ""))
    if build_log:
        lines.append(f"image build log: {build_log.group(1)}")
    cause = startup_error(logs)
    if cause:
        lines.append(f"score.py failed to load or init() raised: {cause}")
    if memory_exhausted(logs):
        lines.append("its container ran out of memory: raise memory_gb in the deployment configuration")
    tail = "\n".join(logs.splitlines()[-LOG_TAIL_LINES:]) or "(empty: the container never started)"
    return "\n".join([*lines, "--- last lines of get_logs() ---", tail])


def wait_for_service(
    service: Any, *, show_output: bool = True, timeout_sec: float | None = None, keep_failed: bool = False
) -> Webservice:
    """``service.wait_for_deployment(show_output=True)``; a Failed/Unhealthy end or a time-out raises
    one :class:`DeploymentError` and deletes the service unless ``keep_failed``."""
    from azureml.exceptions import WebserviceException

    sdk_error: WebserviceException | None = None
    try:
        service.wait_for_deployment(show_output=show_output, timeout_sec=timeout_sec)
        problem = None if service.state == "Healthy" else f"it ended {service.state}"
    except WebserviceException as exc:
        sdk_error = exc
        timed_out = "exceeded timeout" in str(exc)
        problem = f"it was not ready after {timeout_sec:g} s" if timed_out else sdk_message(exc)
    except KeyboardInterrupt:
        if not keep_failed:
            log.warning("Interrupted: deleting the half-made service %s.", service.name)
            delete_after_failure(service)
        raise
    if problem is None:
        report_contract(service)
        return service
    report = failure_report(service, sdk_error)
    log.error("Deployment of %s failed: %s\n%s", service.name, problem, report)
    cleanup = "It was kept for inspection (keep_failed=True)." if keep_failed else delete_after_failure(service)
    raise DeploymentError(
        f"Deployment of {service.name} failed: {problem}. {cleanup}\n{report}\n"
        "Check score.py's init() and the environment; run the local pre-flight (mnist-aci deploy "
        "--target local) to reproduce it on your machine."
    )


def report_contract(service: Any) -> None:
    """Say where the service's contract is served, or, if its log says score.py could not publish it, that it is not."""
    try:
        logs = service.get_logs()
    except Exception:  # the logs are only read to tell: a service that serves stays deployed
        logs = ""
    if CONTRACT_UNPUBLISHED in logs:
        log.warning("    %s", CONTRACT_NOT_SERVED)
    else:
        log.info("    %s", CONTRACT_NOTE)


def delete_after_failure(service: Any) -> str:
    """Delete a service whose deployment failed or was given up; what became of it, as a sentence."""
    try:
        delete_service(service)
    except DeploymentError as exc:
        log.warning("%s", exc)
        return (
            f"It could not be deleted yet: {exc} Once its operation has ended, delete it with "
            f"mnist-aci delete --target {service.compute_type.lower()} --service-name {service.name}."
        )
    return "The half-made service was deleted."


def deploy_and_wait(
    workspace: Workspace,
    model: Any,
    inference_config: Any,
    deployment_config: Any,
    *,
    name: str | None = None,
    overwrite: bool = False,
    keep_failed: bool = False,
    timeout_sec: float | None = None,
) -> Webservice:
    """``Model.deploy(...)`` then :func:`wait_for_service`; returns the healthy service."""
    from azureml.core.model import Model

    name = check_service_name(new_service_name() if name is None else name)
    if not overwrite and service_exists(workspace, name):
        raise ServiceNameError(
            f"A service called {name!r} already exists in this workspace. Choose another name, "
            "or pass overwrite=True to replace it."
        )
    with azure_ml_call(f"Deploying {name}"), sdk_scratch_folder():
        service = Model.deploy(
            workspace=workspace,
            name=name,
            models=[model],
            inference_config=inference_config,
            deployment_config=deployment_config,
            overwrite=overwrite,
        )
    return wait_for_service(service, timeout_sec=timeout_sec, keep_failed=keep_failed)


@contextmanager
def sdk_scratch_folder() -> Iterator[None]:
    """Point the temporary folder of the block at a folder of its own, removed after it.

    ``Model.deploy`` writes the wrapper of the entry script and the source directory's archive into the
    temporary folder and never removes them; here they go with the block's folder.
    """
    saved = tempfile.tempdir
    with tempfile.TemporaryDirectory(prefix="mnist-aci-sdk-") as folder:
        tempfile.tempdir = folder
        try:
            yield
        finally:
            tempfile.tempdir = saved


def get_service(workspace: Workspace, name: str) -> Webservice:
    """An existing web service by name (``Webservice(ws, name)``)."""
    from azureml.core.webservice import Webservice

    with azure_ml_call(f"Looking up service {name!r}"):
        return Webservice(workspace, check_service_name(name))


def delete_service(service: Any) -> None:
    """``service.delete()``; a refusal (an operation still running on it: 409) is a :class:`DeploymentError`."""
    with azure_ml_call(f"Deleting service {service.name}"):
        service.delete()


def download_model_file(model: Any, folder: str | Path) -> Path:
    """``model.download(...)`` into ``folder``: the path of the registered model file."""
    downloaded = Path(model.download(target_dir=str(folder), exist_ok=True))
    return downloaded if downloaded.is_file() else downloaded / MODEL_FILENAME


def deploy(
    model: Any,
    *,
    workspace: Workspace,
    environment: Any,
    deployment_config: Any,
    entry_script: str | Path | None = None,
    name: str | None = None,
    overwrite: bool = False,
    keep_failed: bool = False,
    timeout_sec: float | None = None,
    preflight: Callable[[Path, Path], object] | None = None,
) -> Service:
    """The ACI/AKS targets: deploy a registered ``azureml.core.Model`` with ``environment`` and wait.

    The environment's pins must match the model's versions record and install on the image (resolved here
    first). ``preflight(model_file, entry_script)``, when given, runs on a downloaded copy of the model after
    the pin check and before any deployment.
    """
    script = resolve_entry_script(entry_script)
    registry.check_environment_pins(environment, registry.model_versions(model))
    registry.check_environment_installs(environment)
    if preflight is not None:
        with tempfile.TemporaryDirectory(prefix="mnist-aci-model-") as folder:
            preflight(download_model_file(model, folder), script)
    with tempfile.TemporaryDirectory(prefix="mnist-aci-source-") as folder:
        service: Service = deploy_and_wait(
            workspace,
            model,
            inference_config(environment, stage_scoring_folder(script, Path(folder) / "app")),
            deployment_config,
            name=name,
            overwrite=overwrite,
            keep_failed=keep_failed,
            timeout_sec=timeout_sec,
        )
    return service
