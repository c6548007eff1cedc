"""The cluster-wide single-run lock: a Lease with no renew loop.

No nfk8s process stays alive to renew the Lease, so liveness comes from the holder's
Job: the lock is held while that Job runs, or - before the Job exists - for a short
start-up grace measured on the API server's clock. Every write is a compare-and-swap on
``resourceVersion``; whoever loses a race re-reads and decides again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from nfk8s import manifests, startup
from nfk8s.errors import Conflict, LockBusy
from nfk8s.kube import JOBS, LEASES, PODS, Kube

MAX_CAS_ATTEMPTS = 20

HOLDER_PIPELINE_ANNOTATION = manifests.PIPELINE_ANNOTATION
HOLDER_USER_ANNOTATION = manifests.SUBMITTED_BY_ANNOTATION


class Verdict(StrEnum):
    FREE = "free"
    HELD = "held"
    STALE = "stale"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str


@dataclass(frozen=True)
class LockState:
    """What a reader of the lock saw, for ``lock show`` and busy messages."""

    name: str
    lease: dict[str, Any] | None
    job: dict[str, Any] | None
    decision: Decision
    server_now: datetime

    @property
    def holder(self) -> str | None:
        return holder_of(self.lease)

    @property
    def pipeline(self) -> str | None:
        return _annotation(self.lease, HOLDER_PIPELINE_ANNOTATION)

    @property
    def submitted_by(self) -> str | None:
        return _annotation(self.lease, HOLDER_USER_ANNOTATION)

    @property
    def acquired_at(self) -> datetime | None:
        spec = (self.lease or {}).get("spec") or {}
        return parse_time(spec.get("acquireTime"))


@dataclass(frozen=True)
class Acquired:
    lease: dict[str, Any]
    took_over_from: str | None  # the stale holder replaced, if any
    stale_job: dict[str, Any] | None


def holder_of(lease: dict[str, Any] | None) -> str | None:
    if not lease:
        return None
    return ((lease.get("spec") or {}).get("holderIdentity")) or None


def _annotation(obj: dict[str, Any] | None, key: str) -> str | None:
    return (((obj or {}).get("metadata") or {}).get("annotations") or {}).get(key)


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def job_finished(job: dict[str, Any]) -> str | None:
    """``Complete`` or ``Failed`` when the Job has ended, else None."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in {"Complete", "Failed"}:
            return str(condition["type"])
    return None


def decide(
    lease: dict[str, Any] | None,
    job: dict[str, Any] | None,
    now: datetime,
    pods: list[dict[str, Any]] | None = None,
) -> Decision:
    """Whether the lock can be taken, from the Lease, the holder's Job and the server time.

    ``pods`` (the Job's pods) let a Job whose driver never started within the run's start
    timeout count as stale; without them that clause is not judged.
    """
    holder = holder_of(lease)
    if lease is None or holder is None:
        return Decision(Verdict.FREE, "no run holds the lock")
    if job is not None:
        if (job.get("metadata") or {}).get("deletionTimestamp"):
            return Decision(Verdict.STALE, f"Job of run {holder} is being deleted")
        ended = job_finished(job)
        if ended:
            return Decision(Verdict.STALE, f"Job of run {holder} has finished ({ended})")
        stuck = startup.give_up(job, pods, now) if pods is not None else None
        if stuck is not None:
            return Decision(
                Verdict.STALE, f"the driver of run {holder} has not started: {stuck.text}"
            )
        return Decision(Verdict.HELD, f"Job of run {holder} is running")
    if _annotation(lease, manifests.JOB_UID_ANNOTATION):
        return Decision(Verdict.STALE, f"Job of run {holder} was deleted")
    spec = lease.get("spec") or {}
    renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
    grace = timedelta(seconds=int(spec.get("leaseDurationSeconds") or 0))
    if renewed is not None and renewed + grace > now:
        left = int((renewed + grace - now).total_seconds())
        return Decision(
            Verdict.HELD, f"run {holder} is starting (no Job yet; start-up grace ends in {left}s)"
        )
    return Decision(
        Verdict.STALE, f"Job of run {holder} does not exist and the start-up grace ended"
    )


def inspect(kube: Kube, name: str) -> LockState:
    """Read the Lease (and the holder's Job) and decide, without writing."""
    lease = kube.get(LEASES, name)
    now = kube.server_now()
    holder = holder_of(lease)
    job = kube.get(JOBS, manifests.job_name(holder)) if holder else None
    pods = None
    if job is not None and job_finished(job) is None:
        selector = f"job-name={manifests.job_name(str(holder))}"
        pods = kube.list(PODS, label_selector=selector).items
    return LockState(name, lease, job, decide(lease, job, now, pods), now)


