"""The tutorial's deployment configurations (SDK v1): ACI's 1 core and 1 GB, AKS's, and the inference configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..project_files import SCORE_PY

ACI_TAGS = {"data": "MNIST", "method": "sklearn"}
ACI_DESCRIPTION = "Predict MNIST with sklearn"


def aci_config(
    cpu_cores: float = 1,
    memory_gb: float = 1,
    *,
    tags: dict[str, str] | None = None,
    description: str = ACI_DESCRIPTION,
    auth_enabled: bool = False,
) -> Any:
    """``AciWebservice.deploy_configuration`` with the tutorial's 1 core, 1 GB, tags and description.

    ``auth_enabled`` is explicit (ACI's default is no key); with it the service needs a Bearer key.
    """
    from azureml.core.webservice import AciWebservice

    return AciWebservice.deploy_configuration(
        cpu_cores=cpu_cores,
        memory_gb=memory_gb,
        tags=dict(ACI_TAGS if tags is None else tags),
        description=description,
        auth_enabled=auth_enabled,
    )


def aks_config(
    compute_target_name: str,
    *,
    autoscale_enabled: bool = True,
    autoscale_min_replicas: int = 1,
    autoscale_max_replicas: int = 4,
    cpu_cores: float = 1,
    memory_gb: float = 1,
    auth_enabled: bool = True,
    tags: dict[str, str] | None = None,
    description: str = ACI_DESCRIPTION,
) -> Any:
    """``AksWebservice.deploy_configuration`` for an existing AKS cluster, autoscaled, with keys.

    AKS enables key auth by default, so calls need :func:`mnist_aci.scoring.auth_headers`.
    """
    from azureml.core.webservice import AksWebservice

    return AksWebservice.deploy_configuration(
        compute_target_name=compute_target_name,
        autoscale_enabled=autoscale_enabled,
        autoscale_min_replicas=autoscale_min_replicas,
        autoscale_max_replicas=autoscale_max_replicas,
        cpu_cores=cpu_cores,
        memory_gb=memory_gb,
        auth_enabled=auth_enabled,
        tags=dict(ACI_TAGS if tags is None else tags),
        description=description,
    )


def inference_config(environment: Any, source_directory: str | Path) -> Any:
    """``InferenceConfig(entry_script="score.py", environment=myenv)`` for the folder made by
    :func:`~mnist_aci.score_script.stage_scoring_folder` (``score.py`` and its contract)."""
    from azureml.core.model import InferenceConfig

    return InferenceConfig(source_directory=str(source_directory), entry_script=SCORE_PY, environment=environment)
