"""Use cases around a run: submit, follow, finalise, reconcile.

They return data and report progress through an ``on_event`` callback; they never print.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nfk8s import lock, manifests, models, nextflow, records, redact, startup
from nfk8s.errors import (
    BadInput,
    ClusterError,
    Conflict,
    Interrupted,
    LockBusy,
    Nfk8sError,
    NotFound,
    TimedOut,
)
from nfk8s.follow import LogStart, copy_log, follow_log, read_log, watch_resumable
from nfk8s.kube import CONFIGMAPS, EVENTS, JOBS, LEASES, PODS, SECRETS, Kube
from nfk8s.models import ProcessCounts, RunRecord, RunSpec, RunStatus
from nfk8s.nextflow import nextflow_label_value, parse_line
from nfk8s.progress import ProgressTracker, state_is_final

if TYPE_CHECKING:
    from nfk8s.settings import Settings

DRIVER_CONTAINER = "nextflow"


# -- events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LockWaiting:
    state: lock.LockState


@dataclass(frozen=True)
class LockTaken:
    run_id: str
    took_over_from: str | None


@dataclass(frozen=True)
class Submitted:
    record: RunRecord


@dataclass(frozen=True)
class Attaching:
    """``run --attach`` follows the active run instead of submitting: maybe another pipeline."""

    run_id: str
    pipeline: str | None = None  # the active run's, None when neither Lease nor record says
    requested: str | None = None  # the pipeline this ``run`` asked for

    @property
    def other_pipeline(self) -> bool:
        return self.requested is not None and self.pipeline != self.requested


@dataclass(frozen=True)
class Resuming:
    """The session a ``--resume`` run goes on from, and the newest recorded run of it.

    ``session_id`` is None when no earlier run of the pipeline is recorded: Nextflow then
    resumes the last session in its own history.
    """

    pipeline: str
    namespace: str
    session_id: str | None
    run_id: str | None


@dataclass(frozen=True)
class DriverPhase:
    run_id: str
    phase: str  # Pending, Running, Succeeded, Failed
    detail: str = ""


@dataclass(frozen=True)
class DriverWaiting:
    """Why the driver has not started yet, as the cluster tells it (changes only)."""

    run_id: str
    reason: str


@dataclass(frozen=True)
class DriverLog:
    stamp: str
    line: str


@dataclass(frozen=True)
class Finished:
    record: RunRecord


@dataclass(frozen=True)
class Following:
    """Following has begun: the record as it stood, and the API server's clock then."""

    record: RunRecord
    server_now: datetime


@dataclass(frozen=True)
class Progress:
    """Per-process task counts changed (a snapshot, in the order processes appeared)."""

    processes: dict[str, ProcessCounts]
    session_id: str | None = None


@dataclass(frozen=True)
class TaskLog:
    """One line of a task pod's log (``--tasks``)."""

    pod: str
    process: str
    tag: str | None
    stamp: str
    line: str


Event = (
    LockWaiting
    | LockTaken
    | Submitted
    | Attaching
    | Resuming
    | DriverPhase
    | DriverWaiting
    | DriverLog
    | Finished
    | Following
    | Progress
    | TaskLog
)
OnEvent = Callable[[Event], None]


def _ignore(_: Event) -> None:
    return None


# -- planning -------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Everything ``run`` writes, in order: Lease, record, (params Secret), Job."""

    lease: dict[str, Any]
    record: dict[str, Any]
    secret: dict[str, Any] | None
    job: dict[str, Any]
    run: RunRecord

    def objects(self) -> list[dict[str, Any]]:
        return [o for o in (self.lease, self.record, self.secret, self.job) if o is not None]


def plan(
    spec: RunSpec, settings: Settings, *, namespace: str, now: datetime, record_uid: str
) -> Plan:
    """The objects a submission writes; pure, so ``--dry-run`` shows exactly these."""
    run = records.new_record(spec, namespace=namespace, submitted_at=now)
    lease = manifests.build_lease(
        settings.lock_name,
        spec.run_id,
        now=now,
        duration_seconds=settings.startup_grace_seconds,
        transitions=0,
        annotations=lease_annotations(spec),
    )
    lease["metadata"]["namespace"] = namespace
    record = manifests.build_record(spec, settings, run, namespace=namespace)
    secret = manifests.build_params_secret(spec, record_uid=record_uid or None, namespace=namespace)
    job = manifests.build_job(spec, settings, record_uid=record_uid, namespace=namespace)
    return Plan(lease, record, secret, job, run)


def lease_annotations(spec: RunSpec) -> dict[str, str]:
    return {
        lock.HOLDER_PIPELINE_ANNOTATION: spec.pipeline,
        lock.HOLDER_USER_ANNOTATION: spec.submitted_by,
    }


# -- submission -----------------------------------------------------------------------


@dataclass
class SubmitResult:
    record: RunRecord
    took_over_from: str | None


def submit(
    kube: Kube,
    spec: RunSpec,
    settings: Settings,
    *,
    on_event: OnEvent = _ignore,
    wait_lock_seconds: float | None = None,
    make_run_id: Callable[[datetime], str] | None = None,
) -> SubmitResult:
    """Take the lock, write the record and the Job; release the lock if that fails half-way.

    ``make_run_id`` derives the run id from the server's clock (so ids sort in cluster
    time); without it ``spec.run_id`` is used as given.
    """
    # Bad input is found before the first write, the Lease.
    check_submittable(kube, spec, settings, named=make_run_id is None)
    deadline = None if wait_lock_seconds is None else time.monotonic() + wait_lock_seconds
    while True:
        if make_run_id is not None:
            spec = replace(spec, run_id=make_run_id(kube.server_now()))
        try:
            acquired = lock.acquire(
                kube,
                name=settings.lock_name,
                run_id=spec.run_id,
                grace_seconds=settings.startup_grace_seconds,
                annotations=lease_annotations(spec),
            )
        except LockBusy:
            if deadline is None:
                raise
            state = lock.inspect(kube, settings.lock_name)
            if state.decision.verdict is not lock.Verdict.HELD:
                continue
            on_event(LockWaiting(state))
            wait_for_lock_change(kube, state, deadline)
            continue
        break
    on_event(LockTaken(spec.run_id, acquired.took_over_from))
    if acquired.took_over_from:
        # The stale holder's record may still say running: settle it now.
        with contextlib.suppress(Nfk8sError):
            reconcile_run(kube, acquired.took_over_from, job=acquired.stale_job, lock_free=True)
    try:
        if spec.resume:
            # Under the lock: the run waited behind may be the last session to resume.
            spec, resuming = resolve_resume(kube, spec)
            on_event(resuming)
        record, job = _write_run(kube, spec, settings)
    except BaseException:
        with contextlib.suppress(Nfk8sError):
            lock.release(kube, name=settings.lock_name, run_id=spec.run_id)
        raise
    with contextlib.suppress(Nfk8sError):
        lock.note_job(kube, acquired.lease, run_id=spec.run_id, job=job)
    return SubmitResult(record, acquired.took_over_from)


