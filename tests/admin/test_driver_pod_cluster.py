"""Shaping the driver pod against a cluster: the patch at plan time, admission, scheduling,
and what `nfk8s doctor` says about the namespace.

Admission (Pod Security, ResourceQuota, LimitRange) and scheduling (node selectors, taints)
are the real control plane's: the fake serves none of them, so those tests run on the real
backend only and say so when skipped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nfk8s import manifests
from nfk8s.podchecks import ENFORCE_LABEL
from tests.support import memory_quota, snapshot, try_get

pytestmark = pytest.mark.backends

NEEDS_REAL = "the fake API server has no admission plugins nor a scheduler"


def real_only(cluster: Any) -> None:
    if cluster.backend == "fake":
        pytest.skip(NEEDS_REAL)


def label_namespace(cluster: Any, labels: dict[str, str]) -> None:
    ns = cluster.api.get("namespaces", "", cluster.namespace)
    ns["metadata"].setdefault("labels", {}).update(labels)
    cluster.api.replace("namespaces", "", ns)


def lines_of(result: Any) -> list[str]:
    return list(result.stdout.splitlines())


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def driver_pods(cluster: Any, run_id: str) -> list[dict[str, Any]]:
    return cluster.api.list(
        "pods", cluster.namespace, label_selector=manifests.run_selector(run_id)
    )


def failed_create(cluster: Any, run_id: str) -> dict[str, Any] | None:
    """The Job controller's FailedCreate event for the run's Job, once it exists."""
    job = manifests.job_name(run_id)
    events = cluster.api.list("events", cluster.namespace)
    return next(
        (
            e
            for e in events
            if e["involvedObject"].get("name") == job and e.get("reason") == "FailedCreate"
        ),
        None,
    )


# -- the patch at plan time -------------------------------------------------------------


def test_a_bad_driver_pod_patch_exits_2_and_writes_nothing(cluster, invoke, tmp_path):
    takes_command = write(
        tmp_path / "command.yaml",
        "spec:\n  containers:\n  - name: nextflow\n    command: [sh, -c, 'echo hi']\n",
    )
    not_yaml = write(tmp_path / "broken.yaml", "spec: [1\n")
    before = snapshot(cluster)

    by_flag = invoke("run", "sim/hello", "--driver-pod-patch", takes_command)
    by_env = invoke("run", "sim/hello", NFK8S_DRIVER_POD_PATCH=not_yaml)

    assert by_flag.exit_code == 2, by_flag.stderr
    assert by_flag.stderr.splitlines() == [
        "error: driver pod patch changes command of the container 'nextflow', which runs the "
        "pipeline",
        "hint: pass Nextflow options after -- on `nfk8s run` instead",
    ]
    assert by_env.exit_code == 2, by_env.stderr
    error, hint = by_env.stderr.splitlines()
    assert error.startswith("error: invalid setting driver_pod_patch (from env ")
    assert "is not valid YAML at line 2" in error
    assert hint.startswith("hint: ") and "NFK8S_DRIVER_POD_PATCH" in hint
    assert snapshot(cluster) == before


def test_a_driver_pod_patch_shows_in_dry_run_and_on_the_created_job(cluster, invoke, tmp_path):
    patch = write(
        tmp_path / "patch.yaml",
        "metadata:\n  annotations: {sidecar.istio.io/inject: 'false'}\n"
        "spec:\n  containers:\n  - name: nextflow\n    env: [{name: PATCHED, value: 'yes'}]\n",
    )

    dry = invoke("run", "sim/hello", "--driver-pod-patch", patch, "--dry-run", "-o", "json")
    assert dry.exit_code == 0, dry.stderr
    (planned,) = [o for o in json.loads(dry.stdout)["items"] if o["kind"] == "Job"]
    ran = invoke("run", "sim/hello", "--driver-pod-patch", patch, "--detach")
    assert ran.exit_code == 0, ran.stderr
    run_id = ran.stdout.strip()

    job = cluster.api.get("jobs", cluster.namespace, manifests.job_name(run_id))
    for template in (planned["spec"]["template"], job["spec"]["template"]):
        assert template["metadata"]["annotations"] == {"sidecar.istio.io/inject": "false"}
        env = {e["name"]: e.get("value") for e in template["spec"]["containers"][0]["env"]}
        assert env["PATCHED"] == "yes" and env["NXF_ANSI_LOG"] == "false"
    pod = cluster.wait_for(lambda: next(iter(driver_pods(cluster, run_id)), None))
    assert pod["metadata"]["annotations"]["sidecar.istio.io/inject"] == "false"


# -- Pod Security -----------------------------------------------------------------------


def test_doctor_judges_the_driver_pod_against_the_namespace_pod_security_level(cluster, invoke):
    label_namespace(cluster, {ENFORCE_LABEL: "restricted"})

    default = invoke("--no-color", "doctor")
    restricted = invoke("--no-color", "doctor", NFK8S_SECURITY_CONTEXT="restricted")

    assert default.exit_code == 6
    lines = lines_of(default)
    at = next(i for i, line in enumerate(lines) if line.startswith("✗ driver pod: Pod Security:"))
    assert "enforce=restricted refuses the driver pod:" in lines[at]
    assert "container 'nextflow' does not set runAsNonRoot: true" in lines[at]
    assert lines[at + 1] == (
        "    fix: set security_context = restricted (`run --restricted`, "
        "NFK8S_SECURITY_CONTEXT=restricted)"
    )
    assert "✓ driver pod: Pod Security: enforce=restricted admits it" in lines_of(restricted)


def test_pod_security_restricted_refuses_the_default_driver_and_admits_the_restricted_one(
    cluster, invoke
):
    real_only(cluster)
    label_namespace(cluster, {ENFORCE_LABEL: "restricted"})

    refused = invoke("run", "sim/hello", "-p", "sim_tasks=0", "--detach")
    assert refused.exit_code == 0, refused.stderr  # the Job is created; its pod is not
    refused_id = refused.stdout.strip()
    event = cluster.wait_for(
        lambda: failed_create(cluster, refused_id),
        message="the Job controller never reported it",
    )
    assert 'violates PodSecurity "restricted' in event["message"]
    assert driver_pods(cluster, refused_id) == []
    assert invoke("cancel", refused_id).exit_code == 0

    # Nextflow's task pods carry only a pod-level securityContext (k8s.securityContext),
    # which `restricted` refuses too: this run has no tasks, so only the driver is judged.
    admitted = invoke("run", "sim/hello", "-p", "sim_tasks=0", "--restricted", "--plain")

    assert admitted.exit_code == 0, admitted.stderr
    (record,) = [
        cm
        for cm in cluster.api.list("configmaps", cluster.namespace)
        if cm["metadata"]["name"].startswith(manifests.RECORD_PREFIX)
        and cm["metadata"]["labels"].get(manifests.STATUS_LABEL) == "succeeded"
    ]
    run_id = record["metadata"]["labels"][manifests.RUN_ID_LABEL]
    (pod,) = driver_pods(cluster, run_id)
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["status"]["phase"] == "Succeeded"


def test_a_quota_refuses_a_driver_too_big_for_it_and_admits_one_that_fits(cluster, invoke):
    real_only(cluster)
    memory_quota(cluster, "3Gi")

    # Quota needs every pod to request memory; the simulated Nextflow's task pods do not,
    # so these runs have no tasks and only the driver is counted.
    big = invoke("run", "sim/hello", "-p", "sim_tasks=0", "--head-memory", "4Gi", "--detach")
    assert big.exit_code == 0, big.stderr
    big_id = big.stdout.strip()
    event = cluster.wait_for(
        lambda: failed_create(cluster, big_id), message="the Job controller never reported it"
    )
    assert "exceeded quota: team" in event["message"]
    assert driver_pods(cluster, big_id) == []
    assert invoke("cancel", big_id).exit_code == 0

    fits = invoke("run", "sim/hello", "-p", "sim_tasks=0", "--head-memory", "1Gi", "--plain")

    assert fits.exit_code == 0, fits.stderr


# -- scheduling -------------------------------------------------------------------------


def test_a_node_selector_and_toleration_steer_the_driver_to_a_tainted_node(cluster, invoke):
    real_only(cluster)
    pool = f"pool-{cluster.namespace}"
    node = cluster.rk.agent.add_node(
        labels={"nfk8s-test/pool": pool},
        taints=[{"key": "nfk8s-test/dedicated", "value": pool, "effect": "NoSchedule"}],
    )

    ran = invoke(
        "run",
        "sim/hello",
        "-p",
        "sim_tasks=1",
        "--node-selector",
        f"nfk8s-test/pool={pool}",
        "--toleration",
        f"nfk8s-test/dedicated={pool}:NoSchedule",
        "--detach",
    )

    assert ran.exit_code == 0, ran.stderr
    run_id = ran.stdout.strip()

    def scheduled() -> str | None:
        pods = driver_pods(cluster, run_id)
        return pods[0]["spec"].get("nodeName") if pods else None

    assert cluster.wait_for(scheduled) == node
    # The only node that matches is tainted, so the toleration was needed to land there.
    taints = cluster.api.get("nodes", "", node)["spec"]["taints"]
    assert any(t["key"] == "nfk8s-test/dedicated" for t in taints)


# -- doctor: quota, limits, pull secrets ------------------------------------------------


def test_doctor_reports_quota_headroom_and_limit_range_bounds(cluster, invoke):
    real_only(cluster)
    ns = cluster.namespace
    cluster.api.create(
        "resourcequotas",
        ns,
        {"metadata": {"name": "team"}, "spec": {"hard": {"requests.memory": "3Gi", "pods": "5"}}},
    )
    cluster.api.create(
        "limitranges",
        ns,
        {
            "metadata": {"name": "bounds"},
            "spec": {"limits": [{"type": "Container", "max": {"memory": "1Gi"}}]},
        },
    )
    # The quota controller fills in what is used; doctor reads hard - used.
    cluster.wait_for(
        lambda: (
            "used" in (try_get(cluster.api, "resourcequotas", ns, "team") or {}).get("status", {})
        ),
        message="the quota controller never counted the namespace",
    )

    too_big = invoke("--no-color", "doctor", NFK8S_HEAD_MEMORY="4Gi")
    fits = invoke("--no-color", "doctor", NFK8S_HEAD_MEMORY="512Mi")

    assert too_big.exit_code == 6
    lines = lines_of(too_big)
    assert (
        "✗ driver pod: ResourceQuota: not enough left for the driver: "
        "team: requests.memory: 4Gi needed, 3Gi left of 3Gi"
    ) in lines
    assert (
        "✗ driver pod: LimitRange: bounds: container 'nextflow': memory limit 4Gi is above "
        "the maximum 1Gi"
    ) in lines
    assert "✓ driver pod: ResourceQuota: room for the driver in team" in lines_of(fits)
    assert (
        "✓ driver pod: LimitRange: the driver's requests and limits are within bounds"
        in lines_of(fits)
    )


def test_doctor_reports_a_missing_pull_secret_and_accepts_a_registry_one(cluster, invoke):
    cluster.api.create(
        "secrets",
        cluster.namespace,
        {
            "metadata": {"name": "mirror"},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": "eyJhdXRocyI6e319"},  # {"auths":{}}
        },
    )
    before = snapshot(cluster)

    result = invoke("--no-color", "doctor", NFK8S_IMAGE_PULL_SECRETS="regcred,mirror")

    assert result.exit_code == 6
    lines = lines_of(result)
    at = lines.index(
        f"✗ pull secret regcred: does not exist in namespace {cluster.namespace}: the driver "
        "image cannot be pulled with it"
    )
    assert "kubectl create secret docker-registry regcred" in lines[at + 1]
    assert "✓ pull secret mirror: exists (kubernetes.io/dockerconfigjson)" in lines
    assert snapshot(cluster) == before


# -- flags ------------------------------------------------------------------------------


def test_run_flags_shape_the_job_that_dry_run_prints(cluster, invoke):
    before = snapshot(cluster)

    dry = invoke(
        "run",
        "sim/hello",
        "--node-selector",
        "disk=ssd",
        "--node-selector",
        "zone=a",
        "--toleration",
        "dedicated=nextflow:NoSchedule",
        "--priority-class",
        "pipelines-high",
        "--restricted",
        "--dry-run",
        "-o",
        "json",
        NFK8S_NODE_SELECTOR="disk=hdd",  # a flag replaces the environment's value
        NFK8S_IMAGE_PULL_SECRETS="regcred",
    )

    assert dry.exit_code == 0, dry.stderr
    (job,) = [o for o in json.loads(dry.stdout)["items"] if o["kind"] == "Job"]
    pod = job["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"disk": "ssd", "zone": "a"}
    assert pod["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "nextflow", "effect": "NoSchedule"}
    ]
    assert pod["priorityClassName"] == "pipelines-high"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert snapshot(cluster) == before


def test_bad_driver_pod_values_exit_2_with_one_error_and_one_hint(cluster, invoke, tmp_path):
    patch = write(tmp_path / "p.yaml", "spec:\n  volumes:\n  - name: work\n    emptyDir: {}\n")
    before = snapshot(cluster)

    toleration = invoke("run", "sim/hello", "--toleration", "gpu=yes:Sometimes")
    selector = invoke("run", "sim/hello", "--node-selector", "disk")
    doctor = invoke("doctor", NFK8S_DRIVER_POD_PATCH=patch)

    assert [r.exit_code for r in (toleration, selector, doctor)] == [2, 2, 2]
    assert toleration.stderr.splitlines() == [
        "error: invalid setting tolerations (from flag): toleration 'gpu=yes:Sometimes' has the "
        "effect 'Sometimes'",
        "hint: the effect is one of NoSchedule, PreferNoSchedule, NoExecute; fix the "
        "command-line flag",
    ]
    assert selector.stderr.splitlines()[0] == (
        "error: invalid setting node_selector (from flag): 'disk' in the node selector is not "
        "KEY=VALUE"
    )
    assert doctor.stderr.splitlines() == [
        "error: driver pod patch changes the volume 'work', which carries the run",
        "hint: add volumes under other names",
    ]
    assert doctor.stdout == ""
    assert snapshot(cluster) == before
