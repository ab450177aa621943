"""The tutorial's deployment configurations (SDK v1): ACI's 1 core and 1 GB, AKS's, and the inference configuration."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import OptionError
from ..project_files import SCORE_PY

if TYPE_CHECKING:
    from azureml.core import Environment
    from azureml.core.model import InferenceConfig
    from azureml.core.webservice.aci import AciServiceDeploymentConfiguration
    from azureml.core.webservice.aks import AksServiceDeploymentConfiguration

ACI_TAGS = {"data": "MNIST", "method": "sklearn"}
ACI_DESCRIPTION = "Predict MNIST with sklearn"


def aci_config(
    cpu_cores: float = 1,
    memory_gb: float = 1,
    *,
    tags: dict[str, str] | None = None,
    description: str = ACI_DESCRIPTION,
    auth_enabled: bool = False,
) -> AciServiceDeploymentConfiguration:
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
    autoscale_min_replicas: int | None = None,
    autoscale_max_replicas: int | None = None,
    num_replicas: int | None = None,
    cpu_cores: float = 1,
    memory_gb: float = 1,
    auth_enabled: bool | None = None,
    token_auth_enabled: bool = False,
    tags: dict[str, str] | None = None,
    description: str = ACI_DESCRIPTION,
) -> AksServiceDeploymentConfiguration:
    """``AksWebservice.deploy_configuration`` for an existing AKS cluster: autoscaled between
    ``autoscale_min_replicas`` and ``autoscale_max_replicas`` (default 1 and 4), or, with
    ``autoscale_enabled=False``, on a fixed ``num_replicas`` (the SDK refuses the replica bounds then).

    Key auth, AKS's default, unless ``token_auth_enabled`` (AKS's other mode in Microsoft's v1 docs): calls then
    need an access token (``service.get_access_token()``) and key auth is off (``auth_enabled`` defaults to the
    opposite of ``token_auth_enabled``; the SDK refuses both). :func:`mnist_aci.predict` sends either.
    """
    from azureml.core.webservice import AksWebservice

    if autoscale_enabled:  # the bounds default to 1 and 4 only when autoscaled: the SDK refuses them otherwise
        autoscale_min_replicas = 1 if autoscale_min_replicas is None else autoscale_min_replicas
        autoscale_max_replicas = 4 if autoscale_max_replicas is None else autoscale_max_replicas
    return AksWebservice.deploy_configuration(
        compute_target_name=compute_target_name,
        autoscale_enabled=autoscale_enabled,
        autoscale_min_replicas=autoscale_min_replicas,
        autoscale_max_replicas=autoscale_max_replicas,
        num_replicas=num_replicas,
        cpu_cores=cpu_cores,
        memory_gb=memory_gb,
        auth_enabled=not token_auth_enabled if auth_enabled is None else auth_enabled,
        token_auth_enabled=token_auth_enabled,
        tags=dict(ACI_TAGS if tags is None else tags),
        description=description,
    )


def check_config_kind(target: str, deployment_config: Any) -> None:
    """Refuse a deployment configuration made for the other SDK v1 target (an ACI one on ``aks``, or the reverse),
    naming the function that makes the right one."""
    from azureml.core.webservice.aci import AciServiceDeploymentConfiguration
    from azureml.core.webservice.aks import AksServiceDeploymentConfiguration

    kind, maker = {
        "aci": (AciServiceDeploymentConfiguration, "aci_config()"),
        "aks": (AksServiceDeploymentConfiguration, "aks_config(compute_target_name)"),
    }[target]
    if not isinstance(deployment_config, kind):
        raise OptionError(
            "deployment_config",
            f"must be an {kind.__name__} for target {target!r} (mnist_aci.{maker} makes one), "
            f"got {type(deployment_config).__name__}",
        )


def inference_config(environment: Environment, source_directory: str | Path) -> InferenceConfig:
    """``InferenceConfig(entry_script="score.py", environment=myenv)`` for the folder made by
    :func:`~mnist_aci.score_script.stage_scoring_folder` (``score.py``, ``score_io.py`` and the contract)."""
    from azureml.core.model import InferenceConfig

    return InferenceConfig(source_directory=str(source_directory), entry_script=SCORE_PY, environment=environment)
