"""Task counts from pod watch events and driver log lines."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nfk8s.models import ProcessCounts
from nfk8s.nextflow import parse_line
from nfk8s.progress import MAX_ERRORS, ProgressTracker, pod_state

SESSION = "1f0a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8"


def pod(
    hash8: str,
    process_label: str,
    phase: str | None,
    rv: str | int = "1",
    *,
    exit_code: int | None = None,
    running: bool = False,
    uid: str | None = None,
) -> dict[str, Any]:
    """A task pod as Nextflow's k8s executor creates it (name nf-<hash>-<suffix>)."""
    container: dict[str, Any] = {"name": f"nf-{hash8}", "state": {}}
    if exit_code is not None:
        container["state"] = {"terminated": {"exitCode": exit_code, "reason": "Completed"}}
    elif running:
        container["state"] = {"running": {"startedAt": "2026-11-26T01:00:00Z"}}
    status: dict[str, Any] = {"containerStatuses": [container]}
    if phase is not None:
        status["phase"] = phase
    name = f"nf-{hash8}0123456789abcdef01234567-ab12c"
    return {
        "metadata": {
            "name": name,
            "uid": uid or f"uid-{hash8}",
            "resourceVersion": str(rv),
            "labels": {
                "nextflow.io/app": "nextflow",
                "nextflow.io/runName": "r20261126-0153-k7f2q",
                "nextflow.io/processName": process_label,
                "nextflow.io/taskName": f"{process_label}_1",
                "nextflow.io/sessionId": f"uuid-{SESSION}",
            },
        },
        "status": status,
    }


def feed_log(tracker: ProgressTracker, *lines: str) -> None:
    for line in lines:
        event = parse_line(line)
        assert event is not None, line
        tracker.apply_log_event(event)


def test_pod_state() -> None:
    assert pod_state(pod("ab123456", "P", "Pending")) == "pending"
    assert pod_state(pod("ab123456", "P", "Running", running=True)) == "running"
    assert pod_state(pod("ab123456", "P", "Succeeded", exit_code=0)) == "succeeded"
    assert pod_state(pod("ab123456", "P", "Failed", exit_code=1)) == "failed"
    # The container state is ahead of the phase.
    assert pod_state(pod("ab123456", "P", "Running", exit_code=0)) == "succeeded"
    assert pod_state(pod("ab123456", "P", "Running", exit_code=137)) == "failed"
    assert pod_state(pod("ab123456", "P", None)) == "pending"
    assert pod_state(pod("ab123456", "P", "Unknown")) is None


def test_lifecycle_moves_counts() -> None:
    tracker = ProgressTracker()
    assert tracker.apply_pod_event("ADDED", pod("ab123456", "FASTQC", "Pending", 1))
    assert tracker.snapshot() == {"FASTQC": ProcessCounts(pending=1)}
    tracker.apply_pod_event("MODIFIED", pod("ab123456", "FASTQC", "Running", 2, running=True))
    assert tracker.snapshot() == {"FASTQC": ProcessCounts(running=1)}
    tracker.apply_pod_event("MODIFIED", pod("ab123456", "FASTQC", "Succeeded", 3, exit_code=0))
    assert tracker.snapshot() == {"FASTQC": ProcessCounts(succeeded=1)}
    # Nextflow deletes finished task pods: the count stays.
    tracker.apply_pod_event("DELETED", pod("ab123456", "FASTQC", "Succeeded", 4, exit_code=0))
    assert tracker.snapshot() == {"FASTQC": ProcessCounts(succeeded=1)}
    assert tracker.session_id == SESSION


def test_replayed_events_count_once() -> None:
    tracker = ProgressTracker()
    events = [
        ("ADDED", pod("ab123456", "A", "Pending", 1)),
        ("MODIFIED", pod("ab123456", "A", "Running", 2, running=True)),
        ("ADDED", pod("cd123456", "A", "Running", 3, running=True)),
    ]
    for kind, obj in events:
        tracker.apply_pod_event(kind, obj)
    first = tracker.snapshot()
    for kind, obj in events + events:
        assert not tracker.apply_pod_event(kind, obj)
    assert tracker.snapshot() == first == {"A": ProcessCounts(running=2)}


def test_older_resource_version_is_ignored() -> None:
    tracker = ProgressTracker()
    tracker.apply_pod_event("MODIFIED", pod("ab123456", "A", "Running", 10, running=True))
    assert not tracker.apply_pod_event("MODIFIED", pod("ab123456", "A", "Pending", 9))
    assert tracker.snapshot() == {"A": ProcessCounts(running=1)}


