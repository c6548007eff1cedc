"""Use cases around finished and stuck runs: cancel, history, prune, lock admin.

They return data (and report progress through an optional callback); they never print.
"""

from __future__ import annotations

import contextlib
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from nfk8s import lock, manifests, records, runs
from nfk8s.errors import (
    BadInput,
    ClusterError,
    Conflict,
    Forbidden,
    Gone,
    LockBusy,
    Nfk8sError,
)
from nfk8s.kube import CONFIGMAPS, JOBS, PODS, Kube, Resource
from nfk8s.models import RunRecord, RunStatus, format_time
from nfk8s.progress import pod_hash

# Beyond the grace period, how long to wait for a pod to go: the kubelet needs a moment to
# notice the deletion and report the container stopped.
WAIT_MARGIN_SECONDS = 30.0

Progress = Callable[[str], None]


def quiet(_: str) -> None:
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
    on_progress: Progress = quiet,
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

    marked = _mark_cancelled(kube, run_id, who=kube.user or "a user", job=job)
    if marked is None:
        raise BadInput(
            f"run {run_id!r} disappeared while cancelling it",
            hint="list runs with `nfk8s history`",
        )
    record, previous = marked
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

    # Count up to now while the driver log still exists; what still runs is what this
    # cancel kills, whether Nextflow gets to kill it (grace) or the sweep below does.
    stopped: set[str] = set()
    with contextlib.suppress(Nfk8sError):
        runs.refresh_counts(
            kube, run_id, final=False, seen=lambda tracker: stopped.update(tracker.open_tasks())
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
    # A task that started after the count above and that this sweep stopped was killed too
    # (with no grace the driver dies before it can say so); ended ones keep their state.
    stopped.update(h for h in map(pod_hash, task_pods) if h)
    remaining += _wait_gone(
        kube, PODS, manifests.task_selector(run_id), time.monotonic() + wait, task_pods
    )
    # Submission creates the Job right after the record: one that appeared during the
    # teardown is removed too.
    if deleted_job is None and kube.delete(JOBS, job_name, propagation_policy="Background"):
        deleted_job = job_name
        deleted_pods += _delete_pods(kube, driver_selector, grace_period_seconds, on_progress)
    with contextlib.suppress(Nfk8sError):
        record = runs.refresh_counts(kube, run_id, final=True, killed=stopped) or record
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


def _mark_cancelled(
    kube: Kube, run_id: str, *, who: str, job: dict[str, Any] | None
) -> tuple[RunRecord, RunStatus] | None:
    """Compare-and-swap the record to ``cancelled`` unless it is final; (record, status before).

    Each call writes its own token with the record, so two cancels writing the same content
    at once still know which of them landed, and a write whose answer was lost (then
    retried into a conflict) is recognised as this call's own.
    """
    token = uuid.uuid4().hex
    before: RunStatus | None = None
    for _ in range(lock.MAX_CAS_ATTEMPTS):
        found = runs.read_record(kube, run_id)
        if found is None:
            return None
        current, cm = found
        annotations = (cm.get("metadata") or {}).get("annotations") or {}
        if before is not None and annotations.get(manifests.CANCEL_REQUEST_ANNOTATION) == token:
            return current, before
        if current.status.final:
            return current, current.status
        updated = replace(
            current,
            status=RunStatus.CANCELLED,
            exit_code=None,
            reason=f"cancelled by {who}",
            started_at=current.started_at or runs.job_started_at(job),
            finished_at=kube.server_now(),
        )
        body = records.configmap_with(cm, updated)
        body["metadata"]["annotations"] = {
            **annotations,
            manifests.CANCEL_REQUEST_ANNOTATION: token,
        }
        before = current.status
        try:
            kube.replace(CONFIGMAPS, body)
        except Conflict:
            continue
        return updated, before
    raise Conflict(f"could not mark run {run_id} cancelled: its record kept changing", status=409)


# -- history --------------------------------------------------------------------------

HISTORY_PAGE_SIZE = 500  # kubectl's chunk size
MAX_LIST_RESTARTS = 3


@dataclass(frozen=True)
class History:
    """Records newest first, after the filters; ``reconciled`` were corrected on the way."""

    records: list[RunRecord]
    matched: int  # records the filters matched before ``limit`` cut the list
    reconciled: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "apiVersion": "nfk8s.io/v1",
            "kind": "RunList",
            "items": [record.to_json() for record in self.records],
        }


def parse_status(value: str) -> RunStatus:
    """A ``--status`` value, or a ``BadInput`` listing the ones that exist."""
    text = value.strip().lower()
    for status in RunStatus:
        if status.value == text:
            return status
    raise BadInput(
        f"unknown status {value!r}",
        hint="use one of: " + ", ".join(s.value for s in RunStatus),
    )


