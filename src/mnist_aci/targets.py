"""The one table of targets: ``local``, ``aci``, ``aks`` and ``endpoint``, each an object of its family.

Each target is a :class:`~mnist_aci.target_base.Target` of its family: ``local`` in ``mnist_aci.local``, ``aci``
and ``aks`` in ``mnist_aci.azure_v1`` (SDK v1), ``endpoint`` in ``mnist_aci.azure_v2`` (SDK v2). Adding a target
is one subpackage and one entry in :data:`TARGET_TABLE`: the names ``--target`` offers and the flags of the
target's options come from it (docs/how-to/add-a-target.md).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from .azure_v1.target import AzureV1Target
from .azure_v2.target import EndpointTarget
from .errors import OptionError, TargetError
from .local.target import LocalTarget
from .target_base import Target, TargetOptions, given_once

log = logging.getLogger(__name__)

#: A target's name: a key of :data:`TARGET_TABLE` (an unknown one is refused by :func:`target_named`).
TargetName = str


def by_name(*targets: Target[Any]) -> dict[TargetName, Target[Any]]:
    """``targets`` by their names, each name once."""
    table = {target.name: target for target in targets}
    if len(table) != len(targets):
        raise TypeError(f"Two targets of the table have the same name: {[target.name for target in targets]}")
    return table


#: Every target, by the name ``--target`` and :func:`~mnist_aci.deploy.deploy_model` take.
TARGET_TABLE: dict[TargetName, Target[Any]] = by_name(
    LocalTarget(),
    AzureV1Target("aci"),
    AzureV1Target("aks"),
    EndpointTarget(),
)
#: The targets' names, in the table's order.
TARGETS: tuple[TargetName, ...] = tuple(TARGET_TABLE)


def target_named(name: str) -> Target[Any]:
    """The target called ``name``; :class:`TargetError` naming the others when there is none."""
    for known, target in TARGET_TABLE.items():
        if known == name:
            return target
    raise TargetError(f"Unknown target {name!r}: choose one of {', '.join(TARGETS)}.")


def not_taken(target: Target[Any], option: str) -> str:
    """Why ``target`` takes no ``option``: the targets that do (``target='aci'``: the CLI says ``--target aci``),
    and the reason where one helps."""
    owners = [f"target={name!r}" for name, other in TARGET_TABLE.items() if option in other.options_type.field_names()]
    where = f"is for {' or '.join(owners)} only" if owners else "is an option of no target"
    why = target.options_type.why_not.get(option)
    return where + (f": {why}" if why else "")


def with_given(target: Target[Any], options: TargetOptions, given: dict[str, Any]) -> TargetOptions:
    """``options`` with the options ``given`` beside them (the notebook's ``deployment_config=aciconfig``): one given
    in both places is refused (:class:`OptionError`), one of another target is not used (and logged), one of no
    target is refused."""
    taken = target.options_type.field_names()
    for option, value in given.items():
        if option not in taken and value is not None:
            if not any(option in other.options_type.field_names() for other in TARGET_TABLE.values()):
                raise OptionError(option, not_taken(target, option))
            log.info("%s %s; not used on target=%r.", option, not_taken(target, option), target.name)
    kept = {option: value for option, value in given.items() if option in taken}
    return replace(options, **{option: given_once(option, getattr(options, option), v) for option, v in kept.items()})
