"""`nfk8s run` end to end: the installed entry point against each backend."""

from __future__ import annotations

import json

import pytest

from tests.support import run_nfk8s

pytestmark = pytest.mark.backends


def test_hello_succeeds_and_mirrors_exit_code(cluster):
    result = run_nfk8s(cluster, "run", "sim/hello", "-p", "greeting=hi")
    assert result.returncode == 0, result.stderr
    assert "Submitted process > sayHello" in result.stdout
    assert "succeeded" in result.stderr
    records = cluster.api.list(
        "configmaps", cluster.namespace, label_selector="nfk8s.io/status=succeeded"
    )
    assert len(records) == 1
    run = json.loads(records[0]["data"]["run.json"])
    assert run["status"] == "succeeded"
    assert run["exitCode"] == 0
    lease = cluster.api.get("leases", cluster.namespace, "nfk8s-lock")
    assert not lease["spec"].get("holderIdentity")


def test_failing_pipeline_exits_1_and_records_failure(cluster):
    result = run_nfk8s(cluster, "run", "sim/fail")
    assert result.returncode == 1, result.stderr
    assert "ERROR ~ Error executing process" in result.stdout
    (record,) = cluster.api.list(
        "configmaps", cluster.namespace, label_selector="nfk8s.io/status=failed"
    )
    run = json.loads(record["data"]["run.json"])
    assert run["exitCode"] == 1
    assert run["reason"]


def test_detach_prints_run_id_and_leaves_the_job_running(cluster):
    result = run_nfk8s(cluster, "run", "sim/slow", "--detach")
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip()
    assert run_id.startswith("r")
    job = cluster.api.get("jobs", cluster.namespace, f"nfk8s-{run_id}")
    owner = job["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "ConfigMap"
    assert owner["name"] == f"nfk8s-run-{run_id}"
    lease = cluster.api.get("leases", cluster.namespace, "nfk8s-lock")
    assert lease["spec"]["holderIdentity"] == run_id
