"""Helpers for the cancel/history/prune/lock/doctor tests: real runs and seeded records.

Each takes the test's ``cluster`` (the fake API server or a namespace of the real control
plane, see ``tests/backends.py``) and works in its namespace through its admin ``api``."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from nfk8s import manifests, records, runs
from nfk8s.kube import Kube, KubeTarget
from nfk8s.models import ProcessCounts, RunRecord, RunSpec, RunStatus, format_time
from nfk8s.settings import Settings, load_settings
from tests.support import try_get

LOCK = "nfk8s-lock"
JOB_TASKS_CONFIG = ("tasks-as-jobs.config", "k8s.computeResourceType = 'Job'\n")

_ids = iter(range(1, 1_000_000))
_ids_lock = threading.Lock()


def settings() -> Settings:
    return load_settings(environ={"NFK8S_CONFIG": os.devnull})


def connect(cluster: Any) -> Kube:
    """nfk8s's own client on the cluster's kubeconfig (the restricted user's on the real
    backend), as the CLI builds it."""
    return Kube.connect(KubeTarget(kubeconfig=str(cluster.kubeconfig)))


def new_id(prefix: str = "t") -> str:
    with _ids_lock:
        return f"{prefix}{next(_ids):04d}"


def submit(
    cluster: Any,
    pipeline: str = "sim/slow",
    *,
    params: dict[str, Any] | None = None,
    tasks_as_jobs: bool = False,
    run_id: str | None = None,
) -> str:
    """Submit a run the way `nfk8s run --detach` does (lock, record, Job); returns its id."""
    spec = RunSpec(
        run_id=run_id or new_id(),
        pipeline=pipeline,
        params=dict(params or {}),
        config_files=[JOB_TASKS_CONFIG] if tasks_as_jobs else [],
        submitted_by="tester",
    )
    kube = connect(cluster)
    return runs.submit(kube, spec, settings()).record.run_id


def run_pods(cluster: Any, run_id: str) -> list[str]:
    """Every pod of the run still in the API: driver pods and task pods."""
    driver = cluster.api.list(
        "pods", cluster.namespace, label_selector=f"job-name={manifests.job_name(run_id)}"
    )
    tasks = cluster.api.list(
        "pods", cluster.namespace, label_selector=manifests.task_selector(run_id)
    )
    return sorted(p["metadata"]["name"] for p in driver + tasks)


def run_jobs(cluster: Any, run_id: str) -> list[str]:
    """The driver Job and any task Jobs of the run still in the API."""
    jobs = cluster.api.list(
        "jobs", cluster.namespace, label_selector=manifests.task_selector(run_id)
    )
    names = [j["metadata"]["name"] for j in jobs]
    if try_get(cluster.api, "jobs", cluster.namespace, manifests.job_name(run_id)) is not None:
        names.append(manifests.job_name(run_id))
    return sorted(names)


def running_task_pods(cluster: Any, run_id: str, at_least: int = 1) -> list[str]:
    def ready() -> list[str] | None:
        pods = cluster.api.list(
            "pods", cluster.namespace, label_selector=manifests.task_selector(run_id)
        )
        running = [p["metadata"]["name"] for p in pods if p["status"].get("phase") == "Running"]
        return running if len(running) >= at_least else None

    return cluster.wait_for(ready, timeout=20)


def stored(cluster: Any, run_id: str) -> dict[str, Any]:
    cm = cluster.api.get("configmaps", cluster.namespace, manifests.record_name(run_id))
    return json.loads(cm["data"]["run.json"])


def stored_status(cluster: Any, run_id: str) -> str:
    return stored(cluster, run_id)["status"]


def lock_holder(cluster: Any) -> str | None:
    lease = try_get(cluster.api, "leases", cluster.namespace, LOCK)
    return ((lease or {}).get("spec") or {}).get("holderIdentity") or None


def job_finished(cluster: Any, run_id: str) -> bool:
    job = try_get(cluster.api, "jobs", cluster.namespace, manifests.job_name(run_id))
    conditions = ((job or {}).get("status") or {}).get("conditions") or []
    return any(c["type"] in {"Complete", "Failed"} and c["status"] == "True" for c in conditions)


# -- seeded history ---------------------------------------------------------------------

BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def seed_record(
    cluster: Any,
    run_id: str,
    *,
    pipeline: str = "nf-core/rnaseq",
    status: RunStatus = RunStatus.SUCCEEDED,
    submitted_at: datetime | None = None,
    duration: timedelta = timedelta(minutes=5),
    processes: dict[str, ProcessCounts] | None = None,
) -> RunRecord:
    """A record ConfigMap as nfk8s writes it, created as admin (on the fake: in-process, not
    in the request log)."""
    submitted = submitted_at or BASE_TIME
    spec = RunSpec(run_id=run_id, pipeline=pipeline, submitted_by="seed")
    record = records.new_record(spec, namespace=cluster.namespace, submitted_at=submitted)
    record.status = status
    record.started_at = submitted
    if status.final:
        record.finished_at = submitted + duration
        record.exit_code = 0 if status is RunStatus.SUCCEEDED else 1
    record.processes = processes or {"SAY": ProcessCounts(succeeded=3)}
    cm = manifests.build_record(spec, settings(), record, namespace=cluster.namespace)
    cluster.api.create("configmaps", cluster.namespace, cm)
    return record


def seed_history(cluster: Any, count: int) -> list[RunRecord]:
    """``count`` finished records over two pipelines and three statuses, a minute apart."""
    statuses = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)
    pipelines = ("nf-core/rnaseq", "nf-core/sarek")
    made = []
    for i in range(count):
        made.append(
            seed_record(
                cluster,
                f"h{i:05d}",
                pipeline=pipelines[i % 2],
                status=statuses[i % 3],
                submitted_at=BASE_TIME + timedelta(minutes=i),
            )
        )
    return made


def stamp(value: datetime) -> str:
    return format_time(value) or ""
