"""The driver log survives cut streams: every line once, in order, as the pod wrote it."""

from __future__ import annotations

import threading
from collections import Counter

from tests.follow.helpers import driver_pod, start
from tests.support import run_nfk8s, start_nfk8s

LINES = 4000


def same_second(fk, pod: str) -> int:
    """The most log lines written within one second (all replayed by a resumed stream)."""
    result = fk.kubectl("logs", pod, "-c", "nextflow", "--timestamps")
    counts = Counter(line.split(" ", 1)[0][:19] for line in result.stdout.splitlines())
    return max(counts.values())


def test_following_through_cut_streams_prints_the_log_exactly_once(cluster):
    # Chatter arrives in batches of lines that share one timestamp: the hard case for
    # a cursor that resumes from a time. Then the run's one task keeps the driver running,
    # so every cut below meets a live follow, which must reconnect, not a finished log.
    run_id = start(
        cluster,
        "sim/chatty",
        f"sim_log_lines={LINES}",
        "sim_lines_per_second=2000",
        "sim_task_seconds=1000000",
    )
    pod = driver_pod(cluster, run_id)
    cluster.wait_for(lambda: chatter(cluster.pod_logs(cluster.namespace, pod)) == LINES)
    assert same_second(cluster, pod) > 1000
    expected = cluster.pod_logs(cluster.namespace, pod)
    cut = cluster.faults.add(verb="get", resource="pods", subresource="log", cut_after=500, count=6)
    follower = start_nfk8s(cluster, "logs", "-f", "--plain", run_id)
    printed: list[str] = []
    reader = threading.Thread(
        target=lambda: printed.extend(line.rstrip("\n") for line in follower.stdout)
    )
    reader.start()
    try:
        cluster.wait_for(lambda: len(printed) >= len(expected) and cut.fired == 6, timeout=60)
        # Still following: the driver runs on, and the log did not grow meanwhile.
        assert follower.poll() is None
        assert cluster.api.get("pods", cluster.namespace, pod)["status"]["phase"] == "Running"
        assert cluster.pod_logs(cluster.namespace, pod) == expected
    finally:
        follower.kill()
        follower.wait(timeout=60)
        reader.join(timeout=60)
    assert printed == expected, follower.stderr.read()


def chatter(lines: list[str]) -> int:
    return sum(line.startswith("chatter ") for line in lines)


def test_reading_a_finished_log_through_cuts_is_complete(cluster):
    run_id = start(cluster, "sim/chatty", f"sim_log_lines={LINES}")
    assert run_nfk8s(cluster, "logs", "-f", "--plain", run_id).returncode == 0
    pod = driver_pod(cluster, run_id)
    expected = cluster.pod_logs(cluster.namespace, pod)
    cluster.faults.add(verb="get", resource="pods", subresource="log", cut_after=700, count=4)
    result = run_nfk8s(cluster, "logs", run_id)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == expected


def test_tail_since_and_timestamps(cluster):
    run_id = start(cluster, "sim/hello")
    assert run_nfk8s(cluster, "logs", "-f", "--plain", run_id).returncode == 0
    expected = cluster.pod_logs(cluster.namespace, driver_pod(cluster, run_id))

    tail = run_nfk8s(cluster, "logs", "--tail", "3", run_id)
    assert tail.stdout.splitlines() == expected[-3:]

    stamped = run_nfk8s(cluster, "logs", "--timestamps", "--tail", "2", run_id)
    stamps, texts = zip(*(line.split(" ", 1) for line in stamped.stdout.splitlines()), strict=True)
    assert list(texts) == expected[-2:]
    assert all(s.endswith("Z") and s[4] == "-" and "T" in s for s in stamps)

    recent = run_nfk8s(cluster, "logs", "--since", "1h", run_id)
    assert recent.stdout.splitlines() == expected
    cluster.clock_offset = 3 * 3600  # the log is now three hours old
    assert run_nfk8s(cluster, "logs", "--since", "1h", run_id).stdout == ""


def test_lines_sharing_one_timestamp_survive_cuts(fakekube):
    """A resumed stream replays the cursor's second; equal stamps are told apart by count."""
    from nfk8s.follow import follow_log
    from nfk8s.kube import Kube, KubeTarget

    fakekube.api.create(
        "pods",
        fakekube.namespace,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "talker"},
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}],
            },
        },
    )
    fakekube.wait_for(
        lambda: (
            fakekube.api.get("pods", fakekube.namespace, "talker")["status"]["phase"] == "Running"
        )
    )
    uid = fakekube.api.get("pods", fakekube.namespace, "talker")["metadata"]["uid"]
    buffer = fakekube.logs.buffer(uid, "c")
    base = int(fakekube.clock.now() * 1e9)
    expected = []
    for group in range(40):  # 40 stamps half a second apart, 25 lines at each
        for i in range(25):
            line = f"group {group:02d} line {i:02d}"
            buffer.append(line, base + group * 500_000_000)
            expected.append(line)
    # Each cut lands inside a group of equal stamps.
    cut = fakekube.faults.add(
        verb="get", resource="pods", subresource="log", cut_after=60, count=15
    )
    kube = Kube.connect(KubeTarget(kubeconfig=str(fakekube.kubeconfig)))
    stop = threading.Event()
    got = []
    for _, line in follow_log(kube, "talker", still_running=lambda: False, stop=stop):
        got.append(line)
    assert cut.fired == 15
    assert got == expected
