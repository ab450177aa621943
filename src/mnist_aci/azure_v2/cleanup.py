"""What a failed deployment leaves, said and cleaned up: reports, hints, and the steps that undo it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import DeploymentError, ServiceCallError, sdk_message
from ..tutorial import LOG_TAIL_LINES
from . import quota
from .invoke import quiet_poller
from .operations import RefusedError, StillRunningError, deployment_resource, endpoint_resource
from .service import provisioning_state

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Failure:
    """What went wrong: Azure's whole cause, and whether Azure refused the request outright (nothing created)."""

    problem: str
    refused: bool = False


def failure_hint(message: str, new: quota.Held, beside: Sequence[quota.Held] = (), *, refused: bool = False) -> str:
    """What to change after deployment ``new`` failed (``beside`` the deployments it runs with), from the
    service's error message; a deployment Azure ``refused`` never started a container."""
    text = message.lower()
    _name, instance_type, _count = new
    if "quota" in text:
        later = "" if beside else " A later rollout of the same size holds two such deployments at once: twice that."
        return (
            "Azure has not enough VM quota: each deployment holds ceil(1.2 x instances) x its SKU's cores of its VM "
            f"family's quota (20 % extra for upgrades); here {quota.needs([*beside, new])}.{later} Request more "
            "quota for that VM family in the Azure portal (Quotas), lower instance_count=<n>, or choose "
            "another instance_type=<size>."
        )
    if "sku" in text or "instance type" in text or "instancetype" in text:
        return (
            f"Instance type {instance_type} is not accepted here: choose one of the managed online endpoints' "
            "SKUs with instance_type=<size> (for example Standard_DS1_v2, Standard_F2s_v2, Standard_DS2_v2)."
        )
    if refused:
        return "Azure refused the deployment as sent, before starting anything: its message above says what to change."
    return (
        "Check score.py's init() and the environment; run the local pre-flight (mnist-aci deploy --target local) "
        "to reproduce it on your machine."
    )


def deployment_report(ml_client: Any, endpoint_name: str, deployment_name: str) -> str:
    """Provisioning state and the tail of ``online_deployments.get_logs(...)`` of a deployment."""
    from azure.core.exceptions import AzureError

    try:
        state = provisioning_state(ml_client.online_deployments.get(name=deployment_name, endpoint_name=endpoint_name))
    except AzureError as exc:
        state = f"unknown ({sdk_message(exc)})"
    try:
        logs = ml_client.online_deployments.get_logs(
            name=deployment_name, endpoint_name=endpoint_name, lines=LOG_TAIL_LINES
        )
    except AzureError as exc:  # the logs may be what is broken
        logs = f"(logs unavailable: {exc.__class__.__name__})"
    return f"deployment {deployment_name}: provisioning state {state}\n--- last lines of get_logs() ---\n{logs}"


class CleanupError(DeploymentError):
    """A clean-up step Azure refused: what it was, why, and how to do it by hand."""

    def __init__(self, undo: Undo, reason: str) -> None:
        self.undo = undo
        self.reason = reason
        super().__init__(
            f"Could not {undo.label} ({reason}): it may still exist and be billed; {undo.by_hand} when it is done."
        )


@dataclass(frozen=True)
class Undo:
    """A clean-up step: what it does (``label``), how, the command that does it by hand, and the ``resource`` it
    deletes (see :func:`~.operations.endpoint_resource`)."""

    label: str
    action: Callable[[], object]
    by_hand: str
    resource: str = ""

    def run(self) -> None:
        """Run it; Azure's refusal raises :class:`CleanupError`."""
        from azure.core.exceptions import AzureError

        try:
            with quiet_poller():
                self.action()
        except AzureError as exc:
            raise CleanupError(self, sdk_message(exc)) from exc

    def run_and_report(self) -> str:
        """Run it and say what became of it: a refusal is logged and told, never raised over the error that
        made the clean-up necessary."""
        try:
            self.run()
        except CleanupError as exc:
            log.warning("%s", exc)
            return str(exc)
        return f"Done: {self.label}."