def history_selector(*, status: RunStatus | None = None, pipeline: str | None = None) -> str:
    """The label selector ``history`` sends, so the API server does the filtering."""
    labels = {manifests.MANAGED_BY: manifests.MANAGED_BY_VALUE}
    if status is not None:
        labels[manifests.STATUS_LABEL] = status.value
    if pipeline is not None:
        if not pipeline.strip():
            raise BadInput("--pipeline is empty", hint="pass a pipeline, e.g. nf-core/rnaseq")
        labels[manifests.PIPELINE_LABEL] = manifests.pipeline_label(pipeline.strip())
    return manifests.selector(labels)


def list_record_maps(
    kube: Kube, *, label_selector: str, page_size: int = HISTORY_PAGE_SIZE
) -> list[dict[str, Any]]:
    """Every record ConfigMap the selector matches, page by page.

    A continue token can expire between pages (410): the list then starts again, as
    kubectl does, rather than returning a list with a hole in it.
    """
    for _ in range(MAX_LIST_RESTARTS):
        items: list[dict[str, Any]] = []
        token: str | None = None
        try:
            while True:
                page = kube.list_page(
                    CONFIGMAPS, label_selector=label_selector, limit=page_size, continue_token=token
                )
                items.extend(page.items)
                token = page.continue_token
                if not token:
                    break
        except Gone:
            continue
        return [cm for cm in items if manifests.run_id_from_record_name(_name(cm))]
    raise Gone("the record list kept changing while it was read; try again", status=410)


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def history(
    kube: Kube,
    *,
    lock_name: str,
    limit: int | None = None,
    status: RunStatus | None = None,
    pipeline: str | None = None,
    page_size: int = HISTORY_PAGE_SIZE,
) -> History:
    """The run records, newest first; records that missed their run's end are corrected.

    Filters go to the API server as label selectors. A record that still says pending or
    running is checked against its Job (one list of Jobs for all of them) and settled if
    the Job has ended, so a status filter sees the corrected status.
    """
    if limit is not None and limit < 1:
        raise BadInput(f"--limit must be at least 1, not {limit}", hint="e.g. --limit 20")
    selector = history_selector(status=status, pipeline=pipeline)
    found = [
        records.record_from_configmap(cm)
        for cm in list_record_maps(kube, label_selector=selector, page_size=page_size)
    ]
    stale = [r for r in found if not r.status.final]
    reconciled: list[str] = []
    if stale:
        recounted: dict[str, RunRecord] = {}
        settled = _reconcile_many(kube, stale, lock_name=lock_name, recounted=recounted)
        reconciled = [r.run_id for r in settled.values()]
        found = [settled.get(r.run_id, recounted.get(r.run_id, r)) for r in found]
        if status is not None:
            found = [r for r in found if r.status is status]
    ordered = records.sort_newest_first(found)
    shown = ordered[:limit] if limit is not None else ordered
    return History(shown, len(ordered), tuple(reconciled))


def _reconcile_many(
    kube: Kube, stale: list[RunRecord], *, lock_name: str, recounted: dict[str, RunRecord]
) -> dict[str, RunRecord]:
    """Settle the records whose Job has ended or vanished; returns the ones that changed.

    ``recounted`` receives the running ones, their counts brought up to date.
    """
    jobs = {
        _name(job): job
        for job in kube.list(JOBS, label_selector=manifests.managed_selector()).items
    }
    holder_state: lock.LockState | None = None
    changed: dict[str, RunRecord] = {}
    for record in stale:
        job = jobs.get(manifests.job_name(record.run_id))
        running = job is not None and not lock.job_finished(job)
        active = job is not None and bool((job.get("status") or {}).get("active"))
        if running and (record.status is RunStatus.RUNNING or not active):
            # A driver that never started within its start timeout ends here.
            settled = runs.reconcile_run(kube, record.run_id, job=job, lock_name=lock_name)
            if settled is not None and settled.status.final:
                changed[record.run_id] = settled
                continue
            # Still going: its counts go on from the record's cursor (the lock lets one
            # run go at a time, so this is one short log read).
            with contextlib.suppress(Nfk8sError):
                counted = runs.refresh_counts(kube, record.run_id, final=False)
                if counted is not None:
                    recounted[record.run_id] = counted
            continue
        lock_free = True
        if job is None:
            if holder_state is None:
                holder_state = lock.inspect(kube, lock_name)
            # A run still inside its start-up grace has no Job yet: leave it alone.
            lock_free = not (
                holder_state.holder == record.run_id
                and holder_state.decision.verdict is lock.Verdict.HELD
            )
        updated = runs.reconcile_run(kube, record.run_id, job=job, lock_free=lock_free)
        if updated is not None and updated != record:
            changed[record.run_id] = updated
    return changed


# -- prune ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PruneResult:
    deleted: list[RunRecord]
    kept: int  # finished records left
    active_run_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "deleted": [r.run_id for r in self.deleted],
            "kept": self.kept,
            "activeRunId": self.active_run_id,
        }


