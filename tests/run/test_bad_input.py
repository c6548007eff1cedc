"""Bad input: a one-line error naming the problem and the fix, exit 2, nothing written."""

from __future__ import annotations

import json

import pytest

from tests.support import provision


@pytest.fixture
def pipeline_dir(tmp_path):
    root = tmp_path / "pipe"
    root.mkdir()
    (root / "main.nf").write_text("workflow { }\n")
    return root


def cases(tmp_path, pipeline_dir):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    not_mapping = tmp_path / "list.yaml"
    not_mapping.write_text("- a\n- b\n")
    no_main = tmp_path / "nomain"
    no_main.mkdir()
    big = tmp_path / "big"
    big.mkdir()
    (big / "main.nf").write_text("workflow { }\n")
    (big / "data.txt").write_bytes(b"x" * (1024 * 1024))
    return {
        "param without =": (["run", "sim/hello", "-p", "outdir"], "KEY=VALUE"),
        "param with empty key": (["run", "sim/hello", "-p", "=x"], "KEY=VALUE"),
        "params file missing": (
            ["run", "sim/hello", "--params-file", str(tmp_path / "none.json")],
            "params",
        ),
        "params file invalid": (["run", "sim/hello", "--params-file", str(bad_json)], "params"),
        "params file not a mapping": (
            ["run", "sim/hello", "--params-file", str(not_mapping)],
            "mapping",
        ),
        "profile syntax": (["run", "sim/hello", "--profile", "test;rm -rf"], "profile"),
        "name not DNS-1123": (["run", "sim/hello", "--name", "My_Run"], "run name"),
        "name too long": (["run", "sim/hello", "--name", "a" * 60], "run name"),
        "name starts with digit": (["run", "sim/hello", "--name", "1run"], "letter"),
        "negative timeout": (["run", "sim/hello", "--timeout", "-5m"], "duration"),
        "garbled timeout": (["run", "sim/hello", "--timeout", "soon"], "duration"),
        "garbled wait-lock": (["run", "sim/hello", "--wait-lock=later"], "duration"),
        "garbled cpus": (["run", "sim/hello", "--head-cpus", "lots"], "cpu"),
        "negative memory": (["run", "sim/hello", "--head-memory", "-4Gi"], "memory"),
        "local dir without main.nf": (["run", str(no_main)], "main.nf"),
        "local dir too large": (["run", str(big)], "KiB"),
        "config file missing": (
            ["run", "sim/hello", "-c", str(tmp_path / "missing.config")],
            "config",
        ),
        "unknown context": (["run", "sim/hello", "--context", "nope"], "context"),
        "missing kubeconfig": (
            ["run", "sim/hello", "--kubeconfig", str(tmp_path / "no-kubeconfig")],
            "kubeconfig",
        ),
        "attach with wait-lock": (["run", "sim/hello", "--attach", "--wait-lock"], "--attach"),
    }


CASE_NAMES = [
    "param without =",
    "param with empty key",
    "params file missing",
    "params file invalid",
    "params file not a mapping",
    "profile syntax",
    "name not DNS-1123",
    "name too long",
    "name starts with digit",
    "negative timeout",
    "garbled timeout",
    "garbled wait-lock",
    "garbled cpus",
    "negative memory",
    "local dir without main.nf",
    "local dir too large",
    "config file missing",
    "unknown context",
    "missing kubeconfig",
    "attach with wait-lock",
]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    case, invoke, fakekube, tmp_path, pipeline_dir
):
    provision(fakekube)
    fakekube.requests.clear()
    args, expected = cases(tmp_path, pipeline_dir)[case]
    result = invoke(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("error: ")
    assert expected.lower() in result.stderr.lower()
    assert len(lines) <= 2  # the error, and at most one hint line
    assert all(line.startswith(("error: ", "hint: ")) for line in lines)
    assert fakekube.requests.writes() == []


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