def test_finished_is_final() -> None:
    tracker = ProgressTracker()
    tracker.apply_pod_event("MODIFIED", pod("ab123456", "A", "Failed", 5, exit_code=1))
    # A stale view with an opaque (non-numeric) version cannot revive it.
    tracker.apply_pod_event("MODIFIED", pod("ab123456", "A", "Running", "x", running=True))
    assert tracker.snapshot() == {"A": ProcessCounts(failed=1)}


def test_first_seen_deleted_counts_by_exit_code() -> None:
    tracker = ProgressTracker()
    tracker.apply_pod_event("DELETED", pod("aa000001", "A", "Running", 7, exit_code=0))
    tracker.apply_pod_event("DELETED", pod("aa000002", "A", "Running", 8, exit_code=2))
    assert tracker.snapshot() == {"A": ProcessCounts(succeeded=1, failed=1)}


def test_deleted_before_finishing_is_not_left_running() -> None:
    tracker = ProgressTracker()
    tracker.apply_pod_event("ADDED", pod("aa000001", "A", "Running", 1, running=True))
    tracker.apply_pod_event("ADDED", pod("aa000002", "A", "Pending", 2))
    tracker.apply_pod_event("DELETED", pod("aa000001", "A", "Running", 3, running=True))
    tracker.apply_pod_event("DELETED", pod("aa000002", "A", "Pending", 4))
    assert tracker.snapshot() == {"A": ProcessCounts(killed=2)}


def test_non_task_pods_and_bookmarks_are_ignored() -> None:
    tracker = ProgressTracker()
    driver = {"metadata": {"name": "nfk8s-r-abcde", "labels": {"job-name": "nfk8s-r"}}}
    assert not tracker.apply_pod_event("ADDED", driver)
    assert not tracker.apply_pod_event("BOOKMARK", {"metadata": {"resourceVersion": "9"}})
    assert not tracker.apply_pod_event("ERROR", pod("ab123456", "A", "Running"))
    assert tracker.snapshot() == {}


def test_label_maps_back_to_the_process_name() -> None:
    tracker = ProgressTracker()
    feed_log(
        tracker,
        "[ab/123456] Submitted process > NFCORE_RNASEQ:RNASEQ:FASTQC (s1)",
        "[cd/654321] Submitted process > NFCORE_RNASEQ:RNASEQ:TRIMGALORE (s1)",
    )
    # Matched by task hash (pod name) and by sanitised label.
    tracker.apply_pod_event("ADDED", pod("ab123456", "NFCORE_RNASEQ_RNASEQ_FASTQC", "Pending"))
    other = pod("ef999999", "NFCORE_RNASEQ_RNASEQ_TRIMGALORE", "Running", running=True)
    tracker.apply_pod_event("ADDED", other)
    tracker.apply_pod_event("ADDED", pod("0f000000", "UNSEEN_PROCESS", "Pending"))
    # cd/654321 was submitted but its pod has not shown up yet: pending.
    assert tracker.snapshot() == {
        "NFCORE_RNASEQ:RNASEQ:FASTQC": ProcessCounts(pending=1),
        "NFCORE_RNASEQ:RNASEQ:TRIMGALORE": ProcessCounts(pending=1, running=1),
        "UNSEEN_PROCESS": ProcessCounts(pending=1),
    }


def test_pods_seen_before_the_log_line_are_renamed_later() -> None:
    tracker = ProgressTracker()
    tracker.apply_pod_event("ADDED", pod("ab123456", "WF_ALIGN", "Pending"))
    assert set(tracker.snapshot()) == {"WF_ALIGN"}
    feed_log(tracker, "[ab/123456] Submitted process > WF:ALIGN (x)")
    assert tracker.snapshot() == {"WF:ALIGN": ProcessCounts(pending=1)}


def test_cached_and_stored_from_the_log() -> None:
    tracker = ProgressTracker()
    lines = [
        "[25/55f4e7] Cached process > irods (ImmHet6564352)",
        "[10/2f2af3] Cached process > irods (ImmHet6564353)",
        "[skipping] Stored process > INDEX (genome)",
    ]
    feed_log(tracker, *lines)
    feed_log(tracker, *lines)  # the log re-read after a reconnect
    assert tracker.snapshot() == {
        "irods": ProcessCounts(cached=2),
        "INDEX": ProcessCounts(cached=1),
    }
    assert tracker.totals() == ProcessCounts(cached=3)


