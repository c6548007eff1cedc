"""Stale locks and clock skew (crashes at every step: tests/reliability/test_crash.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.support import run_nfk8s

GRACE = 120


def lease(fk) -> dict:
    return fk.api.get("leases", "default", "nfk8s-lock")


def record(fk, run_id: str) -> dict | None:
    try:
        cm = fk.api.get("configmaps", "default", f"nfk8s-run-{run_id}")
    except Exception:
        return None
    return json.loads(cm["data"]["run.json"])


def job_done(fk, run_id: str) -> bool:
    try:
        job = fk.api.get("jobs", "default", f"nfk8s-{run_id}")
    except Exception:
        return False
    return any(
        c["type"] in {"Complete", "Failed"} and c["status"] == "True"
        for c in job.get("status", {}).get("conditions", [])
    )


def ghost_lease(fk, *, renewed_ago: float) -> None:
    """A Lease held by a run whose Job never appeared, renewed ``renewed_ago`` s ago (server)."""
    server_now = datetime.now(UTC) + timedelta(seconds=fk.clock_offset)
    stamp = (server_now - timedelta(seconds=renewed_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fk.api.create(
        "leases",
        "default",
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "nfk8s-lock"},
            "spec": {
                "holderIdentity": "ghost",
                "leaseDurationSeconds": GRACE,
                "acquireTime": stamp,
                "renewTime": stamp,
                "leaseTransitions": 0,
            },
        },
    )


def test_finished_holder_is_taken_over_and_its_record_settled(cluster):
    first = run_nfk8s(cluster, "run", "sim/hello", "--detach", "--name", "first")
    assert first.returncode == 0, first.stderr
    cluster.wait_for(lambda: job_done(cluster, "first"), timeout=60)
    assert record(cluster, "first")["status"] == "pending"  # nobody followed it
    second = run_nfk8s(cluster, "run", "sim/hello", "--name", "second")
    assert second.returncode == 0, second.stderr
    assert "took over the lock from stale run first" in second.stderr
    assert lease(cluster)["spec"]["leaseTransitions"] == 1
    assert record(cluster, "first")["status"] == "succeeded"


def test_fresh_lock_without_job_is_not_taken_then_is_after_grace(cluster):
    ghost_lease(cluster, renewed_ago=10)
    busy = run_nfk8s(cluster, "run", "sim/hello")
    assert busy.returncode == 3
    assert "run ghost" in busy.stderr
    assert "starting" in busy.stderr
    assert cluster.api.list("jobs", "default") == []
    cluster.clock_offset += GRACE  # the server's clock moves past the grace
    taken = run_nfk8s(cluster, "run", "sim/hello")
    assert taken.returncode == 0, taken.stderr
    assert lease(cluster)["spec"]["leaseTransitions"] == 1


@pytest.mark.parametrize("skew", [-600, 600])
def test_a_client_clock_ten_minutes_off_changes_nothing(cluster, skew):
    # The server's clock differs from this machine's by ten minutes either way.
    cluster.clock_offset = skew
    ghost_lease(cluster, renewed_ago=10)
    assert run_nfk8s(cluster, "run", "sim/hello").returncode == 3
    cluster.api.delete("leases", "default", "nfk8s-lock")
    ghost_lease(cluster, renewed_ago=GRACE + 5)
    taken = run_nfk8s(cluster, "run", "sim/hello")
    assert taken.returncode == 0, taken.stderr
