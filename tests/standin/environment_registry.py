"""The environments of a workspace, one registry that both SDK families' routes read and write.

On Azure, SDK v1 (azureml-core) and SDK v2 (azure-ai-ml) see the same environment versions of a workspace:
``tutorial-env`` version 1 registered by the v1 tutorial is the version 1 that ``ml_client.environments.get``
returns (Microsoft Learn, "Upgrade to v2", how-to-migrate-from-v1: "new v2 projects can reuse ... existing
assets like models and environments created using v1"). Each version is kept in both wire shapes, the other
one translated when it is written:

- v1, the definition the ``/environment/v1.0/.../environments/<name>/versions/<v>`` routes answer, as
  azureml-core's ``Environment._deserialize_and_add_to_object`` reads it (``azureml/core/environment.py``):
  ``python.condaDependencies`` (the conda specification as a mapping), ``docker.baseImage``...;
- v2, the ``properties`` of the ARM ``EnvironmentVersion`` resource, as azure-ai-ml's
  ``Environment._from_rest_object`` reads it (``azure/ai/ml/entities/_assets/environment.py``): ``condaFile``
  (the conda specification as YAML text, read with ``yaml.safe_load``), ``image``, ``osType``...
  (``EnvironmentVersionProperties``, ``azure/ai/ml/_restclient/arm_ml_service/models/_models.py``).

How the service maps one shape to the other is not documented; the stand-in maps the fields both name (the
conda specification, the base image, the environment variables) and leaves out what only one SDK has.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import yaml


@dataclass
class EnvironmentVersion:
    """One version, in both wire shapes, and which SDK family wrote it (``"v1"`` or ``"v2"``)."""

    name: str
    version: str
    v1: dict[str, Any]
    v2_properties: dict[str, Any]
    written_by: str
    created_at: str


@dataclass
class EnvironmentRegistry:
    """A workspace's environment versions by name and version, shared by the v1 and v2 routes."""

    _versions: dict[str, dict[str, EnvironmentVersion]] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def versions(self, name: str) -> list[EnvironmentVersion]:
        """The versions of ``name``, in the order they were written."""
        with self._lock:
            return list(self._versions.get(name, {}).values())

    def get(self, name: str, version: str) -> EnvironmentVersion | None:
        with self._lock:
            return self._versions.get(name, {}).get(version)

    def names(self) -> list[str]:
        with self._lock:
            return [name for name, versions in self._versions.items() if versions]

    def add(self, entry: EnvironmentVersion) -> None:
        with self._lock:
            self._versions.setdefault(entry.name, {})[entry.version] = entry

    def next_version(self, name: str) -> str:
        """The number the service gives a new version registered without one (v1's ``PUT`` sends none)."""
        numbers = [int(entry.version) for entry in self.versions(name) if entry.version.isdigit()]
        return str(max(numbers, default=0) + 1)

    def clear(self) -> None:
        with self._lock:
            self._versions.clear()


def v2_properties_of_v1(definition: dict[str, Any]) -> dict[str, Any]:
    """The ARM ``EnvironmentVersion`` properties of a v1 definition: its conda specification as ``condaFile``
    (none for user-managed dependencies, whose packages are the image's own) and its base image as ``image``."""
    python, docker = definition.get("python") or {}, definition.get("docker") or {}
    conda = None if python.get("userManagedDependencies") else python.get("condaDependencies")
    return {
        "description": None,
        "tags": {},
        "properties": {},
        "isAnonymous": False,
        "isArchived": False,
        "image": docker.get("baseImage"),
        "condaFile": yaml.safe_dump(conda, sort_keys=False) if conda else None,
        "osType": "Linux",
        "environmentType": "UserCreated",
        "autoRebuild": "Disabled",
        "provisioningState": "Succeeded",
        "stage": "Logged",
    }


def v1_definition_of_v2(name: str, version: str, properties: dict[str, Any]) -> dict[str, Any]:
    """The v1 definition of an ARM ``EnvironmentVersion``'s properties (the fields of azureml-core's
    ``PythonSection`` and ``DockerSection`` that the v2 shape has)."""
    conda_file = properties.get("condaFile")
    return {
        "name": name,
        "version": version,
        "python": {
            "interpreterPath": "python",
            "userManagedDependencies": not conda_file,
            "condaDependencies": yaml.safe_load(conda_file) if conda_file else None,
            "baseCondaEnvironment": None,
        },
        "environmentVariables": {},
        "docker": {"enabled": False, "baseImage": properties.get("image"), "baseDockerfile": None},
        "spark": {},
        "r": None,
        "inferencingStackVersion": None,
    }
