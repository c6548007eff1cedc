"""Task counts in the record are the same whoever looked, when, and however a run ended."""

from __future__ import annotations

import json
import subprocess

import pytest

from nfk8s.models import ProcessCounts, parse_time
from tests.follow.helpers import record, recorded_counts, start, truth_counts
from tests.support import nfk8s_binary, nfk8s_env, run_nfk8s

pytestmark = pytest.mark.backends

SIM_FAIL_COUNTS = {
    "SIM_FAIL:PREPARE": ProcessCounts(succeeded=4),
    "SIM_FAIL:ALIGN": ProcessCounts(failed=1, killed=3),
}


def task_pods(cluster, run_id: str) -> list[dict]:
    return cluster.api.list(
        "pods", cluster.namespace, label_selector=f"nextflow.io/runName={run_id}"
    )


def wait_running(cluster, run_id: str, count: int) -> None:
    cluster.wait_for(
        lambda: (
            sum(p["status"].get("phase") == "Running" for p in task_pods(cluster, run_id)) == count
        ),
        timeout=60,
    )


def follower(cluster, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [nfk8s_binary(), "logs", "-f", "--plain", *args],
        env=nfk8s_env(cluster),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sim_fail_detached_then_looked_at_counts_as_when_followed_live(cluster):
    detached = start(cluster, "sim/fail")
    cluster.wait_for(
        lambda: (r := cluster.sim_truth(cluster.namespace, detached)) and r.exit_code is not None,
        timeout=90,
    )
    assert "SIM_FAIL:PREPARE" in run_nfk8s(cluster, "status", detached).stdout
    followed = run_nfk8s(cluster, "logs", "-f", "--plain", detached)
    assert followed.returncode == 1, followed.stderr
    history = json.loads(run_nfk8s(cluster, "history", "-o", "json").stdout)
    listed = next(r for r in history["items"] if r["runId"] == detached)
    assert {k: ProcessCounts.from_json(v) for k, v in listed["processes"].items()} == (
        SIM_FAIL_COUNTS
    )

    live = run_nfk8s(cluster, "run", "sim/fail", "--plain", "-o", "name")
    assert live.returncode == 1, live.stderr
    live_id = live.stdout.strip()
    assert recorded_counts(cluster, detached) == SIM_FAIL_COUNTS
    assert recorded_counts(cluster, live_id) == SIM_FAIL_COUNTS
    assert truth_counts(cluster, live_id) == SIM_FAIL_COUNTS
    shown = run_nfk8s(cluster, "history").stdout
    assert "4/8 (1 failed, 3 killed)" in shown


def test_a_status_look_leaves_counts_and_a_cursor_that_a_later_follow_agrees_with(cluster):
    run_id = start(cluster, "sim/fail")
    cluster.wait_for(
        lambda: (
            (r := cluster.sim_truth(cluster.namespace, run_id))
            and r.snapshot()["processes"].get("SIM_FAIL:PREPARE", {}).get("succeeded") == 4
        ),
        timeout=90,
    )
    data = json.loads(run_nfk8s(cluster, "status", "-o", "json", run_id).stdout)
    assert data["processes"]["SIM_FAIL:PREPARE"]["succeeded"] == 4
    kept = record(cluster, run_id)
    assert kept["progress"]["cursor"]["stamp"], "no cursor kept"
    assert kept["processes"]["SIM_FAIL:PREPARE"]["succeeded"] == 4
    assert run_nfk8s(cluster, "logs", "-f", "--plain", run_id).returncode == 1
    assert recorded_counts(cluster, run_id) == SIM_FAIL_COUNTS


@pytest.mark.parametrize("followed", [False, True], ids=["unfollowed", "followed"])
@pytest.mark.parametrize("grace", [0, 30])
def test_a_cancelled_run_records_start_end_and_the_same_killed_counts(cluster, grace, followed):
    run_id = start(cluster, "sim/slow")
    wait_running(cluster, run_id, 3)
    watcher = follower(cluster, run_id) if followed else None
    if watcher is not None:
        assert watcher.stdout is not None
        assert watcher.stdout.readline()  # it follows: a first driver log line came
    result = run_nfk8s(cluster, "cancel", "--grace-period", str(grace), run_id)
    assert result.returncode == 0, result.stderr
    if watcher is not None:
        _, err = watcher.communicate(timeout=120)
        assert watcher.returncode == 5, err
        # Its table names the process as Nextflow does, never by its pod label.
        assert "SIM_SLOW:SLEEP" in err and "SIM_SLOW_SLEEP" not in err
    kept = record(cluster, run_id)
    assert kept["status"] == "cancelled"
    started, finished = parse_time(kept["startedAt"]), parse_time(kept["finishedAt"])
    assert started is not None and finished is not None and started <= finished
    assert recorded_counts(cluster, run_id) == {"SIM_SLOW:SLEEP": ProcessCounts(killed=3)}
    assert "0/3 (3 killed)" in run_nfk8s(cluster, "history").stdout


def test_status_of_a_running_run_shows_when_it_started_and_for_how_long(cluster):
    run_id = start(cluster, "sim/slow", "sim_tasks=1")
    wait_running(cluster, run_id, 1)
    shown = run_nfk8s(cluster, "status", run_id)
    assert shown.returncode == 0, shown.stderr
    assert "status:     running" in shown.stdout
    assert "started:    20" in shown.stdout
    assert "elapsed:    " in shown.stdout
    assert run_nfk8s(cluster, "cancel", "--grace-period", "0", run_id).returncode == 0


def test_process_filter_takes_nextflows_name_or_its_last_part(cluster):
    run = run_nfk8s(cluster, "run", "sim/fail", "--plain", "-o", "name")
    run_id = run.stdout.strip()
    line = "SIM_FAIL:ALIGN (sample2) | align.sh: error: reference index is corrupt"
    for wanted in ("ALIGN", "SIM_FAIL:ALIGN"):
        shown = run_nfk8s(cluster, "logs", "--tasks", "--process", wanted, run_id)
        assert shown.returncode == 0, shown.stderr
        # The failed ALIGN task keeps its pod; its lines carry Nextflow's name.
        assert line in shown.stdout.splitlines(), shown.stdout
    for other in ("LIGN", "PREPARE"):
        shown = run_nfk8s(cluster, "logs", "--tasks", "--process", other, run_id)
        assert not [text for text in shown.stdout.splitlines() if " | " in text]


@pytest.mark.parametrize("start_at", [("--tail", "1"), ("--since", "1s")], ids=["tail", "since"])
def test_a_follow_from_tail_or_since_writes_no_partial_counts(cluster, start_at):
    """It missed the first process's Submitted lines: its own tally would lack them."""
    run_id = start(cluster, "sim/many", "sim_processes=2", "sim_tasks=3", "sim_task_seconds=8")
    cluster.wait_for(
        lambda: (
            (r := cluster.sim_truth(cluster.namespace, run_id))
            and r.snapshot()["processes"].get("NFCORE_DEMO:DEMO:STEP_01", {}).get("succeeded") == 3
        ),
        timeout=90,
    )
    watcher = follower(cluster, *start_at, run_id)
    _, err = watcher.communicate(timeout=120)
    assert watcher.returncode == 0, err
    truth = truth_counts(cluster, run_id)
    assert truth["NFCORE_DEMO:DEMO:STEP_01"].succeeded == 3
    assert recorded_counts(cluster, run_id) == truth
