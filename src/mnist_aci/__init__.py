"""mnist-aci: the Azure ML tutorial "deploy an image classification model in ACI" as a library.

The public API, by step of the tutorial (one module per step; every other name, and every module
or name that starts with ``_``, is private and may change):

==========================  =================================================================
step                        names
==========================  =================================================================
1. workspace, SDK version   ``load_workspace`` (SDK v1), ``load_ml_client`` (SDK v2),
                            ``sdk_version``
2. ``score.py``             ``resolve_entry_script``
part 1. the model           ``train_model``, ``save_model``, ``load_model``
4. registered model, env    ``LocalModelStore`` (this machine); ``get_model``,
                            ``register_model``, ``get_or_register_environment``,
                            ``register_environment`` (Azure)
3-4. deploy, wait           ``deploy_model`` (local, aci, aks, endpoint), ``aci_config``, ``aks_config``,
                            ``Service`` (what every target returns)
5-6. test data              ``Dataset``, ``load_data`` (the tutorial's IDX reader), ``resolve_dataset``
7, 10. score                ``predict``, ``predict_tutorial``, ``call_http``, ``service_key``,
                            ``ServiceEndpoint``
8-9. results                ``evaluate``, ``Evaluation``, ``plot_confusion``, ``plot_predictions``,
                            ``sample_indices``, ``save_figure``
11. clean up                ``delete_service``
the whole flow              ``JobOptions``, ``connect``, ``load_dataset``, ``prepare_model``,
                            ``deploy_service``, ``run_job``, ``show_progress``
a target's own options      ``TargetOptions`` (every target's), ``LocalOptions``, ``AzureV1Options``
                            (aci, aks), ``EndpointOptions``: ``JobOptions(target_options=...)``
errors                      ``MnistAciError`` (the base; the others are in ``mnist_aci.errors``)
==========================  =================================================================
"""

from importlib.metadata import version as _version

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
__version__ = _version("mnist-aci")
__all__ = [*__all__, "__version__"]
