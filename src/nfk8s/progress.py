"""Per-process task counts from task-pod watch events and driver log lines.

Pods are the source of truth for pending/running/succeeded/failed (the plain log has no
completion lines); the log adds what no pod shows: cached tasks and retries. Every
``apply_*`` call is idempotent, so replaying a watch or re-reading the log after a
reconnect never double-counts.

Nextflow deletes a task's pod as soon as the task succeeds and keeps failed ones; on
shutdown (a task failed, or SIGTERM) it deletes the running ones and prints ``Killing
running tasks (N)``. A pod seen deleted before it ended was killed. A task whose end
nobody saw - its pod gone before anyone looked - was killed or succeeded: the log says
how many were killed, and the kill took the tasks still running, which are the latest
submitted. The log's ``Submitted process`` lines name every attempt by hash, which finds
the pods nobody saw at all.

The counts outlive the process that made them: ``to_state`` is what the run record keeps
(the log cursor, the tasks not yet settled, the settled ones folded into numbers) and
``from_state`` goes on from there, so a later look reads the log only from the cursor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nfk8s.follow import LogCursor
from nfk8s.manifests import NF_PROCESS_LABEL, NF_SESSION_LABEL
from nfk8s.models import ProcessCounts
from nfk8s.nextflow import LogEvent, LogKind, nextflow_label_value

PENDING = "pending"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
KILLED = "killed"
_FINAL = frozenset({SUCCEEDED, FAILED, KILLED})
_STATES = frozenset({PENDING, RUNNING, *_FINAL})
MAX_ERRORS = 50
STATE_VERSION = 1


@dataclass
class _Pod:
    name: str
    label: str
    state: str
    resource_version: str | None
    hash_prefix: str | None
    vanished: bool = False  # gone from a re-list without a DELETED event


@dataclass
class _Task:
    """One task as the counts see it: where it is, and whether its end was seen."""

    process: str
    state: str | None  # None: it ended unseen, killed or succeeded
    stamp: str | None  # when it was submitted (log time)
    hash_prefix: str | None
    present: bool  # its pod exists as of the latest listing


def pod_hash(name: str) -> str | None:
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
        self._kill_lines: set[tuple[str | None, int]] = set()  # (stamp, N) of each kill
        self._killed_by_us: set[str] = set()  # hash prefixes of pods a cancel deleted
        # Carried over from an earlier look (``from_state``):
        self._base: dict[str, ProcessCounts] = {}  # tasks settled and folded into numbers
        self._known: dict[str, str] = {}  # hash prefix -> state last seen
        self._base_extra: dict[str, dict[str, int]] = {}  # cached/resubmitted/notes counts
        self._relisted = False  # a listing came after ``from_state``
        self.cursor = LogCursor()  # how far the driver log has been counted
        self._closed = False

    # -- pods ---------------------------------------------------------------------------

    def apply_pod_event(self, event_type: str, pod: Mapping[str, Any]) -> bool:
        """Take one watch event (ADDED, MODIFIED, DELETED); True if the counts may change."""
        metadata = pod.get("metadata") or {}
        labels = metadata.get("labels") or {}
        label = labels.get(NF_PROCESS_LABEL)
        name = str(metadata.get("name") or "")
        key = str(metadata.get("uid") or name)
        if self._closed or not label or not key:
            return False
        if event_type not in {"ADDED", "MODIFIED", "DELETED"}:
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
        deleting = event_type == "DELETED" or bool(metadata.get("deletionTimestamp"))
        if previous is not None and previous.state in _FINAL:
            state = previous.state  # finished is final, whatever a late event says
        elif deleting and state != SUCCEEDED and not (previous is None and state == FAILED):
            # Deleted before it ended: Nextflow (or a cancel) killed it; the exit code a
            # killed container leaves is the kill's, not the task's.
            state = KILLED
        elif state is None:
            state = previous.state if previous is not None else PENDING
        current = _Pod(name, str(label), state, version, pod_hash(name))
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
        if self._closed:
            return False
        changed = False
        present: set[str] = set()
        for pod in pods:
            metadata = pod.get("metadata") or {}
            present.add(str(metadata.get("uid") or metadata.get("name") or ""))
            changed |= self.apply_pod_event("ADDED", pod)
        for key, known in self._pods.items():
            if key not in present and not known.vanished:
                known.vanished = True
                changed = True
        if listed_at is not None and (self._listed_at is None or listed_at > self._listed_at):
            self._listed_at = listed_at
            changed = True
        self._relisted = True
        return changed

    def open_tasks(self) -> set[str]:
        """Hash prefixes of the tasks known to be pending or running now."""
        return {
            t.hash_prefix
            for t in self._tasks(final=False)
            if t.hash_prefix and t.state in {PENDING, RUNNING}
        }

    def mark_killed(self, hash_prefixes: Iterable[str]) -> None:
        """Tasks a cancel stopped: those that had not ended by then were killed."""
        self._killed_by_us.update(hash_prefixes)

    def close(self) -> None:
        """Take nothing more: the counts are final (a late watch event cannot move them)."""
        self._closed = True

    # -- log ----------------------------------------------------------------------------

    def note_line(self, stamp: str) -> None:
        """A log line (of any kind) at ``stamp`` has been counted: move the cursor past it."""
        if stamp == self.cursor.stamp:
            self.cursor.seen_at_stamp += 1
        else:
            self.cursor.stamp, self.cursor.seen_at_stamp = stamp, 1

    def apply_log_event(self, event: LogEvent, stamp: str | None = None) -> bool:
        """Take one parsed driver log line (``stamp``: its server time); True if counts change."""
        if self._closed:
            return False
        process = event.process
        kind = event.kind
        if kind is LogKind.KILLING:
            # Queued ("pending") tasks have no pod yet: only running ones are killed.
            if "running" in (event.message or event.line) and event.count:
                self._kill_lines.add((stamp, event.count))
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
            new = bool(event.hash_prefix) and event.hash_prefix not in self._submitted
            if event.hash_prefix and new:
                self._submitted[event.hash_prefix] = (process, stamp)
            if kind is LogKind.RESUBMITTED:
                return _add(self._resubmitted, process, task) or new
            return new  # a new pending task, or the real name of a pod known by its label
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
        """Nextflow's name of a task pod's process, from its name (hash) or its label.

        The ``nextflow.io/processName`` label is sanitised (``A:B`` becomes ``A_B``); the
        driver log has the real name, by hash and by label.
        """
        hash_prefix = pod_hash(pod_name)
        if hash_prefix and hash_prefix in self._by_hash:
            return self._by_hash[hash_prefix]
        return self._by_label.get(label, label)

    def _tasks(self, *, final: bool) -> list[_Task]:
        tasks: list[_Task] = []
        seen_hashes: set[str] = set()
        for pod in self._pods.values():
            if pod.hash_prefix:
                seen_hashes.add(pod.hash_prefix)
            state: str | None = pod.state
            if pod.hash_prefix in self._killed_by_us and state not in _FINAL:
                state = KILLED
            elif state not in _FINAL and (pod.vanished or final):
                state = None
            stamp = self._submitted.get(pod.hash_prefix or "", ("", None))[1]
            process = self.process_for(pod.name, pod.label)
            tasks.append(_Task(process, state, stamp, pod.hash_prefix, not pod.vanished))
        for hash_prefix, (process, stamp) in self._submitted.items():
            if hash_prefix in seen_hashes:
                continue
            known = self._known.get(hash_prefix)
            listed_before = (
                stamp is not None and self._listed_at is not None and stamp < self._listed_at
            )
            if known in _FINAL:
                state: str | None = known
            elif hash_prefix in self._killed_by_us:
                state = KILLED
            elif known is not None:
                state = None if final or self._relisted else known
            else:
                state = None if final or listed_before else PENDING
            tasks.append(_Task(process, state, stamp, hash_prefix, False))
        self._settle_unseen(tasks)
        return [
            t
            for t in tasks
            if not (t.hash_prefix in self._retried_hashes and t.state in {FAILED, KILLED})
        ]

    def _settle_unseen(self, tasks: list[_Task]) -> None:
        """Decide the tasks that ended unseen: the kills not yet seen took the latest ones."""
        for task in tasks:
            if task.state is None and task.hash_prefix in self._retried_hashes:
                task.state = FAILED  # an attempt Nextflow retried: a retry, not a task
        unseen = [t for t in tasks if t.state is None]
        if not unseen:
            return
        announced = sum(count for _, count in self._kill_lines)
        seen_killed = sum(1 for t in tasks if t.state == KILLED)
        seen_killed += sum(c.killed for c in self._base.values())
        due = max(announced - seen_killed, 0)
        unseen.sort(key=lambda t: t.stamp or "", reverse=True)
        for index, task in enumerate(unseen):
            task.state = KILLED if index < due else SUCCEEDED

    def snapshot(self, *, final: bool = False) -> dict[str, ProcessCounts]:
        """Counts keyed by process name, in the order processes first appeared.

        ``final``: the run has ended, so every task has ended too: one whose end was not
        seen (its pod deleted before a watch could show it) was killed or succeeded.
        """
        result: dict[str, ProcessCounts] = {name: ProcessCounts() for name in self._process_order}
        for process, counts in self._base.items():
            result[process] = result.get(process, ProcessCounts()) + counts
        for task in self._tasks(final=final):
            counts = result.setdefault(task.process, ProcessCounts())
            state = task.state or PENDING
            setattr(counts, state, getattr(counts, state) + 1)
        for process in set(self._cached) | set(self._base_extra):
            extra = self._base_extra.get(process, {})
            cached = len(self._cached.get(process, ())) + extra.get("cached", 0)
            if cached:
                result.setdefault(process, ProcessCounts()).cached = cached
        for process in set(self._resubmitted) | set(self._retry_notes) | set(self._base_extra):
            # Old logs print only Re-submitted lines, fragments only NOTE lines; one retry
            # usually prints both, so the larger count is the number of retries.
            extra = self._base_extra.get(process, {})
            retries = max(
                len(self._resubmitted.get(process, ())) + extra.get("resubmitted", 0),
                len(self._retry_notes.get(process, ())) + extra.get("notes", 0),
            )
            if retries:
                result.setdefault(process, ProcessCounts()).retried = retries
        return result

    def totals(self, *, final: bool = False) -> ProcessCounts:
        total = ProcessCounts()
        for counts in self.snapshot(final=final).values():
            total = total + counts
        return total

    # -- what the record keeps ----------------------------------------------------------

    def to_state(self, *, final: bool = False) -> dict[str, Any]:
        """The counts as the run record keeps them; tasks that ended and left are folded.

        A task stays listed while it may still change: not ended, or its pod still
        exists (a failed one may yet be retried, a listing would show it again).
        """
        base = {p: ProcessCounts(**vars(c)) for p, c in self._base.items()}
        tasks: dict[str, list[Any]] = {}
        for task in self._tasks(final=final):
            state = task.state or PENDING
            if task.hash_prefix is None:
                continue  # not Nextflow's pod naming: counted live only
            if final or (state in {SUCCEEDED, KILLED} and not task.present):
                counts = base.setdefault(task.process, ProcessCounts())
                setattr(counts, state, getattr(counts, state) + 1)
            else:
                tasks[task.hash_prefix] = [task.process, state, task.stamp]
        extra: dict[str, dict[str, int]] = {}
        for process in self._process_order:
            prior = self._base_extra.get(process, {})
            numbers = {
                "cached": len(self._cached.get(process, ())) + prior.get("cached", 0),
                "resubmitted": len(self._resubmitted.get(process, ()))
                + prior.get("resubmitted", 0),
                "notes": len(self._retry_notes.get(process, ())) + prior.get("notes", 0),
            }
            if any(numbers.values()):
                extra[process] = numbers
        return {
            "version": STATE_VERSION,
            "final": final,
            "cursor": {"stamp": self.cursor.stamp, "seen": self.cursor.seen_at_stamp},
            "listedAt": self._listed_at,
            "processes": list(self._process_order),
            "settled": {p: c.to_json() for p, c in base.items() if c.total or c.retried},
            "tasks": tasks,
            "logged": extra,
            "retriedHashes": sorted(self._retried_hashes),
            "kills": sorted([stamp or "", count] for stamp, count in self._kill_lines),
            "sessionId": self.session_id,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None) -> ProgressTracker:
        """A tracker that goes on from ``to_state``; an unreadable state starts afresh."""
        tracker = cls()
        if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
            return tracker
        try:
            cursor = state.get("cursor") or {}
            if isinstance(cursor.get("stamp"), str):
                tracker.cursor = LogCursor(cursor["stamp"], int(cursor.get("seen") or 0))
            listed = state.get("listedAt")
            tracker._listed_at = listed if isinstance(listed, str) else None
            for process in state.get("processes") or []:
                tracker._learn(str(process), None)
            for process, counts in (state.get("settled") or {}).items():
                tracker._base[str(process)] = ProcessCounts.from_json(counts)
            for hash_prefix, (process, task_state, stamp) in (state.get("tasks") or {}).items():
                if task_state not in _STATES:
                    continue
                tracker._learn(str(process), str(hash_prefix))
                tracker._submitted[str(hash_prefix)] = (str(process), stamp)
                tracker._known[str(hash_prefix)] = task_state
            for process, numbers in (state.get("logged") or {}).items():
                tracker._base_extra[str(process)] = {k: int(v) for k, v in numbers.items()}
            tracker._retried_hashes = {str(h) for h in state.get("retriedHashes") or []}
            tracker._kill_lines = {(s or None, int(n)) for s, n in state.get("kills") or []}
            tracker.session_id = state.get("sessionId") or None
        except (TypeError, ValueError, AttributeError):
            return cls()
        return tracker


def state_is_final(state: Mapping[str, Any] | None) -> bool:
    return isinstance(state, Mapping) and state.get("final") is True


def _add(index: dict[str, set[Any]], process: str, item: Any) -> bool:
    items = index.setdefault(process, set())
    if item in items:
        return False
    items.add(item)
    return True
