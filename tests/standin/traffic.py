"""How a managed online endpoint routes a scoring request: the deployment header, the live traffic split and
the mirror (shadow) traffic.

Microsoft Learn, "Perform safe rollout of new deployments for real-time inference" (how-to-safely-rollout-online-
endpoints), section "Test the deployment with mirrored traffic": the endpoint sends each request to one deployment
in proportion to ``traffic``; ``mirror_traffic`` copies a percentage of the live requests to a shadow deployment
whose answers never reach the client; mirroring goes to one deployment only, at most 50 %, a deployment takes
live traffic or mirrored traffic but not both, and a request that names a deployment in the
``azureml-model-deployment`` header goes to that deployment only and is not mirrored. The service's wording of a
refused mirror setting is not documented: the messages here are the stand-in's, in the 400 ``BadArgument``
envelope its other traffic refusals use.

Choices are drawn from one seeded generator (:class:`Router`), reset between tests, so a test's split is the same
on every run.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

#: The header that sends a request to one deployment, whatever the traffic rules (and keeps it from the mirror).
DEPLOYMENT_HEADER = "azureml-model-deployment"
#: The largest share of the live traffic Azure mirrors (safe-rollout limitations).
MAX_MIRROR_PERCENT = 50
SEED = 20240501


def shares(sent: dict[str, object] | None) -> dict[str, int]:
    """A traffic map as the service keeps it: whole percentages, the zero shares left out (OD[5])."""
    return {name: int(share) for name, share in (sent or {}).items() if int(share)}  # type: ignore[call-overload]  # the shares are JSON numbers


def mirror_refusal(traffic: dict[str, int], mirror: dict[str, int], deployments: Iterable[str]) -> str | None:
    """Why Azure refuses ``mirror`` beside ``traffic`` on an endpoint with ``deployments``, or None."""
    if len(mirror) > 1:
        return f"Mirror traffic can go to one deployment only; got {', '.join(sorted(mirror))}."
    unknown = sorted(set(mirror) - set(deployments))
    if unknown:
        return f"Mirror traffic names deployments that do not exist: {', '.join(unknown)}."
    for name, share in mirror.items():
        if not 0 < share <= MAX_MIRROR_PERCENT:
            return f"Mirror traffic to {name} is {share} %: at most {MAX_MIRROR_PERCENT} % of the traffic is mirrored."
        if traffic.get(name):
            return f"Deployment {name} takes live traffic; a deployment takes live or mirror traffic, not both."
    return None


@dataclass
class Router:
    """The endpoint's choices for each scoring request, from one seeded generator."""

    seed: int = SEED
    _random: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def reset(self) -> None:
        with self._lock:
            self._random.seed(self.seed)

    def live(self, traffic: dict[str, int]) -> str | None:
        """The deployment a request without the header goes to: drawn in proportion to the shares."""
        if not traffic:
            return None
        names = sorted(traffic)
        with self._lock:
            return self._random.choices(names, weights=[traffic[name] for name in names])[0]

    def shadow(self, mirror: dict[str, int]) -> str | None:
        """The deployment a copy of this live request goes to, if it is among the mirrored share."""
        with self._lock:
            for name, share in sorted(mirror.items()):
                if self._random.uniform(0, 100) < share:
                    return name
        return None


@dataclass
class MirrorCopies:
    """The copies sent to a shadow deployment: sent beside the live request (the client never waits for one), and
    recorded as (deployment, status) once answered."""

    answered: list[tuple[str, int]] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, deployment: str, relay: Callable[[], int]) -> None:
        """Run ``relay`` (the copy's request, answering its status) in its own thread."""

        def copy() -> None:
            status = relay()
            with self._lock:
                self.answered.append((deployment, status))

        thread = threading.Thread(target=copy, name=f"standin-mirror-{deployment}", daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def wait(self, timeout_s: float = 60.0) -> list[tuple[str, int]]:
        """Every copy sent so far, once all are answered."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout_s)
        with self._lock:
            return list(self.answered)

    def reset(self) -> None:
        self.wait()
        with self._lock:
            self.answered.clear()
            self._threads.clear()