def prune(
    kube: Kube,
    *,
    keep: int,
    lock_name: str,
    older_than: timedelta | None = None,
    dry_run: bool = False,
    on_progress: Progress = quiet,
) -> PruneResult:
    """Delete finished records beyond the newest ``keep`` (and older than ``older_than``).

    The active run (the lock's live holder) and runs that have not finished are never
    pruned.
    Deleting a record deletes its Job, driver pod and params Secret with it: they are
    owned by the record, and the garbage collector follows owner references.
    """
    if keep < 0:
        raise BadInput(f"--keep must be 0 or more, not {keep}", hint="e.g. --keep 50")
    maps = list_record_maps(kube, label_selector=manifests.managed_selector())
    found = [records.record_from_configmap(cm) for cm in maps]
    state = lock.inspect(kube, lock_name)
    # A stale holder (its Job has ended) is not active: its run may go like any other.
    active = state.holder if state.decision.verdict is lock.Verdict.HELD else None
    doomed = records.select_prunable(
        found, keep=keep, older_than=older_than, now=kube.server_now(), active_run_id=active
    )
    deleted: list[RunRecord] = []
    for record in doomed:
        if not dry_run:
            gone = kube.delete(
                CONFIGMAPS,
                manifests.record_name(record.run_id),
                propagation_policy="Background",
            )
            if gone is None:
                continue  # someone else pruned it first
            on_progress(f"deleted run {record.run_id}")
        deleted.append(record)
    finished = sum(1 for r in found if r.status.final)
    return PruneResult(deleted, finished - len(deleted), active)


def apply_retention(kube: Kube, *, history_limit: int, lock_name: str) -> PruneResult | None:
    """Keep the newest ``history_limit`` finished records; never fails the caller's run."""
    try:
        return prune(kube, keep=history_limit, lock_name=lock_name)
    except Nfk8sError:
        return None


# -- the lock -------------------------------------------------------------------------


@dataclass(frozen=True)
class LockView:
    """What ``lock show`` prints: the holder, its Job and the verdict with its reason."""

    state: lock.LockState
    job_state: str

    @property
    def name(self) -> str:
        return self.state.name

    @property
    def verdict(self) -> lock.Verdict:
        return self.state.decision.verdict

    @property
    def age(self) -> timedelta | None:
        acquired = self.state.acquired_at
        if acquired is None or self.state.holder is None:
            return None
        return max(self.state.server_now - acquired, timedelta(0))

    def to_json(self) -> dict[str, Any]:
        spec = (self.state.lease or {}).get("spec") or {}
        age = self.age
        return {
            "name": self.name,
            "exists": self.state.lease is not None,
            "holder": self.state.holder,
            "pipeline": self.state.pipeline if self.state.holder else None,
            "submittedBy": self.state.submitted_by if self.state.holder else None,
            "acquiredAt": format_time(self.state.acquired_at) if self.state.holder else None,
            "ageSeconds": int(age.total_seconds()) if age is not None else None,
            "job": manifests.job_name(self.state.holder) if self.state.holder else None,
            "jobState": self.job_state,
            "verdict": self.verdict.value,
            "reason": self.state.decision.reason,
            "transitions": int(spec.get("leaseTransitions") or 0),
        }


def job_state(job: dict[str, Any] | None) -> str:
    """``running``, ``pending``, ``succeeded``, ``failed``, ``deleting`` or ``missing``."""
    if job is None:
        return "missing"
    if (job.get("metadata") or {}).get("deletionTimestamp"):
        return "deleting"
    ended = lock.job_finished(job)
    if ended == "Complete":
        return "succeeded"
    if ended == "Failed":
        return "failed"
    return "running" if (job.get("status") or {}).get("active") else "pending"


def lock_show(kube: Kube, *, lock_name: str) -> LockView:
    state = lock.inspect(kube, lock_name)
    return LockView(state, job_state(state.job) if state.holder else "none")


@dataclass(frozen=True)
class ReleaseResult:
    view: LockView  # what was seen before releasing
    released: bool
    record: RunRecord | None = None  # the holder's record, settled after the release

    def to_json(self) -> dict[str, Any]:
        return {
            "released": self.released,
            "lock": self.view.to_json(),
            "record": self.record.to_json() if self.record else None,
        }


def lock_release(kube: Kube, *, lock_name: str, even_if_running: bool) -> ReleaseResult:
    """Clear the lock's holder by hand: refused while its Job runs unless ``even_if_running``.

    Only the holder that was shown is cleared (compare-and-swap): if another run took the
    lock in between, nothing is released. The holder's record is then settled, as a
    takeover would.
    """
    view = lock_show(kube, lock_name=lock_name)
    holder = view.state.holder
    if holder is None:
        return ReleaseResult(view, released=False)
    if view.verdict is lock.Verdict.HELD and not even_if_running:
        raise LockBusy(
            f"run {holder} holds lock {lock_name} and {view.state.decision.reason}; "
            "releasing it would let another run start beside it",
            hint=f"stop it with `nfk8s cancel {holder}`, or repeat --force to release anyway",
        )
    released = lock.release(kube, name=lock_name, run_id=holder)
    record = None
    if released:
        with contextlib.suppress(Nfk8sError):
            record = runs.reconcile_run(kube, holder, job=view.state.job, lock_free=True)
    return ReleaseResult(view, released, record)