def delete_endpoint_step(ml_client: Any, name: str) -> Undo:
    return Undo(
        f"delete endpoint {name}",
        lambda: ml_client.online_endpoints.begin_delete(name=name).result(),
        f"delete it with `az ml online-endpoint delete --name {name}`",
        endpoint_resource(name),
    )


def delete_deployment_step(ml_client: Any, endpoint_name: str, name: str) -> Undo:
    return Undo(
        f"delete deployment {name}",
        lambda: ml_client.online_deployments.begin_delete(name=name, endpoint_name=endpoint_name).result(),
        f"delete it with `az ml online-deployment delete --name {name} --endpoint-name {endpoint_name}`",
        deployment_resource(endpoint_name, name),
    )


@contextlib.contextmanager
def undo_on_failure(what: str, undo: Undo, *, keep_failed: bool, report: Callable[[Failure], str]) -> Iterator[None]:
    """Run the block; an Azure error, a time-out, a failed call or Ctrl-C inside it runs ``undo`` unless
    ``keep_failed``, or unless Azure refused to create what ``undo`` deletes. Errors become one
    :class:`DeploymentError` with ``report(failure)``; Ctrl-C goes on."""
    from azure.core.exceptions import AzureError

    try:
        yield
    except KeyboardInterrupt:
        if not keep_failed:
            log.warning("Interrupted: %s", undo.run_and_report())
        raise
    except (AzureError, DeploymentError, ServiceCallError) as exc:
        refusal = exc if isinstance(exc, RefusedError) else None
        problem = refusal.cause if refusal is not None else sdk_message(exc)
        details = report(Failure(problem, refused=refusal is not None))
        log.error("%s failed: %s\n%s", what, problem, details)
        cleanup = f"It was kept for inspection (keep_failed); {undo.by_hand} when done."
        if refusal is not None and refusal.resource == undo.resource:
            cleanup = f"Nothing to clean up: Azure refused {refusal.what}, so it was never created."
        elif isinstance(exc, StillRunningError):  # Azure refuses a delete (409) while the operation runs
            cleanup = (
                f"Not cleaned up, as Azure refuses to {undo.label} while the operation runs: "
                f"{undo.by_hand} once it has ended."
            )
        elif not keep_failed:
            cleanup = undo.run_and_report()
        raise DeploymentError(f"{what} failed: {problem}\n{cleanup}\n{details}") from exc


def endpoint_report(ml_client: Any, name: str, failure: Failure) -> str:
    """Provisioning state of an endpoint that failed (none if Azure refused it), and what to change."""
    from azure.core.exceptions import AzureError

    problem = failure.problem
    state: str | None
    if failure.refused:
        state = "none (refused before it was created)"
    else:
        try:
            state = provisioning_state(ml_client.online_endpoints.get(name=name))
        except AzureError as exc:
            state = f"unknown ({sdk_message(exc)})"
    hint = (
        "Endpoint names are unique in the Azure region: choose another name=<endpoint> if it is taken. Check "
        "that your account may create endpoints in this workspace."
    )
    if "quota" in problem.lower():
        hint = "The subscription's quota of endpoints is used up: delete unused endpoints or request more quota."
    return f"endpoint {name}: provisioning state {state}\n{hint}"


def deployment_failure(ml_client: Any, deployment: Any, beside: Sequence[quota.Held] = ()) -> Callable[[Failure], str]:
    """The report of a failed ``deployment`` (``beside`` the deployments it runs with): its state and logs (none
    if Azure refused it), and what to change."""

    def report(failure: Failure) -> str:
        hint = failure_hint(failure.problem, quota.held(deployment), beside, refused=failure.refused)
        if failure.refused:
            return (
                f"deployment {deployment.name}: no provisioning state or logs (refused before it was created)\n{hint}"
            )
        return f"{deployment_report(ml_client, deployment.endpoint_name, deployment.name)}\n{hint}"

    return report
