"""--wait-lock, --attach, --timeout, local pipelines, params and settings."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.support import nfk8s_binary, nfk8s_env, run_nfk8s

pytestmark = pytest.mark.backends


def record(cluster, run_id: str) -> dict:
    cm = cluster.api.get("configmaps", cluster.namespace, f"nfk8s-run-{run_id}")
    return json.loads(cm["data"]["run.json"])


def long_hello(cluster, name: str, *extra: str) -> str:
    """A detached run that holds the lock for a few real seconds."""
    result = run_nfk8s(
        cluster, "run", "sim/hello", "--detach", "--name", name, "-p", "sim_task_seconds=60", *extra
    )
    assert result.returncode == 0, result.stderr
    return name


def test_wait_lock_waits_for_the_active_run_then_runs(cluster):
    long_hello(cluster, "holder")
    waiter = run_nfk8s(cluster, "run", "sim/hello", "--name", "waiter", "--wait-lock")
    assert waiter.returncode == 0, waiter.stderr
    assert "waiting for the lock: run holder holds it" in waiter.stderr
    assert record(cluster, "holder")["status"] == "succeeded"
    assert record(cluster, "waiter")["status"] == "succeeded"


@pytest.mark.fake_only("counts lease reads in the fake's request log: the API cost of waiting")
def test_wait_lock_watches_the_lease_instead_of_polling(cluster):
    long_hello(cluster, "holder")
    waiter = run_nfk8s(cluster, "run", "sim/hello", "--name", "waiter", "--wait-lock")
    assert waiter.returncode == 0, waiter.stderr
    # A watch, not a poll: a handful of lease reads, not one every second.
    assert cluster.requests.count(verb="get", resource="leases") < 10


def test_wait_lock_with_a_limit_times_out_with_exit_4(cluster):
    cluster.speed = 1
    long_hello(cluster, "holder")
    waiter = run_nfk8s(cluster, "run", "sim/hello", "--wait-lock=2s")
    assert waiter.returncode == 4
    assert "gave up waiting for the lock" in waiter.stderr


def test_attach_follows_the_active_run_and_mirrors_its_exit_code(cluster):
    long_hello(cluster, "holder")
    attached = run_nfk8s(cluster, "run", "sim/fail", "--attach")
    assert attached.returncode == 0, attached.stderr  # the holder's outcome, not sim/fail's
    assert "following active run holder" in attached.stderr
    assert "Submitted process > sayHello" in attached.stdout
    assert len(cluster.api.list("jobs", cluster.namespace)) == 1


def test_timeout_becomes_the_job_deadline_and_exits_4(cluster):
    result = run_nfk8s(cluster, "run", "sim/slow", "--timeout", "3s", "--name", "slowpoke")
    assert result.returncode == 4, result.stderr
    job = cluster.api.get("jobs", cluster.namespace, "nfk8s-slowpoke")
    assert job["spec"]["activeDeadlineSeconds"] == 3
    run = record(cluster, "slowpoke")
    assert run["status"] == "failed"
    assert run["reason"].startswith("timed out")


def test_local_directory_is_uploaded_and_run(cluster, tmp_path):
    pipeline = tmp_path / "mypipe"
    (pipeline / "bin").mkdir(parents=True)
    (pipeline / "main.nf").write_text("workflow { }\n")
    (pipeline / "bin" / "tool.sh").write_text("#!/bin/sh\necho hi\n")
    result = run_nfk8s(cluster, "run", str(pipeline), "--name", "local")
    assert result.returncode == 0, result.stderr
    cm = cluster.api.get("configmaps", cluster.namespace, "nfk8s-run-local")
    stored = set(cm.get("data", {}).values()) | set(cm.get("binaryData", {}).values())
    assert "workflow { }\n" in stored
    assert record(cluster, "local")["pipeline"] == str(pipeline)


def test_params_are_typed_and_secret_ones_never_reach_the_record(cluster, tmp_path):
    params_file = tmp_path / "params.yaml"
    params_file.write_text("outdir: /workspace/out\nreads: 10\n")
    result = run_nfk8s(
        cluster,
        "run",
        "sim/hello",
        "--name",
        "typed",
        "--params-file",
        str(params_file),
        "-p",
        "reads=20",
        "-p",
        "flag=true",
        "-p",
        "api_token=hunter2",
        "-o",
        "json",
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["params"] == {
        "outdir": "/workspace/out",
        "reads": 20,
        "flag": True,
        "api_token": "***",
    }
    assert "hunter2" not in result.stdout + result.stderr
    cm = cluster.api.get("configmaps", cluster.namespace, "nfk8s-run-typed")
    assert "hunter2" not in json.dumps(cm)


def test_settings_come_from_env_and_config_show_their_source(cluster, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('image = "example/nextflow:1"\nhistory_limit = 7\n')
    env = nfk8s_env(cluster, NFK8S_CONFIG=str(config), NFK8S_HEAD_MEMORY="3Gi")
    shown = subprocess.run(
        [nfk8s_binary(), "config", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["image"] == {"value": "example/nextflow:1", "source": f"file {config}"}
    assert data["head_memory"] == {"value": "3Gi", "source": "env NFK8S_HEAD_MEMORY"}
    assert data["lock_name"]["source"] == "default"
    dry = subprocess.run(
        [nfk8s_binary(), "run", "sim/hello", "--dry-run", "--head-memory", "5Gi"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert dry.returncode == 0, dry.stderr
    assert "image: example/nextflow:1" in dry.stdout
    assert "memory: 5Gi" in dry.stdout
