"""Deploy to any target: :func:`deploy_model`, and the pre-flight.

Before a cloud deployment the pre-flight runs the local inference server with the same entry script and model file,
so a broken ``score.py`` or model fails in seconds on this machine instead of after minutes of image build.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from ._progress import step
from .errors import DeploymentError, MnistAciError, OptionError, TargetError
from .local.service import start_local_service
from .scoring import predict, tutorial_body
from .service import Service
from .target_base import Preflight, Target, TargetOptions
from .targets import TargetName, not_taken, target_named
from .tutorial import LOG_TAIL_LINES


def preflight(
    model_file: str | Path, entry_script: str | Path, image: np.ndarray, *, timeout_sec: float | None = None
) -> int:
    """Start the local server with ``entry_script`` and ``model_file``, score one image, stop.

    The image goes once as the tutorial's JSON and once as the ``.npy`` body of
    :func:`mnist_aci.predict`; both must give the same digit. Returns it; raises
    :class:`DeploymentError` (with the server's log) if ``init()`` or ``run()`` fails, or if the server is not
    healthy within ``timeout_sec`` (the deployment's; default: the local target's).
    """
    one = np.asarray(image).reshape(1, -1)
    with (
        step(f"Pre-flight: {entry_script} and the model on the local inference server"),
        start_local_service(model_file, entry_script, name="preflight") as service,
    ):
        service.wait_for_deployment(timeout_sec=timeout_sec)
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


def preflight_check(image: np.ndarray, timeout_sec: float | None = None) -> Preflight:
    """The pre-flight on ``image``, waiting at most ``timeout_sec``, as a target runs it: ``check(model_file,
    entry_script)``."""
    return functools.partial(preflight, image=image, timeout_sec=timeout_sec)


def deploy_model(
    target: TargetName,
    model: Any,
    *,
    entry_script: str | Path | None = None,
    preflight_image: np.ndarray | None = None,
    **options: Any,
) -> Service:
    """Deploy ``model`` to ``target`` and wait until it is healthy; ``options`` are that target's own.

    - ``local``: ``model`` from :class:`~mnist_aci.local.store.LocalModelStore`; options of
      :class:`~mnist_aci.local.target.LocalOptions` (``port``, ``workers``, ``timeout_sec``, ``keep_failed``).
    - ``aci``/``aks``: a registered ``azureml.core.Model``; ``workspace`` is required, plus the options of
      :class:`~mnist_aci.azure_v1.target.AzureV1Options` (``environment``, ``deployment_config``, ``name``...).
      ``preflight_image`` (one test image) runs the local pre-flight on the registered model file first.
    - ``endpoint``: a registered SDK v2 model; ``ml_client`` is required, plus the options of
      :class:`~mnist_aci.azure_v2.target.EndpointOptions` (instance type and count, ``rollout_data`` and
      ``min_accuracy`` for the gated rollout on an existing endpoint) and ``preflight_image``.

    An unknown target, or an option the target does not take or cannot use, raises :class:`TargetError`.
    """
    chosen = target_named(target)
    takes = ["entry_script", *chosen.options_type.field_names()]
    if not chosen.serves_here:
        takes.append("preflight_image")
    unknown = sorted(set(options) - set(takes))
    try:
        if unknown:
            raise OptionError(unknown[0], not_taken(chosen, unknown[0]))
        settings = chosen.options_type(**options)
        return deploy_checked(chosen, model, settings, entry_script, preflight_image)
    except OptionError as exc:
        raise TargetError(f"Target {target!r} cannot be deployed: {exc} It takes: {', '.join(takes)}.") from exc


def deploy_checked(
    target: Target[Any],
    model: Any,
    settings: TargetOptions,
    entry_script: str | Path | None,
    preflight_image: np.ndarray | None,
) -> Service:
    """Check ``settings``, then deploy ``model`` with them, after the pre-flight on ``preflight_image`` if one is
    given: what :func:`deploy_model` and :func:`~mnist_aci.workflow.deploy_service` share."""
    target.check(settings)
    return target.deploy(
        model,
        settings,
        entry_script=None if entry_script is None else Path(entry_script),
        preflight=None if preflight_image is None else preflight_check(preflight_image, settings.timeout_sec),
    )
