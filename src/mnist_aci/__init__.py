"""mnist-aci: the Azure ML tutorial "deploy an image classification model in ACI" as a library.

The public API, by step of the tutorial (one module per step; every other name, and every module
or name that starts with ``_``, is private and may change):

==========================  =================================================================
step                        names
==========================  =================================================================
1. workspace, SDK version   ``load_workspace``, ``sdk_version``
2. ``score.py``             ``resolve_entry_script``
part 1. the model           ``train_model``, ``save_model``, ``load_model``
4. registered model, env    ``LocalModelStore``, ``LocalModel`` (this machine); ``get_model``,
                            ``register_model``, ``get_or_register_environment``,
                            ``register_environment`` (Azure)
3-4. deploy, wait           ``deploy_model`` (any target), ``aci_config``, ``aks_config``,
                            ``Service`` (what every target returns), ``ScoringService``
5-6. test data              ``Dataset``, ``load_data`` (the tutorial's IDX reader), ``resolve_dataset``
7, 10. score                ``predict``, ``predict_tutorial``, ``call_http``, ``tutorial_body``,
                            ``ServiceEndpoint``
8-9. results                ``evaluate``, ``Evaluation``, ``plot_confusion``, ``plot_predictions``,
                            ``sample_indices``, ``save_figure``
11. clean up                ``delete_service``
the whole flow              ``JobOptions``, ``connect``, ``load_dataset``, ``prepare_model``,
                            ``deploy_service``, ``run_job``, ``show_progress``
errors                      ``MnistAciError`` (the base; the others are in ``mnist_aci.errors``)
==========================  =================================================================
"""

from importlib.metadata import version as _version

from ._progress import show_progress
from .data import Dataset, load_data, resolve_dataset
from .deployment import aci_config, aks_config, delete_service
from .errors import MnistAciError
from .evaluation import Evaluation, evaluate
from .model_store import LocalModel, LocalModelStore
from .plots import plot_confusion, plot_predictions, sample_indices, save_figure
from .registry import get_model, get_or_register_environment, register_environment, register_model
from .score_script import resolve_entry_script
from .scoring import ServiceEndpoint, call_http, predict, predict_tutorial, tutorial_body
from .service import ScoringService, Service
from .targets import deploy_model
from .training import load_model, save_model, train_model
from .workflow import JobOptions, connect, deploy_service, load_dataset, prepare_model, run_job
from .workspace import load_workspace, sdk_version

__version__ = _version("mnist-aci")

__all__ = [
    "Dataset",
    "Evaluation",
    "JobOptions",
    "LocalModel",
    "LocalModelStore",
    "MnistAciError",
    "ScoringService",
    "Service",
    "ServiceEndpoint",
    "__version__",
    "aci_config",
    "aks_config",
    "call_http",
    "connect",
    "delete_service",
    "deploy_model",
    "deploy_service",
    "evaluate",
    "get_model",
    "get_or_register_environment",
    "load_data",
    "load_dataset",
    "load_model",
    "load_workspace",
    "plot_confusion",
    "plot_predictions",
    "predict",
    "predict_tutorial",
    "prepare_model",
    "register_environment",
    "register_model",
    "resolve_dataset",
    "resolve_entry_script",
    "run_job",
    "sample_indices",
    "save_figure",
    "save_model",
    "sdk_version",
    "show_progress",
    "train_model",
    "tutorial_body",
]
