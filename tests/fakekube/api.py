"""Contracts between the fake API server's parts: the store, the kubelet and the Nextflow simulator.

The simulator plays the Nextflow driver inside a driver pod. It talks to the cluster the way
Nextflow's k8s executor does, but in-process (``ClusterAPI``), so the request log counts only
what clients sent over HTTP.

Task pods the simulator creates tell the fake kubelet how to behave through annotations
(real pods would run ``bash .command.run``; the fake kubelet reads these instead):

``fakekube.io/pending-seconds``  time spent Pending before Running (default 0.2)
``fakekube.io/run-seconds``      time spent Running (default 0.5)
``fakekube.io/exit-code``        container exit code (default 0); non-zero ends the pod Failed
``fakekube.io/reason``           terminated reason, e.g. ``OOMKilled`` (default Completed/Error)
``fakekube.io/log``              container log, lines separated by newlines (default none)

All durations are simulated seconds: the kubelet and the simulator divide them by the
server's ``speed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

ANNOTATION_PREFIX = "fakekube.io/"
PENDING_SECONDS = ANNOTATION_PREFIX + "pending-seconds"
RUN_SECONDS = ANNOTATION_PREFIX + "run-seconds"
EXIT_CODE = ANNOTATION_PREFIX + "exit-code"
REASON = ANNOTATION_PREFIX + "reason"
LOG = ANNOTATION_PREFIX + "log"


class StatusError(Exception):
    """A failure the API server reports as a ``Status`` object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason  # "" for the few errors kube sends without one
        self.message = message
        # Like Go's *StatusDetails: None is "no details", {} is "details": {} on the wire.
        self.has_details = details is not None
        self.details = dict(details or {})
        self.headers = dict(headers or {})
        self.metadata = dict(metadata or {})  # ListMeta of the Status (410: "continue")


class DriverKilled(Exception):
    """Raised inside the simulator when its pod is killed without grace (SIGKILL)."""


class ClusterAPI(Protocol):
    """In-process access to the store, with the same semantics as the HTTP API.

    ``resource`` is the plural lower-case name (``pods``, ``jobs``, ``configmaps``...).
    Every method raises ``StatusError`` exactly where the HTTP API would answer with a Status.
    """

    def create(self, resource: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]: ...

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any]: ...

    def get_status(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        """GET of the ``status`` subresource, as Nextflow's k8s client reads task state
        (``pods/status``, ``jobs/status``): RBAC sees a different resource than ``get``."""
        ...

    def list(
        self, resource: str, namespace: str, *, label_selector: str = ""
    ) -> list[dict[str, Any]]: ...

    def replace(self, resource: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]: ...

    def delete(
        self,
        resource: str,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
    ) -> dict[str, Any]: ...


class SimContext(Protocol):
    """What the kubelet hands the simulator when it starts a driver container."""

    argv: list[str]  # container command + args, as the pod spec gives them
    env: dict[str, str]
    namespace: str
    pod_name: str
    speed: float  # simulated seconds per real second
    api: ClusterAPI

    def read_file(self, path: str) -> str | None:
        """Contents of ``path`` through the pod's ConfigMap volume mounts, or None."""

    def log(self, line: str) -> None:
        """Append one line to the container log, stamped with the server clock."""

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` simulated seconds.

        Returns early once the pod is asked to terminate (``terminating`` becomes true);
        raises ``DriverKilled`` when the pod is killed without grace.
        """

    @property
    def terminating(self) -> bool:
        """True once the pod was deleted with a grace period (SIGTERM)."""
