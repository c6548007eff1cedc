"""The process table a follower ends with is the simulator's truth, whatever the watches did."""

from __future__ import annotations

import subprocess

import pytest

from tests.follow.helpers import recorded_counts, start, truth_counts
from tests.support import compacting, nfk8s_binary, nfk8s_env, run_nfk8s


def test_table_survives_expired_watches_and_cuts(cluster):
    run_id = start(cluster, "sim/many", "sim_processes=5", "sim_tasks=6", "sim_task_seconds=16")
    cluster.bookmark_interval = 60  # no bookmarks: resumes must rely on event versions
    cut = cluster.faults.add(verb="watch", resource="pods", cut_after=4, count=8)
    # Slow (re)connections let compactions land between a cut and its resume: 410 Gone.
    cluster.faults.add(verb="watch", resource="pods", latency=0.4, count=8)
    follower = subprocess.Popen(
        [nfk8s_binary(), "logs", "-f", "--plain", run_id],
        env=nfk8s_env(cluster),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with compacting(cluster, every=0.15):
        _, err = follower.communicate(timeout=120)
    assert follower.returncode == 0, err
    selector = f"nextflow.io/runName={run_id}"
    relists = sum(
        r.query.get("labelSelector") == selector
        for r in cluster.requests.filter(verb="list", resource="pods")
    )
    assert cut.fired >= 4
    assert relists > 1, "the watch never expired"
    truth = truth_counts(cluster, run_id)
    assert sum(c.succeeded for c in truth.values()) == 30
    assert recorded_counts(cluster, run_id) == truth
    assert "] 30/30" in err  # the final table


@pytest.mark.parametrize("pipeline", ["sim/retry", "sim/fail", "sim/ignore"])
def test_retries_failures_and_kills_are_counted_as_they_happened(cluster, pipeline):
    result = run_nfk8s(cluster, "run", pipeline, "--plain", "-o", "name")
    run_id = result.stdout.strip()
    truth = truth_counts(cluster, run_id)
    assert recorded_counts(cluster, run_id) == truth
    if pipeline == "sim/retry":
        assert result.returncode == 0
        assert truth["SIM_RETRY:ASSEMBLE"].retried == 1
    else:
        assert result.returncode == (1 if pipeline == "sim/fail" else 0)
        assert sum(c.failed for c in truth.values()) >= 1
    # The final summary block shows the same table.
    assert "PROCESS" in result.stderr and "total" in result.stderr


def test_cached_tasks_of_a_resumed_run(cluster):
    assert run_nfk8s(cluster, "run", "sim/hello", "--plain").returncode == 0
    result = run_nfk8s(cluster, "run", "sim/hello", "--resume", "--plain", "-o", "name")
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip()
    counts = recorded_counts(cluster, run_id)
    assert counts == truth_counts(cluster, run_id)
    assert counts["sayHello"].cached == 2 and counts["sayHello"].succeeded == 2


def test_a_follower_that_comes_late_still_gets_the_truth(cluster):
    """Succeeded task pods are deleted at once; the log's Submitted lines account for them."""
    run_id = start(cluster, "sim/many", "sim_processes=3", "sim_tasks=4")
    cluster.wait_for(lambda: (r := cluster.sim_truth("default", run_id)) and r.exit_code == 0)
    cluster.wait_for(
        lambda: (
            not cluster.api.list("pods", "default", label_selector=f"nextflow.io/runName={run_id}")
        )
    )
    result = run_nfk8s(cluster, "logs", "-f", "--plain", run_id)
    assert result.returncode == 0, result.stderr
    assert recorded_counts(cluster, run_id) == truth_counts(cluster, run_id)
