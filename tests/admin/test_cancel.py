"""`nfk8s cancel` in every phase of a run, on each backend, with the Nextflow simulator."""

from __future__ import annotations

import json
import subprocess
import threading

import pytest

from nfk8s import admin, manifests, runs
from nfk8s.models import RunStatus
from tests.admin.helpers import (
    LOCK,
    connect,
    job_finished,
    lock_holder,
    run_jobs,
    run_pods,
    running_task_pods,
    seed_record,
    stored,
    stored_status,
    submit,
)
from tests.support import (
    kube_user,
    nfk8s_binary,
    nfk8s_env,
    run_nfk8s,
    snapshot,
)

pytestmark = pytest.mark.backends


def assert_nothing_left(fk, run_id: str) -> None:
    assert run_jobs(fk, run_id) == []
    assert run_pods(fk, run_id) == []
    assert lock_holder(fk) is None
    assert stored_status(fk, run_id) == "cancelled"


def cancel(fk, run_id: str, grace: int = 30) -> admin.CancelResult:
    return admin.cancel_run(connect(fk), run_id, lock_name=LOCK, grace_period_seconds=grace)


def test_cancel_while_the_job_cannot_start_its_driver(cluster):
    # Without its ServiceAccount the Job's pod is refused: the run stays pending.
    cluster.api.delete("serviceaccounts", cluster.namespace, "nfk8s-runner")
    run_id = submit(cluster)
    cluster.wait_for(
        lambda: [
            e
            for e in cluster.api.list("events", cluster.namespace)
            if e.get("reason") == "FailedCreate"
        ],
        timeout=10,
    )
    assert stored_status(cluster, run_id) == "pending"

    result = cancel(cluster, run_id)

    assert result.cancelled_now
    assert result.previous_status is RunStatus.PENDING
    assert result.deleted_job == manifests.job_name(run_id)
    assert_nothing_left(cluster, run_id)


def test_cancel_before_the_job_exists(cluster):
    # Submission stopped after writing the record: no Job yet, the lock in its start-up grace.
    run_id = "half-submitted"
    kube = connect(cluster)
    from nfk8s import lock

    lock.acquire(kube, name=LOCK, run_id=run_id, grace_seconds=120, annotations={})
    seed_record(cluster, run_id, status=RunStatus.PENDING)

    result = cancel(cluster, run_id)

    assert result.cancelled_now
    assert result.deleted_job is None
    assert_nothing_left(cluster, run_id)


@pytest.mark.parametrize("tasks_as_jobs", [False, True], ids=["task-pods", "task-jobs"])
def test_cancel_running_run_lets_nextflow_stop_its_tasks(cluster, tasks_as_jobs):
    run_id = submit(cluster, tasks_as_jobs=tasks_as_jobs)
    running_task_pods(cluster, run_id, at_least=3)

    result = cancel(cluster, run_id, grace=30)

    assert result.cancelled_now
    assert result.lock_released
    assert not result.remaining
    assert_nothing_left(cluster, run_id)
    # With a grace period the driver got SIGTERM and killed its own tasks, as Nextflow does.
    truth = cluster.sim_truth(cluster.namespace, run_id)
    assert "WARN: Killing running tasks (3)" in truth.lines
    assert truth.status == "terminated"
    record = stored(cluster, run_id)
    assert record["reason"] == f"cancelled by {kube_user(cluster)}"
    assert record["finishedAt"]


@pytest.mark.parametrize("tasks_as_jobs", [False, True], ids=["task-pods", "task-jobs"])
def test_cancel_with_grace_zero_sweeps_the_orphaned_tasks(cluster, tasks_as_jobs):
    run_id = submit(cluster, tasks_as_jobs=tasks_as_jobs)
    tasks = running_task_pods(cluster, run_id, at_least=3)

    result = cancel(cluster, run_id, grace=0)

    # The driver was killed before it could clean up: the sweep removed its tasks.
    assert cluster.sim_truth(cluster.namespace, run_id).status == "killed"
    swept = set(result.deleted_pods) | {f"{j}-" for j in result.deleted_task_jobs}
    assert all(any(t.startswith(s) or t == s for s in swept) for t in tasks)
    assert_nothing_left(cluster, run_id)


