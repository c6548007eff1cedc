"""The pinned kubectl against the fake: what a person would type."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.fakekube import FakeKube, _kubectl_binary
from tests.fakekube_tests.helpers import job_manifest, pod_manifest

MANIFESTS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {app: demo, tier: web}
data:
  key: value
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: demo}
  annotations: {fakekube.io/log: "hello\\nworld"}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox:1.36
"""


@pytest.fixture
def fk(fakekube: FakeKube) -> FakeKube:
    try:
        _kubectl_binary()
    except FileNotFoundError:
        pytest.skip("kubectl is not installed")
    return fakekube


def test_create_get_label_annotate(fk: FakeKube) -> None:
    out = fk.kubectl("create", "-f", "-", input=MANIFESTS, check=True).stdout
    assert out.splitlines() == ["configmap/settings created", "pod/web created"]
    got = fk.kubectl("get", "cm", "-l", "app=demo,tier in (web)", check=True).stdout
    assert got.split("\n")[0].split() == ["NAME", "DATA", "AGE"]
    assert got.split("\n")[1].split()[:2] == ["settings", "1"]
    assert "No resources found" in fk.kubectl("get", "cm", "-l", "app=other").stderr
    fk.kubectl("label", "cm", "settings", "stage=test", check=True)
    fk.kubectl("annotate", "cm", "settings", "note=hi", check=True)
    obj = json.loads(fk.kubectl("get", "cm", "settings", "-o", "json", check=True).stdout)
    assert obj["metadata"]["labels"]["stage"] == "test"
    assert obj["metadata"]["annotations"]["note"] == "hi"
    yaml_out = fk.kubectl("get", "cm", "settings", "-o", "yaml", check=True).stdout
    assert "kind: ConfigMap" in yaml_out and "resourceVersion:" in yaml_out
    fk.wait_for(lambda: fk.api.get("pods", "default", "web")["status"]["phase"] == "Succeeded")
    pods = fk.kubectl("get", "pods", "-o", "wide", check=True).stdout.splitlines()
    assert pods[0].split()[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert pods[1].split()[:3] == ["web", "0/1", "Completed"] and "fakekube-node" in pods[1]
    assert (
        fk.kubectl("get", "pods", "--field-selector", "status.phase=Succeeded", "-o", "name").stdout
        == "pod/web\n"
    )


def test_logs_follow_with_timestamps(fk: FakeKube) -> None:
    fk.api.create(
        "pods",
        "default",
        pod_manifest(
            "talk", annotations={"fakekube.io/log": "one\ntwo", "fakekube.io/run-seconds": "20"}
        ),
    )
    fk.wait_for(lambda: fk.api.get("pods", "default", "talk")["status"]["phase"] == "Running")
    result = fk.kubectl("logs", "-f", "--timestamps", "talk", check=True)
    lines = result.stdout.splitlines()
    assert [ln.split(" ", 1)[1] for ln in lines] == ["one", "two"]
    assert lines[0].split(" ", 1)[0].endswith("Z")
    fk.wait_for(lambda: fk.api.get("pods", "default", "talk")["status"]["phase"] == "Succeeded")


def test_get_watch(fk: FakeKube) -> None:
    proc = subprocess.Popen(
        [
            _kubectl_binary(),
            f"--kubeconfig={fk.kubeconfig}",
            "get",
            "cm",
            "-w",
            "--request-timeout=300s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=fk.env(),
    )
    try:
        assert proc.stdout is not None
        header = proc.stdout.readline()
        assert header.split() == ["NAME", "DATA", "AGE"]
        fk.api.create(
            "configmaps", "default", {"metadata": {"name": "watched"}, "data": {"a": "b"}}
        )
        deadline = time.monotonic() + 120
        seen = ""
        while time.monotonic() < deadline and "watched" not in seen:
            seen = proc.stdout.readline()
        assert seen.split()[:2] == ["watched", "1"]
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_replace_with_stale_resource_version_conflicts(fk: FakeKube) -> None:
    fk.api.create("configmaps", "default", {"metadata": {"name": "cas"}, "data": {"v": "1"}})
    stale = fk.kubectl("get", "cm", "cas", "-o", "json", check=True).stdout
    fk.api.patch("configmaps", "default", "cas", {"data": {"v": "2"}})
    result = fk.kubectl("replace", "-f", "-", input=stale)
    assert result.returncode != 0
    assert "Error from server (Conflict)" in result.stderr
    assert "the object has been modified" in result.stderr


def test_delete_job_cascade_foreground(fk: FakeKube) -> None:
    fk.api.create(
        "jobs", "default", job_manifest("fg", annotations={"fakekube.io/run-seconds": "600"})
    )
    fk.wait_for(lambda: fk.api.list("pods", "default", label_selector="job-name=fg"))
    result = fk.kubectl("delete", "job", "fg", "--cascade=foreground", check=True)
    assert 'job.batch "fg" deleted' in result.stdout
    assert fk.store.try_get("jobs", "default", "fg") is None
    assert not fk.api.list("pods", "default", label_selector="job-name=fg")


def test_describe_pod_and_get_events(fk: FakeKube) -> None:
    fk.api.create("pods", "default", pod_manifest("desc"))
    fk.wait_for(lambda: fk.api.get("pods", "default", "desc")["status"]["phase"] == "Succeeded")
    out = fk.kubectl("describe", "pod", "desc", check=True).stdout
    assert "Status:           Succeeded" in out
    assert "Node:             fakekube-node/172.18.0.2" in out
    assert "Successfully assigned default/desc to fakekube-node" in out
    events = fk.kubectl("get", "events", check=True).stdout.splitlines()
    assert events[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]


def test_errors_reach_the_user(fk: FakeKube) -> None:
    nf = fk.kubectl("get", "cm", "missing")
    assert nf.returncode == 1
    assert nf.stderr.strip() == 'Error from server (NotFound): configmaps "missing" not found'
    fk.rbac.deny("list", "pods")
    denied = fk.kubectl("get", "pods")
    assert "Error from server (Forbidden)" in denied.stderr
    assert 'User "fake-user" cannot list resource "pods"' in denied.stderr
    bad = fk.kubectl("get", "cm", "-l", "a in (b")
    assert bad.returncode == 1
    assert "Error from server (BadRequest)" in bad.stderr


def test_api_resources_and_version(fk: FakeKube) -> None:
    out = fk.kubectl("api-resources", check=True).stdout
    for short in ("po", "cm", "ev", "pvc", "sa", "ns"):
        assert f" {short} " in out
    assert "leases" in out and "coordination.k8s.io/v1" in out
    assert "Server Version: v1.37.0" in fk.kubectl("version", check=True).stdout