def test_retries_count_once_and_hide_the_failed_attempt() -> None:
    tracker = ProgressTracker()
    feed_log(tracker, "[94/b48eac] Submitted process > FASTP (2)")
    tracker.apply_pod_event("ADDED", pod("94b48eac", "FASTP", "Running", 1, running=True))
    tracker.apply_pod_event("MODIFIED", pod("94b48eac", "FASTP", "Failed", 2, exit_code=137))
    assert tracker.snapshot() == {"FASTP": ProcessCounts(failed=1)}
    feed_log(
        tracker,
        "[94/b48eac] NOTE: Process `FASTP (2)` terminated with an error exit status (137)"
        " -- Execution is retried (1)",
        "[1f/a1a4ca] Re-submitted process > FASTP (2)",
    )
    tracker.apply_pod_event("ADDED", pod("1fa1a4ca", "FASTP", "Running", 3, running=True))
    assert tracker.snapshot() == {"FASTP": ProcessCounts(running=1, retried=1)}
    tracker.apply_pod_event("MODIFIED", pod("1fa1a4ca", "FASTP", "Succeeded", 4, exit_code=0))
    assert tracker.snapshot() == {"FASTP": ProcessCounts(succeeded=1, retried=1)}


def test_retries_from_either_form_alone() -> None:
    notes_only = ProgressTracker()
    feed_log(
        notes_only,
        "[d1/4aa5ff] NOTE: Process `execute_jobs (334)` terminated with an error exit status"
        " (127) -- Execution is retried (2)",
        "[b5/4f2f5d] NOTE: Process `execute_jobs (332)` terminated with an error exit status"
        " (127) -- Execution is retried (2)",
    )
    assert notes_only.snapshot()["execute_jobs"].retried == 2
    old_style = ProgressTracker()
    feed_log(
        old_style,
        "WARN: Process `Mapping (A)` terminated with an error exit status (143)"
        " -- Execution is retried (1)",
        "[96/507b97] Re-submitted process > Mapping (A)",
        "[6c/dc5207] Re-submitted process > Mapping (B)",
    )
    assert old_style.snapshot()["Mapping"].retried == 2


def test_ignored_errors_stay_failed() -> None:
    tracker = ProgressTracker()
    tracker.apply_pod_event("MODIFIED", pod("7ea18dee", "PREPROC_grouptgt", "Failed", exit_code=1))
    feed_log(
        tracker,
        "[7e/a18dee] NOTE: Process `PREPROC:grouptgt (grouptgt)` terminated with an error"
        " exit status (127) -- Error is ignored",
    )
    assert tracker.snapshot() == {"PREPROC:grouptgt": ProcessCounts(failed=1)}


def test_errors_and_launch_info() -> None:
    tracker = ProgressTracker()
    feed_log(
        tracker,
        "Launching `nf-core/rnaseq` [r20261126-0153-k7f2q] DSL2 - revision: 5e54b29cb3 [3.14.0]",
        "ERROR ~ Error executing process > 'FASTQC (s1)'",
        "ERROR ~ Error executing process > 'FASTQC (s1)'",
        "ERROR ~ Something else broke",
    )
    assert tracker.run_name == "r20261126-0153-k7f2q"
    assert tracker.revision == "5e54b29cb3"
    assert [(e.kind.value, e.process) for e in tracker.errors] == [
        ("task_error", "FASTQC"),
        ("error", None),
    ]
    for i in range(MAX_ERRORS + 10):
        feed_log(tracker, f"ERROR ~ problem {i}")
    assert len(tracker.errors) == MAX_ERRORS


def test_order_follows_first_appearance() -> None:
    tracker = ProgressTracker()
    feed_log(
        tracker,
        "[aa/000001] Submitted process > B (1)",
        "[aa/000002] Submitted process > A (1)",
        "[aa/000003] Cached process > C (1)",
    )
    tracker.apply_pod_event("ADDED", pod("ff000000", "Z", "Pending"))
    assert list(tracker.snapshot()) == ["B", "A", "C", "Z"]


