"""Faults: every API route failing at random, and writes whose answer never comes back.

Idempotent calls (reads, deletes, compare-and-swap writes) are retried with backoff,
honouring ``Retry-After``; creates are retried only where nfk8s can recognise its own
object, so a create that went through but whose answer was lost is taken as done.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from nfk8s import manifests
from tests.admin.helpers import running_task_pods, submit
from tests.reliability.helpers import (
    NS,
    job_finished,
    live_pods,
    lock_holder,
    record,
    unowned_objects,
    wait_until,
)
from tests.support import nfk8s_binary, nfk8s_env

# Five kinds of failure at 4.5% each: about one request in five fails.
FAILURES: list[dict[str, Any]] = [
    {"status": 500},
    {"status": 503},
    {"status": 429, "retry_after": 1},
    {"drop": True},  # the connection closes before the request is carried out
    {"lose_response": True},  # ... or after it, with the answer lost
]
RATE = 0.045


def start_run(fk, name: str, pipeline: str, lock: str, *extra: str) -> subprocess.Popen[str]:
    """``nfk8s run`` in the background, with a lock of its own so the runs go side by side."""
    return subprocess.Popen(
        [nfk8s_binary(), "run", pipeline, "--name", name, "--plain", "-o", "json", *extra],
        env=nfk8s_env(fk, NFK8S_LOCK_NAME=lock),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_4_runs_end_right_with_20_percent_of_every_route_failing(cluster, invoke):
    cluster.faults.seed(20)
    rules = [cluster.faults.add(rate=RATE, **failure) for failure in FAILURES]
    expected = {  # name: (pipeline, extra args, status, exit code)
        "ok": ("sim/hello", (), "succeeded", 0),
        "broken": ("sim/fail", (), "failed", 1),
        "stopped": ("sim/slow", (), "cancelled", 5),
        "late": ("sim/slow", ("--timeout", "4s"), "failed", 4),
    }
    procs = {
        name: start_run(cluster, name, pipeline, f"lock-{name}", *extra)
        for name, (pipeline, extra, _, _) in expected.items()
    }
    try:
        running_task_pods(cluster, "stopped", at_least=3)
        cancel = invoke("cancel", "stopped", NFK8S_LOCK_NAME="lock-stopped")
        assert cancel.exit_code == 0, cancel.stderr
        outputs = {name: proc.communicate(timeout=120) for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            proc.kill()

    for name, (_, _, status, code) in expected.items():
        out, err = outputs[name]
        assert procs[name].returncode == code, (name, err)
        assert json.loads(out)["status"] == status, (name, err)
        assert record(cluster, name)["status"] == status
        assert lock_holder(cluster, f"lock-{name}") is None
        assert live_pods(cluster, name) == []
    assert unowned_objects(cluster) == []
    # Every kind of failure was met, many times over.
    assert all(rule.fired >= 3 for rule in rules), [rule.fired for rule in rules]
    cluster.faults.clear()
    listed = invoke("history", "-o", "json")
    statuses = {item["runId"]: item["status"] for item in json.loads(listed.stdout)["items"]}
    assert statuses == {name: status for name, (_, _, status, _) in expected.items()}


# Each write nfk8s makes, with its answer lost once: (command, verb, resource).
LOST_WRITES = [
    ("run", "create", "leases"),
    ("run", "create", "configmaps"),
    ("run", "create", "secrets"),
    ("run", "create", "jobs"),
    ("run", "patch", "leases"),
    ("run", "update", "configmaps"),
    ("run", "update", "leases"),
    ("takeover", "update", "leases"),
    ("cancel", "update", "configmaps"),
    ("cancel", "delete", "pods"),
    ("cancel", "delete", "jobs"),
    ("cancel", "update", "leases"),
]


def test_the_lost_write_table_has_the_count_its_test_name_promises():
    assert len(LOST_WRITES) == 12


@pytest.mark.parametrize(
    ("command", "verb", "resource"), LOST_WRITES, ids=["-".join(w) for w in LOST_WRITES]
)
def test_each_of_12_writes_whose_answer_is_lost_counts_once(
    cluster, invoke, command, verb, resource
):
    if command == "takeover":  # a finished run nobody followed still holds the lock
        assert invoke("run", "sim/hello", "--name", "stale", "--detach").exit_code == 0
        wait_until(cluster, lambda: job_finished(cluster, "stale"))
    if command == "cancel":
        run_id = submit(cluster, "sim/slow")
        running_task_pods(cluster, run_id, at_least=3)
    lost = cluster.faults.add(verb=verb, resource=resource, lose_response=True, count=1)

    if command == "cancel":
        result = invoke("cancel", run_id, "--grace-period", "0", "-o", "json")
        assert result.exit_code == 0, result.stderr
        report = json.loads(result.stdout)
        # The report tells what this cancel did, lost answers or not.
        assert report["cancelled"] is True
        assert report["deleted"]["job"] == manifests.job_name(run_id)
        assert report["lockReleased"] is True
        assert record(cluster, run_id)["status"] == "cancelled"
        assert live_pods(cluster, run_id) == []
    else:
        run_id = "lost"
        result = invoke("run", "sim/hello", "--name", run_id, "-p", "token=t0ps3cret", "--plain")
        assert result.exit_code == 0, result.stderr
        assert record(cluster, run_id)["status"] == "succeeded"
        assert len(cluster.api.list("jobs", NS, label_selector=f"nfk8s.io/run-id={run_id}")) == 1
        if command == "takeover":
            assert "took over the lock from stale run stale" in result.stderr
            assert record(cluster, "stale")["status"] == "succeeded"
    assert lost.fired == 1
    assert lock_holder(cluster) is None
    assert unowned_objects(cluster) == []
