"""The one place that chooses a target: ``local``, ``aci``, ``aks`` or ``endpoint``, and the local pre-flight.

Each target family has its own ``deploy(...)`` taking only the arguments it understands
(:func:`mnist_aci.local_service.deploy`, :func:`mnist_aci.deployment.deploy` for SDK v1,
:func:`mnist_aci.endpoint.deploy` for SDK v2); :func:`deploy_model`
picks one and returns a healthy :class:`~mnist_aci.service.Service`. Before a cloud deployment it
can run a pre-flight on the local inference server with the same entry script and model file, so a
broken ``score.py`` or model fails in seconds on this machine instead of after minutes of image build.
This is the only module that imports more than one target family.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import deployment, endpoint, local_service
from ._progress import step
from .errors import DeploymentError, MnistAciError, TargetError
from .scoring import predict, tutorial_body
from .service import Service
from .tutorial import LOG_TAIL_LINES, TARGETS, Target

PREFLIGHT_TIMEOUT_S = 120.0


def preflight(model_file: str | Path, entry_script: str | Path, image: np.ndarray) -> int:
    """Start the local server with ``entry_script`` and ``model_file``, score one image, stop.

    The image goes once as the tutorial's JSON and once as the ``.npy`` body of
    :func:`mnist_aci.predict`; both must give the same digit. Returns it; raises
    :class:`DeploymentError` (with the server's log) if ``init()`` or ``run()`` fails.
    """
    one = np.asarray(image).reshape(1, -1)
    with (
        step(f"Pre-flight: {entry_script} and the model on the local inference server"),
        local_service.start_local_service(model_file, entry_script, name="preflight") as service,
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


def _preflight_file(model_file: Path, entry_script: Path, *, image: np.ndarray) -> int:
    return preflight(model_file, entry_script, image)


#: Each target's own ``deploy``; the dispatcher itself adds ``preflight_image`` for the cloud ones.
DEPLOYERS: dict[Target, Callable[..., Service]] = {
    "local": local_service.deploy,
    "aci": functools.partial(deployment.deploy, target="aci"),
    "aks": functools.partial(deployment.deploy, target="aks"),
    "endpoint": endpoint.deploy,
}
#: Parameters the dispatcher fills in itself.
_INTERNAL = ("model", "target", "preflight")


def deploy_model(target: Target, model: Any, *, preflight_image: np.ndarray | None = None, **options: Any) -> Service:
    """Deploy ``model`` to ``target`` and wait until it is healthy; ``options`` are that target's own.

    - ``local``: ``model`` from :class:`~mnist_aci.model_store.LocalModelStore`; options ``entry_script``,
      ``port``, ``workers``, ``timeout_sec``, ``keep_failed`` (:func:`mnist_aci.local_service.deploy`).
    - ``aci``/``aks``: a registered ``azureml.core.Model``; ``workspace`` and ``environment`` are
      required, plus the options of :func:`mnist_aci.deployment.deploy`. ``preflight_image`` (one
      test image) runs the local pre-flight on the registered model file first.
    - ``endpoint``: a registered SDK v2 model; ``ml_client`` and ``environment`` are required, plus the
      options of :func:`mnist_aci.endpoint.deploy` (instance type and count, ``rollout_data`` and
      ``min_accuracy`` for the gated rollout on an existing endpoint) and ``preflight_image``.

    An unknown target or an option the target does not take raises :class:`TargetError`.
    """
    deployer = DEPLOYERS.get(target)
    if deployer is None:
        raise TargetError(f"Unknown target {target!r}: choose one of {', '.join(TARGETS)}.")
    signature = inspect.signature(deployer)
    if preflight_image is not None:
        if "preflight" not in signature.parameters:
            raise TargetError(f"Target {target!r} runs on this machine already: it takes no preflight_image.")
        options["preflight"] = functools.partial(_preflight_file, image=preflight_image)
    try:
        signature.bind(model, **options)
    except TypeError as exc:
        accepted = [name for name in signature.parameters if name not in _INTERNAL]
        if "preflight" in signature.parameters:
            accepted.append("preflight_image")
        raise TargetError(
            f"Target {target!r} cannot be deployed with these arguments ({exc}). It takes: {', '.join(accepted)}."
        ) from exc
    return deployer(model, **options)
