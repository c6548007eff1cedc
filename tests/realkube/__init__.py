"""realkube: a real Kubernetes control plane for tests, built from Go modules.

    with RealKube(speed=20) as rk:
        ns = rk.namespace_for_test()  # set up as an admin would; a restricted user's kubeconfig
        subprocess.run(["nfk8s", "doctor"], env=ns.env())

etcd, kube-apiserver, kube-controller-manager and kube-scheduler run as child processes on
127.0.0.1; a Python node agent (``tests.realkube.node``) plays the kubelet and runs the Nextflow
simulator for driver pods. See README.md beside this file.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from tests.fakekube.api import StatusError
from tests.fakekube.util import kubeconfig_env, poll_until
from tests.realkube.client import Client
from tests.realkube.pki import Pki

T = TypeVar("T")

ADMIN = "realkube-admin"
USER = "nfk8s-user"  # the restricted user nfk8s runs as
OTHER_USER = "other-user"  # bound to nothing: for denied-access tests
RUNNER_SA = "nfk8s-runner"
WORK_PVC = "nfk8s-work"
START_TIMEOUT = 60.0
SERVICE_CIDR = "10.96.0.0/16"
CONTEXT = "realkube"


class StartError(RuntimeError):
    pass


def binaries_available() -> tuple[bool, str]:
    """Whether the control plane can run here; the reason if not."""
    from tests.realkube import build

    if build.is_built():
        return True, ""
    if build.go_binary() is None:
        return False, "Go is not installed (the real control plane is built from Go modules)"
    return True, ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    # A test process killed with SIGKILL must not leave etcd or the apiserver behind.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    os.setsid()


def write_kubeconfig(
    path: Path, url: str, ca_file: Path, token: str, user: str, namespace: str
) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": CONTEXT, "cluster": {"server": url, "certificate-authority": str(ca_file)}}
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {"name": CONTEXT, "context": {"cluster": CONTEXT, "user": user, "namespace": namespace}}
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    path.chmod(0o600)
    return path


@dataclass
class Namespace:
    """One namespace of the real cluster, set up for nfk8s, and a restricted user's kubeconfig."""

    cluster: RealKube
    name: str
    kubeconfig: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return self.name

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return kubeconfig_env(self.kubeconfig, extra)

    def kubectl(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return self.cluster.kubectl(*args, kubeconfig=self.kubeconfig, **kw)


class RealKube:
    """A running control plane with one or more simulated nodes."""

    backend = "real"

    def __init__(
        self,
        *,
        speed: float = 20.0,
        kubeconfig: Path | str | None = None,
        namespace: str = "default",
        nodes: int = 1,
        bin_dir: Path | None = None,
        setup_namespace: bool = True,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self._log = log or (lambda _m: None)
        self._tmp = Path(tempfile.mkdtemp(prefix="realkube-"))
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._stopped = False
        self._ns_counter = 0
        self._ns_lock = threading.Lock()
        from tests.realkube import build

        self.speed_value = speed
        self.namespace = namespace
        self.bin_dir = bin_dir or build.bin_dir()
        self.started = time.monotonic()
        self.timings: dict[str, float] = {}
        try:
            self._start(nodes)
            self.kubeconfig = Path(kubeconfig) if kubeconfig else self._tmp / "kubeconfig"
            if setup_namespace:
                ns = self.setup_namespace(namespace, kubeconfig=self.kubeconfig)
                self.kubeconfig = ns.kubeconfig
            else:
                write_kubeconfig(
                    self.kubeconfig, self.url, self.pki.ca, self.user_token, USER, namespace
                )
        except BaseException:
            self.stop()
            raise
        self.timings["total"] = time.monotonic() - self.started

    # ------------------------------------------------------------------ start-up

    def _bin(self, name: str) -> str:
        path = self.bin_dir / name
        if not path.is_file():
            raise StartError(f"{path} is missing: run `uv run python -m tests.realkube.build`")
        return str(path)

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = (self._tmp / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 -- no threads run user code yet
            cwd=self._tmp,
        )
        log.close()
        self._procs[name] = proc
        return proc

    def component_log(self, name: str, lines: int = 30) -> str:
        path = self._tmp / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def _wait_ready(self, name: str, check: Callable[[], bool], timeout: float) -> None:
        t0 = time.monotonic()
        deadline = t0 + timeout
        proc = self._procs.get(name)
        while True:
            if proc is not None and proc.poll() is not None:
                raise StartError(
                    f"{name} exited with {proc.returncode}:\n{self.component_log(name)}"
                )
            with contextlib.suppress(Exception):
                if check():
                    self.timings[name] = time.monotonic() - t0
                    self._log(f"{name} ready in {self.timings[name]:.1f}s")
                    return
            if time.monotonic() > deadline:
                raise StartError(
                    f"{name} not ready within {timeout:.0f}s:\n{self.component_log(name)}"
                )
            time.sleep(0.1)

    def _start(self, nodes: int) -> None:
        self.pki = Pki(self._tmp / "pki")
        serving = self.pki.serving(
            "apiserver",
            dns=["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"],
            ips=["127.0.0.1", "10.96.0.1"],
        )
        sa = self.pki.service_account_keys()
        self.admin_token = secrets.token_hex(16)
        self.user_token = secrets.token_hex(16)
        self.other_token = secrets.token_hex(16)
        tokens = self._tmp / "tokens.csv"
        tokens.write_text(
            f'{self.admin_token},{ADMIN},{ADMIN},"system:masters"\n'
            f"{self.user_token},{USER},{USER}\n"
            f"{self.other_token},{OTHER_USER},{OTHER_USER}\n"
        )
        tokens.chmod(0o600)

        etcd_port, peer_port, api_port = _free_port(), _free_port(), _free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        self.etcd_url = etcd_url  # for tests that compact etcd behind the apiserver's back
        self._spawn(
            "etcd",
            [
                self._bin("etcd"),
                "--name=realkube",
                f"--data-dir={self._tmp / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=realkube=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        self.url = f"https://127.0.0.1:{api_port}"
        self._spawn(
            "kube-apiserver",
            [
                self._bin("kube-apiserver"),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--cert-dir={self._tmp / 'apiserver-certs'}",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
                f"--client-ca-file={self.pki.ca}",
                f"--token-auth-file={tokens}",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={sa.cert}",
                f"--service-account-signing-key-file={sa.key}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--endpoint-reconciler-type=none",
                "--kubelet-preferred-address-types=InternalIP",
                "--enable-admission-plugins="
                "OwnerReferencesPermissionEnforcement,PodSecurity,ResourceQuota,LimitRanger",
                "--allow-privileged=true",
                "--profiling=false",
                "--v=0",
            ],
        )
        self.admin = Client(self.url, self.admin_token, str(self.pki.ca))
        self.admin_kubeconfig = write_kubeconfig(
            self._tmp / "admin.kubeconfig",
            self.url,
            self.pki.ca,
            self.admin_token,
            ADMIN,
            "default",
        )

        def readyz() -> bool:
            return self.admin.request("GET", "/readyz").status == 200

        # etcd is judged through the apiserver: /readyz includes its health.
        self._wait_ready("kube-apiserver", readyz, START_TIMEOUT)
        self._spawn(
            "kube-controller-manager",
            [
                self._bin("kube-controller-manager"),
                f"--kubeconfig={self.admin_kubeconfig}",
                "--leader-elect=false",
                "--secure-port=0",
                "--use-service-account-credentials=false",
                f"--service-account-private-key-file={sa.key}",
                f"--root-ca-file={self.pki.ca}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--controllers="
                + ",".join(
                    [
                        "job-controller",
                        # Removes the not-ready taint that the TaintNodesByCondition admission
                        # plugin puts on every new Node once the node reports Ready.
                        "node-lifecycle-controller",
                        "garbage-collector-controller",
                        "serviceaccount-controller",
                        "serviceaccount-token-controller",
                        "namespace-controller",
                        "ttl-after-finished-controller",
                        "pod-garbage-collector-controller",
                        "clusterrole-aggregation-controller",
                        "persistentvolume-binder-controller",
                        "resourcequota-controller",
                        "root-ca-certificate-publisher-controller",
                    ]
                ),
                "--v=0",
            ],
        )
        self._spawn(
            "kube-scheduler",
            [
                self._bin("kube-scheduler"),
                f"--kubeconfig={self.admin_kubeconfig}",
                f"--authentication-kubeconfig={self.admin_kubeconfig}",
                f"--authorization-kubeconfig={self.admin_kubeconfig}",
                "--leader-elect=false",
                "--secure-port=0",
                "--v=0",
            ],
        )
        self.agent: Any = None
        if nodes:
            from tests.realkube.node import NodeAgent

            self.agent = NodeAgent(self.admin, self.pki, nodes=nodes, speed=self.speed_value)
            self.agent.start()

        def default_sa() -> bool:
            return self.admin.try_get("serviceaccounts", "default", "default") is not None

        self._wait_ready("kube-controller-manager", default_sa, START_TIMEOUT)

        if self.agent is not None:
            self._wait_ready("node-agent", self.agent.ready, START_TIMEOUT)

    # ------------------------------------------------------------------ namespaces

    def setup_namespace(
        self,
        name: str,
        *,
        kubeconfig: Path | None = None,
        runner_sa: str = RUNNER_SA,
        pvc: str | None = WORK_PVC,
        labels: Mapping[str, str] | None = None,
    ) -> Namespace:
        """Set ``name`` up as the README asks an admin to: ``nfk8s rbac``'s objects, the
        restricted user bound to the nfk8s Role, a bound RWX work volume."""
        from nfk8s.doctor import rbac_manifests

        admin = self.admin
        if admin.try_get("namespaces", "", name) is None:
            admin.create(
                "namespaces",
                "",
                {"metadata": {"name": name, "labels": dict(labels or {})}},
            )
        for obj in rbac_manifests(name, runner_service_account=runner_sa, users=[USER]):
            resource = {
                "ServiceAccount": "serviceaccounts",
                "Role": "roles",
                "RoleBinding": "rolebindings",
            }[obj["kind"]]
            with contextlib.suppress(StatusError):
                admin.create(resource, name, obj)
        if pvc:
            self.create_work_volume(name, pvc)
        path = kubeconfig or self._tmp / "namespaces" / name / "kubeconfig"
        write_kubeconfig(path, self.url, self.pki.ca, self.user_token, USER, name)
        return Namespace(self, name, path)

    def create_work_volume(self, namespace: str, claim: str = WORK_PVC) -> None:
        pv_name = f"work-{namespace}-{claim}"[:63]
        host_dir = self._tmp / "volumes" / pv_name
        host_dir.mkdir(parents=True, exist_ok=True)
        self.admin.create(
            "persistentvolumes",
            "",
            {
                "metadata": {"name": pv_name},
                "spec": {
                    "capacity": {"storage": "10Gi"},
                    "accessModes": ["ReadWriteMany"],
                    "persistentVolumeReclaimPolicy": "Delete",
                    "storageClassName": "",
                    "hostPath": {"path": str(host_dir)},
                    "claimRef": {"namespace": namespace, "name": claim},
                },
            },
        )
        self.admin.create(
            "persistentvolumeclaims",
            namespace,
            {
                "metadata": {"name": claim},
                "spec": {
                    "accessModes": ["ReadWriteMany"],
                    "storageClassName": "",
                    "volumeName": pv_name,
                    "resources": {"requests": {"storage": "10Gi"}},
                },
            },
        )
        self.wait_for(
            lambda: (
                (
                    self.admin.get("persistentvolumeclaims", namespace, claim).get("status") or {}
                ).get("phase")
                == "Bound"
            ),
            timeout=START_TIMEOUT,
            message=f"PVC {namespace}/{claim} not bound",
        )

    def namespace_for_test(self, prefix: str = "t", **kw: Any) -> Namespace:
        with self._ns_lock:
            self._ns_counter += 1
            n = self._ns_counter
        return self.setup_namespace(f"{prefix}-{n}-{secrets.token_hex(2)}", **kw)

    def delete_namespace(self, name: str) -> None:
        with contextlib.suppress(StatusError):
            self.admin.delete("namespaces", "", name)

    # ------------------------------------------------------------------ lifecycle

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        agent = getattr(self, "agent", None)
        if agent is not None:
            agent.stop()
        # Reverse start order: clients before the apiserver, the apiserver before etcd.
        for name in reversed(list(self._procs)):
            proc = self._procs[name]
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> RealKube:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ knobs & helpers

    @property
    def speed(self) -> float:
        return self.agent.speed if self.agent is not None else self.speed_value

    @speed.setter
    def speed(self, value: float) -> None:
        if value <= 0:
            raise ValueError("speed must be positive")
        self.speed_value = value
        if self.agent is not None:
            self.agent.speed = value

    def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 30.0,
        interval: float = 0.05,
        message: str | None = None,
    ) -> T:
        return poll_until(predicate, timeout, interval, message)

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return kubeconfig_env(self.kubeconfig, extra)

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = False,
        timeout: float = 60.0,
        kubeconfig: Path | None = None,
        admin: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        config = self.admin_kubeconfig if admin else (kubeconfig or self.kubeconfig)
        cmd = [
            str(self.bin_dir / "kubectl"),
            f"--kubeconfig={config}",
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


def main_banner(rk: RealKube) -> str:
    t = rk.timings
    parts = [f"{k} {v:.1f}s" for k, v in t.items()]
    return "started: " + ", ".join(parts)


__all__ = [
    "OTHER_USER",
    "RUNNER_SA",
    "USER",
    "WORK_PVC",
    "Namespace",
    "RealKube",
    "StartError",
    "binaries_available",
    "write_kubeconfig",
]


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: python -m tests.realkube --kubeconfig PATH")