def acquire(
    kube: Kube,
    *,
    name: str,
    run_id: str,
    grace_seconds: int,
    annotations: dict[str, str],
    on_busy: Callable[[LockState], None] | None = None,
) -> Acquired:
    """Take the lock for ``run_id`` or raise ``LockBusy``.

    ``on_busy`` lets a caller that waits (``--wait-lock``, ``--attach``) see the state
    instead of an exception: it is called and the error raised only if it returns.
    """
    # The holder this call last tried to replace: a write whose answer was lost is retried,
    # meets a Conflict, and is then found to have landed.
    replaced: tuple[str | None, dict[str, Any] | None] = (None, None)
    for _ in range(MAX_CAS_ATTEMPTS):
        state = inspect(kube, name)
        lease = state.lease
        holder = state.holder
        if holder == run_id:
            return Acquired(lease or {}, *replaced)
        if state.decision.verdict is Verdict.HELD:
            if on_busy is not None:
                on_busy(state)
            raise busy_error(state)
        spec = (lease or {}).get("spec") or {}
        transitions = int(spec.get("leaseTransitions") or 0)
        if holder is not None:
            transitions += 1
        body = manifests.build_lease(
            name,
            run_id,
            now=state.server_now,
            duration_seconds=grace_seconds,
            transitions=transitions,
            resource_version=(lease or {}).get("metadata", {}).get("resourceVersion"),
            annotations=annotations,
        )
        try:
            if lease is None:
                written = kube.create(LEASES, body, is_ours=lambda obj: holder_of(obj) == run_id)
            else:
                written = kube.replace(LEASES, body)
        except Conflict:
            replaced = (holder, state.job)
            continue  # lost the race (or won it unheard): re-read and decide again
        return Acquired(written, holder, state.job)
    raise Conflict(f"could not take lease {name!r}: it kept changing under us", status=409)


def note_job(kube: Kube, lease: dict[str, Any], *, run_id: str, job: dict[str, Any]) -> None:
    """Record the holder's Job on the Lease, so a deleted Job frees the lock at once.

    The patch carries the Lease's resourceVersion as a precondition; after a conflict the
    Lease is re-read and patched only while it is still ours.
    """
    annotations = {
        manifests.JOB_NAME_ANNOTATION: job["metadata"]["name"],
        manifests.JOB_UID_ANNOTATION: job["metadata"]["uid"],
    }
    name = lease["metadata"]["name"]
    version = lease["metadata"].get("resourceVersion")
    for _ in range(MAX_CAS_ATTEMPTS):
        patch = {"metadata": {"annotations": annotations, "resourceVersion": version}}
        try:
            kube.patch(LEASES, name, patch)
        except Conflict:
            current = kube.get(LEASES, name)
            if holder_of(current) != run_id or current is None:
                return
            version = current["metadata"].get("resourceVersion")
            continue
        return


def release(kube: Kube, *, name: str, run_id: str | None, force: bool = False) -> bool:
    """Clear the holder if it is ``run_id`` (or anyone, with ``force``); True if cleared."""
    sent: dict[str, Any] | None = None
    for _ in range(MAX_CAS_ATTEMPTS):
        lease = kube.get(LEASES, name)
        holder = holder_of(lease)
        if lease is None or holder is None:
            # A release whose answer was lost meets a Conflict when retried: it landed.
            return sent is not None and lease is not None and lease.get("spec") == sent
        if holder != run_id and not force:
            return False
        spec = dict(lease.get("spec") or {})
        spec["holderIdentity"] = None
        spec["renewTime"] = None
        body = {**lease, "spec": {k: v for k, v in spec.items() if v is not None}}
        try:
            kube.replace(LEASES, body)
        except Conflict:
            sent = body["spec"]
            continue
        return True
    raise Conflict(f"could not release lease {name!r}: it kept changing under us", status=409)


def busy_error(state: LockState) -> LockBusy:
    holder = state.holder or "?"
    who = state.submitted_by or "someone"
    pipeline = state.pipeline or "a pipeline"
    since = state.acquired_at.strftime("%Y-%m-%d %H:%M:%SZ") if state.acquired_at else "?"
    return LockBusy(
        f"run {holder} ({pipeline}, started by {who} at {since}) holds the lock: "
        f"{state.decision.reason}",
        hint=(
            f"follow it with `nfk8s logs -f {holder}`, stop it with `nfk8s cancel {holder}`, "
            "or pass --wait-lock to queue behind it or --attach to follow it"
        ),
    )
