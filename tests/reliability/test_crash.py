"""Crashes: ``nfk8s run`` and ``nfk8s cancel`` SIGKILLed at every step, then the next command.

Each step is the request the command has in flight when it dies: the fake holds that
request (it hangs, then would fail) and the process is killed while it waits, so
everything before the step has happened and nothing after it. The next command must then
recover, and nothing may leak: no Lease held by a dead run, no pod of the run still
running, no Job or Secret that no record owns, and records that tell the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from nfk8s import manifests
from tests.admin.helpers import running_task_pods, submit
from tests.reliability.helpers import (
    NS,
    PAST_GRACE,
    hold,
    job_finished,
    kill_at,
    live_pods,
    lock_holder,
    record,
    truth,
    unowned_objects,
    wait_until,
)


@dataclass(frozen=True)
class Step:
    name: str
    request: dict[str, Any]  # the held request: verb, resource, [subresource, skip]
    # What the killed command had done by then.
    locked: bool = True
    record: bool = True
    job: bool = True
    settled: bool = False


NOTHING = {"locked": False, "record": False, "job": False}

# `nfk8s run sim/hello -p password=...`, request by request (a secret-looking param adds
# the params Secret).
RUN_STEPS = [
    Step("reading-the-lock", {"verb": "get", "resource": "leases"}, **NOTHING),
    Step("taking-the-lock", {"verb": "create", "resource": "leases"}, **NOTHING),
    Step(
        "writing-the-record", {"verb": "create", "resource": "configmaps"}, record=False, job=False
    ),
    Step("storing-the-params-secret", {"verb": "create", "resource": "secrets"}, job=False),
    Step("creating-the-job", {"verb": "create", "resource": "jobs"}, job=False),
    Step("noting-the-job-on-the-lease", {"verb": "patch", "resource": "leases"}),
    Step("following-the-driver-log", {"verb": "get", "resource": "pods", "subresource": "log"}),
    Step("settling-the-record", {"verb": "update", "resource": "configmaps"}),
    Step("releasing-the-lock", {"verb": "update", "resource": "leases"}, settled=True),
    Step(
        "pruning-old-records",
        {"verb": "list", "resource": "configmaps"},
        locked=False,
        settled=True,
    ),
]

# `nfk8s cancel RUN --grace-period 0` of a run with three task pods running: the driver
# dies at once without stopping its tasks, so the sweep has work to do.
CANCEL_STEPS = [
    Step("reading-the-job", {"verb": "get", "resource": "jobs"}),
    Step("marking-the-record-cancelled", {"verb": "update", "resource": "configmaps"}),
    Step("deleting-the-driver-pod", {"verb": "delete", "resource": "pods"}),
    Step("deleting-the-job", {"verb": "delete", "resource": "jobs"}),
    Step("waiting-for-the-driver", {"verb": "list", "resource": "pods", "skip": 2}),
    Step("sweeping-task-jobs", {"verb": "list", "resource": "jobs"}),
    Step("deleting-task-pods", {"verb": "delete", "resource": "pods", "skip": 1}),
    Step("waiting-for-the-tasks", {"verb": "list", "resource": "pods", "skip": 4}),
    Step("releasing-the-lock", {"verb": "update", "resource": "leases"}),
]


def test_the_step_tables_have_the_counts_their_test_names_promise():
    assert len(RUN_STEPS) == 10
    assert len(CANCEL_STEPS) == 9


def assert_nothing_leaked(fk, *run_ids: str) -> None:
    assert lock_holder(fk) is None
    for run_id in run_ids:
        assert live_pods(fk, run_id) == [], run_id
    assert unowned_objects(fk) == []


@pytest.mark.parametrize("step", RUN_STEPS, ids=lambda s: s.name)
def test_sigkill_at_each_of_10_steps_of_run_then_the_next_run_recovers(cluster, invoke, step):
    killed = "killed"
    held = hold(cluster, **step.request)
    kill_at(cluster, ["run", "sim/hello", "--name", killed, "-p", "password=hunter2"], held)

    assert (lock_holder(cluster) == killed) == step.locked
    assert (record(cluster, killed) is not None) == step.record
    if step.record:
        assert (record(cluster, killed)["status"] == "succeeded") == step.settled
    has_job = cluster.store.try_get("jobs", NS, manifests.job_name(killed)) is not None
    assert has_job == step.job
    if has_job:  # the run goes on without its follower
        wait_until(cluster, lambda: job_finished(cluster, killed))
    # A lease without a Job is the dead run's start-up grace: let the server's clock pass it.
    cluster.clock_offset += PAST_GRACE

    after = invoke("run", "sim/hello", "--name", "after", "--plain")

    assert after.exit_code == 0, after.stderr
    assert record(cluster, "after")["status"] == "succeeded"
    assert_nothing_leaked(cluster, killed, "after")
    written = record(cluster, killed)
    if not step.record:
        assert written is None
    elif not step.job:
        assert written["status"] == "failed"
        assert "interrupted before the Job was created" in written["reason"]
    else:
        outcome = truth(cluster, killed)
        assert outcome is not None and outcome["exit_code"] == 0
        assert (written["status"], written["exitCode"]) == ("succeeded", 0)


@pytest.mark.parametrize("step", CANCEL_STEPS, ids=lambda s: s.name)
def test_sigkill_at_each_of_9_steps_of_cancel_then_cancel_again_finishes(cluster, invoke, step):
    run_id = submit(cluster, "sim/slow")
    running_task_pods(cluster, run_id, at_least=3)
    held = hold(cluster, **step.request)

    kill_at(cluster, ["cancel", run_id, "--grace-period", "0"], held)
    again = invoke("cancel", run_id, "--grace-period", "0", "-o", "json")

    assert again.exit_code == 0, again.stderr
    assert record(cluster, run_id)["status"] == "cancelled"
    assert cluster.store.try_get("jobs", NS, manifests.job_name(run_id)) is None
    assert_nothing_leaked(cluster, run_id)
    # The next run is free to start.
    assert invoke("run", "sim/hello", "--detach").exit_code == 0
