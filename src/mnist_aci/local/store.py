"""Step 4 of the tutorial on this machine: a local model store, so the local target needs no Azure.

``register`` copies a model file under ``<root>/<name>/<version>/`` with increasing versions,
its tags, description, versions record and SHA-256 (a file the latest version holds already, with
the same record, is not added again); ``get`` returns the latest (or a given) version. The SHA-256
is checked again before each deployment: a pickle runs code when loaded, so a file changed after
registration is refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .. import _atomic
from .._progress import STEP
from ..errors import ModelIntegrityError, ModelNotFoundError, ModelRecordError
from ..tutorial import DEFAULT_STORE, MODEL_DESCRIPTION, MODEL_FILENAME, MODEL_NAME, MODEL_TAGS
from ..versions import read_versions

RECORD_FILENAME = "model.json"
log = logging.getLogger(__name__)


def sha256_of(path: str | Path) -> str:
    """SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class LocalModel:
    """A registered model: where its file is and what was recorded with it."""

    name: str
    version: int
    path: Path
    sha256: str
    tags: dict[str, str] = field(default_factory=dict)
    description: str = ""
    properties: dict[str, str] = field(default_factory=dict)

    def verify(self) -> None:
        """Raise :class:`ModelIntegrityError` unless the file still has its registered SHA-256."""
        if not self.path.is_file():
            raise ModelIntegrityError(
                f"Model {self.name}:{self.version} lost its file {self.path}. Register the model again."
            )
        actual = sha256_of(self.path)
        if actual != self.sha256:
            raise ModelIntegrityError(
                f"Refusing to use model {self.name}:{self.version}: {self.path} changed after it was "
                f"registered (SHA-256 {actual}, registered {self.sha256}). A model file runs code when "
                "loaded; register it again only if you trust where the new file came from."
            )


class LocalModelStore:
    """Models registered under a folder, by name and version."""

    def __init__(self, root: str | Path = DEFAULT_STORE) -> None:
        self.root = Path(root)

    def versions(self, name: str = MODEL_NAME) -> list[int]:
        """The registered versions of ``name``, oldest first."""
        folder = self.root / name
        if not folder.is_dir():
            return []
        return sorted(
            int(entry.name)
            for entry in folder.iterdir()
            if entry.name.isdigit() and (entry / RECORD_FILENAME).is_file()
        )

    def register(
        self,
        model_path: str | Path,
        name: str = MODEL_NAME,
        *,
        tags: dict[str, str] | None = None,
        description: str = MODEL_DESCRIPTION,
        properties: dict[str, str] | None = None,
    ) -> LocalModel:
        """Copy ``model_path`` into the store as the next version of ``name``, unless the latest version holds the
        same file (SHA-256) with the same properties, tags and description: that version is returned instead.

        The version folder is built aside and renamed into place, so an interrupted registration
        leaves no half-registered version. ``properties`` are added to the file's versions record.
        """
        source = Path(model_path)
        if not source.is_file():
            raise ModelNotFoundError(f"Cannot register {source}: no such file. Train a model first (mnist-aci train).")
        candidate = LocalModel(
            name=name,
            version=0,  # the next one, if it is added
            path=source,
            sha256=sha256_of(source),
            tags=dict(MODEL_TAGS if tags is None else tags),
            description=description,
            properties={**(read_versions(source) or {}), **(properties or {})},
        )
        latest = self.intact_latest(name)
        if latest is not None and replace(latest, version=0, path=source) == candidate:
            log.info(
                "Model %s:%s in the store %s holds this file already, with the same properties: not registered again",
                latest.name,
                latest.version,
                self.root,
                extra=STEP,
            )
            return latest
        return self.add_version(candidate)

    def intact_latest(self, name: str) -> LocalModel | None:
        """The latest version of ``name``, if there is one, its record reads and its file still has its SHA-256."""
        try:
            latest = self.get(name)
            latest.verify()
        except (ModelNotFoundError, ModelRecordError, ModelIntegrityError):
            return None
        return latest

    def add_version(self, candidate: LocalModel) -> LocalModel:
        """Copy ``candidate``'s file in as the next version of its name, with its record (the copy's SHA-256)."""
        parent = self.root / candidate.name
        parent.mkdir(parents=True, exist_ok=True)
        taken = [int(entry.name) for entry in parent.iterdir() if entry.name.isdigit()]
        version = max(taken, default=0) + 1
        building = Path(tempfile.mkdtemp(prefix=".registering-", dir=parent))
        try:
            shutil.copyfile(candidate.path, building / MODEL_FILENAME)
            model = replace(
                candidate,
                version=version,
                path=(parent / str(version) / MODEL_FILENAME).resolve(),
                sha256=sha256_of(building / MODEL_FILENAME),
            )
            record = {key: value for key, value in asdict(model).items() if key != "path"}
            _atomic.write_json(building / RECORD_FILENAME, record)
            building.rename(parent / str(version))
        finally:
            shutil.rmtree(building, ignore_errors=True)
        return model

    def get(self, name: str = MODEL_NAME, version: int | None = None) -> LocalModel:
        """The model ``name`` at ``version`` (default: the latest)."""
        versions = self.versions(name)
        if not versions or (version is not None and version not in versions):
            raise ModelNotFoundError.unregistered(
                name,
                version,
                where=f"the local store {self.root}",
                known=f" (registered versions: {versions})" if versions else "",
                remedy="Train and register one (mnist-aci train).",
            )
        chosen = version if version is not None else versions[-1]
        folder = self.root / name / str(chosen)
        try:
            record = json.loads((folder / RECORD_FILENAME).read_text(encoding="utf-8"))
            return LocalModel(path=(folder / MODEL_FILENAME).resolve(), **record)
        except (ValueError, TypeError) as exc:
            raise ModelRecordError(
                f"The record of model {name}:{chosen} ({folder / RECORD_FILENAME}) is damaged ({exc}). "
                "Register the model again."
            ) from exc

    def find(self, name: str = MODEL_NAME, **properties: str) -> LocalModel | None:
        """The latest version of ``name`` whose properties include all of ``properties``, if any."""
        for version in reversed(self.versions(name)):
            model = self.get(name, version)
            if all(model.properties.get(key) == value for key, value in properties.items()):
                return model
        return None
