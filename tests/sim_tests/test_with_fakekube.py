"""The simulator inside the real fake: its kubelet runs driver pods through ``run_driver``."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakekube import nextflow_sim as sim
from tests.fakekube.api import StatusError
from tests.sim_tests.fakes import K8S_CONFIG, parse_transcript

fakekube = pytest.importorskip("tests.fakekube")
FakeKube = getattr(fakekube, "FakeKube", None)
pytestmark = pytest.mark.skipif(FakeKube is None, reason="the fake API server is not available")

NS = "default"


@pytest.fixture
def fk() -> Iterator[Any]:
    assert FakeKube is not None
    with FakeKube(speed=50) as server:
        yield server


def start_driver(fk: Any, name: str, pipeline: str, config: str = K8S_CONFIG) -> None:
    # Admission refuses pods whose ServiceAccount does not exist, as a real apiserver does.
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "nfk8s-runner"}}
    with contextlib.suppress(StatusError):
        fk.api.create("serviceaccounts", NS, sa)
    fk.api.create(
        "configmaps",
        NS,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"cfg-{name}"},
            "data": {"nextflow.config": config, "params.json": json.dumps({})},
        },
    )
    argv = ["nextflow", "run", pipeline, "-name", name, "-c", "/etc/nfk8s/nextflow.config"]
    argv += ["-params-file", "/etc/nfk8s/params.json"]
    container = {
        "name": "nextflow",
        "image": "nextflow/nextflow:25.10.0",
        "command": argv,
        "env": [{"name": "NXF_ANSI_LOG", "value": "false"}],
        "volumeMounts": [{"name": "cfg", "mountPath": "/etc/nfk8s"}],
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"drv-{name}"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [container],
            "volumes": [{"name": "cfg", "configMap": {"name": f"cfg-{name}"}}],
        },
    }
    fk.api.create("pods", NS, pod)


def driver_exit(fk: Any, name: str) -> int:
    def terminated() -> dict[str, Any] | None:
        pod = fk.api.get("pods", NS, f"drv-{name}")
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        return (statuses[0].get("state") or {}).get("terminated") if statuses else None

    return int(fk.wait_for(terminated, timeout=20)["exitCode"])


def task_pods(fk: Any) -> list[dict[str, Any]]:
    return [p for p in fk.api.list("pods", NS) if p["metadata"]["name"].startswith("nf-")]


def test_driver_pod_runs_tasks_as_jobs(fk: Any) -> None:
    start_driver(fk, "jobs-1", "sim/hello", K8S_CONFIG + "k8s.computeResourceType = 'Job'\n")
    assert driver_exit(fk, "jobs-1") == 0
    res = sim.get_result(NS, "jobs-1")
    assert res is not None and res.status == "succeeded" and res.resource == "jobs"
    assert res.processes["sayHello"].succeeded == 4
    logs = fk.pod_logs(NS, "drv-jobs-1")
    assert logs == res.lines
    parse_transcript(logs)
    fk.wait_for(lambda: not task_pods(fk) and not fk.api.list("jobs", NS), timeout=20)


def test_missing_service_account_is_a_403_for_the_driver(fk: Any) -> None:
    config = K8S_CONFIG.replace("nfk8s-runner", "nobody")
    start_driver(fk, "sa-1", "sim/hello", config)
    assert driver_exit(fk, "sa-1") == 1
    logs = fk.pod_logs(NS, "drv-sa-1")
    parse_transcript(logs)
    assert "  Request POST /api/v1/namespaces/default/pods returned an error code=403" in logs


def test_deleting_the_driver_pod_kills_its_tasks(fk: Any) -> None:
    start_driver(fk, "slow-1", "sim/slow")
    fk.wait_for(lambda: len(task_pods(fk)) == 3, timeout=20)
    fk.api.delete("pods", NS, "drv-slow-1", grace_period_seconds=30)
    fk.wait_for(lambda: (r := sim.get_result(NS, "slow-1")) and r.status == "terminated")
    res = sim.get_result(NS, "slow-1")
    assert res is not None and res.exit_code == 1
    assert res.lines[-1] == "WARN: Killing running tasks (3)"
    fk.wait_for(lambda: not task_pods(fk), timeout=20)
