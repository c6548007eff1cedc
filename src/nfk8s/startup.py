"""Why a run's driver has not started, and whether waiting can still help.

Pure judgements over what the cluster already says - the Job, its events, the driver
pod's conditions and container statuses, the work PVC - so the follower, lazy
reconciliation and the lock all reach the same verdict from the same objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from nfk8s.manifests import CONTAINER_NAME as DRIVER_CONTAINER
from nfk8s.manifests import START_TIMEOUT_ANNOTATION

INIT_LOG_LINES = 5  # last lines of a failed init container that go into the reason
DEFAULT_START_TIMEOUT = 600  # the start_timeout setting's default, for Jobs without the annotation
REASON_PREFIX = "driver did not start"

# Container waiting reasons that mean the container cannot start as things stand.
# Those in NEVER_HEAL are wrong in the pod spec itself: no retry or new object fixes them.
WAITING_REASONS = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)
NEVER_HEAL = frozenset({"InvalidImageName", "ErrImageNeverPull"})
# Pod events worth showing while the driver waits (kubelet volume set-up, scheduling).
POD_EVENT_REASONS = ("FailedMount", "FailedAttachVolume", "FailedScheduling")
# A pod name in an admission error differs on each attempt; the error itself does not.
_POD_NAME = re.compile(r'pods "[^"]*"')


@dataclass(frozen=True)
class Stuck:
    """Why the driver is not running: a Kubernetes reason, its message, and if it can heal."""

    reason: str
    message: str
    heals: bool = True
    container: str | None = None  # an init container that failed: its log tells more

    @property
    def text(self) -> str:
        return f"{self.reason}: {self.message}" if self.message else self.reason

    def record_reason(self) -> str:
        return f"{REASON_PREFIX}: {self.text}"


def start_timeout_of(job: dict[str, Any] | None, default: int = DEFAULT_START_TIMEOUT) -> int:
    """The run's own start timeout (seconds), from its Job: not the viewer's setting."""
    value = (((job or {}).get("metadata") or {}).get("annotations") or {}).get(
        START_TIMEOUT_ANNOTATION
    )
    try:
        return int(value) if value else default
    except ValueError:
        return default


def created_at(job: dict[str, Any]) -> datetime | None:
    value = (job.get("metadata") or {}).get("creationTimestamp")
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def deadline(job: dict[str, Any], default: int = DEFAULT_START_TIMEOUT) -> datetime | None:
    """When the driver must have started by, on the API server's clock."""
    made = created_at(job)
    return None if made is None else made + timedelta(seconds=start_timeout_of(job, default))


def _statuses(pod: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return list((pod.get("status") or {}).get(key) or [])


def driver_started(pods: Iterable[dict[str, Any]]) -> bool:
    """Whether any driver container has ever run (a run that ran is no start failure)."""
    for pod in pods:
        if _failed_init(pod) is not None:
            continue
        for cs in _statuses(pod, "containerStatuses"):
            if cs.get("name") != DRIVER_CONTAINER:
                continue
            state = cs.get("state") or {}
            if "running" in state or "terminated" in state:
                return True
            if "terminated" in (cs.get("lastState") or {}):
                return True
    return False


def _failed_init(pod: dict[str, Any]) -> Stuck | None:
    for cs in _statuses(pod, "initContainerStatuses"):
        terminated = (cs.get("state") or {}).get("terminated") or {}
        code = terminated.get("exitCode")
        if terminated and code not in (None, 0):
            name = str(cs.get("name") or "init")
            detail = terminated.get("reason") or "Error"
            return Stuck(
                "InitContainerFailed",
                f"init container {name} exited with code {code} ({detail})",
                heals=False,
                container=name,
            )
    return None


def _waiting(pod: dict[str, Any]) -> Stuck | None:
    containers = {
        str(c.get("name")): str(c.get("image") or "")
        for c in ((pod.get("spec") or {}).get("initContainers") or [])
        + ((pod.get("spec") or {}).get("containers") or [])
    }
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in _statuses(pod, key):
            waiting = (cs.get("state") or {}).get("waiting") or {}
            reason = str(waiting.get("reason") or "")
            if reason not in WAITING_REASONS:
                continue
            message = str(waiting.get("message") or "")
            image = containers.get(str(cs.get("name"))) or str(cs.get("image") or "")
            if "Image" in reason and image and image not in message:
                message = f"{image}: {message}" if message else image
            return Stuck(reason, message, heals=reason not in NEVER_HEAL)
    return None


def _unschedulable(pod: dict[str, Any]) -> Stuck | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason") == "Unschedulable"
        ):
            return Stuck("Unschedulable", str(condition.get("message") or ""))
    return None