def attach_target(kube: Kube, lock_name: str, requested: str) -> Attaching | None:
    """The active run ``run --attach`` follows instead of ``requested``; None if none is."""
    state = lock.inspect(kube, lock_name)
    if state.holder is None:
        return None
    pipeline = state.pipeline
    if pipeline is None:  # a Lease written before it carried the pipeline
        found = read_record(kube, state.holder)
        pipeline = found[0].pipeline if found else None
    return Attaching(state.holder, pipeline, requested)


def check_submittable(kube: Kube, spec: RunSpec, settings: Settings, *, named: bool) -> None:
    """Raise ``BadInput`` for what would fail half-way through writing the run.

    The objects are built as they will be (too large a record or Secret raises), and a
    ``--name`` already taken is refused. Another run may still take the name before this
    one writes its record: ``_write_run`` refuses that too.
    """
    plan(spec, settings, namespace=kube.namespace, now=kube.server_now(), record_uid="")
    if named and kube.get(CONFIGMAPS, manifests.record_name(spec.run_id)) is not None:
        raise name_taken(spec.run_id)


def name_taken(run_id: str) -> BadInput:
    return BadInput(
        f"run {run_id} exists; pick another --name",
        hint=f"see it with `nfk8s status {run_id}`, or leave out --name for a generated id",
    )


def resolve_resume(kube: Kube, spec: RunSpec) -> tuple[RunSpec, Resuming]:
    """The session a ``--resume`` run goes on from, named explicitly in its argv.

    Without a session id: the one of the pipeline's newest recorded run that learnt one,
    which is the last session of the pipeline's launch directory as long as every run of
    it goes through nfk8s. With none recorded, Nextflow's own last session is used.
    """
    key = nextflow.pipeline_key(spec.pipeline)
    selector = f"{manifests.PIPELINE_LABEL}={manifests.pipeline_label(spec.pipeline)}"
    earlier = [
        record
        for record, _cm in list_records(kube, label_selector=selector)
        if record.run_id != spec.run_id
        and record.session_id
        and nextflow.pipeline_key(record.pipeline) == key
    ]
    wanted = spec.resume_session
    found = next((r for r in earlier if wanted in (None, r.session_id)), None)
    session = wanted or (found.session_id if found is not None else None)
    resuming = Resuming(
        pipeline=spec.pipeline,
        namespace=kube.namespace,
        session_id=session,
        run_id=found.run_id if found is not None else None,
    )
    return replace(spec, resume_session=session), resuming


def _write_run(kube: Kube, spec: RunSpec, settings: Settings) -> tuple[RunRecord, dict[str, Any]]:
    now = kube.server_now()
    draft = plan(spec, settings, namespace=kube.namespace, now=now, record_uid="")
    run_label = manifests.RUN_ID_LABEL

    def ours(obj: dict[str, Any]) -> bool:
        return (obj.get("metadata", {}).get("labels") or {}).get(run_label) == spec.run_id

    try:
        record_cm = kube.create(CONFIGMAPS, draft.record, is_ours=ours)
    except Conflict:
        raise name_taken(spec.run_id) from None
    record_uid = record_cm["metadata"]["uid"]
    final = plan(spec, settings, namespace=kube.namespace, now=now, record_uid=record_uid)
    try:
        if final.secret is not None:
            kube.create(SECRETS, final.secret, is_ours=ours)
        job = kube.create(JOBS, final.job, is_ours=ours)
    except Conflict:
        # A Secret or Job of an earlier run of that name outlived its record: this run
        # never started, so it leaves no record behind.
        with contextlib.suppress(Nfk8sError):
            kube.delete(CONFIGMAPS, record_cm["metadata"]["name"])
        raise name_taken(spec.run_id) from None
    except Nfk8sError as exc:
        failed = replace(
            draft.run,
            status=RunStatus.FAILED,
            reason=f"submission failed: {exc.message}",
            finished_at=kube.server_now(),
        )
        with contextlib.suppress(Nfk8sError):
            kube.patch(
                CONFIGMAPS, record_cm["metadata"]["name"], records.configmap_patch_for(failed)
            )
        raise
    return replace(draft.run, job_uid=job["metadata"]["uid"]), job


def run_secret_values(kube: Kube, run_id: str) -> list[str]:
    """The values a run's record hides, read back from its Secret (none if it has none)."""
    import base64

    found = read_record(kube, run_id)
    secret = kube.get(SECRETS, manifests.secret_name(run_id))
    if found is None or secret is None:
        return []
    record, _ = found
    values: list[str] = []
    for key, encoded in (secret.get("data") or {}).items():
        try:
            text = base64.b64decode(encoded).decode("utf-8")
        except ValueError:
            continue
        if key == manifests.PARAMS_JSON:
            try:
                params = json.loads(text)
            except ValueError:
                continue
            if isinstance(params, dict):
                values += redact.hidden_values(params, record.params)
        else:
            values += redact.config_secret_values(text)
    return values


