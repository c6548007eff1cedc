"""Helpers shared by the nfk8s feature and end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.fakekube import FakeKube
from tests.fakekube.api import StatusError

RUNNER_SA = "nfk8s-runner"
WORK_PVC = "nfk8s-work"
# What nfk8s may write in a namespace: `snapshot` compares these before and after a command.
WRITABLE = ("configmaps", "secrets", "jobs", "leases", "pods")


def provision(fk: FakeKube, namespace: str = "default") -> None:
    """What a cluster admin sets up once for nfk8s: the runner ServiceAccount and work PVC."""
    fk.api.create(
        "serviceaccounts",
        namespace,
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": RUNNER_SA}},
    )
    fk.api.create(
        "persistentvolumeclaims",
        namespace,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": WORK_PVC},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "resources": {"requests": {"storage": "10Gi"}},
            },
        },
    )


def nfk8s_binary() -> str:
    return str(Path(sys.executable).parent / "nfk8s")


def nfk8s_env(fk: FakeKube, **extra: str) -> dict[str, str]:
    """Environment for an nfk8s subprocess: the fake's kubeconfig, no user config file."""
    env = fk.env()
    for key in list(env):
        if key.startswith(("NFK8S_", "GITHUB_", "GITLAB_")) or key == "CI":
            env.pop(key)
    env["NFK8S_CONFIG"] = os.devnull
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


def run_nfk8s(
    fk: FakeKube, *args: str, timeout: float = 120, env: dict[str, str] | None = None, **kw: Any
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``nfk8s`` entry point against the fake server."""
    return subprocess.run(
        [nfk8s_binary(), *args],
        env=env or nfk8s_env(fk),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kw,
    )


def start_nfk8s(fk: FakeKube, *args: str) -> subprocess.Popen[str]:
    """Start the installed ``nfk8s`` entry point, its output piped, without waiting."""
    return subprocess.Popen(
        [nfk8s_binary(), *args],
        env=nfk8s_env(fk),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextlib.contextmanager
def compacting(fk: FakeKube, every: float) -> Iterator[None]:
    """Compact the fake's watch history every ``every`` seconds, as etcd compactions do:
    a watch resumed from an older version then gets 410 Gone."""
    done = threading.Event()

    def compact() -> None:
        while not done.wait(every):
            fk.compact_watch_history()

    compactor = threading.Thread(target=compact, daemon=True)
    compactor.start()
    try:
        yield
    finally:
        done.set()
        compactor.join()


def memory_quota(cluster: Any, memory: str, name: str = "team") -> None:
    """A ResourceQuota on requested memory, once its controller has counted the namespace
    (admission refuses nothing before that)."""
    cluster.api.create(
        "resourcequotas",
        cluster.namespace,
        {"metadata": {"name": name}, "spec": {"hard": {"requests.memory": memory}}},
    )
    cluster.wait_for(
        lambda: (
            "used"
            in (try_get(cluster.api, "resourcequotas", cluster.namespace, name) or {}).get(
                "status", {}
            )
        ),
        message="the quota controller never counted the namespace",
    )


def try_get(api: Any, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
    """``api.get``, or None when the object does not exist (the fake's and the real client's
    ClusterAPI raise the same ``StatusError``)."""
    try:
        return api.get(resource, namespace, name)
    except StatusError as exc:
        if exc.code == 404:
            return None
        raise


def snapshot(cluster: Any, resources: tuple[str, ...] = WRITABLE) -> dict[tuple[str, str], str]:
    """``{(kind, name): resourceVersion}`` of the namespace's objects of ``resources``, read as
    admin: equal snapshots before and after a command mean it wrote nothing there, on either
    backend. With a run going, leave out ``jobs`` and ``pods``: their controllers and the
    kubelet update them."""
    found: dict[tuple[str, str], str] = {}
    for resource in resources:
        for obj in cluster.api.list(resource, cluster.namespace):
            meta = obj["metadata"]
            found[(obj.get("kind") or resource, meta["name"])] = meta["resourceVersion"]
    return found


def kube_user(cluster: Any) -> str:
    """The user nfk8s runs as on ``cluster`` (its kubeconfig's): who records say did it."""
    from nfk8s.kube import Kube, KubeTarget

    return str(Kube.connect(KubeTarget(kubeconfig=str(cluster.kubeconfig))).user)