def _event_count(event: dict[str, Any]) -> int:
    series = event.get("series") or {}
    return max(int(event.get("count") or 1), int(series.get("count") or 0), 1)


def _event_time(event: dict[str, Any]) -> str:
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


def _failed_create(events: list[dict[str, Any]], job_name: str) -> Stuck | None:
    """The Job controller's admission refusals; the same refusal twice will not heal."""
    refusals = [
        e
        for e in events
        if e.get("reason") == "FailedCreate"
        and (e.get("involvedObject") or {}).get("kind") == "Job"
        and (e.get("involvedObject") or {}).get("name") == job_name
    ]
    if not refusals:
        return None
    refusals.sort(key=_event_time)
    latest = refusals[-1]
    message = str(latest.get("message") or "")
    same = _POD_NAME.sub('pods "…"', message)
    seen = sum(
        _event_count(e)
        for e in refusals
        if _POD_NAME.sub('pods "…"', str(e.get("message") or "")) == same
    )
    return Stuck("FailedCreate", message, heals=seen < 2)


def _pod_event(events: list[dict[str, Any]], pod_name: str) -> Stuck | None:
    found = [
        e
        for e in events
        if e.get("reason") in POD_EVENT_REASONS
        and (e.get("involvedObject") or {}).get("name") == pod_name
    ]
    if not found:
        return None
    latest = max(found, key=_event_time)
    return Stuck(str(latest["reason"]), str(latest.get("message") or ""))


def _unbound(pvc: dict[str, Any] | None) -> Stuck | None:
    if pvc is None:
        return None
    phase = (pvc.get("status") or {}).get("phase") or "Pending"
    if phase == "Bound":
        return None
    name = (pvc.get("metadata") or {}).get("name") or "the work PVC"
    return Stuck("PersistentVolumeClaim", f"{name} is {phase}, not Bound")


def judge(
    job: dict[str, Any],
    pods: list[dict[str, Any]],
    events: list[dict[str, Any]] = (),  # type: ignore[assignment]
    pvc: dict[str, Any] | None = None,
) -> Stuck | None:
    """Why the Job's driver is not running, or None when it runs or nothing is known yet."""
    if driver_started(pods):
        return None
    job_name = str((job.get("metadata") or {}).get("name") or "")
    events = list(events)
    newest = sorted(pods, key=lambda p: (p.get("metadata") or {}).get("creationTimestamp", ""))
    for pod in reversed(newest):
        name = str((pod.get("metadata") or {}).get("name") or "")
        found = (
            _failed_init(pod) or _waiting(pod) or _unschedulable(pod) or _pod_event(events, name)
        )
        if found is not None:
            if found.reason == "Unschedulable" and "PersistentVolumeClaim" in found.message:
                return _unbound(pvc) or found
            return found
    if not pods:
        return _failed_create(events, job_name)
    return _unbound(pvc)


def give_up(
    job: dict[str, Any],
    pods: list[dict[str, Any]],
    now: datetime,
    *,
    events: list[dict[str, Any]] = (),  # type: ignore[assignment]
    pvc: dict[str, Any] | None = None,
    default_timeout: int = DEFAULT_START_TIMEOUT,
) -> Stuck | None:
    """The reason to stop waiting for the driver now, or None while waiting still makes sense."""
    if driver_started(pods):
        return None
    stuck = judge(job, pods, events, pvc)
    if stuck is not None and not stuck.heals:
        return stuck
    limit = deadline(job, default_timeout)
    if limit is None or now < limit:
        return None
    timeout = start_timeout_of(job, default_timeout)
    if stuck is None:
        return Stuck(
            "StartTimeout", f"no driver running {format_seconds(timeout)} after submission"
        )
    return Stuck(
        stuck.reason,
        f"{stuck.message} (start timeout {format_seconds(timeout)})".strip(),
        heals=False,
        container=stuck.container,
    )


def format_seconds(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def with_log(stuck: Stuck, lines: list[str]) -> Stuck:
    """A failed init container's reason, with the last lines it wrote."""
    if not lines:
        return stuck
    tail = " | ".join(line.strip() for line in lines[-INIT_LOG_LINES:] if line.strip())
    return Stuck(stuck.reason, f"{stuck.message}: {tail}", stuck.heals, stuck.container)