@pytest.mark.parametrize("replays", [1, 3])
def test_mixed_run_totals(replays: int) -> None:
    tracker = ProgressTracker()
    lines = [
        "[aa/000001] Cached process > INDEX (ref)",
        "[aa/000002] Submitted process > ALIGN (s1)",
        "[aa/000003] Submitted process > ALIGN (s2)",
        "[aa/000004] Submitted process > ALIGN (s3)",
    ]
    pods = [
        ("ADDED", pod("aa000002", "ALIGN", "Running", 1, running=True)),
        ("MODIFIED", pod("aa000002", "ALIGN", "Succeeded", 5, exit_code=0)),
        ("DELETED", pod("aa000002", "ALIGN", "Succeeded", 6, exit_code=0)),
        ("ADDED", pod("aa000003", "ALIGN", "Pending", 2)),
        ("MODIFIED", pod("aa000003", "ALIGN", "Failed", 7, exit_code=1)),
        ("ADDED", pod("aa000004", "ALIGN", "Running", 3, running=True)),
    ]
    for _ in range(replays):
        feed_log(tracker, *lines)
        for kind, obj in pods:
            tracker.apply_pod_event(kind, obj)
    assert tracker.snapshot() == {
        "INDEX": ProcessCounts(cached=1),
        "ALIGN": ProcessCounts(running=1, succeeded=1, failed=1),
    }
    assert tracker.totals() == ProcessCounts(running=1, succeeded=1, failed=1, cached=1)
    assert tracker.totals().total == 4


def test_pods_gone_during_a_relist_count_as_succeeded() -> None:
    tracker = ProgressTracker()
    feed_log(
        tracker, "[aa/000001] Submitted process > A (1)", "[aa/000002] Submitted process > A (2)"
    )
    tracker.apply_listing(
        [
            pod("aa000001", "A", "Running", 1, running=True),
            pod("aa000002", "A", "Running", 2, running=True),
        ]
    )
    # A 410 forced a re-list; aa000001 succeeded and was cleaned up in the gap.
    tracker.apply_listing([pod("aa000002", "A", "Running", 5, running=True)])
    assert tracker.snapshot() == {"A": ProcessCounts(running=1, succeeded=1)}


def test_pods_gone_after_killing_began_count_as_killed() -> None:
    tracker = ProgressTracker()
    tracker.apply_listing([pod("aa000001", "A", "Running", 1, running=True)])
    feed_log(tracker, "WARN: Killing running tasks (1)")
    tracker.apply_listing([])
    assert tracker.snapshot() == {"A": ProcessCounts(killed=1)}


def test_tasks_submitted_before_the_first_listing_are_done() -> None:
    tracker = ProgressTracker()
    early = parse_line("[aa/000001] Submitted process > A (1)")
    late = parse_line("[aa/000002] Submitted process > A (2)")
    assert early is not None and late is not None
    tracker.apply_log_event(early, "2026-11-26T01:00:00.000000000Z")
    tracker.apply_listing([], "2026-11-26T01:00:05.000000000Z")
    tracker.apply_log_event(late, "2026-11-26T01:00:06.000000000Z")
    # Attached late: aa000001 ended (and was deleted) before the listing; aa000002 is new.
    assert tracker.snapshot() == {"A": ProcessCounts(pending=1, succeeded=1)}
    assert tracker.snapshot(final=True) == {"A": ProcessCounts(succeeded=2)}


SIM_FAIL_LOG = [
    ("2026-01-01T00:00:01.000000000Z", "[aa/000001] Submitted process > F:PREPARE (s1)"),
    ("2026-01-01T00:00:01.100000000Z", "[aa/000002] Submitted process > F:PREPARE (s2)"),
    ("2026-01-01T00:00:04.000000000Z", "[bb/000001] Submitted process > F:ALIGN (s1)"),
    ("2026-01-01T00:00:04.100000000Z", "[bb/000002] Submitted process > F:ALIGN (s2)"),
    ("2026-01-01T00:00:04.200000000Z", "[bb/000003] Submitted process > F:ALIGN (s3)"),
    ("2026-01-01T00:00:08.000000000Z", "ERROR ~ Error executing process > 'F:ALIGN (s2)'"),
    ("2026-01-01T00:00:08.100000000Z", "WARN: Killing running tasks (2)"),
]


def feed_stamped(tracker: ProgressTracker, lines: list[tuple[str, str]]) -> None:
    for stamp, line in lines:
        if stamp < (tracker.cursor.stamp or ""):
            continue
        event = parse_line(line)
        if event is not None:
            tracker.apply_log_event(event, stamp)
        tracker.note_line(stamp)


