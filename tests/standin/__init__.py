"""An offline stand-in of the Azure services, with the real Azure SDKs in front of it.

Only the network is replaced. The package, its CLI (as a subprocess) and the notebook (in a real kernel) run
exactly as against Azure, with :meth:`AzureStandIn.environment` in their environment: an HTTPS proxy
(:mod:`.proxy`, mitmdump) whose certificate authority they trust, and a service principal to sign in with.
The proxy sends every request to one local server (:mod:`.server`) where each Azure service the flows use
has its routes: sign-in (:mod:`.aad`), and the services of each SDK family, whose deployments run the real
inference server (:mod:`.container`) from what the SDK uploaded, in the environment the SDK sent, built as the
image build would build it (:mod:`.environments`).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import certifi

from .aad import Entra
from .container import ContainerPool, Lease
from .environment_registry import EnvironmentRegistry
from .environments import EnvironmentBuilds
from .proxy import Proxy
from .server import StandInServer
from .telemetry import Telemetry

__all__ = ["AzureStandIn", "Lease", "running_standin"]

#: The package index, reached directly (not through the proxy) by the resolver of the environments' pins.
PACKAGE_INDEX_HOSTS = ("pypi.org", "files.pythonhosted.org")


@dataclass
class AzureStandIn:
    """The proxy, the server behind it, the tenant, the environments' builds, and the containers started for
    deployments."""

    server: StandInServer
    proxy: Proxy
    workdir: Path
    builds: EnvironmentBuilds
    entra: Entra = field(default_factory=Entra)
    containers: list[Lease] = field(default_factory=list)
    pool: ContainerPool = field(default_factory=ContainerPool)
    #: Start the deployments' containers with a read-only app root (:func:`.container.read_only`) until :meth:`reset`.
    read_only_app_root: bool = False
    telemetry: Telemetry = field(default_factory=Telemetry)
    #: The workspace's environments, one registry behind both SDK families' routes (on Azure, v1 and v2 see the
    #: same environment versions): what the v1 tutorial registered, ``--target endpoint`` finds.
    environments: EnvironmentRegistry = field(default_factory=EnvironmentRegistry)

    def environment(self) -> dict[str, str]:
        """What a process needs in its environment to reach the stand-in instead of Azure."""
        ca = str(self._ca_bundle())
        direct = ",".join(("127.0.0.1", "localhost", *PACKAGE_INDEX_HOSTS))
        return {
            "HTTPS_PROXY": self.proxy.url,
            "HTTP_PROXY": self.proxy.url,
            "https_proxy": self.proxy.url,
            "http_proxy": self.proxy.url,
            # The local target and the pre-flight talk to servers on this machine directly; the resolver of the
            # cloud environments' pins (mnist_aci.versions) reads the real package index.
            "NO_PROXY": direct,
            "no_proxy": direct,
            "REQUESTS_CA_BUNDLE": ca,
            "SSL_CERT_FILE": ca,
            "CURL_CA_BUNDLE": ca,
            # azureml-core caches the workspace's discovery answer under ~/.azureml: not in the real home.
            "HOME": str(self.home),
            **self.entra.principal.environment(),
        }

    def _ca_bundle(self) -> Path:
        """The proxy's authority beside the usual public ones (the package index is reached directly)."""
        bundle = self.workdir / "ca-bundle.pem"
        if not bundle.is_file():
            bundle.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + self.proxy.ca_file.read_bytes())
        return bundle

    @property
    def home(self) -> Path:
        """The home folder of the processes that use the stand-in (the SDKs' caches go there)."""
        folder = self.workdir / "home"
        folder.mkdir(exist_ok=True)
        return folder

    def start_container(self, app_root: Path, environment: dict[str, str], entry_script: str, python: Path) -> Lease:
        """A deployment's inference server, serving ``app_root`` with ``python`` (its environment's build): an idle
        one serving the same files, build and settings if there is one; its lease ends with the deployment, or at
        :meth:`reset`."""
        lease = self.pool.lease(app_root, environment, entry_script, python, read_only_root=self.read_only_app_root)
        self.containers.append(lease)
        return lease

    def new_folder(self, prefix: str) -> Path:
        """A fresh folder under the stand-in's work folder (for a deployment's app root, an upload...)."""
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.workdir))

    def reset(self) -> None:
        """Forget calls and faults, and end the deployments' leases, between tests (routes, the tenant and the idle
        containers stay)."""
        self.server.reset()
        self.entra.issued = 0
        self.read_only_app_root = False
        self.telemetry.items = 0
        for container in self.containers:
            container.stop()
        self.containers.clear()

    def close(self) -> None:
        self.reset()
        self.pool.close()
        self.proxy.stop()
        self.server.stop()


@contextlib.contextmanager
def running_standin(workdir: Path, builds: EnvironmentBuilds) -> Iterator[AzureStandIn]:
    """Start the server and the proxy in front of it, building environments with ``builds`` (which other stand-ins
    of the test run may share); stop both, and every container, on exit."""
    server = StandInServer()
    port = server.start()
    try:
        proxy = Proxy(port, workdir / "mitmproxy")
    except BaseException:
        server.stop()
        raise
    standin = AzureStandIn(server, proxy, workdir, builds)
    standin.entra.install(server)
    standin.telemetry.install(server)
    try:
        yield standin
    finally:
        standin.close()
