"""Plain data shared by every layer: run status, task counts, what was asked, what happened.

No I/O here. ``RunRecord`` is the history record stored as ``run.json``; its JSON form
is a documented, stable schema (``schemaVersion: 1``) that CI scripts parse, so fields are
only ever added, and unknown fields from newer versions are carried through untouched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from nfk8s.redact import REDACTED, has_secret_params, looks_secret, redact_params

__all__ = [
    "REDACTED",
    "SCHEMA_VERSION",
    "ConfigFileInfo",
    "ProcessCounts",
    "RunRecord",
    "RunSpec",
    "RunStatus",
    "format_micro_time",
    "format_time",
    "has_secret_params",
    "looks_secret",
    "parse_time",
    "redact_params",
]

SCHEMA_VERSION = 1


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @property
    def final(self) -> bool:
        """True once nothing more will happen to the run."""
        return self not in (RunStatus.PENDING, RunStatus.RUNNING)

    @classmethod
    def coerce(cls, value: object) -> RunStatus:
        """Parse a stored status; anything unrecognised is ``unknown`` rather than an error."""
        try:
            return cls(str(value).lower())
        except ValueError:
            return cls.UNKNOWN


@dataclass
class ProcessCounts:
    """Tasks of one Nextflow process by state; ``retried`` counts extra attempts.

    ``killed``: tasks stopped before they ended, on shutdown (another task failed) or on
    cancel; ``failed`` only counts tasks that ended in an error of their own.
    """

    pending: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    killed: int = 0
    cached: int = 0
    retried: int = 0

    @property
    def total(self) -> int:
        """Tasks known so far; retries are attempts of a task already counted."""
        return self.pending + self.running + self.done

    @property
    def done(self) -> int:
        return self.succeeded + self.failed + self.killed + self.cached

    def __add__(self, other: ProcessCounts) -> ProcessCounts:
        return ProcessCounts(
            pending=self.pending + other.pending,
            running=self.running + other.running,
            succeeded=self.succeeded + other.succeeded,
            failed=self.failed + other.failed,
            killed=self.killed + other.killed,
            cached=self.cached + other.cached,
            retried=self.retried + other.retried,
        )

    def to_json(self) -> dict[str, int]:
        return {
            "pending": self.pending,
            "running": self.running,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "killed": self.killed,
            "cached": self.cached,
            "retried": self.retried,
        }

    @classmethod
    def from_json(cls, data: object) -> ProcessCounts:
        if not isinstance(data, Mapping):
            return cls()
        return cls(
            pending=_int(data.get("pending")),
            running=_int(data.get("running")),
            succeeded=_int(data.get("succeeded")),
            failed=_int(data.get("failed")),
            killed=_int(data.get("killed")),
            cached=_int(data.get("cached")),
            retried=_int(data.get("retried")),
        )


@dataclass(frozen=True)
class RunSpec:
    """Everything ``nfk8s run`` was asked, already validated by ``inputs``.

    ``pipeline`` is a remote project (``nf-core/rnaseq``, a git URL) or, for a local
    directory, its absolute path; ``local_pipeline`` then holds its files (relative POSIX
    path to content). ``config_files`` are the user's ``-c`` files as (name, text).
    ``secret_params`` are globs of parameter names to keep out of the record besides the
    ones that look secret (``--secret-param``, the ``secret_params`` setting).
    ``resume_session`` is the session ``resume`` goes on from; None means Nextflow's last.
    ``nextflow_options`` are the words after ``--``, checked by ``inputs``.
    """

    run_id: str
    pipeline: str
    revision: str | None = None
    profile: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    config_files: list[tuple[str, str]] = field(default_factory=list)
    resume: bool = False
    resume_session: str | None = None
    latest: bool = False
    nextflow_options: tuple[str, ...] = ()
    timeout_seconds: int | None = None
    head_cpus: str = "1"
    head_memory: str = "2Gi"
    local_pipeline: dict[str, bytes] | None = None
    submitted_by: str = ""
    ci_actor: str | None = None
    secret_params: tuple[str, ...] = ()

    @property
    def is_local(self) -> bool:
        return self.local_pipeline is not None


@dataclass(frozen=True)
class ConfigFileInfo:
    """A ``-c`` file as the record shows it: its name and size, never its text."""

    name: str
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "bytes": self.bytes}

    @classmethod
    def list_from_json(cls, data: object) -> list[ConfigFileInfo]:
        if not isinstance(data, list):
            return []
        return [
            cls(name=_str(item.get("name")) or "", bytes=_int(item.get("bytes")))
            for item in data
            if isinstance(item, Mapping)
        ]


@dataclass
class RunRecord:
    """The history record of one run (``run.json``)."""

    run_id: str
    pipeline: str = ""
    revision: str | None = None
    profile: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    resume: bool = False
    resume_session: str | None = None
    latest: bool = False
    namespace: str = ""
    submitted_by: str = ""
    ci_actor: str | None = None
    submitted_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    status: RunStatus = RunStatus.PENDING
    exit_code: int | None = None
    reason: str | None = None
    job_name: str | None = None
    job_uid: str | None = None
    session_id: str | None = None
    processes: dict[str, ProcessCounts] = field(default_factory=dict)
    timeout_seconds: int | None = None
    nfk8s_version: str = ""
    # The -c files by name and size; their text travels only in the run's Secret.
    config_files: list[ConfigFileInfo] = field(default_factory=list)
    # The Nextflow options given after ``--``, passed to the driver as they are.
    nextflow_options: list[str] = field(default_factory=list)
    # nfk8s's own bookkeeping of the counts (log cursor, tasks not yet ended): whoever
    # looks next goes on from here instead of reading the whole driver log again.
    progress: dict[str, Any] | None = None
    # Keys written by a newer nfk8s: kept so that rewriting the record loses nothing.
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def duration(self) -> timedelta | None:
        """Wall time from start to finish; None until both are known."""
        if self.started_at is None or self.finished_at is None:
            return None
        return max(self.finished_at - self.started_at, timedelta(0))

    def elapsed(self, now: datetime) -> timedelta | None:
        """Wall time so far for a run that may still be going."""
        if self.started_at is None:
            return None
        end = self.finished_at or now
        return max(end - self.started_at, timedelta(0))

    def totals(self) -> ProcessCounts:
        result = ProcessCounts()
        for counts in self.processes.values():
            result = result + counts
        return result

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.extra)
        data.update(
            {
                "schemaVersion": SCHEMA_VERSION,
                "runId": self.run_id,
                "pipeline": self.pipeline,
                "revision": self.revision,
                "latest": self.latest,
                "profile": self.profile,
                "params": self.params,
                "resume": self.resume,
                "resumeSession": self.resume_session,
                "namespace": self.namespace,
                "submittedBy": self.submitted_by,
                "ciActor": self.ci_actor,
                "submittedAt": format_time(self.submitted_at),
                "startedAt": format_time(self.started_at),
                "finishedAt": format_time(self.finished_at),
                "status": self.status.value,
                "exitCode": self.exit_code,
                "reason": self.reason,
                "job": {"name": self.job_name, "uid": self.job_uid},
                "sessionId": self.session_id,
                "processes": {name: c.to_json() for name, c in self.processes.items()},
                "timeoutSeconds": self.timeout_seconds,
                "nfk8sVersion": self.nfk8s_version,
                "configFiles": [c.to_json() for c in self.config_files],
                "nextflowOptions": list(self.nextflow_options),
                "progress": self.progress,
            }
        )
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunRecord:
        """Read any schema version: missing keys take defaults, unknown keys are kept."""
        job = data.get("job")
        job = job if isinstance(job, Mapping) else {}
        processes = data.get("processes")
        processes = processes if isinstance(processes, Mapping) else {}
        params = data.get("params")
        return cls(
            run_id=_str(data.get("runId")) or "",
            pipeline=_str(data.get("pipeline")) or "",
            revision=_str(data.get("revision")),
            profile=_str(data.get("profile")),
            params=dict(params) if isinstance(params, Mapping) else {},
            resume=data.get("resume") is True,
            resume_session=_str(data.get("resumeSession")),
            latest=data.get("latest") is True,
            namespace=_str(data.get("namespace")) or "",
            submitted_by=_str(data.get("submittedBy")) or "",
            ci_actor=_str(data.get("ciActor")),
            submitted_at=parse_time(data.get("submittedAt")),
            started_at=parse_time(data.get("startedAt")),
            finished_at=parse_time(data.get("finishedAt")),
            status=RunStatus.coerce(data.get("status", RunStatus.UNKNOWN)),
            exit_code=_int_or_none(data.get("exitCode")),
            reason=_str(data.get("reason")),
            job_name=_str(job.get("name")),
            job_uid=_str(job.get("uid")),
            session_id=_str(data.get("sessionId")),
            processes={str(k): ProcessCounts.from_json(v) for k, v in processes.items()},
            timeout_seconds=_int_or_none(data.get("timeoutSeconds")),
            nfk8s_version=_str(data.get("nfk8sVersion")) or "",
            config_files=ConfigFileInfo.list_from_json(data.get("configFiles")),
            nextflow_options=[str(w) for w in options]
            if isinstance(options := data.get("nextflowOptions"), list)
            else [],
            progress=progress if isinstance(progress := data.get("progress"), dict) else None,
            extra={k: v for k, v in data.items() if k not in _RECORD_KEYS},
        )


_RECORD_KEYS = frozenset(
    {
        "schemaVersion",
        "runId",
        "pipeline",
        "revision",
        "latest",
        "profile",
        "params",
        "resume",
        "resumeSession",
        "namespace",
        "submittedBy",
        "ciActor",
        "submittedAt",
        "startedAt",
        "finishedAt",
        "status",
        "exitCode",
        "reason",
        "job",
        "sessionId",
        "processes",
        "timeoutSeconds",
        "nfk8sVersion",
        "configFiles",
        "nextflowOptions",
        "progress",
    }
)


def format_time(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a ``Z``, second precision, as Kubernetes writes ``Time``."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(value: datetime) -> str:
    """Kubernetes ``MicroTime``: RFC 3339 in UTC with six fractional digits."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: object) -> datetime | None:
    """Parse an RFC 3339 timestamp (``Z`` or an offset, any fraction); None if unusable."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # fromisoformat takes at most six fractional digits; the API server may send nine.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _str(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _int(value: object) -> int:
    result = _int_or_none(value)
    return result if result is not None and result >= 0 else 0


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None
