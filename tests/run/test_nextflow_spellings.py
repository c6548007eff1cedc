"""Nextflow's spellings on nfk8s run, end to end: -resume [SESSION], -profile, and -- options."""

from __future__ import annotations

import json

import pytest

from tests.support import run_nfk8s, snapshot

pytestmark = pytest.mark.backends


def record(cluster, run_id: str) -> dict:
    cm = cluster.api.get("configmaps", cluster.namespace, f"nfk8s-run-{run_id}")
    return json.loads(cm["data"]["run.json"])


def driver_argv(cluster, run_id: str) -> list[str]:
    job = cluster.api.get("jobs", cluster.namespace, f"nfk8s-{run_id}")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return container.get("command", []) + container.get("args", [])


def ok(cluster, *args: str):
    done = run_nfk8s(cluster, *args)
    assert done.returncode == 0, done.stderr
    return done


def cached(run: dict) -> int:
    return sum(counts["cached"] for counts in run["processes"].values())


def test_resume_alone_resumes_the_last_session_and_the_first_line_says_which(cluster):
    ok(cluster, "run", "sim/hello", "--name", "first", "--plain")
    session = record(cluster, "first")["sessionId"]
    assert session

    done = ok(cluster, "run", "sim/hello", "-resume", "--name", "second", "--plain")

    assert done.stderr.splitlines()[0] == f"resuming session {session} (run first)"
    second = record(cluster, "second")
    assert (second["resume"], second["resumeSession"], second["sessionId"]) == (
        True,
        session,
        session,
    )
    assert driver_argv(cluster, "second")[-2:] == ["-resume", session]
    assert cached(second) > 0


def test_resume_with_a_session_resumes_that_one_not_the_last(cluster):
    ok(cluster, "run", "sim/hello", "--name", "older", "--plain")
    ok(cluster, "run", "sim/hello", "--name", "newer", "--plain")
    older = record(cluster, "older")["sessionId"]
    newer = record(cluster, "newer")["sessionId"]
    assert older and newer and older != newer

    done = ok(cluster, "run", "sim/hello", "-resume", older, "--name", "again", "--plain")

    assert done.stderr.splitlines()[0] == f"resuming session {older} (run older)"
    again = record(cluster, "again")
    assert (again["resumeSession"], again["sessionId"]) == (older, older)
    assert cached(again) > 0
    # Resuming made the older session the last one again, as in Nextflow's history.
    latest = ok(cluster, "run", "sim/hello", "--resume", "--name", "latest", "--plain")
    assert latest.stderr.splitlines()[0] == f"resuming session {older} (run again)"
    assert record(cluster, "latest")["sessionId"] == older


def test_resume_with_no_earlier_run_recorded_leaves_the_choice_to_nextflow(cluster):
    done = ok(cluster, "run", "sim/hello", "-profile", "test", "-resume", "--name", "lone")

    assert done.stderr.splitlines()[0] == (
        "resuming Nextflow's last session of sim/hello "
        f"(no earlier run of it is recorded in namespace {cluster.namespace})"
    )
    lone = record(cluster, "lone")
    assert (lone["resume"], lone["resumeSession"], lone["profile"]) == (True, None, "test")
    assert driver_argv(cluster, "lone")[-3:] == ["-profile", "test", "-resume"]


def test_nextflow_options_after_the_double_dash_reach_the_driver_and_the_record(cluster):
    options = ["-stub", "-entry", "HELLO", "-with-trace", "-with-report", "report.html"]

    done = ok(cluster, "run", "sim/hello", "--name", "stubbed", "-o", "json", "--", *options)

    assert json.loads(done.stdout)["nextflowOptions"] == options
    assert record(cluster, "stubbed")["nextflowOptions"] == options
    argv = driver_argv(cluster, "stubbed")
    assert argv[-len(options) :] == options
    assert record(cluster, "stubbed")["status"] == "succeeded"  # the driver took them


def test_dry_run_shows_the_nextflow_options_and_latest(cluster):
    before = snapshot(cluster)
    done = ok(cluster, "run", "sim/hello", "-latest", "--dry-run", "-o", "json", "--", "-stub")

    items = json.loads(done.stdout)["items"]
    (container,) = items[-1]["spec"]["template"]["spec"]["containers"]
    assert container["command"][-2:] == ["-latest", "-stub"]
    run = json.loads(items[1]["data"]["run.json"])
    assert (run["nextflowOptions"], run["latest"]) == (["-stub"], True)
    assert snapshot(cluster) == before


@pytest.mark.parametrize(
    ("args", "hint_says"),
    [
        (["-timeout", "5m"], "--timeout"),
        (["-stub"], "after --"),
        (["-resume", "4f1c2a4e-77b0"], "UUID"),
        (["--resume=esume"], "UUID"),
        (["--", "-c", "x.config"], "-c FILE"),
        (["--", "--token", "s3cret"], "-p KEY=VALUE"),
        (["--", "-bg"], "--detach"),
        (["--", "-entry"], "-entry NAME"),
    ],
)
def test_misread_spellings_and_refused_options_exit_2_and_write_nothing(cluster, args, hint_says):
    before = snapshot(cluster)

    done = run_nfk8s(cluster, "run", "sim/hello", *args)

    assert done.returncode == 2, done.stderr
    error, hint = done.stderr.splitlines()
    assert error.startswith("error: ") and hint.startswith("hint: ")
    assert hint_says in hint
    assert "s3cret" not in done.stderr
    assert snapshot(cluster) == before
