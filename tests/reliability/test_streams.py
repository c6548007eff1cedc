"""Streams cut over and over: what nfk8s prints is what an uninterrupted reader would see.

Every driver-log stream ends abruptly after 150 lines and every watch after 3 events, and
the watch history is compacted all along (so resumed watches also meet 410 Gone). The
printed log must equal the container's log line for line, and the process table the
simulator's own tally.

A log cursor resumes from a whole second (``sinceTime`` has second precision), so a cut
must let more lines through than the driver writes in one second: here about 100.
"""

from __future__ import annotations

import subprocess

from tests.follow.helpers import driver_pod, recorded_counts, truth_counts
from tests.reliability.helpers import NS
from tests.support import compacting, nfk8s_binary, nfk8s_env, run_nfk8s

LOG_CUT = 150
WATCH_CUT = 3


def test_driver_log_cut_every_150_lines_and_watches_every_3_events_lose_and_repeat_nothing(
    cluster,
):
    log_cuts = cluster.faults.add(verb="get", resource="pods", subresource="log", cut_after=LOG_CUT)
    watch_cuts = cluster.faults.add(verb="watch", cut_after=WATCH_CUT)
    cluster.bookmark_interval = 60  # resumes rely on the versions of the events themselves
    follower = subprocess.Popen(
        [
            nfk8s_binary(),
            "run",
            "sim/many",
            "--name",
            "cut",
            "--plain",
            *("-p", "sim_processes=4", "-p", "sim_tasks=5", "-p", "sim_task_seconds=10"),
            *("-p", "sim_lines_per_second=5", "-p", "sim_log_lines=1500"),
        ],
        env=nfk8s_env(cluster),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with compacting(cluster, every=0.3):
            out, err = follower.communicate(timeout=120)
    finally:
        follower.kill()

    assert follower.returncode == 0, err
    expected = cluster.pod_logs(NS, driver_pod(cluster, "cut"))
    assert sum(line.startswith("chatter ") for line in expected) == 1500
    assert out.splitlines() == expected
    assert recorded_counts(cluster, "cut") == truth_counts(cluster, "cut")
    assert "] 20/20" in err
    assert log_cuts.fired >= 10, log_cuts.fired
    assert watch_cuts.fired >= 10, watch_cuts.fired

    # Reading the finished log back, as bytes and with timestamps: a bulk read starts
    # again from the top after a cut, so here only the first six reads of each are cut.
    cluster.faults.clear()
    cluster.faults.add(verb="get", resource="pods", subresource="log", cut_after=LOG_CUT, count=6)
    plain = run_nfk8s(cluster, "logs", "cut", timeout=60)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.splitlines() == expected
    cluster.faults.add(verb="get", resource="pods", subresource="log", cut_after=LOG_CUT, count=6)
    stamped = run_nfk8s(cluster, "logs", "cut", "--timestamps", timeout=60)
    assert stamped.returncode == 0, stamped.stderr
    assert [line.split(" ", 1)[1] for line in stamped.stdout.splitlines()] == expected


def test_a_log_cut_on_every_read_gives_up_after_9_attempts_instead_of_spinning(cluster, invoke):
    assert invoke("run", "sim/chatty", "--name", "cut", "-p", "sim_log_lines=1000").exit_code == 0
    cluster.faults.add(verb="get", resource="pods", subresource="log", cut_after=LOG_CUT)
    cluster.requests.clear()
    result = invoke("logs", "cut")
    assert result.exit_code == 6
    assert "stream cut" in result.stderr
    assert len(result.stdout.splitlines()) == LOG_CUT  # what came through, once
    assert cluster.requests.count(verb="get", resource="pods", subresource="log") == 10
