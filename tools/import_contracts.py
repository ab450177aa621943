"""The import-linter contract of mnist_aci's layers, where one layer is the target families, found, not listed.

``family_layers`` is import-linter's ``layers`` contract in which the layer ``"<families>"`` stands for every
subpackage of the container (``mnist_aci.local``, ``mnist_aci.azure_v1``...), independent of one another (no
import between two of them, even indirect): a new target family is under the contract without being listed in
pyproject.toml. ``lint-imports`` finds this module on its path: run from the repository's root.
"""

from __future__ import annotations

import grimp
from importlinter.contracts.layers import Layer, LayersContract, ModuleTail
from importlinter.domain.contract import ContractCheck
from importlinter.domain.helpers import module_expressions_to_modules

#: The layer that stands for every subpackage of the container.
FAMILIES = ModuleTail("<families>")


def subpackages(graph: grimp.ImportGraph, container: str) -> set[str]:
    """The names of ``container``'s subpackages (its children with children of their own)."""
    return {child.rpartition(".")[2] for child in graph.find_children(container) if graph.find_children(child)}


class FamilyLayersContract(LayersContract):
    """A ``layers`` contract whose layer ``"<families>"`` is every subpackage of its containers, independent."""

    type_name = "family_layers"

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        containers = module_expressions_to_modules(graph, self.containers)  # type: ignore[arg-type]
        families = set().union(*(subpackages(graph, container.name) for container in containers))
        found = Layer({ModuleTail(name) for name in sorted(families)}, is_independent=True)
        layers: list[Layer] = self.layers  # type: ignore[assignment]
        self.layers = [found if layer.module_tails == {FAMILIES} else layer for layer in layers]  # type: ignore[assignment]
        return super().check(graph, verbose)
