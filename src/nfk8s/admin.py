"""Use cases around finished and stuck runs: cancel, history, prune, lock admin.

They return data (and report progress through an optional callback); they never print.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from nfk8s import lock, manifests, runs
from nfk8s.errors import BadInput, ClusterError, Forbidden, Gone
from nfk8s.kube import JOBS, PODS, Kube, Resource
from nfk8s.models import RunRecord, RunStatus

# Beyond the grace period, how long to wait for a pod to go: the kubelet needs a moment to
# notice the deletion and report the container stopped.
WAIT_MARGIN_SECONDS = 30.0

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


# -- cancel ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CancelResult:
    """What ``cancel`` found and removed."""

    run_id: str
    previous_status: RunStatus  # the record's status before this cancel
    record: RunRecord  # the record afterwards
    deleted_job: str | None = None
    deleted_pods: tuple[str, ...] = ()  # driver and task pods this cancel deleted
    deleted_task_jobs: tuple[str, ...] = ()
    lock_released: bool = False
    remaining: tuple[str, ...] = ()  # ``kind/name`` still terminating when the wait ended

    @property
    def cancelled_now(self) -> bool:
        """True when this call turned an active run into a cancelled one."""
        return not self.previous_status.final and self.record.status is RunStatus.CANCELLED

    @property
    def already_finished(self) -> bool:
        """The run had ended by itself (or was cancelled before): nothing was stopped."""
        return not self.cancelled_now

    def to_json(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "previousStatus": self.previous_status.value,
            "status": self.record.status.value,
            "cancelled": self.cancelled_now,
            "deleted": {
                "job": self.deleted_job,
                "pods": list(self.deleted_pods),
                "taskJobs": list(self.deleted_task_jobs),
            },
            "lockReleased": self.lock_released,
            "remaining": list(self.remaining),
            "record": self.record.to_json(),
        }


def cancel_run(
    kube: Kube,
    run_id: str,
    *,
    lock_name: str,
    grace_period_seconds: int,
    wait_seconds: float | None = None,
    on_progress: Progress = _quiet,
) -> CancelResult:
    """Stop a run and remove everything it left running; idempotent.

    The record is marked ``cancelled`` first, through the same compare-and-swap the run's
    own completion uses, so a cancel racing the end of the run settles on one final
    status: whichever landed first. Then the driver pod is deleted with the grace period
    (deleting only the Job would let the garbage collector use the pod's own grace), the
    Job is deleted, and once the driver is gone - Nextflow deletes its tasks when it gets
    SIGTERM - whatever task pods and task Jobs remain are swept. The lock is released last,
    so the next run does not start while this one's driver is still shutting down.

    A run that had already finished keeps its status and its Job (the driver log lives in
    its pod); only task pods and task Jobs still running are swept.
    """
    if grace_period_seconds < 0:
        raise BadInput(
            f"--grace-period must be 0 or more, not {grace_period_seconds}",
            hint="pass the seconds Nextflow gets to stop its tasks, e.g. --grace-period 60",
        )
    found = runs.read_record(kube, run_id)
    if found is None:
        raise BadInput(
            f"no run {run_id!r} in namespace {kube.namespace!r}",
            hint="list runs with `nfk8s history`",
        )
    job_name = manifests.job_name(run_id)
    job = kube.get(JOBS, job_name)
    if (
        not found[0].status.final
        and job is not None
        and lock.job_finished(job)
        and not job["metadata"].get("deletionTimestamp")
    ):
        # The run ended by itself and nobody recorded it yet: that truth wins over a cancel.
        runs.reconcile_run(kube, run_id, job=job, lock_free=False)

    now = kube.server_now()
    who = kube.user or "a user"
    seen: list[RunStatus] = []
    built: list[RunRecord] = []

    def mark(rec: RunRecord) -> RunRecord:
        seen.append(rec.status)
        updated = replace(
            rec,
            status=RunStatus.CANCELLED,
            exit_code=None,
            reason=f"cancelled by {who}",
            finished_at=now,
        )
        built.append(updated)
        return updated

    record = runs.update_record(kube, run_id, mark)
    if record is None:
        raise BadInput(
            f"run {run_id!r} disappeared while cancelling it",
            hint="list runs with `nfk8s history`",
        )
    previous = seen[-1] if built and record is built[-1] else record.status
    deadline_grace = float(grace_period_seconds) + WAIT_MARGIN_SECONDS
    wait = deadline_grace if wait_seconds is None else wait_seconds

    if record.status is not RunStatus.CANCELLED:
        on_progress(f"run {run_id} already {record.status.value}; nothing to cancel")
        released = lock.release(kube, name=lock_name, run_id=run_id)
        task_jobs, task_pods = _sweep_tasks(
            kube, run_id, grace_period_seconds, only_active=True, on_progress=on_progress
        )
        remaining = _wait_gone(
            kube, PODS, manifests.task_selector(run_id), time.monotonic() + wait, task_pods
        )
        return CancelResult(
            run_id,
            previous,
            record,
            deleted_pods=tuple(task_pods),
            deleted_task_jobs=tuple(task_jobs),
            lock_released=released,
            remaining=tuple(f"pod/{name}" for name in remaining),
        )

    deleted_pods: list[str] = []
    driver_selector = f"job-name={job_name}"
    deleted_pods += _delete_pods(kube, driver_selector, grace_period_seconds, on_progress)
    deleted_job = None
    if kube.delete(JOBS, job_name, propagation_policy="Background") is not None:
        deleted_job = job_name
        on_progress(f"deleted job/{job_name}")
    # A pod the Job controller created between the list and the Job's deletion would be
    # collected with its own (longer) grace: delete it with ours.
    deleted_pods += _delete_pods(
        kube, driver_selector, grace_period_seconds, on_progress, skip=set(deleted_pods)
    )
    if deleted_pods:
        on_progress(f"waiting up to {_seconds(wait)} for the driver to stop its tasks")
    remaining = _wait_gone(kube, PODS, driver_selector, time.monotonic() + wait, list(deleted_pods))

    task_jobs, task_pods = _sweep_tasks(
        kube, run_id, grace_period_seconds, only_active=False, on_progress=on_progress
    )
    deleted_pods += [p for p in task_pods if p not in deleted_pods]
    remaining += _wait_gone(
        kube, PODS, manifests.task_selector(run_id), time.monotonic() + wait, task_pods
    )
    # Submission creates the Job right after the record: one that appeared during the
    # teardown is removed too.
    if deleted_job is None and kube.delete(JOBS, job_name, propagation_policy="Background"):
        deleted_job = job_name
        deleted_pods += _delete_pods(kube, driver_selector, grace_period_seconds, on_progress)
    released = lock.release(kube, name=lock_name, run_id=run_id)
    if released:
        on_progress(f"released lock {lock_name}")
    return CancelResult(
        run_id,
        previous,
        record,
        deleted_job=deleted_job,
        deleted_pods=tuple(deleted_pods),
        deleted_task_jobs=tuple(task_jobs),
        lock_released=released,
        remaining=tuple(f"pod/{name}" for name in sorted(set(remaining))),
    )


def _seconds(value: float) -> str:
    return f"{math.ceil(value)}s"


def _terminated(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in {"Succeeded", "Failed"}


def _delete_pods(
    kube: Kube,
    selector: str,
    grace: int,
    on_progress: Progress,
    *,
    skip: set[str] | None = None,
    only_active: bool = False,
) -> list[str]:
    deleted: list[str] = []
    for pod in kube.list(PODS, label_selector=selector).items:
        name = pod["metadata"]["name"]
        if name in (skip or set()) or (only_active and _terminated(pod)):
            continue
        if kube.delete(PODS, name, grace_period_seconds=grace) is not None:
            deleted.append(name)
            on_progress(f"deleted pod/{name} (grace {grace}s)")
    return deleted


def _sweep_tasks(
    kube: Kube, run_id: str, grace: int, *, only_active: bool, on_progress: Progress
) -> tuple[list[str], list[str]]:
    """Delete the run's task Jobs, then its task pods; returns both lists of names.

    Task Jobs go first: deleting only a Job's pods lets its controller create new ones.
    """
    selector = manifests.task_selector(run_id)
    jobs: list[str] = []
    for job in kube.list(JOBS, label_selector=selector).items:
        name = job["metadata"]["name"]
        if only_active and lock.job_finished(job):
            continue
        if kube.delete(JOBS, name, propagation_policy="Background") is not None:
            jobs.append(name)
            on_progress(f"deleted task job/{name}")
    pods = _delete_pods(kube, selector, grace, on_progress, only_active=only_active)
    return jobs, pods


def _wait_gone(
    kube: Kube, resource: Resource, selector: str, deadline: float, names: list[str]
) -> list[str]:
    """Watch until none of ``names`` is left (or the deadline passes); returns those left."""
    waiting = set(names)
    while waiting:
        page = kube.list(resource, label_selector=selector)
        waiting &= {obj["metadata"]["name"] for obj in page.items}
        left = deadline - time.monotonic()
        if not waiting or left <= 0:
            break
        try:
            for event in kube.watch(
                resource,
                resource_version=page.resource_version,
                label_selector=selector,
                timeout_seconds=max(1, math.ceil(left)),
            ):
                if event.type == "DELETED":
                    waiting.discard(event.object["metadata"]["name"])
                if not waiting or time.monotonic() >= deadline:
                    break
        except Gone:
            continue
        except Forbidden:
            raise
        except ClusterError:
            # A broken watch is no reason to fail a cancel: look again shortly.
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    return sorted(waiting)
