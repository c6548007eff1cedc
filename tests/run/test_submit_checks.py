"""What would fail half-way through writing a run is bad input found before the first write
(the Lease): a ``--name`` already taken, params or config files too large for the run's
objects. A name taken in the meantime is refused the same way, with the lock released."""

from __future__ import annotations

import subprocess

import pytest

from tests.support import nfk8s_binary, nfk8s_env, run_nfk8s, snapshot, try_get

pytestmark = pytest.mark.backends

TAKEN = "error: run myrun exists; pick another --name"


def test_reusing_the_name_of_a_finished_run_exits_2_and_writes_nothing(cluster):
    first = run_nfk8s(cluster, "run", "sim/hello", "--name", "myrun")
    assert first.returncode == 0, first.stderr
    before = snapshot(cluster)
    again = run_nfk8s(cluster, "run", "sim/hello", "--name", "myrun")
    assert again.returncode == 2, again.stderr
    assert again.stderr.splitlines() == [
        TAKEN,
        "hint: see it with `nfk8s status myrun`, or leave out --name for a generated id",
    ]
    assert snapshot(cluster) == before


@pytest.mark.parametrize("what", ["params file", "config file"])
def test_params_or_config_too_large_exit_2_before_the_lease_is_written(cluster, tmp_path, what):
    big = "x" * (1024 * 1024)
    given = tmp_path / "big"
    if what == "params file":
        given.write_text(f'{{"blob": "{big}"}}')
        extra = ["--params-file", str(given)]
    else:
        given.write_text(f"params.blob = '{big}'\n")
        extra = ["-c", str(given)]
    before = snapshot(cluster)
    result = run_nfk8s(cluster, "run", "sim/hello", "--name", "huge", *extra)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and "KiB" in lines[0]
    assert lines[1].startswith("hint: move large values into files")
    assert big[:64] not in result.stderr
    assert snapshot(cluster) == before  # no Lease either


def test_a_name_taken_while_waiting_for_the_lock_exits_2_and_frees_the_lock(cluster):
    holder = run_nfk8s(
        cluster, "run", "sim/hello", "--detach", "--name", "holder", "-p", "sim_task_seconds=6000"
    )
    assert holder.returncode == 0, holder.stderr
    waiter = subprocess.Popen(
        [nfk8s_binary(), "run", "sim/hello", "--name", "myrun", "--wait-lock", "--plain"],
        env=nfk8s_env(cluster),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert waiter.stderr is not None
        seen = []
        for line in waiter.stderr:  # past the name check, and waiting behind holder
            seen.append(line)
            if "waiting for the lock" in line:
                break
        assert seen and "waiting for the lock" in seen[-1], seen
        # Another submission takes the name first: its record appears.
        cluster.api.create(
            "configmaps",
            cluster.namespace,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "nfk8s-run-myrun"},
                "data": {"owner": "someone else"},
            },
        )
        cancelled = run_nfk8s(cluster, "cancel", "holder")
        assert cancelled.returncode == 0, cancelled.stderr
        _, rest = waiter.communicate(timeout=120)
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.communicate()
    assert waiter.returncode == 2, rest
    assert rest.splitlines()[-2] == TAKEN, rest
    lease = cluster.api.get("leases", cluster.namespace, "nfk8s-lock")
    assert not lease["spec"].get("holderIdentity"), lease  # released, not held by myrun
    cm = cluster.api.get("configmaps", cluster.namespace, "nfk8s-run-myrun")
    assert cm["data"] == {"owner": "someone else"}  # untouched, and no run of ours
    assert try_get(cluster.api, "jobs", cluster.namespace, "nfk8s-myrun") is None
    assert try_get(cluster.api, "secrets", cluster.namespace, "nfk8s-run-myrun-params") is None
