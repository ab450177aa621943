# The public API (see the table in __init__.py's docstring). Read by mypy, and by lazy_loader at run
# time: each name is imported from its module on first use, so `import mnist_aci` (and `mnist-aci --help`)
# stays quick and the Azure SDK is imported only by the functions that call it.

from ._progress import show_progress as show_progress
from .azure_v1.config import aci_config as aci_config, aks_config as aks_config
from .azure_v1.deployment import delete_service as delete_service
from .azure_v1.registry import (
    get_model as get_model,
    get_or_register_environment as get_or_register_environment,
    register_environment as register_environment,
    register_model as register_model,
)
from .azure_v1.target import AzureV1Options as AzureV1Options
from .azure_v1.workspace import load_workspace as load_workspace
from .azure_v2.target import EndpointOptions as EndpointOptions
from .azure_v2.workspace import load_ml_client as load_ml_client
from .data import Dataset as Dataset, load_data as load_data, resolve_dataset as resolve_dataset
from .deploy import deploy_model as deploy_model
from .errors import MnistAciError as MnistAciError
from .evaluation import Evaluation as Evaluation, evaluate as evaluate
from .job import JobOptions as JobOptions
from .local.store import LocalModelStore as LocalModelStore
from .local.target import LocalOptions as LocalOptions
from .plots import (
    plot_confusion as plot_confusion,
    plot_predictions as plot_predictions,
    sample_indices as sample_indices,
    save_figure as save_figure,
)
from .score_script import resolve_entry_script as resolve_entry_script
from .scoring import (
    ServiceEndpoint as ServiceEndpoint,
    call_http as call_http,
    predict as predict,
    predict_tutorial as predict_tutorial,
    service_key as service_key,
)
from .service import Service as Service
from .target_base import TargetOptions as TargetOptions
from .training import load_model as load_model, save_model as save_model, train_model as train_model
from .versions import sdk_version as sdk_version
from .workflow import (
    connect as connect,
    deploy_service as deploy_service,
    load_dataset as load_dataset,
    prepare_model as prepare_model,
    run_job as run_job,
)

__version__: str
#: The public names: every name above and __version__ (set at run time by lazy_loader from this stub).
__all__: list[str]
