"""Plain-text views for history, cancel, prune, lock and doctor.

Plain aligned columns, as ``kubectl get`` prints them: no Rich, so these commands start
fast and their output pipes cleanly into ``grep``, ``awk`` and ``cut``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from nfk8s.models import RunRecord, RunStatus
from nfk8s.render import format_duration

if TYPE_CHECKING:
    from nfk8s.admin import CancelResult, LockView, PruneResult, ReleaseResult
    from nfk8s.doctor import Check, DoctorReport

NONE = "-"


def columns(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns separated by three spaces, like ``kubectl get``."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = []
    for row in [headers, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append("   ".join(cells).rstrip())
    return lines


def when(value: datetime | None) -> str:
    """UTC to the minute, one word (so ``awk`` columns stay put): ``2026-01-01T01:00Z``."""
    return value.strftime("%Y-%m-%dT%H:%MZ") if value is not None else NONE


def tasks_cell(record: RunRecord) -> str:
    totals = record.totals()
    if totals.total == 0:
        return NONE
    # Succeeded (or cached) out of all: "10/10" must never hide failures.
    text = f"{totals.succeeded + totals.cached}/{totals.total}"
    extra = [f"{totals.failed} failed"] if totals.failed else []
    if totals.killed:
        extra.append(f"{totals.killed} killed")
    if totals.cached:
        extra.append(f"{totals.cached} cached")
    return text + (f" ({', '.join(extra)})" if extra else "")


def duration_cell(record: RunRecord, now: datetime) -> str:
    elapsed = record.duration if record.status.final else record.elapsed(now)
    return format_duration(elapsed.total_seconds()) if elapsed is not None else NONE


def who(record: RunRecord) -> str:
    if record.ci_actor and record.ci_actor != record.submitted_by:
        return f"{record.submitted_by} ({record.ci_actor})"
    return record.submitted_by or NONE


def history_lines(found: Sequence[RunRecord], now: datetime) -> list[str]:
    """The ``history`` table, newest first, times in UTC."""
    headers = ("RUN", "STATUS", "PIPELINE", "REVISION", "BY", "SUBMITTED", "DURATION")
    rows = [
        (
            r.run_id,
            r.status.value,
            r.pipeline or NONE,
            r.revision or NONE,
            who(r),
            when(r.submitted_at),
            duration_cell(r, now),
            tasks_cell(r),
        )
        for r in found
    ]
    return columns((*headers, "TASKS"), rows)


def cancel_lines(result: CancelResult) -> list[str]:
    """What ``cancel`` did, for the eyes (stderr)."""
    run = result.run_id
    if result.cancelled_now:
        lines = [f"run {run} cancelled (it was {result.previous_status.value})"]
    elif result.record.status is RunStatus.CANCELLED:
        lines = [f"run {run} was already cancelled"]
    else:
        lines = [f"run {run} had already finished: {result.record.status.value}; nothing to stop"]
    removed = (
        (1 if result.deleted_job else 0) + len(result.deleted_task_jobs) + len(result.deleted_pods)
    )
    if removed:
        lines.append(
            f"removed {removed} object(s): {1 if result.deleted_job else 0} driver Job, "
            f"{len(result.deleted_task_jobs)} task Job(s), {len(result.deleted_pods)} pod(s)"
        )
    if result.remaining:
        lines.append(
            "still terminating: " + ", ".join(result.remaining) + " (the kubelet removes them "
            "when their grace period ends)"
        )
    return lines


def prune_lines(result: PruneResult, *, dry_run: bool) -> list[str]:
    verb = "would delete" if dry_run else "deleted"
    lines = [
        f"{verb} run {r.run_id} ({r.pipeline or '?'}, {r.status.value}, "
        f"submitted {when(r.submitted_at)})"
        for r in result.deleted
    ]
    summary = f"{verb} {len(result.deleted)} run(s); {result.kept} finished run(s) kept"
    if result.active_run_id:
        summary += f"; active run {result.active_run_id} is never pruned"
    lines.append(summary)
    return lines


def lock_lines(view: LockView) -> list[str]:
    state = view.state
    if state.lease is None:
        return [f"lock {view.name}: free (no Lease yet; the first run creates it)"]
    if state.holder is None:
        return [f"lock {view.name}: free"]
    age = view.age
    rows = [
        ("lock", view.name),
        ("holder", state.holder),
        ("pipeline", state.pipeline or NONE),
        ("started by", state.submitted_by or NONE),
        (
            "acquired",
            when(state.acquired_at)
            + (f" ({format_duration(age.total_seconds())} ago)" if age is not None else ""),
        ),
        ("job", f"{view.job_state}"),
        ("verdict", f"{view.verdict.value}: {state.decision.reason}"),
    ]
    width = max(len(k) for k, _ in rows)
    return [f"{key + ':':<{width + 1}} {value}" for key, value in rows]


def release_lines(result: ReleaseResult) -> list[str]:
    holder = result.view.state.holder
    if holder is None:
        return [f"lock {result.view.name} is free; nothing to release"]
    if not result.released:
        return [f"lock {result.view.name} changed hands while releasing it; nothing released"]
    lines = [f"released lock {result.view.name} held by run {holder} ({result.view.job_state})"]
    if result.record is not None:
        lines.append(f"run {holder} is recorded as {result.record.status.value}")
    return lines


# Keyed by ``CheckStatus`` value: the history path need not import the doctor.
_MARK = {"ok": "✓", "warn": "!", "fail": "✗"}
_COLOUR = {"ok": "32", "warn": "33", "fail": "1;31"}


def check_line(check: Check, *, colour: bool = False) -> list[str]:
    status = check.status.value
    mark = _MARK[status]
    if colour:
        mark = f"\x1b[{_COLOUR[status]}m{mark}\x1b[0m"
    lines = [f"{mark} {check.name}: {check.detail}"]
    if check.fix and status != "ok":
        lines.append(f"    fix: {check.fix}")
    return lines


def doctor_summary(report: DoctorReport) -> str:
    failed = len(report.failures)
    warned = sum(1 for c in report.checks if c.status.value == "warn")
    if failed:
        return f"{failed} check(s) failed in namespace {report.namespace}"
    if warned:
        return f"ready, with {warned} check(s) not verified (namespace {report.namespace})"
    return f"all {len(report.checks)} checks passed: nfk8s is ready in namespace {report.namespace}"
