"""`logs`, `status` and the followers through the installed entry point."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading

import pytest

from tests.follow.helpers import record, start
from tests.support import nfk8s_binary, nfk8s_env, run_nfk8s

pytestmark = pytest.mark.backends


def follow(cluster, *args: str, **env: str) -> subprocess.Popen[str]:
    """Start ``nfk8s ARGS``; return it once it has printed a first driver log line, so it is
    following the log (that line is read from its stdout)."""
    follower = subprocess.Popen(
        [nfk8s_binary(), *args],
        env=nfk8s_env(cluster, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert follower.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(follower.stdout.readline()), daemon=True).start()
    try:
        cluster.wait_for(lambda: not lines.empty(), timeout=20, message="no driver log line")
    except TimeoutError:
        follower.kill()
        raise
    assert lines.get(), follower.communicate()  # it ended without a line
    return follower


def interrupt(follower: subprocess.Popen[str]) -> str:
    """Ctrl-C a follower; return its stderr once it has exited (a cancel's teardown included)."""
    try:
        follower.send_signal(signal.SIGINT)
        _, err = follower.communicate(timeout=300)  # a loaded 2-core machine: bound generously
    finally:
        follower.kill()
    return err


def test_status_of_a_running_then_finished_run(cluster):
    run_id = start(cluster, "sim/slow", "sim_tasks=2")
    cluster.wait_for(
        lambda: (
            len(
                [
                    p
                    for p in cluster.api.list(
                        "pods", cluster.namespace, label_selector=f"nextflow.io/runName={run_id}"
                    )
                    if p["status"].get("phase") == "Running"
                ]
            )
            == 2
        ),
        timeout=30,
    )
    shown = run_nfk8s(cluster, "status")
    assert shown.returncode == 0, shown.stderr
    assert f"run:        {run_id}" in shown.stdout
    assert "status:     running" in shown.stdout
    assert "(active)" in shown.stdout
    assert "SIM_SLOW:SLEEP" in shown.stdout
    data = json.loads(run_nfk8s(cluster, "status", "-o", "json", run_id).stdout)
    assert data["runId"] == run_id and data["status"] == "running"
    assert data["job"]["state"] == "active"
    assert data["driver"]["phase"] == "Running"
    assert data["processes"]["SIM_SLOW:SLEEP"]["running"] == 2
    assert data["totals"]["running"] == 2

    assert run_nfk8s(cluster, "cancel", run_id).returncode == 0
    data = json.loads(run_nfk8s(cluster, "status", "-o", "json", run_id).stdout)
    assert data["status"] == "cancelled"


def test_status_after_a_followed_run_shows_the_recorded_table(cluster):
    result = run_nfk8s(cluster, "run", "sim/hello", "--plain", "-o", "name")
    run_id = result.stdout.strip()
    shown = run_nfk8s(cluster, "status", run_id)
    assert "status:     succeeded" in shown.stdout
    assert "job:        nfk8s-" in shown.stdout and "(complete)" in shown.stdout
    row = next(line for line in shown.stdout.splitlines() if line.startswith("sayHello"))
    assert row.split()[:7] == ["sayHello", "0", "0", "4", "0", "0", "0"]
    data = json.loads(run_nfk8s(cluster, "status", "-o", "json").stdout)
    assert data["sessionId"] == record(cluster, run_id)["sessionId"]
    assert data["sessionId"] == cluster.sim_truth(cluster.namespace, run_id).session_id


def test_logs_follow_exits_with_the_runs_code_and_prefixes_task_lines(cluster, tmp_path):
    # Task pods stay after they succeed, so the follower reads every task's log however
    # late a busy machine starts it (with cleanup, a finished task's log goes with its pod).
    keep = tmp_path / "keep-task-pods.config"
    keep.write_text("k8s.cleanup = false\n")
    started = run_nfk8s(cluster, "run", "sim/hello", "--detach", "-c", str(keep))
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    result = run_nfk8s(cluster, "logs", "-f", "--tasks", "--process", "sayHello", run_id)
    assert result.returncode == 0, result.stderr
    task_lines = [line for line in result.stdout.splitlines() if " | " in line]
    assert task_lines, result.stdout
    # One greeting per task, each line prefixed with its process and tag.
    assert sorted(task_lines) == [
        "sayHello (1) | Hello world!",
        "sayHello (2) | Ciao world!",
        "sayHello (3) | Hola world!",
        "sayHello (4) | Bonjour world!",
    ]

    failing = start(cluster, "sim/fail")
    result = run_nfk8s(cluster, "logs", "-f", failing)
    assert result.returncode == 1
    assert "ERROR ~ Error executing process" in result.stdout


def test_ci_output_is_plain(cluster):
    env = nfk8s_env(cluster, CI="true")
    env.pop("NO_COLOR")
    result = run_nfk8s(cluster, "run", "sim/hello", env=env)
    assert result.returncode == 0
    assert "\x1b" not in result.stdout + result.stderr
    assert "Submitted process > sayHello" in result.stdout
    assert "run " in result.stderr and "succeeded" in result.stderr


def test_github_actions_folds_the_log_and_writes_a_step_summary(cluster, tmp_path):
    summary = tmp_path / "summary.md"
    env = nfk8s_env(cluster, GITHUB_ACTIONS="true", CI="true", GITHUB_STEP_SUMMARY=str(summary))
    result = run_nfk8s(cluster, "run", "sim/fail", env=env)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("::group::Nextflow log")
    assert lines.count("::endgroup::") == sum(1 for x in lines if x.startswith("::group::"))
    error = lines.index(next(x for x in lines if x.startswith("ERROR ~")))
    assert lines[error - 1].startswith("::error title=Nextflow::Error executing process")
    assert "::group::" not in "\n".join(lines[error:])  # the error block stays unfolded
    text = summary.read_text()
    assert "nfk8s run `" in text and "failed" in text
    assert "| `SIM_FAIL:ALIGN` |" in text


def test_interrupt_detaches_and_says_how_to_come_back(cluster):
    run_id = start(cluster, "sim/slow")
    follower = follow(cluster, "logs", "-f", run_id)
    try:
        follower.send_signal(signal.SIGTERM)
        _, err = follower.communicate(timeout=60)
    finally:
        follower.kill()
    assert follower.returncode == 130
    assert f"nfk8s logs -f {run_id}" in err and f"nfk8s cancel {run_id}" in err
    assert not record(cluster, run_id)["finishedAt"]
    job = cluster.api.get("jobs", cluster.namespace, f"nfk8s-{run_id}")
    assert job["status"].get("active") == 1


def test_cancel_on_interrupt_cancels(cluster):
    run_id = start(cluster, "sim/slow")
    follower = follow(cluster, "logs", "-f", "--cancel-on-interrupt", run_id)
    err = interrupt(follower)
    assert follower.returncode == 5, err
    assert record(cluster, run_id)["status"] == "cancelled"
    lease = cluster.api.get("leases", cluster.namespace, "nfk8s-lock")
    assert not lease["spec"].get("holderIdentity")


def test_cancel_on_interrupt_gives_nextflow_the_cancel_grace_setting(cluster):
    follower = follow(
        cluster,
        "run",
        "sim/slow",
        "--cancel-on-interrupt",
        "--plain",
        NFK8S_CANCEL_GRACE_SECONDS="7",
    )
    err = interrupt(follower)
    assert follower.returncode == 5, err
    assert "(grace 7s)" in err and "(grace 60s)" not in err, err


@pytest.mark.fake_only("counts reads in the fake's request log: the API cost of following")
def test_following_watches_instead_of_polling(cluster):
    """The reads a follower makes do not grow with the length of the run."""

    def reads_while_following(seconds: str) -> int:
        run_id = start(cluster, "sim/slow", "sim_tasks=2", f"sim_task_seconds={seconds}")
        cluster.requests.clear()
        assert run_nfk8s(cluster, "logs", "-f", run_id).returncode == 0
        return len([r for r in cluster.requests.all() if r.verb in {"get", "list"}])

    cluster.speed = 60
    short = reads_while_following("30")
    long = reads_while_following("240")  # eight times as long
    assert long <= short + 4, (short, long)
