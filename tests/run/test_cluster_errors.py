"""Cluster errors exit 6 and say what was denied; a half-way failure leaves nothing held."""

from __future__ import annotations

import json
import socket

from tests.support import provision


def test_forbidden_lease_names_verb_resource_namespace_and_rbac_hint(invoke, fakekube):
    provision(fakekube)
    fakekube.rbac.deny("create", "leases")
    result = invoke("run", "sim/hello")
    assert result.exit_code == 6
    first = result.stderr.splitlines()[0]
    assert "forbidden" in first
    assert "create leases.coordination.k8s.io" in first
    assert "'default'" in first
    assert "nfk8s rbac" in result.stderr


def test_unauthorized_exits_6(invoke, fakekube):
    fakekube.set_unauthorized(True)
    result = invoke("run", "sim/hello")
    assert result.exit_code == 6
    assert "unauthorized" in result.stderr.splitlines()[0]


def test_unreachable_exits_6(invoke, fakekube, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    result = invoke("run", "sim/hello", "--kubeconfig", str(kubeconfig))
    assert result.exit_code == 6
    assert "cannot reach the API server" in result.stderr


def test_job_create_forbidden_releases_the_lock_and_records_why(invoke, fakekube):
    provision(fakekube)
    fakekube.rbac.deny("create", "jobs")
    result = invoke("run", "sim/hello", "--name", "halfway")
    assert result.exit_code == 6
    assert "create jobs.batch" in result.stderr
    lease = fakekube.api.get("leases", "default", "nfk8s-lock")
    assert not lease["spec"].get("holderIdentity")
    record = fakekube.api.get("configmaps", "default", "nfk8s-run-halfway")
    run = json.loads(record["data"]["run.json"])
    assert run["status"] == "failed"
    assert "forbidden" in run["reason"]
    assert record["metadata"]["labels"]["nfk8s.io/status"] == "failed"
    # and the next run goes through
    fakekube.rbac.allow_all()
    assert invoke("run", "sim/hello").exit_code == 0
