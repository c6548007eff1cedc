"""The two test backends behind one face: the fake API server and the real control plane.

Feature tests marked ``backends`` take the ``cluster`` fixture and run once per selected
backend. Both faces offer what such a test may use: ``api`` (an admin-side ClusterAPI that is
not nfk8s's own client), ``namespace``, ``kubeconfig`` (the restricted user's on the real
server), ``env()``, ``kubectl()``, ``wait_for()``, ``speed``, ``pod_logs()``, ``sim_truth()``
and ``backend`` (``"fake"`` or ``"real"``). Knobs only the fake has (``requests``, ``faults``,
``rbac``, ``store``, ``clock_offset``...) belong in tests that run on the fake alone.

Selection: ``pytest --backend fake|real|both`` or ``NFK8S_TEST_BACKEND``; the default is
``both``. Without Go the real backend is skipped with one reason, except under ``CI=true``,
where it must run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from tests.fakekube import sim_truth as _sim_truth
from tests.fakekube.util import poll_until

T = TypeVar("T")
BACKENDS = ("fake", "real")
ENV_VAR = "NFK8S_TEST_BACKEND"


def selected(option: str | None) -> list[str]:
    value = (option or os.environ.get(ENV_VAR) or "both").strip().lower()
    if value == "both":
        return list(BACKENDS)
    if value not in BACKENDS:
        raise ValueError(f"unknown test backend {value!r} (fake, real or both)")
    return [value]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


class RealCluster:
    """One test's namespace on the session's real control plane."""

    backend = "real"

    def __init__(self, rk: Any, ns: Any) -> None:
        self.rk = rk
        self.ns = ns
        self.api = rk.admin
        self.namespace: str = ns.name
        self.kubeconfig: Path = ns.kubeconfig
        self.url: str = rk.url

    @property
    def speed(self) -> float:
        return float(self.rk.speed)

    @speed.setter
    def speed(self, value: float) -> None:
        self.rk.speed = value

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return self.ns.env(extra)

    def kubectl(self, *args: str, **kw: Any) -> Any:
        return self.rk.kubectl(*args, kubeconfig=self.kubeconfig, **kw)

    def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 10.0,
        interval: float = 0.05,
        message: str | None = None,
    ) -> T:
        # The real control plane is slower than the fake: scale waits, never shorten them.
        return poll_until(
            predicate,
            max(timeout * 4, 60.0),
            interval,
            message or "condition not met on the real control plane",
        )

    def pod_logs(self, namespace: str, pod: str, container: str | None = None) -> list[str]:
        query = {"container": container} if container else None
        resp = self.api.request(
            "GET", f"/api/v1/namespaces/{namespace}/pods/{pod}/log", query=query
        )
        if resp.status >= 400:
            return []
        return resp.body.decode(errors="replace").splitlines()

    def sim_truth(self, namespace: str, run_name: str) -> Any:
        return _sim_truth(namespace, run_name)