@pytest.mark.fake_only("holds the API server's pod deletions (faults)")
def test_cancel_holds_the_lock_until_its_teardown_is_done(cluster):
    run_id = submit(cluster)
    running_task_pods(cluster, run_id, at_least=3)
    # Every pod deletion waits at the server until the gate opens: cancel is stuck in its
    # teardown, with the driver and its tasks still running.
    gate = threading.Event()
    held = cluster.faults.add(verb="delete", resource="pods", gate=gate)
    results: list[admin.CancelResult] = []
    errors: list[BaseException] = []

    def go() -> None:
        try:
            results.append(cancel(cluster, run_id, grace=5))
        except BaseException as exc:  # re-raised below: a thread's own would be lost
            errors.append(exc)

    canceller = threading.Thread(target=go)
    canceller.start()
    try:
        cluster.wait_for(lambda: held.matched or errors, timeout=60)
        assert not errors
        assert stored_status(cluster, run_id) == "cancelled"
        # The next run must not start while this one's pods are still going.
        assert lock_holder(cluster) == run_id
    finally:
        gate.set()
        canceller.join(timeout=120)
    assert not canceller.is_alive()
    if errors:
        raise errors[0]
    assert results[0].lock_released
    assert_nothing_left(cluster, run_id)


def test_cancel_of_a_finished_run_says_so_and_changes_nothing(cluster, invoke):
    run_id = submit(cluster, "sim/hello", params={"sim_task_seconds": 1})
    cluster.wait_for(lambda: job_finished(cluster, run_id), timeout=20)

    result = invoke("cancel", run_id)

    assert result.exit_code == 0, result.stderr
    assert f"run {run_id} had already finished: succeeded; nothing to stop" in result.stderr
    # The record tells the truth (it was settled on the way), the lock is free, and the
    # Job stays: its pod holds the driver log.
    assert stored_status(cluster, run_id) == "succeeded"
    assert lock_holder(cluster) is None
    assert run_jobs(cluster, run_id) == [manifests.job_name(run_id)]


def test_cancel_again_is_harmless(cluster, invoke):
    run_id = submit(cluster)
    running_task_pods(cluster, run_id)
    first = invoke("cancel", run_id, "--grace-period", "10")
    again = invoke("cancel", run_id, "-o", "json")

    assert first.exit_code == 0, first.stderr
    assert f"run {run_id} cancelled (it was" in first.stderr
    assert again.exit_code == 0, again.stderr
    assert "was already cancelled" in again.stderr
    answer = json.loads(again.stdout)
    assert answer["status"] == "cancelled"
    assert answer["cancelled"] is False
    assert_nothing_left(cluster, run_id)


def test_cancel_without_a_run_id_cancels_the_active_run(cluster, invoke):
    submit(cluster, "sim/hello", params={"sim_task_seconds": 1}, run_id="older")
    cluster.wait_for(lambda: job_finished(cluster, "older"), timeout=20)
    run_id = submit(cluster)
    running_task_pods(cluster, run_id)

    result = invoke("cancel", "--grace-period", "5")

    assert result.exit_code == 0, result.stderr
    assert f"run {run_id} cancelled" in result.stderr
    assert_nothing_left(cluster, run_id)


def test_unknown_run_and_bad_grace_exit_2_and_write_nothing(cluster, invoke):
    before = snapshot(cluster)
    unknown = invoke("cancel", "no-such-run")
    negative = invoke("cancel", "no-such-run", "--grace-period", "-1")

    assert unknown.exit_code == 2
    assert f"no run 'no-such-run' in namespace '{cluster.namespace}'" in unknown.stderr
    assert "nfk8s history" in unknown.stderr
    assert negative.exit_code == 2
    assert "--grace-period must be 0 or more" in negative.stderr
    assert snapshot(cluster) == before


def test_two_cancels_at_once_agree(cluster):
    run_id = submit(cluster)
    running_task_pods(cluster, run_id, at_least=3)
    results: list[admin.CancelResult] = []
    barrier = threading.Barrier(2)

    def go() -> None:
        kube = connect(cluster)
        barrier.wait()
        results.append(admin.cancel_run(kube, run_id, lock_name=LOCK, grace_period_seconds=10))

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert len(results) == 2
    assert sorted(r.cancelled_now for r in results) == [False, True]
    assert {r.record.status for r in results} == {RunStatus.CANCELLED}
    # Exactly one write turned the record final: the compare-and-swap loser re-read it.
    assert_nothing_left(cluster, run_id)


