"""The lock decision is a pure function of the Lease, the holder's Job and the server time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nfk8s import manifests
from nfk8s.lock import Verdict, decide

NOW = datetime(2026, 11, 26, 3, 0, 0, tzinfo=UTC)


def lease(holder: str | None, renewed: datetime | None = None, grace: int = 120) -> dict:
    spec: dict = {"leaseDurationSeconds": grace, "leaseTransitions": 0}
    if holder:
        spec["holderIdentity"] = holder
    if renewed:
        spec["renewTime"] = renewed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        spec["acquireTime"] = spec["renewTime"]
    return {"metadata": {"name": "nfk8s-lock", "resourceVersion": "7"}, "spec": spec}


def job(condition: str | None = None, deleting: bool = False) -> dict:
    obj: dict = {"metadata": {"name": "nfk8s-r1"}, "status": {"active": 1}}
    if condition:
        obj["status"] = {"conditions": [{"type": condition, "status": "True"}]}
    if deleting:
        obj["metadata"]["deletionTimestamp"] = "2026-11-26T02:59:00Z"
    return obj


def test_missing_lease_is_free():
    assert decide(None, None, NOW).verdict is Verdict.FREE


def test_released_lease_is_free():
    assert decide(lease(None), None, NOW).verdict is Verdict.FREE


def test_running_job_holds_the_lock_whatever_the_lease_age():
    old = NOW - timedelta(days=3)
    decision = decide(lease("r1", old), job(), NOW)
    assert decision.verdict is Verdict.HELD
    assert "running" in decision.reason


def test_finished_job_makes_the_lock_stale():
    for condition in ("Complete", "Failed"):
        decision = decide(lease("r1", NOW), job(condition), NOW)
        assert decision.verdict is Verdict.STALE
        assert condition in decision.reason


def test_job_being_deleted_makes_the_lock_stale():
    assert decide(lease("r1", NOW), job(deleting=True), NOW).verdict is Verdict.STALE


def test_no_job_within_grace_is_held():
    decision = decide(lease("r1", NOW - timedelta(seconds=30)), None, NOW)
    assert decision.verdict is Verdict.HELD
    assert "starting" in decision.reason


def test_a_deleted_job_makes_the_lock_stale_even_inside_the_grace():
    # The Lease names the Job it got: that Job gone means the run is over, grace or not.
    noted = lease("r1", NOW - timedelta(seconds=5))
    noted["metadata"]["annotations"] = {manifests.JOB_UID_ANNOTATION: "0b6c-uid"}
    decision = decide(noted, None, NOW)
    assert decision.verdict is Verdict.STALE
    assert "deleted" in decision.reason


def test_no_job_past_grace_is_stale():
    decision = decide(lease("r1", NOW - timedelta(seconds=121)), None, NOW)
    assert decision.verdict is Verdict.STALE
    assert "grace" in decision.reason


def test_grace_is_measured_on_the_clock_given_not_the_local_one():
    renewed = datetime(2020, 1, 1, tzinfo=UTC)
    assert decide(lease("r1", renewed), None, renewed + timedelta(seconds=10)).verdict is (
        Verdict.HELD
    )


def unstarted_job(created: datetime, timeout: int = 60) -> dict:
    obj = job()
    obj["metadata"]["creationTimestamp"] = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    obj["metadata"]["annotations"] = {manifests.START_TIMEOUT_ANNOTATION: str(timeout)}
    return obj


def pulling_pod(reason: str = "ImagePullBackOff") -> dict:
    state = {"waiting": {"reason": reason, "message": "nextflow/nextflow:bad not found"}}
    return {
        "metadata": {"name": "nfk8s-r1-x", "creationTimestamp": "2026-11-26T02:59:00Z"},
        "status": {"phase": "Pending", "containerStatuses": [{"name": "nextflow", "state": state}]},
    }


def test_a_driver_not_started_within_the_start_timeout_makes_the_holder_stale():
    held = decide(
        lease("r1", NOW), unstarted_job(NOW - timedelta(seconds=59)), NOW, [pulling_pod()]
    )
    assert held.verdict is Verdict.HELD
    stale = decide(
        lease("r1", NOW), unstarted_job(NOW - timedelta(seconds=61)), NOW, [pulling_pod()]
    )
    assert stale.verdict is Verdict.STALE
    assert "has not started" in stale.reason and "ImagePullBackOff" in stale.reason


def test_a_driver_that_cannot_start_makes_the_holder_stale_at_once():
    pods = [pulling_pod("InvalidImageName")]
    decision = decide(lease("r1", NOW), unstarted_job(NOW), NOW, pods)
    assert decision.verdict is Verdict.STALE and "InvalidImageName" in decision.reason


def test_a_started_driver_keeps_the_lock_past_the_start_timeout():
    running = pulling_pod()
    running["status"]["containerStatuses"][0]["state"] = {"running": {}}
    late = NOW - timedelta(hours=3)
    assert decide(lease("r1", NOW), unstarted_job(late), NOW, [running]).verdict is Verdict.HELD
    # Without the pods the clause is not judged.
    assert decide(lease("r1", NOW), unstarted_job(late), NOW).verdict is Verdict.HELD
