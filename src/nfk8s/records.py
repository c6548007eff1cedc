"""The run record codec (``RunRecord`` ⇄ its ConfigMap) and history retention.

Reading never fails: a record someone edited by hand, or one a newer nfk8s wrote, still
lists in ``history`` rather than breaking it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from nfk8s import __version__
from nfk8s.manifests import (
    PIPELINE_ANNOTATION,
    RUN_ID_LABEL,
    RUN_JSON,
    STATUS_LABEL,
    job_name,
    render_run_json,
    run_id_from_record_name,
)
from nfk8s.models import (
    REDACTED,
    ConfigFileInfo,
    RunRecord,
    RunSpec,
    RunStatus,
    looks_secret,
    parse_time,
    redact_params,
)

__all__ = [
    "REDACTED",
    "configmap_patch_for",
    "configmap_with",
    "looks_secret",
    "new_record",
    "record_from_configmap",
    "redact_params",
    "select_prunable",
    "sort_newest_first",
]

_EPOCH = datetime.min.replace(tzinfo=UTC)


def new_record(spec: RunSpec, *, namespace: str, submitted_at: datetime) -> RunRecord:
    """The pending record written before the Job exists."""
    return RunRecord(
        run_id=spec.run_id,
        pipeline=spec.pipeline,
        revision=spec.revision,
        profile=spec.profile,
        params=redact_params(spec.params, spec.secret_params),
        resume=spec.resume,
        resume_session=spec.resume_session,
        latest=spec.latest,
        namespace=namespace,
        submitted_by=spec.submitted_by,
        ci_actor=spec.ci_actor,
        submitted_at=submitted_at,
        status=RunStatus.PENDING,
        job_name=job_name(spec.run_id),
        timeout_seconds=spec.timeout_seconds,
        nfk8s_version=__version__,
        config_files=[
            ConfigFileInfo(name=name, bytes=len(text.encode("utf-8")))
            for name, text in spec.config_files
        ],
        nextflow_options=list(spec.nextflow_options),
    )


def record_from_configmap(cm: Mapping[str, Any]) -> RunRecord:
    """Decode a record ConfigMap; damage yields status ``unknown`` and a reason, not an error."""
    metadata = cm.get("metadata") or {}
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    name = str(metadata.get("name") or "")
    run_id = str(labels.get(RUN_ID_LABEL) or run_id_from_record_name(name) or name)
    fallback = RunRecord(
        run_id=run_id,
        pipeline=str(annotations.get(PIPELINE_ANNOTATION) or ""),
        namespace=str(metadata.get("namespace") or ""),
        submitted_at=_creation_time(metadata),
        status=RunStatus.UNKNOWN,
    )
    text = (cm.get("data") or {}).get(RUN_JSON)
    if text is None:
        fallback.reason = f"the record has no {RUN_JSON}"
        return fallback
    try:
        data = json.loads(text)
    except ValueError as exc:
        fallback.reason = f"{RUN_JSON} is not valid JSON ({exc.msg} at line {exc.lineno})"
        return fallback
    if not isinstance(data, dict):
        fallback.reason = f"{RUN_JSON} holds a {type(data).__name__}, not an object"
        return fallback
    record = RunRecord.from_json(data)
    # Records written before a key was known to be secret may hold its value: never show it.
    record.params = redact_params(record.params)
    # The ConfigMap's name is authoritative: a hand-edited runId must not redirect updates.
    record.run_id = run_id or record.run_id
    record.namespace = record.namespace or fallback.namespace
    record.pipeline = record.pipeline or fallback.pipeline
    record.submitted_at = record.submitted_at or fallback.submitted_at
    return record


def _creation_time(metadata: Mapping[str, Any]) -> datetime | None:
    return parse_time(metadata.get("creationTimestamp"))


def configmap_patch_for(record: RunRecord) -> dict[str, Any]:
    """A JSON merge patch that stores ``record`` and its status label."""
    return {
        "metadata": {"labels": {STATUS_LABEL: record.status.value}},
        "data": {RUN_JSON: render_run_json(record)},
    }


def configmap_with(cm: Mapping[str, Any], record: RunRecord) -> dict[str, Any]:
    """A copy of ``cm`` holding ``record``, for a compare-and-swap replace.

    ``metadata.resourceVersion`` is kept, so the replace fails with a conflict when someone
    else wrote the record in between.
    """
    body = copy.deepcopy(dict(cm))
    metadata = body.setdefault("metadata", {})
    labels = metadata.get("labels") or {}
    metadata["labels"] = {**labels, STATUS_LABEL: record.status.value}
    data = body.get("data") or {}
    body["data"] = {**data, RUN_JSON: render_run_json(record)}
    return body


def _sort_key(record: RunRecord) -> tuple[datetime, str]:
    return (record.submitted_at or _EPOCH, record.run_id)


def sort_newest_first(records: Iterable[RunRecord]) -> list[RunRecord]:
    """By submission time, then run id (generated ids sort by time too)."""
    return sorted(records, key=_sort_key, reverse=True)


def select_prunable(
    records: Iterable[RunRecord],
    *,
    keep: int,
    older_than: timedelta | None,
    now: datetime,
    active_run_id: str | None,
) -> list[RunRecord]:
    """Records ``prune`` may delete, newest first.

    Never the active run and never one that is not final; the newest ``keep`` finished
    runs stay; with ``older_than``, only runs that finished (or, lacking that, were
    submitted) longer ago than that go.
    """
    finished = [
        r for r in sort_newest_first(records) if r.status.final and r.run_id != active_run_id
    ]
    candidates = finished[max(keep, 0) :]
    if older_than is None:
        return candidates
    cutoff = now - older_than
    return [r for r in candidates if (r.finished_at or r.submitted_at or _EPOCH) < cutoff]
