"""A driver that cannot start: the user is told why, the run fails with exit 7 (at once when
the cause cannot heal, else at the start timeout), the lock is free and nothing is left.

The backends' conventions: an image whose reference contains ``does-not-exist`` cannot be
pulled; nodes have a finite capacity (``--head-memory 100Ti`` fits none); a namespace's
ResourceQuota and Pod Security label are enforced (the real control plane only)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from nfk8s import manifests
from nfk8s.podchecks import ENFORCE_LABEL
from tests.support import memory_quota, nfk8s_env, run_nfk8s, try_get

pytestmark = pytest.mark.backends

MISSING_IMAGE = "docker.io/nextflow/does-not-exist:1"
NEEDS_ADMISSION = "the fake API server has no ResourceQuota nor Pod Security admission"
# The fake kubelet does not keep the node conventions yet (failed pulls, capacity, init
# containers): the fake is the one to change; until then these run on the real backend.
NEEDS_NODE = (
    "the fake kubelet neither fails pulls, nor schedules by capacity, nor runs init containers"
)

PULL_FAILURE = r"driver did not start: (ErrImagePull|ImagePullBackOff): "


def real_node_only(cluster: Any) -> None:
    if cluster.backend == "fake":
        pytest.skip(NEEDS_NODE)


def run(cluster: Any, *args: str, timeout: float = 240, **env: str) -> Any:
    return run_nfk8s(cluster, *args, timeout=timeout, env={**nfk8s_env(cluster), **env})


def record(cluster: Any, run_id: str) -> dict[str, Any]:
    cm = cluster.api.get("configmaps", cluster.namespace, manifests.record_name(run_id))
    return json.loads(cm["data"]["run.json"])


def lease_holder(cluster: Any) -> str | None:
    lease = try_get(cluster.api, "leases", cluster.namespace, "nfk8s-lock") or {}
    return (lease.get("spec") or {}).get("holderIdentity")


def left_behind(cluster: Any, run_id: str) -> list[str]:
    """The run's Job and pods that still exist (the record stays: it is the history)."""
    jobs = [
        f"job/{j['metadata']['name']}"
        for j in cluster.api.list("jobs", cluster.namespace)
        if j["metadata"]["name"] == manifests.job_name(run_id)
    ]
    pods = [
        f"pod/{p['metadata']['name']}"
        for p in cluster.api.list(
            "pods", cluster.namespace, label_selector=manifests.run_selector(run_id)
        )
    ]
    return jobs + pods


def assert_failed_unstarted(cluster: Any, run_id: str, done: Any, cause: str) -> dict[str, Any]:
    assert done.returncode == 7, done.stderr
    run_json = record(cluster, run_id)
    assert run_json["status"] == "failed"
    assert run_json["reason"].startswith("driver did not start: "), run_json["reason"]
    assert cause in run_json["reason"], run_json["reason"]
    assert cause in done.stderr
    assert lease_holder(cluster) is None
    cluster.wait_for(
        lambda: not left_behind(cluster, run_id), timeout=60, message="the Job or pods stayed"
    )
    return run_json


def test_a_missing_image_is_shown_while_waiting_and_exits_7_at_the_start_timeout(cluster):
    real_node_only(cluster)
    done = run(
        cluster,
        "run", "sim/hello", "--name", "badimage", "--plain", "--start-timeout", "20s",
        NFK8S_IMAGE=MISSING_IMAGE,
    )  # fmt: skip

    assert "waiting for the driver: ErrImagePull" in done.stderr, done.stderr
    run_json = assert_failed_unstarted(cluster, "badimage", done, "does-not-exist")
    assert "start timeout 20s" in run_json["reason"]
    assert "ImagePull" in run_json["reason"]


def test_an_invalid_image_name_exits_7_at_once_not_at_the_start_timeout(cluster):
    real_node_only(cluster)
    done = run(
        cluster,
        "run", "sim/hello", "--name", "badname", "--plain", "--start-timeout", "1h",
        NFK8S_IMAGE="Nextflow/UPPER:1",
    )  # fmt: skip

    run_json = assert_failed_unstarted(cluster, "badname", done, "InvalidImageName")
    assert "start timeout" not in run_json["reason"]


def test_a_request_no_node_can_hold_is_unschedulable_and_one_that_fits_runs(cluster):
    real_node_only(cluster)
    done = run(
        cluster,
        "run", "sim/hello", "--name", "toobig", "--plain", "--start-timeout", "15s",
        "--head-memory", "100Ti",
    )  # fmt: skip

    assert "waiting for the driver: Unschedulable: 0/" in done.stderr, done.stderr
    assert_failed_unstarted(cluster, "toobig", done, "Insufficient memory")

    fits = run(cluster, "run", "sim/hello", "--name", "fits", "--plain", "--head-memory", "1Gi")
    assert fits.returncode == 0, fits.stderr