def test_cancel_racing_the_runs_own_end_settles_on_one_status(cluster):
    """A cancel and the follower's settling race for the record: both report the winner."""
    outcomes = []
    # Cancel earlier and later around the end: with 1 of 4 tasks done, with all 4 done
    # (the driver is exiting), and once the Job has ended.
    moments = [
        lambda r: cluster.sim_truth(cluster.namespace, r).totals().succeeded >= 1,
        lambda r: cluster.sim_truth(cluster.namespace, r).totals().succeeded >= 4,
        lambda r: job_finished(cluster, r),
    ]
    for attempt, moment in enumerate(moments):
        run_id = submit(
            cluster,
            "sim/hello",
            params={"sim_task_seconds": 4, "sim_max_forks": 1},
            run_id=f"race{attempt}",
        )
        followed: list = []
        follower = threading.Thread(
            target=lambda r=run_id, f=followed: f.append(
                runs.follow_run(connect(cluster), r, lock_name=LOCK, show_log=False)
            )
        )
        follower.start()
        cluster.wait_for(
            lambda r=run_id, m=moment: cluster.sim_truth(cluster.namespace, r) is not None and m(r),
            timeout=20,
            interval=0.005,
        )
        result = cancel(cluster, run_id, grace=5)
        follower.join(timeout=60)

        final = stored_status(cluster, run_id)
        assert followed[0].status.value == final
        assert result.record.status.value == final
        assert lock_holder(cluster) is None
        if final == "cancelled":
            assert run_jobs(cluster, run_id) == []
            assert run_pods(cluster, run_id) == []
        else:
            assert final == "succeeded"
            assert not result.cancelled_now
        outcomes.append(final)
    # Once the Job has ended, its truth wins whoever writes first.
    assert outcomes[-1] == "succeeded"


def test_cancel_after_the_job_ended_unrecorded_keeps_the_truth(cluster):
    # Nobody followed the run: the Job ended but the record still says it is going.
    run_id = submit(cluster, "sim/hello", params={"sim_task_seconds": 1})
    cluster.wait_for(lambda: job_finished(cluster, run_id), timeout=20)
    assert stored_status(cluster, run_id) in {"pending", "running"}

    result = cancel(cluster, run_id)

    assert not result.cancelled_now
    assert result.record.status is RunStatus.SUCCEEDED
    assert stored_status(cluster, run_id) == "succeeded"


def test_a_followed_run_that_is_cancelled_exits_5(cluster):
    follower = subprocess.Popen(
        [nfk8s_binary(), "run", "sim/slow", "--name", "followed"],
        env=nfk8s_env(cluster),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        running_task_pods(cluster, "followed", at_least=3)
        result = run_nfk8s(cluster, "cancel", "followed", "--grace-period", "20")
        out, err = follower.communicate(timeout=60)
    finally:
        follower.kill()

    assert result.returncode == 0, result.stderr
    assert follower.returncode == 5, err
    assert "WARN: Killing running tasks (3)" in out
    assert "run followed cancelled" in err
    assert_nothing_left(cluster, "followed")


def test_cancel_of_a_run_whose_driver_died_sweeps_its_orphaned_tasks(cluster, invoke):
    run_id = submit(cluster, tasks_as_jobs=True)
    running_task_pods(cluster, run_id, at_least=3)
    # The node under the driver vanished: no SIGTERM, the Job fails, the tasks run on.
    (driver,) = cluster.api.list(
        "pods", cluster.namespace, label_selector=f"job-name=nfk8s-{run_id}"
    )
    cluster.api.delete(
        "pods", cluster.namespace, driver["metadata"]["name"], grace_period_seconds=0
    )
    cluster.wait_for(lambda: job_finished(cluster, run_id), timeout=20)
    assert len(run_jobs(cluster, run_id)) == 4  # the driver Job and three task Jobs

    result = invoke("cancel", run_id, "-o", "json")

    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["status"] == "failed"
    assert len(answer["deleted"]["taskJobs"]) == 3
    # Only the driver Job is left, for its log; no task runs on.
    cluster.wait_for(lambda: run_jobs(cluster, run_id) == [manifests.job_name(run_id)])
    cluster.wait_for(
        lambda: (
            not cluster.api.list(
                "pods", cluster.namespace, label_selector=manifests.task_selector(run_id)
            )
        )
    )
    assert lock_holder(cluster) is None
