"""Per-process task counts from task-pod watch events and driver log lines.

Pods are the source of truth for pending/running/succeeded/failed (the plain log has no
completion lines); the log adds what no pod shows: cached tasks and retries. Every
``apply_*`` call is idempotent, so replaying a watch or re-reading the log after a
reconnect never double-counts.

Nextflow deletes a task's pod as soon as the task succeeds and keeps failed ones, so a pod
that is gone without a seen end - deleted while the watch was being re-listed after a 410,
or before a follower attached - is a success, unless the run was already killing its
tasks. The log's ``Submitted process`` lines name every attempt by hash, which finds the
pods a follower never saw at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nfk8s.manifests import NF_PROCESS_LABEL, NF_SESSION_LABEL
from nfk8s.models import ProcessCounts
from nfk8s.nextflow import LogEvent, LogKind, nextflow_label_value

PENDING = "pending"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
_FINAL = frozenset({SUCCEEDED, FAILED})
MAX_ERRORS = 50


@dataclass
class _Pod:
    label: str
    state: str
    resource_version: str | None
    hash_prefix: str | None
    vanished: bool = False  # gone from a re-list without a DELETED event


def _pod_hash(name: str) -> str | None:
    """Nextflow names task pods ``nf-<task hash>[-<suffix>]``; the log shows its first 8."""
    if not name.startswith("nf-") or len(name) < 11:
        return None
    prefix = name[3:11]
    return prefix if all(ch in "0123456789abcdef" for ch in prefix) else None


def _newer_or_same(new: str | None, old: str | None) -> bool:
    """Whether a resourceVersion is not older; versions are opaque unless both are integers."""
    if new is None or old is None or not (new.isdigit() and old.isdigit()):
        return True
    return int(new) >= int(old)


def _container_outcome(status: Mapping[str, Any]) -> str | None:
    """SUCCEEDED/FAILED once every container has terminated, from the exit codes."""
    containers = status.get("containerStatuses") or []
    if not containers:
        return None
    exit_codes = []
    for container in containers:
        terminated = (container.get("state") or {}).get("terminated")
        if terminated is None:
            return None
        exit_codes.append(terminated.get("exitCode"))
    return SUCCEEDED if all(code == 0 for code in exit_codes) else FAILED


def pod_state(pod: Mapping[str, Any]) -> str | None:
    """pending, running, succeeded or failed; None when the pod does not say."""
    status = pod.get("status") or {}
    phase = status.get("phase")
    if phase == "Succeeded":
        return SUCCEEDED
    if phase == "Failed":
        return FAILED
    # The phase lags the container state by a status update; the exit code does not.
    outcome = _container_outcome(status)
    if outcome is not None:
        return outcome
    if phase == "Running":
        return RUNNING
    if phase in (None, "Pending"):
        return PENDING
    return None


class ProgressTracker:
    """Counts one run's tasks per Nextflow process."""

    def __init__(self) -> None:
        self._pods: dict[str, _Pod] = {}
        self._process_order: dict[str, None] = {}
        self._by_label: dict[str, str] = {}
        self._by_hash: dict[str, str] = {}
        self._cached: dict[str, set[str]] = {}
        self._resubmitted: dict[str, set[str]] = {}
        self._retry_notes: dict[str, set[tuple[str | None, int | None, str | None]]] = {}
        self._retried_hashes: set[str] = set()
        self._error_keys: set[tuple[str, str | None, str | None, str]] = set()
        self.errors: list[LogEvent] = []
        self.session_id: str | None = None
        self.run_name: str | None = None
        self.revision: str | None = None
        # hash prefix -> (process, log timestamp) of every attempt the driver submitted
        self._submitted: dict[str, tuple[str, str | None]] = {}
        self._listed_at: str | None = None  # server time of the latest pod listing
        self._killing = False  # the driver said it is killing its running tasks

    # -- pods ---------------------------------------------------------------------------

    def apply_pod_event(self, event_type: str, pod: Mapping[str, Any]) -> bool:
        """Take one watch event (ADDED, MODIFIED, DELETED); True if the counts may change."""
        metadata = pod.get("metadata") or {}
        labels = metadata.get("labels") or {}
        label = labels.get(NF_PROCESS_LABEL)
        name = str(metadata.get("name") or "")
        key = str(metadata.get("uid") or name)
        if not label or not key or event_type not in {"ADDED", "MODIFIED", "DELETED"}:
            return False
        session = labels.get(NF_SESSION_LABEL)
        if session:
            self.session_id = str(session).removeprefix("uuid-")
        version = metadata.get("resourceVersion")
        version = str(version) if version is not None else None
        previous = self._pods.get(key)
        if previous is not None and not _newer_or_same(version, previous.resource_version):
            return False  # a replayed, older view of a pod we already know better
        state = pod_state(pod)
        if previous is not None and previous.state in _FINAL:
            state = previous.state  # finished is final, whatever a late event says
        elif event_type == "DELETED" and state not in _FINAL:
            # Deleted before it finished: Nextflow killed it (cancel, or another task
            # failed), so it will never succeed; it must not stay "running" either.
            state = FAILED
        elif state is None:
            state = previous.state if previous is not None else PENDING
        current = _Pod(str(label), state, version, _pod_hash(name))
        if previous == current:
            return False
        self._pods[key] = current
        return True

    def apply_listing(self, pods: list[Mapping[str, Any]], listed_at: str | None = None) -> bool:
        """Take a full listing of the run's task pods (the first, or one after a 410).

        Pods known before but missing now were deleted while nobody watched.
        ``listed_at`` (server time, RFC 3339) dates the listing: tasks submitted before it
        whose pod it lacks were deleted before anyone could see them.
        """
        changed = False
        present: set[str] = set()
        for pod in pods:
            metadata = pod.get("metadata") or {}
            present.add(str(metadata.get("uid") or metadata.get("name") or ""))
            changed |= self.apply_pod_event("ADDED", pod)
        for key, known in self._pods.items():
            if key not in present and not known.vanished and known.state not in _FINAL:
                known.vanished = True
                changed = True
        if listed_at is not None and (self._listed_at is None or listed_at > self._listed_at):
            self._listed_at = listed_at
            changed = True
        return changed

    # -- log ----------------------------------------------------------------------------

    def apply_log_event(self, event: LogEvent, stamp: str | None = None) -> bool:
        """Take one parsed driver log line (``stamp``: its server time); True if counts change."""
        process = event.process
        kind = event.kind
        if kind is LogKind.KILLING:
            self._killing = True
            return True
        if kind is LogKind.LAUNCH:
            self.run_name = event.run_name or self.run_name
            self.revision = event.revision or self.revision
            return False
        if kind in {LogKind.TASK_ERROR, LogKind.ERROR}:
            return self._note_error(event)
        if process is None:
            return False
        self._learn(process, event.hash_prefix)
        task = event.hash or event.tag or event.line
        if kind in {LogKind.SUBMITTED, LogKind.RESUBMITTED}:
            if event.hash_prefix and event.hash_prefix not in self._submitted:
                self._submitted[event.hash_prefix] = (process, stamp)
            if kind is LogKind.RESUBMITTED:
                return _add(self._resubmitted, process, task)
            return False
        if kind in {LogKind.CACHED, LogKind.STORED}:
            return _add(self._cached, process, f"{kind.value}:{task}")
        if kind is LogKind.RETRIED:
            if event.hash_prefix:
                self._retried_hashes.add(event.hash_prefix)
            note = (event.tag, event.attempt, event.hash)
            return _add(self._retry_notes, process, note)
        return False

    def _learn(self, process: str, hash_prefix: str | None) -> None:
        self._process_order.setdefault(process, None)
        self._by_label.setdefault(nextflow_label_value(process), process)
        if hash_prefix:
            self._by_hash[hash_prefix] = process

    def _note_error(self, event: LogEvent) -> bool:
        key = (event.kind.value, event.process, event.tag, event.message or event.line)
        if key in self._error_keys or len(self.errors) >= MAX_ERRORS:
            return False
        self._error_keys.add(key)
        self.errors.append(event)
        return False

    # -- results ------------------------------------------------------------------------

    def process_for(self, pod_name: str, label: str) -> str:
        """The process name of a task pod, from its name (hash) or its label."""
        return self._process_of(_Pod(label, PENDING, None, _pod_hash(pod_name)))

    def _process_of(self, pod: _Pod) -> str:
        if pod.hash_prefix and pod.hash_prefix in self._by_hash:
            return self._by_hash[pod.hash_prefix]
        return self._by_label.get(pod.label, pod.label)

    def _unseen_end(self) -> str:
        """How a task whose pod went unseen ended: cleaned up after success, or killed."""
        return FAILED if self._killing else SUCCEEDED

    def snapshot(self, *, final: bool = False) -> dict[str, ProcessCounts]:
        """Counts keyed by process name, in the order processes first appeared.

        ``final``: the run has ended, so every submitted task whose pod was never seen
        has ended too (its pod was deleted before the watch could show it).
        """
        result: dict[str, ProcessCounts] = {name: ProcessCounts() for name in self._process_order}
        seen_hashes: set[str] = set()
        for pod in self._pods.values():
            if pod.hash_prefix:
                seen_hashes.add(pod.hash_prefix)
            state = self._unseen_end() if pod.vanished else pod.state
            if state == FAILED and pod.hash_prefix in self._retried_hashes:
                continue  # a failed attempt Nextflow retried: counted as a retry, not a failure
            counts = result.setdefault(self._process_of(pod), ProcessCounts())
            setattr(counts, state, getattr(counts, state) + 1)
        for hash_prefix, (process, stamp) in self._submitted.items():
            if hash_prefix in seen_hashes:
                continue
            listed_before = (
                stamp is not None and self._listed_at is not None and stamp < self._listed_at
            )
            if final or listed_before:
                state = self._unseen_end()
                if state == FAILED and hash_prefix in self._retried_hashes:
                    continue
            else:
                state = PENDING  # its pod is about to show up on the watch
            counts = result.setdefault(process, ProcessCounts())
            setattr(counts, state, getattr(counts, state) + 1)
        for process, tasks in self._cached.items():
            result.setdefault(process, ProcessCounts()).cached = len(tasks)
        for process in set(self._resubmitted) | set(self._retry_notes):
            # Old logs print only Re-submitted lines, fragments only NOTE lines; one retry
            # usually prints both, so the larger count is the number of retries.
            retries = max(
                len(self._resubmitted.get(process, ())), len(self._retry_notes.get(process, ()))
            )
            result.setdefault(process, ProcessCounts()).retried = retries
        return result

    def totals(self, *, final: bool = False) -> ProcessCounts:
        total = ProcessCounts()
        for counts in self.snapshot(final=final).values():
            total = total + counts
        return total


def _add(index: dict[str, set[Any]], process: str, item: Any) -> bool:
    items = index.setdefault(process, set())
    if item in items:
        return False
    items.add(item)
    return True
