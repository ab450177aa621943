"""The command line's flags, each declared once, on the dataclass field it sets: :func:`option`.

A field of :class:`~mnist_aci.job.JobOptions`, or of a target's options dataclass, that the command line sets is
made with ``option(default, flag=..., help=..., commands=...)``; the CLI reads the flags from the fields
(:func:`flags_of`) and gives each only to the commands that use it. (A leaf module: it imports nothing.)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

#: The commands that work on a target (all but init), those that read the data set, train, and deploy.
ON_TARGET = ("run", "train", "deploy", "evaluate", "delete")
READ_DATA = ("run", "train", "deploy", "evaluate")
TRAINS = ("run", "train")
DEPLOYS = ("run", "deploy")
#: The key of a field's metadata that holds its flag.
FLAG = "mnist_aci.flag"


@dataclass(frozen=True)
class Flag:
    """One option of the command line: the commands that use it, its help, how argparse reads it (``settings``)
    and where its value lands (``dest``: the field it sets, or a value the command reads)."""

    name: str
    commands: tuple[str, ...]
    help: str
    settings: dict[str, Any] = field(default_factory=dict)
    dest: str = ""


def option(
    default: Any = dataclasses.MISSING,
    *,
    flag: str,
    help: str,
    commands: tuple[str, ...],
    default_factory: Any = dataclasses.MISSING,
    **settings: Any,
) -> Any:
    """A dataclass field set on the command line by ``flag`` (for ``commands``); ``settings`` go to argparse's
    ``add_argument`` (``type``, ``action``, ``choices``...)."""
    declared = Flag(flag, commands, help, settings)
    return field(default=default, default_factory=default_factory, metadata={FLAG: declared})


def flags_of(*option_types: type) -> tuple[Flag, ...]:
    """The flags the fields of ``option_types`` declare, with the field's name as ``dest``: a field several of them
    inherit is one flag; two fields declaring the same flag are a :class:`TypeError`."""
    declared: dict[str, tuple[dataclasses.Field[Any], Flag]] = {}
    for options in option_types:
        for found in dataclasses.fields(options):
            if FLAG in found.metadata:
                flag = dataclasses.replace(found.metadata[FLAG], dest=found.name)
                first, _ = declared.setdefault(flag.name, (found, flag))
                if first is not found:
                    raise TypeError(
                        f"{flag.name} is declared by the fields {first.name} and {found.name} of two options "
                        "dataclasses: declare it once, in a base class both derive from"
                    )
    return tuple(flag for _, flag in declared.values())
