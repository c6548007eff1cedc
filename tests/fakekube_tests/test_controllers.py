"""Job controller, kubelet, garbage collector and events against what a real cluster shows."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.fakekube import DriverKilled, FakeKube
from tests.fakekube_tests.helpers import condition_types, job_manifest, pod_manifest, typed


def _job(fk: FakeKube, name: str) -> dict[str, Any]:
    return fk.api.get("jobs", "default", name)


def _job_pods(fk: FakeKube, name: str) -> list[dict[str, Any]]:
    return fk.api.list("pods", "default", label_selector=f"batch.kubernetes.io/job-name={name}")


def _finished(fk: FakeKube, name: str) -> list[str]:
    types = condition_types(_job(fk, name))
    return types if {"Complete", "Failed"} & set(types) else []


def _reasons(fk: FakeKube, involved: str) -> list[str]:
    return [
        e["reason"]
        for e in fk.api.list("events", "default")
        if e["involvedObject"]["name"] == involved
    ]


def test_job_success(fakekube: FakeKube) -> None:
    fakekube.api.create("jobs", "default", job_manifest("ok"))
    assert fakekube.wait_for(lambda: _finished(fakekube, "ok")) == [
        "SuccessCriteriaMet",
        "Complete",
    ]
    job = _job(fakekube, "ok")
    typed("V1Job", job)
    st = job["status"]
    assert st["succeeded"] == 1 and st["active"] == 0 and st["ready"] == 0
    assert st["terminating"] == 0 and st["uncountedTerminatedPods"] == {}
    assert st["startTime"] and st["completionTime"]
    assert job["status"]["conditions"][1]["reason"] == "CompletionsReached"
    (pod,) = _job_pods(fakekube, "ok")
    typed("V1Pod", pod)
    assert pod["status"]["phase"] == "Succeeded"
    term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 0 and term["reason"] == "Completed"
    labels = pod["metadata"]["labels"]
    uid = job["metadata"]["uid"]
    assert labels["batch.kubernetes.io/controller-uid"] == uid and labels["job-name"] == "ok"
    ref = pod["metadata"]["ownerReferences"][0]
    assert ref == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": "ok",
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert pod["metadata"]["name"].startswith("ok-") and len(pod["metadata"]["name"]) == 8
    assert "finalizers" not in pod["metadata"]  # job tracking finalizer released once counted
    assert fakekube.wait_for(lambda: "Completed" in _reasons(fakekube, "ok"))
    assert "SuccessfulCreate" in _reasons(fakekube, "ok")
    assert {"Scheduled", "Pulled", "Created", "Started"} <= set(
        _reasons(fakekube, pod["metadata"]["name"])
    )


def test_job_failure_with_backoff_limit_zero(fakekube: FakeKube) -> None:
    fakekube.api.create(
        "jobs",
        "default",
        job_manifest("bad", annotations={"fakekube.io/exit-code": "3", "fakekube.io/log": "boom"}),
    )
    assert fakekube.wait_for(lambda: _finished(fakekube, "bad")) == ["FailureTarget", "Failed"]
    job = _job(fakekube, "bad")
    failed = job["status"]["conditions"][1]
    assert failed["reason"] == "BackoffLimitExceeded"
    assert failed["message"] == "Job has reached the specified backoff limit"
    assert job["status"]["failed"] == 1 and "completionTime" not in job["status"]
    (pod,) = _job_pods(fakekube, "bad")
    assert pod["status"]["phase"] == "Failed"
    term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (3, "Error")
    assert fakekube.pod_logs("default", pod["metadata"]["name"]) == ["boom"]
    assert "BackoffLimitExceeded" in _reasons(fakekube, "bad")


def test_job_retries_until_backoff_limit(fakekube: FakeKube) -> None:
    fakekube.speed = 100
    fakekube.api.create(
        "jobs",
        "default",
        job_manifest("retry", backoff_limit=1, annotations={"fakekube.io/exit-code": "1"}),
    )
    fakekube.wait_for(lambda: _finished(fakekube, "retry"))
    assert _job(fakekube, "retry")["status"]["failed"] == 2
    assert len(_job_pods(fakekube, "retry")) == 2


def test_job_deadline_exceeded(fakekube: FakeKube) -> None:
    fakekube.api.create(
        "jobs",
        "default",
        job_manifest("late", deadline=30, annotations={"fakekube.io/run-seconds": "600"}),
    )
    fakekube.wait_for(lambda: _job(fakekube, "late")["status"].get("active") == 1)
    # activeDeadlineSeconds runs on the server clock: jump it instead of waiting.
    fakekube.clock_offset = 31
    assert fakekube.wait_for(lambda: _finished(fakekube, "late")) == ["FailureTarget", "Failed"]
    job = _job(fakekube, "late")
    assert job["status"]["conditions"][1]["reason"] == "DeadlineExceeded"
    assert (
        job["status"]["conditions"][1]["message"] == "Job was active longer than specified deadline"
    )
    assert job["status"]["active"] == 0 and job["status"]["failed"] == 1
    fakekube.wait_for(lambda: not _job_pods(fakekube, "late"))  # deleted by the controller
    assert "DeadlineExceeded" in _reasons(fakekube, "late")


def test_pod_lifecycle_and_graceful_delete(fakekube: FakeKube) -> None:
    fakekube.api.create(
        "pods", "default", pod_manifest("p", annotations={"fakekube.io/run-seconds": "600"})
    )

    def running() -> dict[str, Any] | None:
        pod = fakekube.api.get("pods", "default", "p")
        return pod if pod["status"]["phase"] == "Running" else None

    pod = fakekube.wait_for(running)
    typed("V1Pod", pod)
    st = pod["status"]
    assert pod["spec"]["nodeName"] == "fakekube-node" and st["podIP"] and st["startTime"]
    assert condition_types(pod) == [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ]
    assert st["containerStatuses"][0]["state"]["running"]["startedAt"]
    out = fakekube.api.delete("pods", "default", "p", grace_period_seconds=30)
    assert (
        out["metadata"]["deletionTimestamp"] and out["metadata"]["deletionGracePeriodSeconds"] == 30
    )
    fakekube.wait_for(lambda: fakekube.store.try_get("pods", "default", "p") is None)
    assert "Killing" in _reasons(fakekube, "p")


def test_restart_policy_always_restarts(fakekube: FakeKube) -> None:
    fakekube.speed = 200
    fakekube.api.create("pods", "default", pod_manifest("loop", restart_policy="Always"))
    pod = fakekube.wait_for(
        lambda: (
            (p := fakekube.api.get("pods", "default", "loop"))["status"].get("containerStatuses")
            and p["status"]["containerStatuses"][0]["restartCount"] >= 1
            and p
        )
    )
    assert pod["status"]["phase"] == "Running"


def _garbage_job(fk: FakeKube, name: str) -> str:
    fk.api.create(
        "jobs", "default", job_manifest(name, annotations={"fakekube.io/run-seconds": "600"})
    )
    pods = fk.wait_for(
        lambda: [p for p in _job_pods(fk, name) if p["status"]["phase"] == "Running"]
    )
    return pods[0]["metadata"]["name"]


def test_delete_job_background_collects_pods(fakekube: FakeKube) -> None:
    pod = _garbage_job(fakekube, "bg")
    fakekube.api.delete("jobs", "default", "bg", propagation_policy="Background")
    assert fakekube.store.try_get("jobs", "default", "bg") is None
    fakekube.wait_for(lambda: fakekube.store.try_get("pods", "default", pod) is None)


def test_delete_job_orphan_by_default(fakekube: FakeKube) -> None:
    pod = _garbage_job(fakekube, "orph")
    fakekube.api.delete("jobs", "default", "orph")  # batch/v1 default: orphan the pods
    left = fakekube.api.get("pods", "default", pod)
    assert "ownerReferences" not in left["metadata"]


def test_delete_job_foreground_waits_for_pods(fakekube: FakeKube) -> None:
    pod = _garbage_job(fakekube, "fg")
    out = fakekube.api.delete("jobs", "default", "fg", propagation_policy="Foreground")
    assert out["metadata"]["deletionTimestamp"]
    assert out["metadata"]["finalizers"] == ["foregroundDeletion"]
    fakekube.wait_for(lambda: fakekube.store.try_get("jobs", "default", "fg") is None)
    assert fakekube.store.try_get("pods", "default", pod) is None


def test_owner_reference_to_configmap_cascades(fakekube: FakeKube) -> None:
    cm = fakekube.api.create("configmaps", "default", {"metadata": {"name": "record"}})
    job = job_manifest("owned", annotations={"fakekube.io/run-seconds": "600"})
    job["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "record", "uid": cm["metadata"]["uid"]}
    ]
    fakekube.api.create("jobs", "default", job)
    fakekube.wait_for(lambda: _job_pods(fakekube, "owned"))
    fakekube.api.delete("configmaps", "default", "record")
    fakekube.wait_for(lambda: fakekube.store.try_get("jobs", "default", "owned") is None)
    fakekube.wait_for(lambda: not _job_pods(fakekube, "owned"))


def _driver_pod(fk: FakeKube, name: str, runner: Any, **kw: Any) -> None:
    fk.controllers.kubelet.driver_runner = lambda: runner  # type: ignore[method-assign]
    containers = [
        {
            "name": "nextflow",
            "image": "nextflow/nextflow:25.10.0",
            "command": ["nextflow", "run", "x"],
            "env": [{"name": "NXF_ANSI_LOG", "value": "false"}],
            **kw,
        }
    ]
    fk.api.create("pods", "default", pod_manifest(name, containers=containers, grace=30))


def test_driver_context_reads_mounts_and_logs(fakekube: FakeKube) -> None:
    fakekube.api.create(
        "configmaps",
        "default",
        {
            "metadata": {"name": "rec"},
            "data": {"nextflow.config": "process.executor = 'k8s'", "params.json": "{}"},
        },
    )
    seen: dict[str, Any] = {}

    def runner(ctx: Any) -> int:
        seen["config"] = ctx.read_file("/etc/nfk8s/nextflow.config")
        seen["renamed"] = ctx.read_file("/etc/items/p.json")
        seen["sub"] = ctx.read_file("/work/params.json")
        seen["missing"] = ctx.read_file("/etc/nfk8s/nope")
        seen["env"] = ctx.env["NXF_ANSI_LOG"]
        seen["argv"] = ctx.argv
        ctx.log("hello from the driver")
        ctx.sleep(1)
        return 3

    volumes = [
        {"name": "rec", "configMap": {"name": "rec"}},
        {
            "name": "items",
            "configMap": {"name": "rec", "items": [{"key": "params.json", "path": "p.json"}]},
        },
    ]
    mounts = [
        {"name": "rec", "mountPath": "/etc/nfk8s", "readOnly": True},
        {"name": "items", "mountPath": "/etc/items"},
        {"name": "rec", "mountPath": "/work/params.json", "subPath": "params.json"},
    ]
    fakekube.controllers.kubelet.driver_runner = lambda: runner  # type: ignore[method-assign]
    pod = pod_manifest(
        "drv",
        containers=[
            {
                "name": "nextflow",
                "image": "nextflow/nextflow",
                "command": ["nextflow"],
                "args": ["run", "x"],
                "env": [{"name": "NXF_ANSI_LOG", "value": "false"}],
                "volumeMounts": mounts,
            }
        ],
    )
    pod["spec"]["volumes"] = volumes
    fakekube.api.create("pods", "default", pod)
    fakekube.wait_for(
        lambda: fakekube.api.get("pods", "default", "drv")["status"]["phase"] == "Failed"
    )
    assert seen == {
        "config": "process.executor = 'k8s'",
        "renamed": "{}",
        "sub": "{}",
        "missing": None,
        "env": "false",
        "argv": ["nextflow", "run", "x"],
    }
    assert fakekube.pod_logs("default", "drv") == ["hello from the driver"]
    term = fakekube.api.get("pods", "default", "drv")["status"]["containerStatuses"][0]["state"][
        "terminated"
    ]
    assert term["exitCode"] == 3


def test_driver_sigterm_then_exit(fakekube: FakeKube) -> None:
    started = threading.Event()
    may_exit = threading.Event()
    # Read by the test: an assertion in the driver's thread could not fail it.
    woke_terminating: list[bool] = []

    def runner(ctx: Any) -> int:
        started.set()
        ctx.sleep(10_000)
        woke_terminating.append(ctx.terminating)
        ctx.log("cleaning up")
        may_exit.wait(60)
        return 0

    _driver_pod(fakekube, "term", runner)
    assert started.wait(60)
    fakekube.api.delete("pods", "default", "term", grace_period_seconds=30)
    fakekube.wait_for(lambda: woke_terminating)
    assert woke_terminating == [True]
    # The container is still cleaning up: the pod stays, marked for deletion.
    pod = fakekube.api.get("pods", "default", "term")
    assert pod["metadata"]["deletionTimestamp"]
    assert fakekube.pod_logs("default", "term") == ["cleaning up"]
    may_exit.set()
    fakekube.wait_for(lambda: fakekube.store.try_get("pods", "default", "term") is None)


def test_driver_killed_without_grace(fakekube: FakeKube) -> None:
    started = threading.Event()
    outcome: list[str] = []

    def runner(ctx: Any) -> int:
        started.set()
        try:
            ctx.sleep(10_000)
            outcome.append("woke")
        except DriverKilled:
            outcome.append("killed")
            raise
        return 0

    _driver_pod(fakekube, "kill", runner)
    assert started.wait(60)
    fakekube.api.delete("pods", "default", "kill", grace_period_seconds=0)
    assert fakekube.store.try_get("pods", "default", "kill") is None
    fakekube.wait_for(lambda: outcome)
    assert outcome == ["killed"]


def test_driver_grace_runs_out(fakekube: FakeKube) -> None:
    fakekube.speed = 100
    outcome: list[str] = []

    def runner(ctx: Any) -> int:
        ctx.sleep(10_000)
        try:
            while True:  # ignores SIGTERM
                ctx.sleep(1)
        except DriverKilled:
            outcome.append("killed")
            raise

    _driver_pod(fakekube, "stubborn", runner)
    fakekube.wait_for(
        lambda: fakekube.api.get("pods", "default", "stubborn")["status"]["phase"] == "Running"
    )
    fakekube.api.delete("pods", "default", "stubborn", grace_period_seconds=10)
    fakekube.wait_for(lambda: fakekube.store.try_get("pods", "default", "stubborn") is None)
    fakekube.wait_for(lambda: outcome)


@pytest.mark.parametrize("missing_sa", ["runner"])
def test_pod_with_missing_service_account_is_forbidden(fakekube: FakeKube, missing_sa: str) -> None:
    job = job_manifest("nosa")
    job["spec"]["template"]["spec"]["serviceAccountName"] = missing_sa
    fakekube.api.create("jobs", "default", job)
    fakekube.wait_for(lambda: "FailedCreate" in _reasons(fakekube, "nosa"))
    assert not _job_pods(fakekube, "nosa")


def test_namespace_deletion_drains_content(fakekube: FakeKube) -> None:
    fakekube.api.create("namespaces", "", {"metadata": {"name": "scratch"}})
    fakekube.api.create("configmaps", "scratch", {"metadata": {"name": "x"}})
    out = fakekube.api.delete("namespaces", "", "scratch")
    assert out["status"]["phase"] == "Terminating"
    fakekube.wait_for(lambda: fakekube.store.try_get("namespaces", "", "scratch") is None)


def test_driver_job_runs_the_nextflow_simulator(fakekube: FakeKube) -> None:
    pytest.importorskip("tests.fakekube.nextflow_sim")
    job = job_manifest("nf", command=["nextflow", "run", "sim/hello", "-name", "fk-hello"])
    fakekube.api.create("jobs", "default", job)
    assert fakekube.wait_for(lambda: _finished(fakekube, "nf"), timeout=30)[-1] == "Complete"
    (pod,) = _job_pods(fakekube, "nf")
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    log = fakekube.pod_logs("default", pod["metadata"]["name"])
    assert log and "N E X T F L O W" in log[0]
    truth = fakekube.sim_truth("default", "fk-hello")
    assert truth is not None and truth.exit_code == 0
