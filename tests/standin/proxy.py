"""The HTTPS proxy in front of the stand-in: mitmdump with a certificate authority made for this test run.

The SDKs reach it through ``HTTPS_PROXY``/``HTTP_PROXY`` and trust its authority through
``REQUESTS_CA_BUNDLE`` (and ``SSL_CERT_FILE``): no package code knows it is under test. mitmdump lives in its
own venv (``make`` installs it into ``.tools/mitmproxy`` from ``requirements-mitmproxy.txt``); its
``connection_strategy=lazy`` keeps it from dialling the real hosts, which are unreachable here.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MITMDUMP = Path(os.environ.get("MNIST_ACI_MITMDUMP", ROOT / ".tools" / "mitmproxy" / "bin" / "mitmdump"))
ADDON = Path(__file__).with_name("relay_addon.py")
START_TIMEOUT_S = 60.0
LISTENING = re.compile(r"proxy listening at 127\.0\.0\.1:(\d+)")


def die_with_parent() -> None:
    """In the child, before exec: be sent SIGTERM when the process that started it dies (Linux)."""
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


class Proxy:
    """mitmdump on 127.0.0.1 (a free port it picks itself), relaying every request to ``upstream_port``."""

    def __init__(self, upstream_port: int, confdir: Path) -> None:
        if not MITMDUMP.is_file():
            raise RuntimeError(
                f"{MITMDUMP} is missing: the Azure stand-in needs mitmproxy. `make test` installs it "
                "(target .tools/mitmproxy/bin/mitmdump); or set MNIST_ACI_MITMDUMP to a mitmdump 11."
            )
        confdir.mkdir(parents=True, exist_ok=True)
        self.confdir = confdir
        self.log_path = confdir / "mitmdump.log"
        options = {"confdir": confdir, "connection_strategy": "lazy", "flow_detail": 0}
        command = [str(MITMDUMP), "--listen-host", "127.0.0.1", "--listen-port", "0", "-s", str(ADDON)]
        command += [arg for name, value in options.items() for arg in ("--set", f"{name}={value}")]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                env={**os.environ, "STANDIN_UPSTREAM": f"127.0.0.1:{upstream_port}"},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )
        self.port = self._wait_for_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        """The PEM certificate of the authority that signs the proxy's certificates for every host."""
        return self.confdir / "mitmproxy-ca-cert.pem"

    def _wait_for_port(self) -> int:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            found = LISTENING.search(self.log_path.read_text(errors="replace"))
            if found and self.ca_file.is_file():
                return int(found[1])
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mitmdump did not start: {self.log_path.read_text(errors='replace')[-2000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
