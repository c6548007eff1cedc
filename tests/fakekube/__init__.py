"""fakekube: a real HTTP server that behaves like kube-apiserver, for tests.

    with FakeKube(speed=20) as fk:
        subprocess.run(["kubectl", "get", "pods"], env=fk.env())

See README.md beside this file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from tests.fakekube.api import ClusterAPI, DriverKilled, SimContext, StatusError
from tests.fakekube.cluster import InProcessAPI
from tests.fakekube.controllers import Controllers
from tests.fakekube.faults import Fault, Faults
from tests.fakekube.logs import LogStore
from tests.fakekube.rbac import TOKEN, USER, Rbac
from tests.fakekube.reqlog import RequestLog, RequestRecord
from tests.fakekube.server import FakeHTTPServer, ServerState
from tests.fakekube.store import Store
from tests.fakekube.util import Clock, kubeconfig_env, poll_until

__all__ = [
    "ClusterAPI",
    "DriverKilled",
    "FakeKube",
    "Fault",
    "RequestLog",
    "RequestRecord",
    "SimContext",
    "StatusError",
    "sim_truth",
    "write_kubeconfig",
]

T = TypeVar("T")
CONTEXT = "fakekube"


def write_kubeconfig(path: Path, url: str, namespace: str = "default", token: str = TOKEN) -> Path:
    """A kubeconfig for the fake (JSON is valid YAML, so no YAML library is needed)."""
    import json

    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": url}}],
        "users": [{"name": USER, "user": {"token": token}}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": USER, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def _kubectl_binary() -> str:
    here = Path(sys.executable).parent / "kubectl"
    if here.exists():
        return str(here)
    found = shutil.which("kubectl")
    if not found:
        raise FileNotFoundError("kubectl is not installed in the virtualenv (uv sync)")
    return found


class FakeKube:
    """A running fake API server with its controllers, kubelet and test knobs."""

    backend = "fake"

    def __init__(
        self,
        *,
        speed: float = 20.0,
        kubeconfig: Path | str | None = None,
        namespace: str = "default",
        port: int = 0,
        history_size: int = 1000,
        clock_offset: float = 0.0,
        seed: int = 0,
    ) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="fakekube-"))
        self.namespace = namespace
        self.clock = Clock(clock_offset)
        self.store = Store(self.clock, history_size=history_size)
        self.logs = LogStore()
        self.state = ServerState(clock=self.clock, store=self.store, logs=self.logs)
        self.state.faults.seed(seed)
        self.api: ClusterAPI = InProcessAPI(self.store)
        self.controllers = Controllers(self.store, self.logs, self.clock, speed=speed)
        self._httpd = FakeHTTPServer(("127.0.0.1", port), self.state)
        host, bound_port = self._httpd.server_address[:2]
        self.url = f"http://{host}:{bound_port}"
        self.kubeconfig = Path(kubeconfig) if kubeconfig else self._tmp / "kubeconfig"
        write_kubeconfig(self.kubeconfig, self.url, namespace)
        self._thread: threading.Thread | None = None
        self._stopped = False
        self.start()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._thread is not None:
            return
        self.controllers.start()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="fakekube-http",
        )
        self._thread.start()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.state.stopping.set()
        self.controllers.stop()
        self.store.close_watchers()
        self.logs.close_all()
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> FakeKube:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ knobs

    @property
    def speed(self) -> float:
        return self.controllers.speed

    @speed.setter
    def speed(self, value: float) -> None:
        if value <= 0:
            raise ValueError("speed must be positive")
        self.controllers.speed = value

    @property
    def clock_offset(self) -> float:
        return self.clock.offset

    @clock_offset.setter
    def clock_offset(self, value: float) -> None:
        self.clock.offset = value

    @property
    def requests(self) -> RequestLog:
        return self.state.requests

    @property
    def rbac(self) -> Rbac:
        return self.state.rbac

    @property
    def faults(self) -> Faults:
        return self.state.faults

    def set_unauthorized(self, value: bool) -> None:
        self.state.unauthorized = value

    def compact_watch_history(self) -> None:
        self.store.compact()

    @property
    def bookmark_interval(self) -> float:
        return self.state.bookmark_interval

    @bookmark_interval.setter
    def bookmark_interval(self, value: float) -> None:
        self.state.bookmark_interval = value

    # ------------------------------------------------------------------ logs

    def _pod_uid_and_container(
        self, namespace: str, pod: str, container: str | None
    ) -> tuple[str, str]:
        obj = self.store.get("pods", namespace, pod)
        if container is None:
            container = obj["spec"]["containers"][0]["name"]
        return obj["metadata"]["uid"], container

    def pod_logs(self, namespace: str, pod: str, container: str | None = None) -> list[str]:
        uid, c = self._pod_uid_and_container(namespace, pod, container)
        buf = self.logs.get(uid, c)
        return buf.texts() if buf is not None else []

    def append_pod_log(
        self, namespace: str, pod: str, line: str, container: str | None = None
    ) -> None:
        uid, c = self._pod_uid_and_container(namespace, pod, container)
        self.logs.buffer(uid, c).append(line, int(self.clock.now() * 1e9))

    # ------------------------------------------------------------------ helpers

    def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 10.0,
        interval: float = 0.02,
        message: str | None = None,
    ) -> T:
        """Poll ``predicate`` until it returns something truthy; return that value.

        The bound is never under a minute: it only matters when the condition is never met,
        and a busy machine may take far longer than a test's own guess to meet it.
        """
        return poll_until(predicate, max(timeout, 60.0), interval, message)

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return kubeconfig_env(self.kubeconfig, extra)

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = False,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        cmd = [
            _kubectl_binary(),
            f"--kubeconfig={self.kubeconfig}",
            f"--cache-dir={self._tmp / 'kubectl-cache'}",
            *args,
        ]
        return subprocess.run(
            cmd,
            input=input,
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
            env=self.env(),
        )

    def sim_truth(self, namespace: str, run_name: str) -> Any:
        return sim_truth(namespace, run_name)


def sim_truth(namespace: str, run_name: str) -> Any:
    """What the Nextflow simulator recorded for a run, if it keeps a registry."""
    try:
        from tests.fakekube import nextflow_sim  # type: ignore[attr-defined]
    except ImportError:
        return None
    results = getattr(nextflow_sim, "RESULTS", None)
    if results is None:
        return None
    getter = getattr(results, "get", None)
    if callable(getter):
        return getter((namespace, run_name)) or getter(run_name)
    return None
