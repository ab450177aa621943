"""One deployment entry point for the three targets: ``local``, ``aci`` and ``aks``.

Whatever the target, :func:`deploy_model` returns a healthy service with the tutorial's surface
(``scoring_uri``, ``run``, ``get_logs``, ``state``, ``delete``). Before a cloud deployment it runs
a pre-flight on the local inference server with the same entry script and model file, so a broken
``score.py`` or model fails in seconds on this machine instead of after minutes of image build.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal

import numpy as np

from . import deployment, registry
from ._progress import step
from .errors import DeploymentError, MnistAciError
from .local_registry import LocalModel
from .local_service import LOG_TAIL_LINES, LocalWebservice, deploy_local
from .scoring import predict, tutorial_body
from .training import MODEL_FILENAME, runtime_versions

Target = Literal["local", "aci", "aks"]
TARGETS: tuple[Target, ...] = ("local", "aci", "aks")
PREFLIGHT_TIMEOUT_S = 120.0


def default_entry_script() -> Path:
    """``score.py`` in the current folder, else the project's own ``score.py`` (beside ``src/``)."""
    here = Path("score.py")
    if here.is_file():
        return here
    project = Path(__file__).resolve().parents[2] / "score.py"
    if project.is_file():
        return project
    raise DeploymentError(
        "No score.py in the current folder and none beside the mnist_aci sources. Pass entry_script=."
    )


def preflight(model_file: str | Path, entry_script: str | Path, image: np.ndarray) -> int:
    """Start the local server with ``entry_script`` and ``model_file``, score one image, stop.

    The image goes once as the tutorial's JSON and once as the ``.npy`` body of
    :func:`mnist_aci.predict`; both must give the same digit. Returns it; raises
    :class:`DeploymentError` (with the server's log) if ``init()`` or ``run()`` fails.
    """
    one = np.asarray(image).reshape(1, -1)
    with (
        step(f"Pre-flight: {entry_script} and the model on the local inference server"),
        deploy_local(model_file, entry_script, name="preflight") as service,
    ):
        service.wait_for_deployment(timeout_sec=PREFLIGHT_TIMEOUT_S)
        try:
            answer = service.run(tutorial_body(one))
        except MnistAciError as exc:
            raise DeploymentError(
                f"Pre-flight failed: run() on one test image did not answer: {exc}\n"
                f"Server log:\n{service.get_logs(LOG_TAIL_LINES)}"
            ) from exc
        try:
            fast = predict(service, one).tolist()
        except MnistAciError as exc:
            raise DeploymentError(
                f"Pre-flight failed: {entry_script} answers JSON but not the .npy body that mnist_aci.predict "
                f"sends ({exc}). Is it the tutorial's original score.py? Deploy the project's score.py, "
                "which keeps the tutorial's contract and adds that path."
            ) from exc
    if not (isinstance(answer, list) and len(answer) == 1 and answer[0] in range(10) and fast == answer):
        raise DeploymentError(
            f"Pre-flight failed: run() answered {str(answer)[:200]!r} to JSON and {fast!r} to .npy, "
            "not the same single digit label."
        )
    return int(answer[0])


def resolve_entry_script(entry_script: str | Path | None) -> Path:
    """The entry script to deploy (``entry_script``, else :func:`default_entry_script`), said out loud."""
    script = Path(entry_script) if entry_script else default_entry_script()
    print(f"    entry script: {script.resolve()}")
    return script


def deploy_local_model(
    model: LocalModel,
    entry_script: str | Path | None = None,
    *,
    port: int | None = None,
    timeout_sec: float | None = None,
    keep_failed: bool = False,
) -> LocalWebservice:
    """Verify a locally registered model (SHA-256, versions) and serve it on 127.0.0.1."""
    model.verify()
    registry.check_versions(model.properties or None, runtime_versions(), "this Python environment")
    service = deploy_local(
        model.path,
        resolve_entry_script(entry_script),
        name=f"{model.name.replace('_', '-')}-local",
        model_name=model.name,
        model_version=model.version,
        port=port,
        sha256=model.sha256,
    )
    service.wait_for_deployment(show_output=True, timeout_sec=timeout_sec, keep_failed=keep_failed)
    return service


def deploy_model(
    target: Target,
    model: Any,
    *,
    entry_script: str | Path | None = None,
    workspace: Any = None,
    environment: Any = None,
    deployment_config: Any = None,
    name: str | None = None,
    overwrite: bool = False,
    preflight_image: np.ndarray | None = None,
    keep_failed: bool = False,
    timeout_sec: float | None = None,
    port: int | None = None,
) -> Any:
    """Deploy ``model`` to ``target`` and wait until it is healthy.

    ``local``: ``model`` is a :class:`LocalModel`. ``aci``/``aks``: ``model`` is a registered
    ``azureml.core.Model``, ``workspace`` and ``environment`` are required, the environment's pins
    must match the model's versions record, and ``preflight_image`` (one test image) runs the
    pre-flight first; pass ``None`` to skip it. ``deployment_config`` defaults to
    :func:`deployment.aci_config` (``aks`` needs :func:`deployment.aks_config`).
    """
    if target not in TARGETS:
        raise DeploymentError(f"Unknown target {target!r}: choose one of {', '.join(TARGETS)}.")
    if target == "local":
        if not isinstance(model, LocalModel):
            raise DeploymentError("The local target deploys a model of the local store (LocalModelStore.get()).")
        return deploy_local_model(model, entry_script, port=port, timeout_sec=timeout_sec, keep_failed=keep_failed)
    if workspace is None or environment is None:
        raise DeploymentError(f"Target {target!r} needs a workspace (--config config.json) and an environment.")
    if target == "aks" and deployment_config is None:
        raise DeploymentError("Target 'aks' needs deployment_config=aks_config(compute_target_name=...).")
    script = resolve_entry_script(entry_script)
    registry.check_environment_pins(environment, registry.model_versions(model))
    if preflight_image is not None:
        with tempfile.TemporaryDirectory(prefix="mnist-aci-model-") as folder:
            model_file = Path(model.download(target_dir=folder, exist_ok=True))
            preflight(model_file if model_file.is_file() else model_file / MODEL_FILENAME, script, preflight_image)
    return deployment.deploy_to_azure(
        workspace,
        model,
        deployment.inference_config(environment, entry_script=str(script)),
        deployment_config if deployment_config is not None else deployment.aci_config(),
        name=name,
        overwrite=overwrite,
        keep_failed=keep_failed,
        timeout_sec=timeout_sec,
    )
