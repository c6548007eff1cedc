"""The node agent (``tests.realkube.node``) against a real control plane.

One kube-apiserver/etcd/controller-manager/scheduler for the module (speed 20); each test gets
its own namespace set up as ``nfk8s rbac`` would. Pods are created as the cluster admin; what
is checked is what a client of the real API sees: pod status written by the agent, Events, the
real Job controller's and scheduler's reactions, and logs proxied by the apiserver (and
kubectl) to the agent's kubelet endpoint.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fakekube import nextflow_sim
from tests.fakekube.api import EXIT_CODE, LOG, RUN_SECONDS, StatusError
from tests.realkube import RUNNER_SA, Namespace, RealKube, binaries_available, build
from tests.realkube.node import INIT_EXIT_CODE, INIT_LOG, go_duration, parse_image

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (.*)$")
IMAGE = "busybox:1.36"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="module")
def rk() -> Iterator[RealKube]:
    if not build.is_built():
        ok, reason = binaries_available()
        if _in_ci():
            build.build()  # CI never skips the real backend: a failed build fails the run
        elif not ok:
            pytest.skip(reason)
        else:
            pytest.skip(
                "the real control plane is not built: uv run python -m tests.realkube.build"
            )
    with RealKube(speed=20) as cluster:
        yield cluster


@pytest.fixture
def ns(rk: RealKube) -> Iterator[Namespace]:
    namespace = rk.namespace_for_test()
    # The ServiceAccount admission plugin refuses pods until the controller made "default".
    rk.wait_for(
        lambda: rk.admin.try_get("serviceaccounts", namespace.name, "default"),
        timeout=60,
        message="no default ServiceAccount",
    )
    yield namespace
    rk.delete_namespace(namespace.name)


# ---------------------------------------------------------------------------- helpers


def _pod(
    name: str,
    *,
    image: str = IMAGE,
    command: list[str] | None = None,
    annotations: dict[str, str] | None = None,
    restart: str = "Never",
    **spec: Any,
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "main",
        "image": image,
        "command": command or ["sh", "-c", "true"],
    }
    container.update(spec.pop("container", {}))
    return {
        "metadata": {"name": name, "annotations": dict(annotations or {})},
        "spec": {"restartPolicy": restart, "containers": [container], **spec},
    }


def _get(rk: RealKube, ns: str, name: str) -> dict[str, Any]:
    return rk.admin.get("pods", ns, name)


def _phase(rk: RealKube, ns: str, name: str) -> str:
    return str((_get(rk, ns, name).get("status") or {}).get("phase", ""))


def _wait_phase(
    rk: RealKube, ns: str, name: str, *phases: str, timeout: float = 60
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        pod = _get(rk, ns, name)
        return pod if (pod.get("status") or {}).get("phase") in phases else None

    return rk.wait_for(check, timeout=timeout, message=f"pod {name} never reached {phases}")


def _state(pod: dict[str, Any], init: bool = False) -> dict[str, Any]:
    key = "initContainerStatuses" if init else "containerStatuses"
    return ((pod.get("status") or {}).get(key) or [{}])[0].get("state") or {}


def _cond(pod: dict[str, Any], type_: str) -> dict[str, Any]:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c["type"] == type_:
            return c
    raise AssertionError(f"no {type_} condition in {pod.get('status')}")


def _events(rk: RealKube, ns: str, name: str) -> list[dict[str, Any]]:
    return rk.admin.list("events", ns, field_selector=f"involvedObject.name={name}")


def _reasons(rk: RealKube, ns: str, name: str) -> list[tuple[str, str]]:
    return [(e["reason"], e["message"]) for e in _events(rk, ns, name)]


def _log(rk: RealKube, ns: str, pod: str, **query: Any) -> tuple[int, str]:
    q = {k: ("true" if v is True else str(v)) for k, v in query.items()}
    path = f"/api/v1/namespaces/{ns}/pods/{pod}/log"
    if q:
        path += "?" + urllib.parse.urlencode(q)
    resp = rk.admin.request("GET", path)
    return resp.status, resp.body.decode()


class _PodWatch:
    """Every version of one pod as the watch delivers it, collected in a thread."""

    def __init__(self, rk: RealKube, ns: str, name: str) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        rv = rk.admin.list_raw("pods", ns)["metadata"]["resourceVersion"]
        self.stream = rk.admin.open_watch(
            "pods", ns, resource_version=rv, field_selector=f"metadata.name={name}"
        )
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with contextlib.suppress(Exception):
            for ev in self.stream:
                if ev.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                    with self.lock:
                        self.events.append((ev["type"], ev["object"]))

    def snapshot(self) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            return list(self.events)

    def waiting_reasons(self) -> list[str]:
        out: list[str] = []
        for _t, pod in self.snapshot():
            reason = (_state(pod).get("waiting") or {}).get("reason")
            if reason and (not out or out[-1] != reason):
                out.append(reason)
        return out

    def close(self) -> None:
        self.stream.close()
        self.thread.join(timeout=5)


# ---------------------------------------------------------------------------- unit-sized checks


def test_image_references_parse_like_the_kubelet() -> None:
    assert parse_image("busybox") == ("docker.io/library/busybox:latest", "")
    assert parse_image("nextflow/nextflow:25.10.0") == ("docker.io/nextflow/nextflow:25.10.0", "")
    assert parse_image("quay.io/biocontainers/salmon:1.10.1--h7e5ed60_0")[0] == (
        "quay.io/biocontainers/salmon:1.10.1--h7e5ed60_0"
    )
    assert parse_image("docker.io/Nextflow/nextflow:1") == (
        "",
        "invalid reference format: repository name (Nextflow/nextflow) must be lowercase",
    )
    assert parse_image("busybox:bad tag")[1] == "invalid reference format"
    assert [go_duration(s) for s in (0.5, 10, 80, 300)] == ["500ms", "10s", "1m20s", "5m0s"]


# ---------------------------------------------------------------------------- nodes


def test_nodes_register_ready_with_capacity_lease_and_kubelet_endpoint(rk: RealKube) -> None:
    name = rk.agent.node_names[0]
    node = rk.admin.get("nodes", "", name)
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == name
    assert labels["kubernetes.io/os"] == "linux"
    status = node["status"]
    assert status["allocatable"]["memory"] == "32Gi"
    assert status["capacity"]["cpu"] == "8"
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "KubeletReady")
    assert status["nodeInfo"]["kubeletVersion"] == "v1.37.2"
    assert {"type": "InternalIP", "address": "127.0.0.1"} in status["addresses"]
    port = status["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    assert port == rk.agent.kubelet_port(name) > 0
    lease = rk.admin.get("leases", "kube-node-lease", name)
    assert lease["spec"]["holderIdentity"] == name
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", lease["spec"]["renewTime"])
    assert lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]


def test_pod_too_big_for_every_node_stays_unschedulable_until_a_bigger_node_is_added(
    rk: RealKube, ns: Namespace
) -> None:
    pod = _pod(
        "big",
        annotations={RUN_SECONDS: "0.1"},
        container={"resources": {"requests": {"memory": "48Gi"}}},
    )
    rk.admin.create("pods", ns.name, pod)
    rk.wait_for(
        lambda: any(
            r == "FailedScheduling" and "Insufficient memory" in m
            for r, m in _reasons(rk, ns.name, "big")
        ),
        timeout=60,
        message="no FailedScheduling event",
    )
    assert _phase(rk, ns.name, "big") == "Pending"
    big = rk.agent.add_node(memory="64Gi", labels={"realkube.test/size": "big"})
    done = _wait_phase(rk, ns.name, "big", "Succeeded", timeout=90)
    assert done["spec"]["nodeName"] == big


# ---------------------------------------------------------------------------- plain pods and logs


def test_plain_pod_succeeds_and_its_log_reads_through_the_apiserver_with_kubelet_options(
    rk: RealKube, ns: Namespace
) -> None:
    lines = ["line one", "line two", "line three"]
    rk.admin.create(
        "pods",
        ns.name,
        _pod("plain", annotations={LOG: "\n".join(lines), RUN_SECONDS: "1"}),
    )
    pod = _wait_phase(rk, ns.name, "plain", "Succeeded")
    node = pod["spec"]["nodeName"]
    assert node in rk.agent.node_names
    st = pod["status"]
    assert st["hostIP"] == "127.0.0.1"
    assert st["podIP"].startswith("10.244.")
    term = _state(pod)["terminated"]
    assert (term["exitCode"], term["reason"]) == (0, "Completed")
    assert term["containerID"].startswith("containerd://")
    assert st["containerStatuses"][0]["image"] == "docker.io/library/busybox:1.36"
    assert [c["type"] for c in st["conditions"]] == [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ]
    assert _cond(pod, "Ready")["reason"] == "PodCompleted"

    events = _events(rk, ns.name, "plain")
    by_reason = {e["reason"]: e for e in events}
    assert by_reason["Scheduled"]["reportingComponent"] == "default-scheduler"
    for reason, message in (("Created", "Container created"), ("Started", "Container started")):
        ev = by_reason[reason]
        assert ev["message"] == message
        assert ev["involvedObject"]["fieldPath"] == "spec.containers{main}"
        assert ev["source"] == {"component": "kubelet", "host": node}
        assert (ev["reportingComponent"], ev["reportingInstance"]) == ("kubelet", node)
        assert ev["count"] == 1 and ev["firstTimestamp"] and ev["lastTimestamp"]
    assert by_reason["Pulled"]["message"].startswith(
        ('Successfully pulled image "busybox:1.36" in ', 'Container image "busybox:1.36" already')
    )

    assert _log(rk, ns.name, "plain") == (200, "line one\nline two\nline three\n")
    status, stamped = _log(rk, ns.name, "plain", timestamps=True)
    assert status == 200
    matches = [STAMP.match(line) for line in stamped.splitlines()]
    assert all(matches), stamped
    assert [m.group(1) for m in matches if m] == lines
    assert _log(rk, ns.name, "plain", tailLines=1) == (200, "line three\n")
    assert _log(rk, ns.name, "plain", limitBytes=12) == (200, "line one\nlin")
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    past = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _log(rk, ns.name, "plain", sinceTime=future) == (200, "")
    assert _log(rk, ns.name, "plain", sinceTime=past)[1] == "line one\nline two\nline three\n"
    assert _log(rk, ns.name, "plain", sinceSeconds=3600)[1].count("\n") == 3
    status, body = _log(rk, ns.name, "plain", previous=True)
    assert status == 400
    assert 'previous terminated container \\"main\\" in pod \\"plain\\" not found' in body

    out = ns.kubectl("logs", "plain", "--tail=2")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "line two\nline three\n"
    out = ns.kubectl("logs", "plain", "--timestamps")
    assert out.returncode == 0, out.stderr
    assert [STAMP.match(x).group(1) for x in out.stdout.splitlines()] == lines  # type: ignore[union-attr]


def test_follow_streams_new_lines_while_running_and_ends_when_the_container_stops(
    rk: RealKube, ns: Namespace
) -> None:
    rk.admin.create(
        "pods",
        ns.name,
        _pod("follow", annotations={LOG: "first", RUN_SECONDS: "3600"}),
    )
    rk.wait_for(lambda: "running" in _state(_get(rk, ns.name, "follow")), timeout=60)
    stream = rk.admin.open_stream(
        f"/api/v1/namespaces/{ns.name}/pods/follow/log",
        query={"follow": "true", "timestamps": "true"},
        timeout=60,
    )
    got: list[str] = []
    with stream:
        first = stream.readline().decode()
        assert STAMP.match(first.rstrip("\n")).group(1) == "first"  # type: ignore[union-attr]
        rk.agent.append_pod_log(ns.name, "follow", "written while following")
        second = stream.readline().decode()
        assert second.rstrip("\n").endswith(" written while following")
        assert _phase(rk, ns.name, "follow") == "Running"
        # The container ends (a graceful delete): the stream then ends by itself.
        rk.admin.delete("pods", ns.name, "follow", grace_period_seconds=30)
        got = [line.decode() for line in stream.lines()]
    assert got == []


def test_onfailure_container_crash_loops_and_serves_the_previous_instance_log(
    rk: RealKube, ns: Namespace
) -> None:
    rk.admin.create(
        "pods",
        ns.name,
        _pod(
            "crashy",
            restart="OnFailure",
            annotations={LOG: "about to fail", EXIT_CODE: "2", RUN_SECONDS: "0.5"},
        ),
    )

    def looping() -> dict[str, Any] | None:
        pod = _get(rk, ns.name, "crashy")
        cs = (pod.get("status") or {}).get("containerStatuses") or [{}]
        return pod if cs[0].get("restartCount", 0) >= 1 else None

    pod = rk.wait_for(looping, timeout=60, message="never restarted")
    assert pod["status"]["phase"] == "Running"
    last = pod["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (2, "Error")
    uid = pod["metadata"]["uid"]
    rk.wait_for(
        lambda: (
            "Back-off restarting failed container main in pod "
            f"crashy_{ns.name}({uid})" in {m for r, m in _reasons(rk, ns.name, "crashy")}
        ),
        timeout=30,
    )
    assert _log(rk, ns.name, "crashy", previous=True) == (200, "about to fail\n")
    rk.admin.delete("pods", ns.name, "crashy", grace_period_seconds=1)


# ---------------------------------------------------------------------------- init containers


def test_failing_init_container_fails_the_pod_and_main_stays_podinitializing(
    rk: RealKube, ns: Namespace
) -> None:
    pod = _pod(
        "init-fail",
        annotations={INIT_EXIT_CODE + ".check": "3", INIT_LOG + ".check": "check failed"},
        initContainers=[
            {"name": "prep", "image": IMAGE, "command": ["mkdir", "-p", "/work/x"]},
            {"name": "check", "image": IMAGE, "command": ["test", "-e", "/nope"]},
        ],
    )
    rk.admin.create("pods", ns.name, pod)
    pod = _wait_phase(rk, ns.name, "init-fail", "Failed")
    inits = pod["status"]["initContainerStatuses"]
    assert [c["name"] for c in inits] == ["prep", "check"]
    assert inits[0]["state"]["terminated"]["exitCode"] == 0
    assert inits[0]["ready"] is True
    assert inits[1]["state"]["terminated"]["exitCode"] == 3
    assert inits[1]["state"]["terminated"]["reason"] == "Error"
    assert _state(pod)["waiting"]["reason"] == "PodInitializing"
    initialized = _cond(pod, "Initialized")
    assert (initialized["status"], initialized["reason"]) == ("False", "ContainersNotInitialized")
    assert initialized["message"] == "containers with incomplete status: [check]"
    assert _log(rk, ns.name, "init-fail", container="check") == (200, "check failed\n")
    status, body = _log(rk, ns.name, "init-fail", container="main")
    assert status == 400
    assert "is waiting to start: PodInitializing" in body
    fields = {e["involvedObject"].get("fieldPath") for e in _events(rk, ns.name, "init-fail")}
    assert {"spec.initContainers{prep}", "spec.initContainers{check}"} <= fields
    assert "spec.containers{main}" not in fields


# ---------------------------------------------------------------------------- node-side failures


def test_missing_image_alternates_errimagepull_and_imagepullbackoff_and_never_starts(
    rk: RealKube, ns: Namespace
) -> None:
    image = "nextflow/nextflow:bad"
    watch = _PodWatch(rk, ns.name, "nopull")
    try:
        rk.admin.create("pods", ns.name, _pod("nopull", image=image))
        rk.wait_for(
            lambda: (
                watch.waiting_reasons().count("ErrImagePull") >= 2
                and "ImagePullBackOff" in watch.waiting_reasons()
            ),
            timeout=60,
            message="no ErrImagePull/ImagePullBackOff alternation",
        )
    finally:
        watch.close()
    reasons = watch.waiting_reasons()
    assert reasons[:3] == ["ContainerCreating", "ErrImagePull", "ImagePullBackOff"]
    full = "docker.io/nextflow/nextflow:bad"
    pull_error = (
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{full}": '
        f'failed to resolve reference "{full}": {full}: not found'
    )
    states = [_state(p).get("waiting") or {} for _t, p in watch.snapshot()]
    assert {"reason": "ErrImagePull", "message": pull_error} in states
    assert {
        "reason": "ImagePullBackOff",
        "message": f'Back-off pulling image "{image}": ErrImagePull: {pull_error}',
    } in states
    assert not any("running" in _state(p) for _t, p in watch.snapshot())
    events = _reasons(rk, ns.name, "nopull")
    assert ("Pulling", f'Pulling image "{image}"') in events
    assert ("Failed", f'Failed to pull image "{image}": {pull_error}') in events
    # Repeats are aggregated into one Event, as client-go's recorder does.
    pulls = [e for e in _events(rk, ns.name, "nopull") if e["reason"] == "Pulling"]
    assert len(pulls) == 1
    assert pulls[0]["count"] >= 2
    assert ("Failed", "Error: ErrImagePull") in events
    assert ("BackOff", f'Back-off pulling image "{image}"') in events
    assert ("Failed", "Error: ImagePullBackOff") in events
    assert not any(r in ("Created", "Started") for r, _m in events)
    assert _phase(rk, ns.name, "nopull") == "Pending"
    status, body = _log(rk, ns.name, "nopull")
    assert status == 400
    assert re.search(
        r"is waiting to start: (image can't be pulled|trying and failing to pull image)", body
    )


def test_uppercase_image_reference_is_invalidimagename_and_never_pulled(
    rk: RealKube, ns: Namespace
) -> None:
    image = "docker.io/Nextflow/nextflow:25.10.0"
    rk.admin.create("pods", ns.name, _pod("badname", image=image))
    message = (
        f'Failed to apply default image tag "{image}": couldn\'t parse image name "{image}": '
        "invalid reference format: repository name (Nextflow/nextflow) must be lowercase"
    )
    pod = rk.wait_for(
        lambda: (
            p
            if (_state(p := _get(rk, ns.name, "badname")).get("waiting") or {}).get("reason")
            == "InvalidImageName"
            else None
        ),
        timeout=60,
    )
    assert _state(pod)["waiting"]["message"] == message
    events = _reasons(rk, ns.name, "badname")
    assert ("InspectFailed", message) in events
    assert ("Failed", "Error: InvalidImageName") in events
    assert not any(r in ("Pulling", "Pulled", "Started") for r, _m in events)
    assert pod["status"]["phase"] == "Pending"


def test_missing_secret_env_is_createcontainerconfigerror_until_the_secret_is_created(
    rk: RealKube, ns: Namespace
) -> None:
    env = [
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
        {"name": "GREETING", "value": "token=$(TOKEN) escaped=$$(TOKEN)"},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]
    rk.admin.create(
        "pods",
        ns.name,
        _pod("needs-secret", annotations={RUN_SECONDS: "1"}, container={"env": env}),
    )

    def waiting_message() -> str | None:
        w = _state(_get(rk, ns.name, "needs-secret")).get("waiting") or {}
        return w.get("message") if w.get("reason") == "CreateContainerConfigError" else None

    assert rk.wait_for(waiting_message, timeout=60) == 'secret "creds" not found'
    assert ("Failed", 'Error: secret "creds" not found') in _reasons(rk, ns.name, "needs-secret")
    rk.admin.create("secrets", ns.name, {"metadata": {"name": "creds"}, "data": {"other": "eA=="}})
    expected = f"couldn't find key token in Secret {ns.name}/creds"
    rk.wait_for(lambda: waiting_message() == expected, timeout=60, message="key not re-checked")
    secret = rk.admin.get("secrets", ns.name, "creds")
    secret["data"]["token"] = "czNjcjN0"  # s3cr3t
    rk.admin.replace("secrets", ns.name, secret)
    pod = _wait_phase(rk, ns.name, "needs-secret", "Succeeded", timeout=60)
    assert _state(pod)["terminated"]["exitCode"] == 0
    worker = rk.agent.worker(ns.name, "needs-secret")
    assert worker is not None
    resolved = worker.container_env(pod["spec"]["containers"][0])
    assert resolved["TOKEN"] == "s3cr3t"
    assert resolved["GREETING"] == "token=s3cr3t escaped=$(TOKEN)"
    assert resolved["POD"] == "needs-secret"


def test_missing_configmap_volume_keeps_pod_creating_with_failedmount_until_created(
    rk: RealKube, ns: Namespace
) -> None:
    pod = _pod(
        "needs-cm",
        annotations={RUN_SECONDS: "0.5"},
        container={"volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}]},
        volumes=[{"name": "cfg", "configMap": {"name": "settings"}}],
    )
    rk.admin.create("pods", ns.name, pod)
    failed = 'MountVolume.SetUp failed for volume "cfg" : configmap "settings" not found'
    rk.wait_for(
        lambda: ("FailedMount", failed) in _reasons(rk, ns.name, "needs-cm"),
        timeout=60,
        message="no FailedMount event",
    )
    pending = _get(rk, ns.name, "needs-cm")
    assert pending["status"]["phase"] == "Pending"
    assert _state(pending)["waiting"]["reason"] == "ContainerCreating"
    ready_to_start = _cond(pending, "PodReadyToStartContainers")
    assert (ready_to_start["status"], ready_to_start["reason"]) == ("False", "PodSandboxNotReady")
    rk.admin.create("configmaps", ns.name, {"metadata": {"name": "settings"}, "data": {"a": "1"}})
    _wait_phase(rk, ns.name, "needs-cm", "Succeeded", timeout=60)


# ---------------------------------------------------------------------------- deletion


def test_graceful_delete_of_running_pod_stops_it_with_sigterm_then_removes_it(
    rk: RealKube, ns: Namespace
) -> None:
    rk.admin.create("pods", ns.name, _pod("sleeper", command=["sleep", "3600"]))
    rk.wait_for(lambda: "running" in _state(_get(rk, ns.name, "sleeper")), timeout=60)
    watch = _PodWatch(rk, ns.name, "sleeper")
    try:
        # A day of grace (over an hour real): removed within the wait below, the pod went
        # by the agent's grace-0 delete once the container stopped, not by the grace.
        rk.admin.delete("pods", ns.name, "sleeper", grace_period_seconds=86400)
        rk.wait_for(
            lambda: any(t == "DELETED" for t, _p in watch.snapshot()),
            timeout=60,
            message="pod never removed",
        )
    finally:
        watch.close()
    versions = watch.snapshot()
    assert versions[-1][0] == "DELETED"
    final = versions[-2][1]
    assert final["metadata"]["deletionTimestamp"]
    assert final["status"]["phase"] == "Failed"
    term = _state(final)["terminated"]
    assert (term["exitCode"], term["reason"]) == (143, "Error")
    killing = [e for e in _events(rk, ns.name, "sleeper") if e["reason"] == "Killing"]
    assert [e["message"] for e in killing] == ["Stopping container main"]
    assert killing[0]["involvedObject"]["fieldPath"] == "spec.containers{main}"
    with pytest.raises(StatusError) as err:
        rk.admin.get("pods", ns.name, "sleeper")
    assert err.value.code == 404


def test_pod_deleted_while_its_image_cannot_be_pulled_is_failed_and_removed(
    rk: RealKube, ns: Namespace
) -> None:
    rk.admin.create("pods", ns.name, _pod("stuck", image="example.com/does-not-exist/x:1"))
    rk.wait_for(
        lambda: (
            (_state(_get(rk, ns.name, "stuck")).get("waiting") or {}).get("reason")
            in ("ErrImagePull", "ImagePullBackOff")
        ),
        timeout=60,
    )
    rk.admin.delete("pods", ns.name, "stuck", grace_period_seconds=30)
    rk.wait_for(
        lambda: rk.admin.try_get("pods", ns.name, "stuck") is None,
        timeout=60,
        message="pending pod not removed",
    )


# ---------------------------------------------------------------------------- Jobs and drivers


def test_job_controller_task_pod_succeeds_and_the_job_completes(
    rk: RealKube, ns: Namespace
) -> None:
    job = {
        "metadata": {"name": "task"},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"annotations": {LOG: "job says hi", RUN_SECONDS: "1"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": IMAGE, "command": ["true"]}],
                },
            },
        },
    }
    rk.admin.create("jobs", ns.name, job)

    def complete() -> dict[str, Any] | None:
        j = rk.admin.get("jobs", ns.name, "task")
        conds = (j.get("status") or {}).get("conditions") or []
        done = any(c["type"] == "Complete" and c["status"] == "True" for c in conds)
        return j if done else None

    done = rk.wait_for(complete, timeout=90, message="Job never completed")
    assert done["status"]["succeeded"] == 1
    pods = rk.admin.list("pods", ns.name, label_selector="job-name=task")
    assert len(pods) == 1
    assert pods[0]["status"]["phase"] == "Succeeded"
    rk.wait_for(
        lambda: (
            not rk.admin.get("pods", ns.name, pods[0]["metadata"]["name"])["metadata"].get(
                "finalizers"
            )
        ),
        timeout=30,
        message="job-tracking finalizer kept",
    )
    assert _log(rk, ns.name, pods[0]["metadata"]["name"]) == (200, "job says hi\n")


def _driver(name: str, run: str, sa: str, pipeline: str = "sim/hello") -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "serviceAccountName": sa,
            "containers": [
                {
                    "name": "nextflow",
                    "image": "nextflow/nextflow:25.10.0",
                    "command": [
                        "nextflow",
                        "run",
                        pipeline,
                        "-name",
                        run,
                        "-c",
                        "/etc/nf/nextflow.config",
                    ],
                    "env": [{"name": "NXF_ANSI_LOG", "value": "false"}],
                    "volumeMounts": [{"name": "cfg", "mountPath": "/etc/nf", "readOnly": True}],
                }
            ],
            "volumes": [{"name": "cfg", "configMap": {"name": "nf-config"}}],
        },
    }


def _nextflow_config(rk: RealKube, ns: str, service_account: str | None) -> None:
    k8s = f"  namespace = '{ns}'\n"
    if service_account:
        k8s += f"  serviceAccount = '{service_account}'\n"
    text = f"process.executor = 'k8s'\nk8s {{\n{k8s}}}\n"
    rk.admin.create(
        "configmaps", ns, {"metadata": {"name": "nf-config"}, "data": {"nextflow.config": text}}
    )


def test_driver_pod_runs_sim_hello_task_pods_with_the_runner_token_and_succeeds(
    rk: RealKube, ns: Namespace
) -> None:
    _nextflow_config(rk, ns.name, RUNNER_SA)
    rk.admin.create("pods", ns.name, _driver("driver", "r1", RUNNER_SA))
    rk.wait_for(lambda: "running" in _state(_get(rk, ns.name, "driver")), timeout=60)
    stream = rk.admin.open_stream(
        f"/api/v1/namespaces/{ns.name}/pods/driver/log", query={"follow": "true"}, timeout=120
    )
    with stream:
        followed = [line.decode().rstrip("\n") for line in stream.lines()]
    pod = _wait_phase(rk, ns.name, "driver", "Succeeded", "Failed", timeout=120)
    status, log = _log(rk, ns.name, "driver")
    result = nextflow_sim.get_result(ns.name, "r1")
    assert result is not None
    assert pod["status"]["phase"] == "Succeeded", log
    assert _state(pod)["terminated"]["exitCode"] == 0
    assert (result.status, result.exit_code) == ("succeeded", 0)
    assert result.processes["sayHello"].succeeded == 4
    assert len(result.task_pods) == 4
    # Every task ran as a pod on this cluster's nodes: the kubelet's events outlive them.
    started = {
        e["involvedObject"]["name"]
        for e in rk.admin.list("events", ns.name)
        if e["reason"] == "Started" and e["source"].get("host") in rk.agent.node_names
    }
    assert set(result.task_pods) <= started
    # The follow stream saw the whole log, which is what the simulator printed.
    assert status == 200
    assert log.splitlines() == result.lines
    assert followed == result.lines


def test_driver_pod_whose_serviceaccount_lacks_the_runner_role_is_forbidden_to_create_tasks(
    rk: RealKube, ns: Namespace
) -> None:
    _nextflow_config(rk, ns.name, None)
    rk.admin.create("pods", ns.name, _driver("driver", "r2", "default"))
    pod = _wait_phase(rk, ns.name, "driver", "Succeeded", "Failed", timeout=120)
    _status, log = _log(rk, ns.name, "driver")
    assert pod["status"]["phase"] == "Failed", log
    assert _state(pod)["terminated"]["exitCode"] == 1
    assert (
        f'pods is forbidden: User \\"system:serviceaccount:{ns.name}:default\\" '
        'cannot create resource \\"pods\\"' in log
    ), log
    result = nextflow_sim.get_result(ns.name, "r2")
    assert result is not None and result.exit_code == 1
    assert result.task_pods == []


def test_driver_pod_deleted_gracefully_kills_its_running_tasks_and_exits_1(
    rk: RealKube, ns: Namespace
) -> None:
    _nextflow_config(rk, ns.name, RUNNER_SA)
    driver = _driver("driver", "r3", RUNNER_SA, pipeline="sim/slow")
    driver["spec"]["terminationGracePeriodSeconds"] = 600
    rk.admin.create("pods", ns.name, driver)

    def tasks() -> list[dict[str, Any]]:
        return rk.admin.list("pods", ns.name, label_selector="nextflow.io/runName=r3")

    rk.wait_for(
        lambda: len(ts := tasks()) == 3 and all(t["status"].get("phase") == "Running" for t in ts),
        timeout=60,
        message="the three SIM_SLOW tasks never ran",
    )
    watch = _PodWatch(rk, ns.name, "driver")
    try:
        rk.admin.delete("pods", ns.name, "driver")
        rk.wait_for(
            lambda: any(t == "DELETED" for t, _p in watch.snapshot()),
            timeout=60,
            message="driver pod never removed",
        )
    finally:
        watch.close()
    final = watch.snapshot()[-2][1]
    assert final["status"]["phase"] == "Failed"
    assert _state(final)["terminated"]["exitCode"] == 1
    result = nextflow_sim.get_result(ns.name, "r3")
    assert result is not None
    assert (result.status, result.exit_code) == ("terminated", 1)
    assert result.lines[-1] == "WARN: Killing running tasks (3)"
    # The simulator deleted its task pods with the runner's token; the agent removed them.
    rk.wait_for(lambda: not tasks(), timeout=60, message="task pods left behind")
    assert ("Killing", "Stopping container nextflow") in _reasons(rk, ns.name, "driver")


def test_driver_files_resolve_through_configmap_secret_projected_and_subpath_mounts(
    rk: RealKube, ns: Namespace
) -> None:
    rk.admin.create(
        "configmaps", ns.name, {"metadata": {"name": "cfg"}, "data": {"a.conf": "A", "b": "B"}}
    )
    rk.admin.create(
        "secrets", ns.name, {"metadata": {"name": "sec"}, "data": {"params.json": "e30="}}
    )
    container = {
        "volumeMounts": [
            {"name": "cfg", "mountPath": "/etc/cfg"},
            {"name": "cfg", "mountPath": "/opt/only-a.conf", "subPath": "a.conf"},
            {"name": "sec", "mountPath": "/etc/sec", "readOnly": True},
            {"name": "info", "mountPath": "/etc/info"},
        ]
    }
    volumes = [
        {"name": "cfg", "configMap": {"name": "cfg"}},
        {
            "name": "sec",
            "secret": {"secretName": "sec", "items": [{"key": "params.json", "path": "p.json"}]},
        },
        {
            "name": "info",
            "projected": {
                "sources": [
                    {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
                    {
                        "downwardAPI": {
                            "items": [
                                {"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}
                            ]
                        }
                    },
                ]
            },
        },
    ]
    rk.admin.create(
        "pods",
        ns.name,
        _pod("files", annotations={RUN_SECONDS: "3600"}, container=container, volumes=volumes),
    )
    rk.wait_for(lambda: "running" in _state(_get(rk, ns.name, "files")), timeout=60)
    worker = rk.agent.worker(ns.name, "files")
    assert worker is not None
    spec = worker.spec["containers"][0]
    assert worker.read_file(spec, "/etc/cfg/a.conf") == "A"
    assert worker.read_file(spec, "/etc/cfg/b") == "B"
    assert worker.read_file(spec, "/opt/only-a.conf") == "A"
    assert worker.read_file(spec, "/etc/sec/p.json") == "{}"
    assert worker.read_file(spec, "/etc/sec/params.json") is None  # not among the items
    assert worker.read_file(spec, "/etc/info/ns") == ns.name
    assert worker.read_file(spec, "/etc/nowhere") is None
    token = worker.read_file(spec, "/etc/info/token")
    assert token
    # A real TokenRequest token, bound to this pod.
    review = rk.admin.with_token(token).call(
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
    )
    user = review["status"]["userInfo"]
    assert user["username"] == f"system:serviceaccount:{ns.name}:default"
    assert user["extra"]["authentication.kubernetes.io/pod-name"] == ["files"]
    rk.admin.delete("pods", ns.name, "files", grace_period_seconds=1)
