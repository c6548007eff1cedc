"""Stale locks and clock skew (crashes at every step: tests/reliability/test_crash.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from nfk8s import manifests
from tests.support import nfk8s_env, run_nfk8s, try_get

pytestmark = pytest.mark.backends

GRACE = 120


def lease(cluster) -> dict:
    return cluster.api.get("leases", cluster.namespace, "nfk8s-lock")


def record(cluster, run_id: str) -> dict | None:
    cm = try_get(cluster.api, "configmaps", cluster.namespace, f"nfk8s-run-{run_id}")
    return json.loads(cm["data"]["run.json"]) if cm else None


def job_done(cluster, run_id: str) -> bool:
    job = try_get(cluster.api, "jobs", cluster.namespace, f"nfk8s-{run_id}")
    return any(
        c["type"] in {"Complete", "Failed"} and c["status"] == "True"
        for c in ((job or {}).get("status") or {}).get("conditions", [])
    )


def ghost_lease(cluster, *, renewed_ago: float) -> None:
    """A Lease held by a run whose Job never appeared, renewed ``renewed_ago`` s ago (server).

    The fake's clock can be set apart from this machine's; the real server's is this one's."""
    offset = cluster.clock_offset if cluster.backend == "fake" else 0.0
    server_now = datetime.now(UTC) + timedelta(seconds=offset)
    stamp = (server_now - timedelta(seconds=renewed_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    cluster.api.create(
        "leases",
        cluster.namespace,
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


def ghost_kept_through_its_grace_then_taken(cluster) -> None:
    ghost_lease(cluster, renewed_ago=10)
    busy = run_nfk8s(cluster, "run", "sim/hello")
    assert busy.returncode == 3, busy.stderr
    assert "run ghost" in busy.stderr
    assert "starting" in busy.stderr
    assert cluster.api.list("jobs", cluster.namespace) == []
    cluster.api.delete("leases", cluster.namespace, "nfk8s-lock")
    ghost_lease(cluster, renewed_ago=GRACE + 5)
    taken = run_nfk8s(cluster, "run", "sim/hello")
    assert taken.returncode == 0, taken.stderr
    assert lease(cluster)["spec"]["leaseTransitions"] == 1


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


def test_deleting_the_job_of_a_detached_run_frees_the_lock_at_once(cluster):
    # A day of start-up grace: however slow this machine, the takeover happens inside it.
    env = nfk8s_env(cluster, NFK8S_STARTUP_GRACE_SECONDS="1d")
    first = run_nfk8s(cluster, "run", "sim/slow", "--detach", "--name", "first", env=env)
    assert first.returncode == 0, first.stderr
    assert lease(cluster)["spec"]["leaseDurationSeconds"] == 86400
    assert lease(cluster)["metadata"]["annotations"][manifests.JOB_UID_ANNOTATION]
    # Deleted in the background, the Job leaves the API at once; its pods follow it.
    cluster.api.delete(
        "jobs", cluster.namespace, manifests.job_name("first"), propagation_policy="Background"
    )
    cluster.wait_for(
        lambda: (
            try_get(cluster.api, "jobs", cluster.namespace, manifests.job_name("first")) is None
        ),
        timeout=30,
    )

    second = run_nfk8s(cluster, "run", "sim/hello", "--name", "second")

    assert second.returncode == 0, second.stderr
    assert "took over the lock from stale run first" in second.stderr
    assert lease(cluster)["spec"]["leaseTransitions"] == 1


def test_a_lock_without_job_is_kept_through_its_grace_then_taken(cluster):
    ghost_kept_through_its_grace_then_taken(cluster)


@pytest.mark.fake_only("moves the server's clock (clock_offset)")
def test_fresh_lock_without_job_is_not_taken_then_is_after_grace(cluster):
    ghost_lease(cluster, renewed_ago=10)
    busy = run_nfk8s(cluster, "run", "sim/hello")
    assert busy.returncode == 3
    assert "run ghost" in busy.stderr
    assert "starting" in busy.stderr
    assert cluster.api.list("jobs", cluster.namespace) == []
    cluster.clock_offset += GRACE  # the server's clock moves past the grace
    taken = run_nfk8s(cluster, "run", "sim/hello")
    assert taken.returncode == 0, taken.stderr
    assert lease(cluster)["spec"]["leaseTransitions"] == 1


@pytest.mark.fake_only("sets the server's clock apart from this machine's (clock_offset)")
@pytest.mark.parametrize("skew", [-600, 600])
def test_a_client_clock_ten_minutes_off_changes_nothing(cluster, skew):
    # The server's clock differs from this machine's by ten minutes either way.
    cluster.clock_offset = skew
    ghost_kept_through_its_grace_then_taken(cluster)
