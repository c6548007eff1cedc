"""`nfk8s lock show` and `nfk8s lock release --force`."""

from __future__ import annotations

import json

import pytest

from nfk8s import lock
from tests.admin.helpers import (
    LOCK,
    connect,
    job_finished,
    lock_holder,
    running_task_pods,
    stored_status,
    submit,
)
from tests.support import snapshot

pytestmark = pytest.mark.backends

# With a run going, its Job and pods change under the controllers: compare what nfk8s itself
# would write when releasing the lock.
LOCK_STATE = ("configmaps", "secrets", "leases")


def test_show_a_free_lock(cluster, invoke):
    never = invoke("lock")
    assert never.exit_code == 0, never.stderr
    assert never.stdout == "lock nfk8s-lock: free (no Lease yet; the first run creates it)\n"


def test_show_the_holder_of_a_running_run(cluster, invoke):
    run_id = submit(cluster)
    running_task_pods(cluster, run_id)

    shown = invoke("lock", "show")
    data = json.loads(invoke("lock", "show", "-o", "json").stdout)

    assert shown.exit_code == 0, shown.stderr
    assert f"holder:     {run_id}" in shown.stdout
    assert "pipeline:   sim/slow" in shown.stdout
    assert "started by: tester" in shown.stdout
    assert "job:        running" in shown.stdout
    assert f"verdict:    held: Job of run {run_id} is running" in shown.stdout
    assert data["holder"] == run_id
    assert data["verdict"] == "held"
    assert data["jobState"] == "running"
    assert data["ageSeconds"] >= 0


def test_release_needs_force_and_writes_nothing_without_it(cluster, invoke):
    run_id = submit(cluster)
    before = snapshot(cluster, LOCK_STATE)

    result = invoke("lock", "release")

    assert result.exit_code == 2
    assert "needs --force" in result.stderr
    assert snapshot(cluster, LOCK_STATE) == before
    assert lock_holder(cluster) == run_id


def test_release_a_stale_lock_names_the_holder_and_settles_its_record(cluster, invoke):
    run_id = submit(cluster, "sim/hello", params={"sim_task_seconds": 1})
    cluster.wait_for(lambda: job_finished(cluster, run_id), timeout=20)
    assert "verdict:    stale" in invoke("lock").stdout

    result = invoke("lock", "release", "--force")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"released lock nfk8s-lock held by run {run_id} (succeeded)",
        f"run {run_id} is recorded as succeeded",
    ]
    assert lock_holder(cluster) is None
    assert stored_status(cluster, run_id) == "succeeded"


def test_release_refuses_while_the_holder_runs_unless_told_twice(cluster, invoke):
    run_id = submit(cluster)
    running_task_pods(cluster, run_id)
    before = snapshot(cluster, LOCK_STATE)

    refused = invoke("lock", "release", "--force")

    assert refused.exit_code == 3
    assert f"run {run_id} holds lock nfk8s-lock" in refused.stderr
    assert f"nfk8s cancel {run_id}" in refused.stderr
    assert "repeat --force" in refused.stderr
    assert snapshot(cluster, LOCK_STATE) == before

    forced = invoke("lock", "release", "--force", "--force")

    assert forced.exit_code == 0, forced.stderr
    assert f"released lock nfk8s-lock held by run {run_id} (running)" in forced.stdout
    assert f"run {run_id} is still running without the lock" in forced.stderr
    assert lock_holder(cluster) is None


def test_release_never_clears_a_holder_it_did_not_show(cluster):
    # Between reading and writing, another run took the lock: the CAS leaves it alone.
    kube = connect(cluster)
    lock.acquire(kube, name=LOCK, run_id="first", grace_seconds=120, annotations={})
    assert lock.release(kube, name=LOCK, run_id="someone-else") is False
    assert lock_holder(cluster) == "first"