def test_a_quota_that_refuses_the_driver_again_and_again_exits_7_at_once(cluster):
    if cluster.backend == "fake":
        pytest.skip(NEEDS_ADMISSION)
    memory_quota(cluster, "3Gi")

    done = run(
        cluster,
        "run", "sim/hello", "-p", "sim_tasks=0", "--name", "overquota", "--plain",
        "--start-timeout", "1h", "--head-memory", "4Gi",
    )  # fmt: skip

    assert "waiting for the driver: FailedCreate" in done.stderr, done.stderr
    assert_failed_unstarted(cluster, "overquota", done, "exceeded quota: team")


def test_a_restricted_namespace_refuses_the_default_driver_with_exit_7_and_admits_restricted(
    cluster,
):
    if cluster.backend == "fake":
        pytest.skip(NEEDS_ADMISSION)
    ns = cluster.api.get("namespaces", "", cluster.namespace)
    ns["metadata"].setdefault("labels", {})[ENFORCE_LABEL] = "restricted"
    cluster.api.replace("namespaces", "", ns)

    done = run(
        cluster,
        "run", "sim/hello", "-p", "sim_tasks=0", "--name", "privileged", "--plain",
        "--start-timeout", "1h",
    )  # fmt: skip

    assert_failed_unstarted(cluster, "privileged", done, 'violates PodSecurity "restricted')
    admitted = run(cluster, "run", "sim/hello", "-p", "sim_tasks=0", "--restricted", "--plain")
    assert admitted.returncode == 0, admitted.stderr


def test_a_failing_staging_init_container_exits_7_with_its_exit_code_and_log(cluster, tmp_path):
    real_node_only(cluster)
    pipeline = tmp_path / "mypipe"
    pipeline.mkdir()
    (pipeline / "main.nf").write_text("workflow { }\n")
    annotations = {
        "fakekube.io/init-exit-code.pipeline-copy": "3",
        "fakekube.io/init-log.pipeline-copy": "copying main.nf\ncp: no space left on device",
    }

    done = run(
        cluster,
        "run", str(pipeline), "--name", "staging", "--plain", "--start-timeout", "1h",
        NFK8S_POD_ANNOTATIONS=json.dumps(annotations),
    )  # fmt: skip

    run_json = assert_failed_unstarted(cluster, "staging", done, "exited with code 3")
    assert "pipeline-copy" in run_json["reason"]
    assert "cp: no space left on device" in run_json["reason"]


def test_a_detached_run_that_never_starts_is_failed_once_by_the_next_look(cluster):
    real_node_only(cluster)
    sent = run(
        cluster,
        "run", "sim/hello", "--name", "detached", "--detach", "--start-timeout", "30s",
        NFK8S_IMAGE=MISSING_IMAGE,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr

    def waiting_reason() -> str:
        shown = run(cluster, "status", "detached", "-o", "json")
        assert shown.returncode == 0, shown.stderr
        return json.loads(shown.stdout)["driver"].get("waiting") or ""

    waiting = cluster.wait_for(
        lambda: "ImagePull" in (reason := waiting_reason()) and reason,
        timeout=120,
        message="status never said why the driver waits",
    )
    assert MISSING_IMAGE in waiting or "does-not-exist" in waiting
    # `lock show` judges the same way, by the run's own start timeout on the server clock.
    shown = cluster.wait_for(
        lambda: "has not started" in (s := run(cluster, "lock", "show")).stdout and s,
        timeout=120,
        message="lock show never called the holder stale",
    )
    assert "stale" in shown.stdout and "ImagePull" in shown.stdout, shown.stdout

    looked = run(cluster, "status", "detached", "-o", "json")

    assert looked.returncode == 0, looked.stderr
    settled = json.loads(looked.stdout)
    assert settled["status"] == "failed"
    # The kubelet says ErrImagePull on each try and ImagePullBackOff between them.
    assert re.match(PULL_FAILURE, settled["reason"]), settled["reason"]
    assert lease_holder(cluster) is None
    cluster.wait_for(
        lambda: not left_behind(cluster, "detached"), timeout=60, message="the Job stayed"
    )
    # Recorded once: a second look changes nothing.
    version = cluster.api.get("configmaps", cluster.namespace, manifests.record_name("detached"))[
        "metadata"
    ]["resourceVersion"]
    again = run(cluster, "status", "detached", "-o", "json")
    assert json.loads(again.stdout)["reason"] == settled["reason"]
    no_log = run(cluster, "logs", "detached")
    assert re.search("run detached has no log: its " + PULL_FAILURE, no_log.stderr), no_log.stderr
    assert (
        cluster.api.get("configmaps", cluster.namespace, manifests.record_name("detached"))[
            "metadata"
        ]["resourceVersion"]
        == version
    )
