"""What the reliability suites check after each ordeal: the cluster's own account of a run."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from nfk8s import manifests
from tests.fakekube import FakeKube, Fault
from tests.support import nfk8s_binary, nfk8s_env

NS = "default"
LOCK = "nfk8s-lock"
# The start-up grace, plus a margin: server times in the Date header have whole seconds.
PAST_GRACE = 120 + 2


def record(fk: FakeKube, run_id: str) -> dict[str, Any] | None:
    cm = fk.store.try_get("configmaps", NS, manifests.record_name(run_id))
    return None if cm is None else json.loads(cm["data"]["run.json"])


def lock_holder(fk: FakeKube, name: str = LOCK) -> str | None:
    lease = fk.store.try_get("leases", NS, name)
    return ((lease or {}).get("spec") or {}).get("holderIdentity") or None


def job_finished(fk: FakeKube, run_id: str) -> bool:
    job = fk.store.try_get("jobs", NS, manifests.job_name(run_id))
    conditions = ((job or {}).get("status") or {}).get("conditions") or []
    return any(c["type"] in {"Complete", "Failed"} and c["status"] == "True" for c in conditions)


def live_pods(fk: FakeKube, run_id: str) -> list[str]:
    """The run's driver and task pods that still run (or wait to): orphans once it ended."""
    pods = fk.api.list("pods", NS, label_selector=f"job-name={manifests.job_name(run_id)}")
    pods += fk.api.list("pods", NS, label_selector=manifests.task_selector(run_id))
    return sorted(
        p["metadata"]["name"]
        for p in pods
        if (p.get("status") or {}).get("phase") in {"Pending", "Running"}
    )


def unowned_objects(fk: FakeKube) -> list[str]:
    """Objects nfk8s wrote that nothing owns: every Job and Secret must hang off a record."""
    records = {
        cm["metadata"]["uid"]
        for cm in fk.api.list("configmaps", NS, label_selector=manifests.managed_selector())
    }
    loose = []
    for resource in ("jobs", "secrets"):
        for obj in fk.api.list(resource, NS, label_selector=manifests.managed_selector()):
            owners = {o.get("uid") for o in obj["metadata"].get("ownerReferences") or []}
            if not owners & records:
                loose.append(f"{resource}/{obj['metadata']['name']}")
    return loose


def truth(fk: FakeKube, run_id: str) -> dict[str, Any] | None:
    """What the Nextflow simulator did for the run, once its driver has exited."""
    result = fk.sim_truth(NS, run_id)
    if result is None:
        return None
    snapshot = result.snapshot()
    return snapshot if snapshot["exit_code"] is not None else None


def hold(fk: FakeKube, **match: Any) -> Fault:
    """Make the next request that matches hang until the server stops: the client stays at
    that step however long the test takes to act on it."""
    return fk.faults.add(status=503, gate=threading.Event(), count=1, **match)


def kill_at(fk: FakeKube, argv: list[str], held: Fault, *, timeout: float = 60) -> None:
    """Start ``nfk8s ARGV``, wait until it sends the held request, SIGKILL it there."""
    proc = subprocess.Popen(
        [nfk8s_binary(), *argv],
        env=nfk8s_env(fk),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        fk.wait_for(lambda: held.matched > held.skip, timeout=timeout, message=f"{argv} {held}")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    fk.faults.clear()


def wait_until(fk: FakeKube, predicate: Callable[[], Any], timeout: float = 60) -> Any:
    return fk.wait_for(predicate, timeout=timeout, interval=0.05)