def test_kills_nobody_saw_take_the_latest_tasks_and_spare_earlier_successes() -> None:
    """Looked at only after the end: the failed pod is all that is left."""
    tracker = ProgressTracker()
    tracker.apply_listing(
        [pod("bb000002", "F_ALIGN", "Failed", 9, exit_code=1)], "2026-01-01T00:00:09.000000000Z"
    )
    feed_stamped(tracker, SIM_FAIL_LOG)
    assert tracker.snapshot(final=True) == {
        "F:PREPARE": ProcessCounts(succeeded=2),
        "F:ALIGN": ProcessCounts(failed=1, killed=2),
    }


def test_counts_go_on_from_the_recorded_state_and_cursor() -> None:
    early = ProgressTracker()
    early.apply_listing(
        [
            pod("bb000001", "F_ALIGN", "Running", 5, running=True),
            pod("bb000002", "F_ALIGN", "Running", 6, running=True),
            pod("bb000003", "F_ALIGN", "Running", 7, running=True),
        ],
        "2026-01-01T00:00:05.000000000Z",
    )
    feed_stamped(early, SIM_FAIL_LOG[:5])
    state = early.to_state()
    assert state["cursor"]["stamp"] == SIM_FAIL_LOG[4][0]
    assert state["settled"] == {"F:PREPARE": ProcessCounts(succeeded=2).to_json()}
    assert sorted(state["tasks"]) == ["bb000001", "bb000002", "bb000003"]

    later = ProgressTracker.from_state(json.loads(json.dumps(state)))
    assert later.snapshot() == early.snapshot()
    later.apply_listing(
        [pod("bb000002", "F_ALIGN", "Failed", 9, exit_code=1)], "2026-01-01T00:00:09.000000000Z"
    )
    feed_stamped(later, SIM_FAIL_LOG)  # only the lines past the cursor count
    final = later.snapshot(final=True)
    assert final == {
        "F:PREPARE": ProcessCounts(succeeded=2),
        "F:ALIGN": ProcessCounts(failed=1, killed=2),
    }
    assert ProgressTracker.from_state(later.to_state(final=True)).snapshot(final=True) == final


def test_a_pod_being_deleted_while_it_runs_is_killed_not_failed() -> None:
    tracker = ProgressTracker()
    tracker.apply_pod_event("ADDED", pod("aa000001", "A", "Running", 1, running=True))
    dying = pod("aa000001", "A", "Failed", 2, exit_code=143)
    dying["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:30Z"
    tracker.apply_pod_event("MODIFIED", dying)
    assert tracker.snapshot() == {"A": ProcessCounts(killed=1)}


def test_pods_a_cancel_deleted_are_killed_even_without_a_kill_line() -> None:
    tracker = ProgressTracker()
    tracker.apply_listing([pod("aa000001", "A", "Running", 1, running=True)])
    assert tracker.open_tasks() == {"aa000001"}
    tracker.mark_killed(tracker.open_tasks())
    tracker.apply_listing([])
    assert tracker.snapshot(final=True) == {"A": ProcessCounts(killed=1)}


def test_a_submitted_line_names_a_pod_seen_by_its_label_first() -> None:
    tracker = ProgressTracker()
    tracker.apply_pod_event("ADDED", pod("aa000001", "S_SLEEP", "Running", 1, running=True))
    assert tracker.snapshot() == {"S_SLEEP": ProcessCounts(running=1)}
    event = parse_line("[aa/000001] Submitted process > S:SLEEP (1)")
    assert event is not None
    assert tracker.apply_log_event(event, "2026-01-01T00:00:01.000000000Z")  # shows at once
    assert tracker.snapshot() == {"S:SLEEP": ProcessCounts(running=1)}


def test_a_finished_run_has_nothing_running_when_the_pod_watch_lagged_behind_its_end() -> None:
    """The driver ended and its log was drained while the task watch was still re-listing
    after a 410: the last events of two pods never came. Final counts leave none running."""
    tracker = ProgressTracker()
    feed_log(
        tracker, "[aa/000001] Submitted process > A (1)", "[aa/000002] Submitted process > A (2)"
    )
    tracker.apply_pod_event("ADDED", pod("aa000001", "A", "Running", 1, running=True))
    tracker.apply_pod_event("ADDED", pod("aa000002", "A", "Running", 2, running=True))
    assert tracker.snapshot(final=True) == {"A": ProcessCounts(succeeded=2)}
    tracker.apply_listing([], "2026-01-01T00:01:00.000000000Z")  # the listing after the end
    tracker.close()
    tracker.apply_pod_event("DELETED", pod("aa000001", "A", "Running", 3, running=True))
    assert tracker.snapshot(final=True) == {"A": ProcessCounts(succeeded=2)}
