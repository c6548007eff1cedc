"""Dry runs write nothing (the bad-input table is tests/reliability/test_bad_input.py)."""

from __future__ import annotations

import json


def test_dry_run_prints_the_three_objects_and_writes_nothing(invoke, fakekube, tmp_path):
    fakekube.requests.clear()
    result = invoke(
        "run", "nf-core/rnaseq", "-r", "3.14.0", "--profile", "test", "--dry-run", "-o", "json"
    )
    assert result.exit_code == 0, result.stderr
    items = json.loads(result.stdout)["items"]
    assert [i["kind"] for i in items] == ["Lease", "ConfigMap", "Job"]
    (container,) = items[2]["spec"]["template"]["spec"]["containers"]
    argv = container.get("command", []) + container.get("args", [])
    assert argv[:3] == ["nextflow", "run", "nf-core/rnaseq"]  # an argument list, no shell
    assert argv[argv.index("-r") + 1] == "3.14.0"
    assert fakekube.requests.all() == []


def test_dry_run_works_with_no_cluster_at_all(invoke, tmp_path):
    kubeconfig = tmp_path / "dead.kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [
                    {"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "lab"}}
                ],
                "current-context": "x",
            }
        )
    )
    result = invoke("run", "sim/hello", "--dry-run", "--kubeconfig", str(kubeconfig))
    assert result.exit_code == 0, result.stderr
    assert "kind: Lease" in result.stdout
    assert "kind: Job" in result.stdout
    assert "namespace: lab" in result.stdout