def wait_for_lock_change(kube: Kube, state: lock.LockState, deadline: float) -> None:
    """Block on a watch until the holder's Job ends or its start-up grace passes."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimedOut(
            f"gave up waiting for the lock: run {state.holder} still holds it",
            hint=f"follow it with `nfk8s logs -f {state.holder}` or wait longer with --wait-lock",
        )
    holder = state.holder or ""
    if state.job is not None:
        resource, name = JOBS, manifests.job_name(holder)
        version = state.job["metadata"]["resourceVersion"]
        # A driver that has not started makes the lock stale at its start deadline.
        limit = startup.deadline(state.job)
        # Past it and still held, the driver has started: only the Job's end matters.
        left = (limit - state.server_now).total_seconds() if limit else -1.0
        timeout = min(remaining, left + 1) if left > 0 else remaining
    else:
        resource, name = LEASES, state.name
        version = (state.lease or {}).get("metadata", {}).get("resourceVersion", "")
        grace_left = _grace_left(state)
        timeout = min(remaining, grace_left + 1)
    timeout_seconds = max(1, math.ceil(timeout)) if math.isfinite(timeout) else 300
    with contextlib.suppress(ClusterError):
        for event in kube.watch(
            resource,
            resource_version=version,
            field_selector=f"metadata.name={name}",
            timeout_seconds=min(timeout_seconds, 300),
        ):
            if event.type == "DELETED" or resource is LEASES:
                return
            if lock.job_finished(event.object):
                return


def _grace_left(state: lock.LockState) -> float:
    spec = (state.lease or {}).get("spec") or {}
    renewed = lock.parse_time(spec.get("renewTime")) or lock.parse_time(spec.get("acquireTime"))
    if renewed is None:
        return 0.0
    grace = int(spec.get("leaseDurationSeconds") or 0)
    return max(0.0, (renewed - state.server_now).total_seconds() + grace)


# -- reading records ------------------------------------------------------------------


def read_record(kube: Kube, run_id: str) -> tuple[RunRecord, dict[str, Any]] | None:
    cm = kube.get(CONFIGMAPS, manifests.record_name(run_id))
    if cm is None:
        return None
    return records.record_from_configmap(cm), cm


def update_record(
    kube: Kube,
    run_id: str,
    change: Callable[[RunRecord], RunRecord | None],
    *,
    allow_final: bool = False,
) -> RunRecord | None:
    """Compare-and-swap the record through ``change``; a final status is never overwritten.

    ``change`` returns None to leave the record as it is. Two writers racing (a cancel and
    the run's own completion) end with whichever final status landed first.
    ``allow_final`` lets ``change`` add details to a final record; it must keep the status.
    """
    for _ in range(lock.MAX_CAS_ATTEMPTS):
        found = read_record(kube, run_id)
        if found is None:
            return None
        current, cm = found
        if current.status.final and not allow_final:
            return current
        updated = change(current)
        if updated is not None and current.status.final:
            updated = replace(updated, status=current.status)
        if updated is None or updated == current:
            return current
        body = records.configmap_with(cm, updated)
        try:
            kube.replace(CONFIGMAPS, body)
        except Conflict:
            continue
        return updated
    return None


# -- outcome --------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status: RunStatus
    exit_code: int | None
    reason: str | None
    started_at: datetime | None = None
    finished_at: datetime | None = None


def outcome_of_job(job: dict[str, Any], pods: list[dict[str, Any]]) -> Outcome | None:
    """The run's outcome from its finished Job and driver pod, or None while it runs."""
    ended = lock.job_finished(job)
    if ended is None:
        return None
    status = job.get("status") or {}
    started = lock.parse_time(status.get("startTime"))
    finished = lock.parse_time(status.get("completionTime"))
    condition = next((c for c in status.get("conditions") or [] if c.get("type") == ended), {})
    finished = finished or lock.parse_time(condition.get("lastTransitionTime"))
    exit_code = driver_exit_code(pods)
    if ended == "Complete":
        return Outcome(RunStatus.SUCCEEDED, exit_code or 0, None, started, finished)
    reason = condition.get("reason") or "Failed"
    message = condition.get("message") or ""
    if reason == "DeadlineExceeded":
        timeout = (job.get("spec") or {}).get("activeDeadlineSeconds")
        text = f"timed out after {timeout}s (DeadlineExceeded)" if timeout else "timed out"
        return Outcome(RunStatus.FAILED, exit_code, text, started, finished)
    detail = f"driver exited with code {exit_code}" if exit_code is not None else message
    return Outcome(
        RunStatus.FAILED, exit_code, f"{reason}: {detail}".strip(": "), started, finished
    )


def driver_exit_code(pods: list[dict[str, Any]]) -> int | None:
    for pod in sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp", "")):
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = (cs.get("state") or {}).get("terminated")
            if cs.get("name") == DRIVER_CONTAINER and terminated:
                return int(terminated.get("exitCode", 0))
    return None


def exit_code_for(record: RunRecord) -> int:
    """The process exit status that mirrors a finished run (the README's table)."""
    if record.status is RunStatus.SUCCEEDED:
        return 0
    if record.status is RunStatus.CANCELLED:
        return 5
    if record.reason and record.reason.startswith("timed out"):
        return 4
    if record.reason and record.reason.startswith(startup.REASON_PREFIX):
        return 7
    return 1


def job_started_at(job: dict[str, Any] | None) -> datetime | None:
    """When the run's Job started (its driver pod was created), else when it was made."""
    if job is None:
        return None
    return lock.parse_time((job.get("status") or {}).get("startTime")) or lock.parse_time(
        (job.get("metadata") or {}).get("creationTimestamp")
    )


def apply_outcome(record: RunRecord, outcome: Outcome, now: datetime) -> RunRecord:
    return replace(
        record,
        status=outcome.status,
        exit_code=outcome.exit_code,
        reason=outcome.reason,
        started_at=record.started_at or outcome.started_at,
        finished_at=outcome.finished_at or now,
    )


def reconcile_run(
    kube: Kube,
    run_id: str,
    *,
    job: dict[str, Any] | None = None,
    lock_free: bool = False,
    details: Callable[[RunRecord], RunRecord] | None = None,
    count: bool = True,
    lock_name: str | None = None,
) -> RunRecord | None:
    """Make a record that is not final tell the truth about its Job (lazy reconciliation).

    A Job whose driver has not started within the run's start timeout, or cannot start at
    all, is deleted and the run recorded failed (releasing ``lock_name`` if it holds it).

    ``details`` adds what a follower learnt (session id) to the final write; ``count``
    settles the task counts from the cluster once the record is final (a follower that
    counted them itself says False).
    """
    add = details or (lambda rec: rec)
    found = read_record(kube, run_id)
    if found is None or found[0].status.final:
        return found[0] if found else None
    job = job if job is not None else kube.get(JOBS, manifests.job_name(run_id))
    now = kube.server_now()
    if job is None:
        if not lock_free:
            return found[0]

        def vanished(rec: RunRecord) -> RunRecord:
            if rec.job_uid is None and rec.status is RunStatus.PENDING:
                return replace(
                    rec,
                    status=RunStatus.FAILED,
                    reason="submission was interrupted before the Job was created",
                    finished_at=now,
                )
            return replace(
                rec,
                status=RunStatus.UNKNOWN,
                reason="the Job vanished before its end was seen",
                finished_at=now,
            )

        record = update_record(kube, run_id, lambda rec: add(vanished(rec)))
        if count and record is not None and record.status.final:
            record = refresh_counts(kube, run_id, final=True) or record
        return record
    pods = kube.list(PODS, label_selector=f"job-name={manifests.job_name(run_id)}").items
    outcome = outcome_of_job(job, pods)
    job_uid = job["metadata"]["uid"]
    if outcome is None and not startup.driver_started(pods):
        stuck = startup.give_up(job, pods, now, events=start_events(kube, job, pods))
        if stuck is not None:
            return fail_unstarted(
                kube, run_id, job=job, stuck=stuck, lock_name=lock_name, details=add
            )
    elif outcome is not None and outcome.status is RunStatus.FAILED:
        outcome = _unstarted_outcome(kube, job, pods, outcome)
    if outcome is None:
        started = job_started_at(job)

        def running(rec: RunRecord) -> RunRecord | None:
            fresh = replace(
                rec,
                status=RunStatus.RUNNING,
                job_uid=job_uid,
                started_at=rec.started_at or started,
            )
            return None if fresh == rec else fresh

        if (job.get("status") or {}).get("active"):
            return update_record(kube, run_id, running)
        return found[0]
    record = update_record(
        kube, run_id, lambda rec: add(replace(apply_outcome(rec, outcome, now), job_uid=job_uid))
    )
    if count and record is not None and record.status.final:
        record = refresh_counts(kube, run_id, final=True, driver=driver_of(pods)) or record
    return record


# -- a driver that does not start -----------------------------------------------------


def start_events(
    kube: Kube, job: dict[str, Any], pods: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The events of the Job and its pods: why a driver waits, when the objects do not say."""
    found: list[dict[str, Any]] = []
    names = [job["metadata"]["name"]] + [p["metadata"]["name"] for p in pods]
    for name in names:
        with contextlib.suppress(Nfk8sError):
            found += kube.list(EVENTS, field_selector=f"involvedObject.name={name}").items
    return found


def _with_init_log(kube: Kube, pods: list[dict[str, Any]], stuck: startup.Stuck) -> startup.Stuck:
    if stuck.container is None or not pods:
        return stuck
    newest = max(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""))
    lines: list[str] = []
    with contextlib.suppress(Nfk8sError):
        lines = [
            line
            for _stamp, line in read_log(
                kube,
                newest["metadata"]["name"],
                container=stuck.container,
                start=LogStart(tail_lines=startup.INIT_LOG_LINES),
            )
        ]
    return startup.with_log(stuck, lines)


def _unstarted_outcome(
    kube: Kube, job: dict[str, Any], pods: list[dict[str, Any]], outcome: Outcome
) -> Outcome:
    """A Job that failed before its driver ran (a failed init container): say so."""
    if startup.driver_started(pods) or (outcome.reason or "").startswith("timed out"):
        return outcome
    stuck = startup.judge(job, pods)
    if stuck is None:
        return outcome
    reason = _with_init_log(kube, pods, stuck).record_reason()
    return replace(outcome, reason=reason, exit_code=None)


def fail_unstarted(
    kube: Kube,
    run_id: str,
    *,
    job: dict[str, Any],
    stuck: startup.Stuck,
    lock_name: str | None = None,
    details: Callable[[RunRecord], RunRecord] | None = None,
) -> RunRecord | None:
    """Delete the Job of a driver that will not start and record the run failed, once.

    The uid precondition spares a newer Job of the same name; the record write is a
    compare-and-swap that leaves a status someone else made final alone.
    """
    add = details or (lambda rec: rec)
    name, uid = job["metadata"]["name"], job["metadata"]["uid"]
    pods = kube.list(PODS, label_selector=f"job-name={name}").items
    reason = _with_init_log(kube, pods, stuck).record_reason()
    with contextlib.suppress(NotFound, Conflict):
        kube.delete(JOBS, name, propagation_policy="Background", uid=uid)
    now = kube.server_now()

    def failed(rec: RunRecord) -> RunRecord:
        return add(
            replace(
                rec,
                status=RunStatus.FAILED,
                exit_code=None,
                reason=reason,
                job_uid=uid,
                finished_at=now,
            )
        )

    record = update_record(kube, run_id, failed)
    if lock_name is not None:
        with contextlib.suppress(Nfk8sError):
            lock.release(kube, name=lock_name, run_id=run_id)
    return record


# -- following ------------------------------------------------------------------------

DRAIN_SECONDS = 30.0


@dataclass
class _FollowState:
    job: dict[str, Any] | None = None
    job_gone: bool = False
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)
    streaming: set[str] = field(default_factory=set)  # pods whose log stream has begun
    drained: set[str] = field(default_factory=set)  # pods whose log stream has ended
    changed: threading.Condition = field(default_factory=threading.Condition)
    tracker: ProgressTracker = field(default_factory=ProgressTracker)
    tracker_lock: threading.Lock = field(default_factory=threading.Lock)
    last_progress: dict[str, ProcessCounts] | None = None
    last_written: dict[str, ProcessCounts] | None = None  # counts last put in the record
    # A Job can be seen ending before its pods are listed: wait for the listings too.
    driver_listed: bool = False
    tasks_listed: bool = False
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # the Job's and its pods'

    def ended(self) -> bool:
        return self.job_gone or (self.job is not None and lock.job_finished(self.job) is not None)

    def undrained(self) -> set[str]:
        started = {name for name, pod in self.pods.items() if _pod_started(pod)}
        return (started | self.streaming) - self.drained

    def settled(self) -> bool:
        """Both pod watches have listed, and every log stream begun has ended."""
        return self.driver_listed and self.tasks_listed and not self.undrained()


def _pod_started(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in {"Running", "Succeeded", "Failed"}


def follow_run(
    kube: Kube,
    run_id: str,
    *,
    lock_name: str,
    on_event: OnEvent = _ignore,
    stop: threading.Event | None = None,
    show_log: bool = True,
    log_start: LogStart | None = None,
    tasks: bool = False,
    process: str | None = None,
) -> RunRecord:
    """Stream the driver log and the task counts until the Job ends, settle the record.

    Setting ``stop`` detaches (the run keeps going) and raises ``Interrupted``.
    ``log_start`` begins the driver log at ``--tail``/``--since``; ``tasks`` streams the
    task pods' logs too (only those of ``process`` when given). Everything comes from
    watches and follow streams: nothing polls.
    """
    stop = stop or threading.Event()
    state = _FollowState()
    job_name = manifests.job_name(run_id)
    found = read_record(kube, run_id)
    if found is not None:
        on_event(Following(found[0], kube.server_now()))
    for target, args in (
        (_watch_job, (kube, job_name, state, stop)),
        (_watch_driver, (kube, run_id, job_name, state, stop, on_event, show_log, log_start)),
        (_watch_tasks, (kube, run_id, state, stop, on_event, tasks, process)),
        (_watch_events, (kube, job_name, state, stop)),
    ):
        threading.Thread(target=target, args=args, daemon=True).start()
    # Counts from a log read only in part (--tail, --since) would be wrong in the record.
    complete = show_log and log_start is None
    written = time.monotonic()
    starting = _StartWatch(run_id, kube.server_now())
    while True:
        with state.changed:
            if stop.is_set() or state.ended():
                break
            state.changed.wait(0.5)
            job, pods, events = state.job, list(state.pods.values()), list(state.events.values())
        stuck = starting.judge(job, pods, events, on_event)
        if stuck is not None and job is not None:
            stop.set()
            record = fail_unstarted(
                kube, run_id, job=job, stuck=stuck, lock_name=lock_name
            ) or finish_run(kube, run_id, lock_name=lock_name, job=None)
            on_event(Finished(record))
            return record
        if complete and time.monotonic() - written >= COUNT_WRITE_SECONDS:
            written = time.monotonic()
            _write_counts(kube, run_id, state)
    with state.changed:
        # The log streams end by themselves once their containers have terminated.
        drain_until = time.monotonic() + DRAIN_SECONDS
        while not stop.is_set() and not state.settled() and time.monotonic() < drain_until:
            state.changed.wait(0.2)
    if stop.is_set():
        if complete:
            _write_counts(kube, run_id, state)
        raise_interrupted(run_id)
    stop.set()
    counted = _final_counts(kube, run_id, state)
    if counted.processes != state.last_progress:
        on_event(Progress(counted.processes, counted.session_id))
    record = finish_run(
        kube,
        run_id,
        lock_name=lock_name,
        job=None if state.job_gone else state.job,
        counted=counted if complete else None,
        session_id=counted.session_id,
    )
    on_event(Finished(record))
    return record


COUNT_WRITE_SECONDS = 10.0  # a follower writes its counts to the record at most this often


@dataclass(frozen=True)
class Counted:
    """What a follower counted: the table, and the state a later look goes on from."""

    processes: dict[str, ProcessCounts]
    progress: dict[str, Any]
    session_id: str | None


def _write_counts(kube: Kube, run_id: str, state: _FollowState) -> None:
    """Keep the record's counts current while following (compare-and-swap, best effort)."""
    with state.tracker_lock:
        processes = state.tracker.snapshot()
        progress = state.tracker.to_state()
        session_id = state.tracker.session_id
    if processes == state.last_written:
        return

    def change(rec: RunRecord) -> RunRecord | None:
        if state_is_final(rec.progress):
            return None
        return replace(
            rec, processes=processes, progress=progress, session_id=rec.session_id or session_id
        )

    with contextlib.suppress(Nfk8sError):
        update_record(kube, run_id, change)
        state.last_written = processes


def _final_counts(kube: Kube, run_id: str, state: _FollowState) -> Counted:
    """The counts once the run has ended, from a listing taken after its end.

    The task watch may lag behind the driver's end (a slow reconnect, a re-list after a
    410): without this listing a pod whose last events had not arrived would stay
    ``running`` in a finished run's record.
    """
    listing: list[dict[str, Any]] | None = None
    with contextlib.suppress(Nfk8sError):
        listing = kube.list(PODS, label_selector=manifests.task_selector(run_id)).items
    listed_at = _listing_stamp(kube) if listing is not None else None
    found = None
    with contextlib.suppress(Nfk8sError):
        found = read_record(kube, run_id)
    # A cancel marks the record first: tasks still running when it stopped the driver
    # are killed, even if the sweep that removes them comes after this follower is done.
    cancelled = found is not None and found[0].status is RunStatus.CANCELLED
    with state.tracker_lock:
        tracker = state.tracker
        if listing is not None:
            tracker.apply_listing(listing, listed_at)
        if cancelled:
            tracker.mark_killed(tracker.open_tasks())
        tracker.close()
        return Counted(
            tracker.snapshot(final=True), tracker.to_state(final=True), tracker.session_id
        )


def raise_interrupted(run_id: str) -> None:
    raise Interrupted(
        f"stopped following run {run_id}; it keeps running",
        hint=f"re-attach with `nfk8s logs -f {run_id}`, stop it with `nfk8s cancel {run_id}`",
    )


def finish_run(
    kube: Kube,
    run_id: str,
    *,
    lock_name: str,
    job: dict[str, Any] | None,
    counted: Counted | None = None,
    session_id: str | None = None,
) -> RunRecord:
    """Settle the record of an ended run and release the lock if it is still ours.

    ``counted`` and ``session_id`` (what a follower counted) go into the same
    compare-and-swap write as the outcome; a record someone else already finalised (a
    cancel) still gets them, in a write that leaves its status alone - unless its counts
    are already final. Without ``counted`` the counts are settled from the cluster.
    """
    if job is not None:
        job = kube.get(JOBS, manifests.job_name(run_id)) or job

    def details(rec: RunRecord) -> RunRecord:
        rec = replace(rec, session_id=rec.session_id or session_id)
        if counted is None or state_is_final(rec.progress):
            return rec
        return replace(rec, processes=counted.processes, progress=counted.progress)

    record = reconcile_run(
        kube,
        run_id,
        job=job,
        lock_free=True,
        details=details,
        count=counted is None,
        lock_name=lock_name,
    )
    if record is not None and details(record) != record:
        record = update_record(kube, run_id, details, allow_final=True) or record
    elif record is not None and counted is None and not state_is_final(record.progress):
        record = refresh_counts(kube, run_id, final=True) or record
    with contextlib.suppress(Nfk8sError):
        lock.release(kube, name=lock_name, run_id=run_id)
    if record is None:
        record = RunRecord(
            run_id=run_id,
            pipeline="?",
            namespace=kube.namespace,
            status=RunStatus.UNKNOWN,
            reason="the run record is missing",
            submitted_at=kube.server_now(),
        )
    return record


class _StartWatch:
    """Tells the follower why the driver waits, and when to stop waiting for it.

    The deadline is the run's start timeout after the Job's creation, on the API
    server's clock: the local clock only measures the time since that clock was read.
    """

    def __init__(self, run_id: str, server_now: datetime) -> None:
        self.run_id = run_id
        self.offset = server_now.timestamp() - time.time()
        self.shown: str | None = None
        self.started = False

    def judge(
        self,
        job: dict[str, Any] | None,
        pods: list[dict[str, Any]],
        events: list[dict[str, Any]],
        on_event: OnEvent,
    ) -> startup.Stuck | None:
        if self.started or job is None or lock.job_finished(job):
            return None
        if startup.driver_started(pods):
            self.started = True
            return None
        stuck = startup.judge(job, pods, events)
        text = stuck.text if stuck is not None else None
        if text is not None and text != self.shown:
            self.shown = text
            on_event(DriverWaiting(self.run_id, text))
        now = datetime.fromtimestamp(time.time() + self.offset, tz=UTC)
        return startup.give_up(job, pods, now, events=events)


def _watch_events(kube: Kube, job_name: str, state: _FollowState, stop: threading.Event) -> None:
    """Keep the events of the Job and its pods (whose names begin with the Job's)."""

    def ours(event: dict[str, Any]) -> bool:
        name = str((event.get("involvedObject") or {}).get("name") or "")
        return name == job_name or name.startswith(job_name + "-")

    def keep(event: dict[str, Any], deleted: bool = False) -> None:
        uid = str((event.get("metadata") or {}).get("uid") or id(event))
        with state.changed:
            if deleted:
                state.events.pop(uid, None)
            elif ours(event):
                state.events[uid] = event
            state.changed.notify_all()

    def on_list(items: list[dict[str, Any]]) -> None:
        for event in items:
            keep(event)

    # Field selectors cannot match a name prefix: the driver pod's name is known only later.
    with contextlib.suppress(Nfk8sError):
        for event in watch_resumable(kube, EVENTS, stop=stop, on_list=on_list):
            keep(event.object, deleted=event.type == "DELETED")
            if stop.is_set():
                return


def _watch_job(kube: Kube, job_name: str, state: _FollowState, stop: threading.Event) -> None:
    def on_list(items: list[dict[str, Any]]) -> None:
        with state.changed:
            state.job = items[0] if items else None
            state.job_gone = not items
            state.changed.notify_all()

    try:
        for event in watch_resumable(
            kube, JOBS, field_selector=f"metadata.name={job_name}", stop=stop, on_list=on_list
        ):
            with state.changed:
                if event.type == "DELETED":
                    state.job_gone = True
                else:
                    state.job = event.object
                state.changed.notify_all()
                if state.ended():
                    return
    except Nfk8sError:
        with state.changed:
            state.job_gone = state.job is None
            state.changed.notify_all()


def _emit_progress(state: _FollowState, on_event: OnEvent) -> None:
    with state.tracker_lock:
        processes = state.tracker.snapshot()
        session_id = state.tracker.session_id
        if processes == state.last_progress:
            return
        state.last_progress = processes
    on_event(Progress(processes, session_id))


def _watch_driver(
    kube: Kube,
    run_id: str,
    job_name: str,
    state: _FollowState,
    stop: threading.Event,
    on_event: OnEvent,
    show_log: bool,
    log_start: LogStart | None,
) -> None:
    """Watch the Job's pods; stream each driver container's log once it has started."""
    phases: dict[str, str] = {}

    def seen(pod: dict[str, Any], deleted: bool = False) -> None:
        name = pod["metadata"]["name"]
        with state.changed:
            state.pods[name] = pod
            if deleted and name not in state.streaming:
                # A stream already begun ends by itself, after the pod's last lines.
                state.drained.add(name)
            start = _pod_started(pod) and name not in state.streaming and not deleted
            if start:
                state.streaming.add(name)
            state.changed.notify_all()
        phase = (pod.get("status") or {}).get("phase") or "Pending"
        if phases.get(name) != phase:
            phases[name] = phase
            on_event(DriverPhase(run_id, phase, name))
        if start:
            threading.Thread(target=stream, args=(name,), daemon=True).start()

    def still_running(name: str) -> bool:
        live = kube.get(PODS, name)
        if live is None:
            return False
        with state.changed:
            state.pods[name] = live
        return (live.get("status") or {}).get("phase") in {"Pending", "Running"}

    def stream(name: str) -> None:
        tracker, tracker_lock = state.tracker, state.tracker_lock
        try:
            if show_log:
                for stamp, line in follow_log(
                    kube,
                    name,
                    container=DRIVER_CONTAINER,
                    still_running=lambda: still_running(name),
                    stop=stop,
                    start=log_start,
                ):
                    on_event(DriverLog(stamp, line))
                    parsed = parse_line(line)
                    with tracker_lock:
                        changed = parsed is not None and tracker.apply_log_event(parsed, stamp)
                        tracker.note_line(stamp)
                    if changed:
                        _emit_progress(state, on_event)
        except Nfk8sError:
            pass
        finally:
            with state.changed:
                state.drained.add(name)
                state.changed.notify_all()

    def on_list(items: list[dict[str, Any]]) -> None:
        for pod in items:
            seen(pod)
        with state.changed:
            state.driver_listed = True
            state.changed.notify_all()

    try:
        for event in watch_resumable(
            kube, PODS, label_selector=f"job-name={job_name}", stop=stop, on_list=on_list
        ):
            seen(event.object, deleted=event.type == "DELETED")
            if stop.is_set():
                return
    except Nfk8sError:
        with state.changed:  # nothing more will come from here: do not wait for it
            state.driver_listed = True
            state.changed.notify_all()


def _watch_tasks(
    kube: Kube,
    run_id: str,
    state: _FollowState,
    stop: threading.Event,
    on_event: OnEvent,
    tasks: bool,
    process: str | None,
) -> None:
    """Count the run's task pods per process; with ``tasks``, stream their logs too."""
    streaming: set[str] = set()

    def name_of(pod: dict[str, Any]) -> tuple[str, str]:
        """(Nextflow's process name, the pod's label): the log may name it only later."""
        label = (pod["metadata"].get("labels") or {}).get(manifests.NF_PROCESS_LABEL, "")
        with state.tracker_lock:
            return state.tracker.process_for(pod["metadata"]["name"], label), label

    def stream(pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        labels = pod["metadata"].get("labels") or {}
        label = labels.get(manifests.NF_PROCESS_LABEL, "")
        tag = _task_tag(labels.get(manifests.NF_TASK_LABEL), label)
        key = f"task:{name}"

        def still_running() -> bool:
            live = kube.get(PODS, name)
            return live is not None and (live.get("status") or {}).get("phase") in {
                "Pending",
                "Running",
            }

        try:
            for stamp, line in follow_log(kube, name, still_running=still_running, stop=stop):
                on_event(TaskLog(name, name_of(pod)[0], tag, stamp, line))
        except Nfk8sError:
            pass  # deleted (cleaned up) before its log could be read
        finally:
            with state.changed:
                state.drained.add(key)
                state.changed.notify_all()

    def maybe_stream(pod: dict[str, Any], deleted: bool = False) -> None:
        name = pod["metadata"]["name"]
        if not tasks or deleted or name in streaming or not _pod_started(pod):
            return
        if process and not process_matches(process, *name_of(pod)):
            return
        streaming.add(name)
        with state.changed:
            state.streaming.add(f"task:{name}")
        threading.Thread(target=stream, args=(pod,), daemon=True).start()

    def on_list(items: list[dict[str, Any]]) -> None:
        listed_at = models.format_micro_time(kube.server_now())
        # Log stamps have nanoseconds; compare like with like.
        listed_at = listed_at[:-1] + "000Z"
        with state.tracker_lock:
            state.tracker.apply_listing(items, listed_at)
        for pod in items:
            maybe_stream(pod)
        with state.changed:
            state.tasks_listed = True
            state.changed.notify_all()
        _emit_progress(state, on_event)

    try:
        events = watch_resumable(
            kube, PODS, label_selector=manifests.task_selector(run_id), stop=stop, on_list=on_list
        )
        for event in events:
            with state.tracker_lock:
                changed = state.tracker.apply_pod_event(event.type, event.object)
            maybe_stream(event.object, deleted=event.type == "DELETED")
            if changed:
                _emit_progress(state, on_event)
            if stop.is_set():
                return
    except Nfk8sError:
        with state.changed:
            state.tasks_listed = True
            state.changed.notify_all()


def process_matches(wanted: str, name: str, label: str = "") -> bool:
    """``--process``: Nextflow's full name, or its last part (``ALIGN`` for ``A:B:ALIGN``).

    ``label`` (the pod's sanitised ``nextflow.io/processName``) stands in for a pod the
    driver log has not named yet.
    """
    if name == wanted or name.endswith(":" + wanted):
        return True
    if name != label or not label:
        return False
    wanted_label = nextflow_label_value(wanted)
    return label == wanted_label or label.endswith("_" + wanted_label)


def _task_tag(task_name: str | None, process_label: str) -> str | None:
    """The tag part of ``nextflow.io/taskName`` (``FASTQC_SAMPLE1_`` -> ``SAMPLE1``)."""
    if not task_name:
        return None
    rest = task_name[len(process_label) :] if task_name.startswith(process_label) else task_name
    return rest.strip("_") or None


# -- status ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusView:
    """What ``nfk8s status`` shows: the record, its Job, its driver pod and the task counts."""

    record: RunRecord
    job_state: str  # active, complete, failed, gone, not created
    driver_pod: str | None
    driver_phase: str | None
    processes: dict[str, ProcessCounts]
    active: bool
    now: datetime | None = None  # the API server's clock when looked at
    waiting: str | None = None  # why the driver has not started yet, while it has not

    def to_json(self) -> dict[str, Any]:
        data = self.record.to_json()
        data["job"] = {**data.get("job", {}), "state": self.job_state}
        data["driver"] = {
            "pod": self.driver_pod,
            "phase": self.driver_phase,
            "waiting": self.waiting,
        }
        data["processes"] = {name: c.to_json() for name, c in self.processes.items()}
        totals = ProcessCounts()
        for counts in self.processes.values():
            totals = totals + counts
        data["totals"] = totals.to_json()
        return data


def run_status(kube: Kube, run_id: str, *, lock_name: str | None = None) -> StatusView:
    """The run as it is now; a record that missed its end is settled on the way (lazily)."""
    from nfk8s.errors import BadInput

    job = kube.get(JOBS, manifests.job_name(run_id))
    record = reconcile_run(kube, run_id, job=job, lock_name=lock_name)
    if record is not None and record.status.final and job is not None:
        job = kube.get(JOBS, manifests.job_name(run_id))
    if record is None:
        raise BadInput(f"no run {run_id!r} in namespace {kube.namespace!r}")
    pods = (
        kube.list(PODS, label_selector=f"job-name={manifests.job_name(run_id)}").items
        if job is not None
        else []
    )
    driver = driver_of(pods)
    if not state_is_final(record.progress):
        # Running, or ended with its counts not yet settled: go on from the record's cursor.
        with contextlib.suppress(Nfk8sError):
            record = (
                refresh_counts(kube, run_id, final=record.status.final, driver=driver) or record
            )
    return StatusView(
        record=record,
        job_state=_job_state(job, record),
        driver_pod=driver["metadata"]["name"] if driver else None,
        driver_phase=((driver.get("status") or {}).get("phase") if driver else None),
        processes=record.processes,
        active=not record.status.final,
        now=kube.server_now(),
        waiting=_waiting_reason(kube, job, pods) if not record.status.final else None,
    )


def _waiting_reason(
    kube: Kube, job: dict[str, Any] | None, pods: list[dict[str, Any]]
) -> str | None:
    if job is None or lock.job_finished(job) or startup.driver_started(pods):
        return None
    stuck = startup.judge(job, pods, start_events(kube, job, pods))
    return stuck.text if stuck is not None else None


def _job_state(job: dict[str, Any] | None, record: RunRecord) -> str:
    if job is None:
        return "not created" if record.job_uid is None and not record.status.final else "gone"
    ended = lock.job_finished(job)
    if ended == "Complete":
        return "complete"
    if ended is not None:
        condition = next(
            (c for c in (job.get("status") or {}).get("conditions") or [] if c["type"] == ended),
            {},
        )
        reason = condition.get("reason")
        return f"failed ({reason})" if reason else "failed"
    return "active" if (job.get("status") or {}).get("active") else "starting"


# -- counting -------------------------------------------------------------------------


def driver_of(pods: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest of the Job's pods: the one whose log goes on."""
    return max(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""), default=None)


def _listing_stamp(kube: Kube) -> str:
    # Log stamps have nanoseconds; compare like with like.
    return models.format_micro_time(kube.server_now())[:-1] + "000Z"


def count_from_cluster(
    kube: Kube, run_id: str, tracker: ProgressTracker, *, driver: dict[str, Any] | None
) -> None:
    """Bring ``tracker`` up to now: one listing of the task pods, the log past its cursor.

    The listing comes first, so a task submitted after it is pending, not gone.
    """
    listing = kube.list(PODS, label_selector=manifests.task_selector(run_id))
    listed_at = _listing_stamp(kube)
    if driver is not None and _pod_started(driver):
        with contextlib.suppress(Nfk8sError):
            for stamp, line in read_log(
                kube, driver["metadata"]["name"], container=DRIVER_CONTAINER, cursor=tracker.cursor
            ):
                parsed = parse_line(line)
                if parsed is not None:
                    tracker.apply_log_event(parsed, stamp)
    tracker.apply_listing(listing.items, listed_at)


def with_counts(record: RunRecord, tracker: ProgressTracker, *, final: bool) -> RunRecord:
    """``record`` holding the tracker's counts, and the state to go on from."""
    return replace(
        record,
        processes=tracker.snapshot(final=final),
        progress=tracker.to_state(final=final),
        session_id=record.session_id or tracker.session_id,
    )


_UNSET: Any = object()


def refresh_counts(
    kube: Kube,
    run_id: str,
    *,
    final: bool,
    driver: dict[str, Any] | None = _UNSET,
    killed: set[str] | frozenset[str] = frozenset(),
    seen: Callable[[ProgressTracker], None] | None = None,
) -> RunRecord | None:
    """Bring the record's task counts up to date from where the last look left them.

    The driver log is read only past the record's cursor, so no look re-reads the whole
    log; the write is a compare-and-swap, so two lookers never lose each other's lines.
    Counts once final stay as they are. ``killed``: tasks (hash prefixes) a cancel
    stopped; ``seen`` gets the tracker as it was written.
    """
    if driver is _UNSET:
        driver = driver_pod(kube, run_id)

    def change(rec: RunRecord) -> RunRecord | None:
        if state_is_final(rec.progress):
            return None
        if rec.progress is None and rec.processes and rec.status.final:
            return None  # counted by an older nfk8s, whose log may be gone: keep them
        tracker = ProgressTracker.from_state(rec.progress)
        count_from_cluster(kube, run_id, tracker, driver=driver)
        tracker.mark_killed(killed)
        if seen is not None:
            seen(tracker)
        return with_counts(rec, tracker, final=final)

    return update_record(kube, run_id, change, allow_final=True)


# -- reading logs ---------------------------------------------------------------------


def driver_pod(kube: Kube, run_id: str) -> dict[str, Any] | None:
    """The newest pod of the run's Job, if any."""
    return driver_of(kube.list(PODS, label_selector=f"job-name={manifests.job_name(run_id)}").items)


def _driver_pod_or_explain(kube: Kube, run_id: str) -> dict[str, Any] | None:
    """The driver pod whose log can be read; None before it started; BadInput if none."""
    from nfk8s.errors import BadInput

    pod = driver_pod(kube, run_id)
    if pod is None:
        found = read_record(kube, run_id)
        if found is not None and (found[0].reason or "").startswith(startup.REASON_PREFIX):
            raise BadInput(
                f"run {run_id} has no log: its {found[0].reason}",
                hint=f"see its outcome with `nfk8s status {run_id}`",
            )
        if found is not None and found[0].status.final:
            raise BadInput(
                f"the log of run {run_id} is gone with its driver pod",
                hint=f"see its outcome with `nfk8s status {run_id}`",
            )
        raise BadInput(
            f"run {run_id} has no driver pod yet", hint=f"follow it with `nfk8s logs -f {run_id}`"
        )
    return pod if _pod_started(pod) else None


def driver_log(
    kube: Kube, run_id: str, *, start: LogStart | None = None
) -> Iterator[tuple[str, str]]:
    """The driver log as it is now: (timestamp, line) pairs, complete even if cut."""
    pod = _driver_pod_or_explain(kube, run_id)
    if pod is None:
        return iter(())
    return read_log(kube, pod["metadata"]["name"], container=DRIVER_CONTAINER, start=start)


def copy_driver_log(kube: Kube, run_id: str, write: Callable[[bytes], object]) -> int:
    """Copy the whole driver log, as bytes, to ``write`` (the fast path of ``logs``)."""
    pod = _driver_pod_or_explain(kube, run_id)
    if pod is None:
        return 0
    return copy_log(kube, pod["metadata"]["name"], write, container=DRIVER_CONTAINER)


def task_logs(
    kube: Kube, run_id: str, *, process: str | None = None, start: LogStart | None = None
) -> Iterator[TaskLog]:
    """The logs of the run's task pods that still exist, pod after pod, oldest first."""
    names = naming_tracker(kube, run_id)
    pods = kube.list(PODS, label_selector=manifests.task_selector(run_id)).items
    pods.sort(key=lambda p: p["metadata"].get("creationTimestamp", ""))
    for pod in pods:
        labels = pod["metadata"].get("labels") or {}
        label = labels.get(manifests.NF_PROCESS_LABEL, "")
        name = pod["metadata"]["name"]
        proc = names.process_for(name, label)
        if (process and not process_matches(process, proc, label)) or not _pod_started(pod):
            continue
        tag = _task_tag(labels.get(manifests.NF_TASK_LABEL), label)
        with contextlib.suppress(NotFound):
            for stamp, line in read_log(kube, name, start=start):
                yield TaskLog(name, proc, tag, stamp, line)


def naming_tracker(kube: Kube, run_id: str) -> ProgressTracker:
    """A tracker that knows Nextflow's names of the run's tasks (its counts brought up to date)."""
    seen: list[ProgressTracker] = []
    found = read_record(kube, run_id)
    if found is not None and not state_is_final(found[0].progress):
        with contextlib.suppress(Nfk8sError):
            refresh_counts(kube, run_id, final=found[0].status.final, seen=seen.append)
    if seen:
        return seen[-1]
    return ProgressTracker.from_state(found[0].progress if found is not None else None)


# -- finding runs ---------------------------------------------------------------------


def list_records(
    kube: Kube, *, label_selector: str | None = None, page_size: int = 500
) -> list[tuple[RunRecord, dict[str, Any]]]:
    """Every run record (with its ConfigMap) matching the selector, newest first."""
    selector = manifests.managed_selector()
    if label_selector:
        selector = f"{selector},{label_selector}"
    page = kube.list(CONFIGMAPS, label_selector=selector, page_size=page_size)
    found = [
        (records.record_from_configmap(cm), cm)
        for cm in page.items
        if manifests.run_id_from_record_name(cm["metadata"]["name"])
    ]
    order = {id(r): i for i, r in enumerate(records.sort_newest_first(r for r, _ in found))}
    return sorted(found, key=lambda pair: order[id(pair[0])])


def resolve_run(kube: Kube, run_id: str | None, *, lock_name: str) -> str:
    """The run a command means: as given, else the lock holder, else the newest record."""
    from nfk8s.errors import BadInput

    if run_id:
        if kube.get(CONFIGMAPS, manifests.record_name(run_id)) is None:
            raise BadInput(
                f"no run {run_id!r} in namespace {kube.namespace!r}",
                hint="list runs with `nfk8s history`",
            )
        return run_id
    holder = lock.holder_of(kube.get(LEASES, lock_name))
    if holder:
        return holder
    newest = list_records(kube)
    if not newest:
        raise BadInput(
            f"no runs in namespace {kube.namespace!r}",
            hint="start one with `nfk8s run PIPELINE`",
        )
    return newest[0][0].run_id
