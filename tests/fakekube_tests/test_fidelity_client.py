"""The official typed client against the fake: CRUD, errors, CAS, selectors, paging, watch."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.request
from email.utils import parsedate_to_datetime

import pytest
from kubernetes import client, watch
from kubernetes.client import ApiException

from tests.fakekube import FakeKube
from tests.fakekube_tests.helpers import api_client, error_body, pod_manifest, typed


@pytest.fixture
def core(fakekube: FakeKube) -> client.CoreV1Api:
    return client.CoreV1Api(api_client(fakekube))


def _cm(name: str, labels: dict[str, str] | None = None, **data: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels=labels), data=data or {"k": "v"}
    )


def test_configmap_crud_round_trip(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", _cm("a", {"app": "x"}))
    meta = created.metadata
    assert meta.uid and meta.resource_version and meta.creation_timestamp
    assert created.kind == "ConfigMap" and created.api_version == "v1"
    got = core.read_namespaced_config_map("a", "default")
    assert got.data == {"k": "v"}
    got.data["k2"] = "v2"
    replaced = core.replace_namespaced_config_map("a", "default", got)
    assert int(replaced.metadata.resource_version) > int(meta.resource_version)
    patched = core.patch_namespaced_config_map("a", "default", {"data": {"k3": "v3"}})
    assert patched.data == {"k": "v", "k2": "v2", "k3": "v3"}
    status = core.delete_namespaced_config_map("a", "default")  # a plain dict in client 37
    assert status["status"] == "Success" and status["details"]["name"] == "a"
    typed("V1Status", status)
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_config_map("a", "default")
    assert exc.value.status == 404
    body = error_body(exc.value)
    assert body["message"] == 'configmaps "a" not found'
    # Go leaves empty StatusDetails fields out: no "group" for the core group.
    assert body["reason"] == "NotFound" and body["details"] == {
        "name": "a",
        "kind": "configmaps",
    }


def test_create_errors_look_like_a_real_apiserver(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", _cm("dup"))
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map("default", _cm("dup"))
    assert exc.value.status == 409
    assert error_body(exc.value)["reason"] == "AlreadyExists"

    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map("default", _cm("Bad_Name"))
    body = error_body(exc.value)
    assert exc.value.status == 422 and body["reason"] == "Invalid"
    assert body["message"].startswith(
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
        "a lowercase RFC 1123 subdomain must consist of"
    )
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    assert body["details"]["causes"][0]["reason"] == "FieldValueInvalid"

    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map("default", _cm("big", blob="x" * (1024 * 1024 + 1)))
    body = error_body(exc.value)
    assert exc.value.status == 422
    assert (
        body["message"]
        == 'ConfigMap "big" is invalid: []: Too long: may not be more than 1048576 bytes'
    )
    assert body["details"]["causes"][0]["reason"] == "FieldValueTooLong"

    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map("default", _cm("keys", **{"bad key": "v"}))
    assert exc.value.status == 422

    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map("nope", _cm("x"))
    assert exc.value.status == 404
    assert error_body(exc.value)["message"] == 'namespaces "nope" not found'

    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod(
            "default", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}
        )
    body = error_body(exc.value)
    assert body["details"]["causes"][0] == {
        "reason": "FieldValueRequired",
        "message": "Required value",
        "field": "spec.containers[0].image",
    }


def test_generate_name_and_defaults(fakekube: FakeKube, core: client.CoreV1Api) -> None:
    cm = core.create_namespaced_config_map(
        "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(generate_name="gen-"))
    )
    assert cm.metadata.name.startswith("gen-") and len(cm.metadata.name) == 9
    pod = core.create_namespaced_pod("default", pod_manifest("defaults", restart_policy="Always"))
    spec = pod.spec
    assert spec.restart_policy == "Always"
    assert spec.termination_grace_period_seconds == 30
    assert spec.dns_policy == "ClusterFirst" and spec.scheduler_name == "default-scheduler"
    assert spec.service_account_name == "default" and spec.enable_service_links is True
    assert spec.priority == 0
    c = spec.containers[0]
    assert c.termination_message_path == "/dev/termination-log"
    assert c.termination_message_policy == "File" and c.image_pull_policy == "IfNotPresent"
    assert pod.status.phase == "Pending" and pod.status.qos_class == "BestEffort"
    assert pod.metadata.generation == 1


def test_lease_compare_and_swap(fakekube: FakeKube) -> None:
    coord = client.CoordinationV1Api(api_client(fakekube))
    lease = client.V1Lease(
        metadata=client.V1ObjectMeta(name="lock"),
        spec=client.V1LeaseSpec(holder_identity="a", lease_duration_seconds=30),
    )
    first = coord.create_namespaced_lease("default", lease)
    assert first.to_dict().get("status") is None
    first.spec.holder_identity = "b"
    second = coord.replace_namespaced_lease("lock", "default", first)
    assert second.spec.holder_identity == "b"
    first.spec.holder_identity = "c"  # still carries the old resourceVersion
    with pytest.raises(ApiException) as exc:
        coord.replace_namespaced_lease("lock", "default", first)
    assert exc.value.status == 409
    body = error_body(exc.value)
    assert body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on leases.coordination.k8s.io "lock": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    first.metadata.resource_version = None  # unconditional update
    assert coord.replace_namespaced_lease("lock", "default", first).spec.holder_identity == "c"


def test_label_selectors(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", _cm("a", {"tier": "web", "env": "prod"}))
    core.create_namespaced_config_map("default", _cm("b", {"tier": "db", "env": "prod"}))
    core.create_namespaced_config_map("default", _cm("c", {"tier": "web"}))

    def names(selector: str) -> list[str]:
        items = core.list_namespaced_config_map("default", label_selector=selector).items
        return [i.metadata.name for i in items]

    assert names("tier=web") == ["a", "c"]
    assert names("tier==web,env=prod") == ["a"]
    assert names("tier!=web") == ["b", "kube-root-ca.crt"]
    assert names("tier in (db, web),env") == ["a", "b"]
    assert names("tier notin (web)") == ["b", "kube-root-ca.crt"]
    assert names("!env,tier") == ["c"]
    with pytest.raises(ApiException) as exc:
        names("tier in (web")
    assert exc.value.status == 400 and error_body(exc.value)["reason"] == "BadRequest"
    by_field = core.list_namespaced_config_map("default", field_selector="metadata.name=b").items
    assert [i.metadata.name for i in by_field] == ["b"]
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_config_map("default", field_selector="data.k=v")
    assert exc.value.status == 400


def test_pagination_and_expired_continue(fakekube: FakeKube, core: client.CoreV1Api) -> None:
    for i in range(5):
        core.create_namespaced_config_map("default", _cm(f"cm-{i}"))
    page = core.list_namespaced_config_map("default", limit=2)
    assert [i.metadata.name for i in page.items] == ["cm-0", "cm-1"]
    assert page.metadata.remaining_item_count == 4 and page.metadata._continue
    seen = [i.metadata.name for i in page.items]
    token = page.metadata._continue
    while token:
        page = core.list_namespaced_config_map("default", limit=2, _continue=token)
        seen += [i.metadata.name for i in page.items]
        token = page.metadata._continue
    assert seen == [*(f"cm-{i}" for i in range(5)), "kube-root-ca.crt"]
    stale = core.list_namespaced_config_map("default", limit=1).metadata._continue
    fakekube.compact_watch_history()
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_config_map("default", limit=1, _continue=stale)
    assert exc.value.status == 410 and error_body(exc.value)["reason"] == "Expired"


def test_watch_with_resource_version_and_selector(core: client.CoreV1Api) -> None:
    start = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", _cm("w", {"app": "x"}))
    core.patch_namespaced_config_map("w", "default", {"data": {"n": "1"}})
    core.patch_namespaced_config_map("w", "default", {"metadata": {"labels": {"app": "y"}}})
    core.create_namespaced_config_map("default", _cm("other", {"app": "z"}))
    events = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=start,
            label_selector="app=x",
            timeout_seconds=1,
        )
    ]
    # The label change makes the object leave the selection: a DELETED, like a real cache.
    assert events == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


def test_watch_replays_current_objects_then_streams(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", _cm("before"))
    seen: list[tuple[str, str]] = []
    w = watch.Watch()

    def writer() -> None:
        core.create_namespaced_config_map("default", _cm("after"))
        core.delete_namespaced_config_map("after", "default")

    t = threading.Timer(0.3, writer)
    t.start()
    for e in w.stream(core.list_namespaced_config_map, "default", timeout_seconds=2):
        seen.append((e["type"], e["object"].metadata.name))
        if e["type"] == "DELETED":
            w.stop()
    t.join()
    assert seen[:2] == [("ADDED", "before"), ("ADDED", "kube-root-ca.crt")]
    assert seen[2:] == [("ADDED", "after"), ("DELETED", "after")]


def test_watch_too_old_resource_version(fakekube: FakeKube, core: client.CoreV1Api) -> None:
    old = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", _cm("x"))
    fakekube.compact_watch_history()
    with pytest.raises(ApiException) as exc:
        list(
            watch.Watch().stream(
                core.list_namespaced_config_map, "default", resource_version=old, timeout_seconds=1
            )
        )
    assert exc.value.status == 410
    assert f"too old resource version: {old}" in exc.value.reason


def test_follow_logs_streams_until_the_container_ends(
    fakekube: FakeKube, core: client.CoreV1Api
) -> None:
    core.create_namespaced_pod(
        "default", pod_manifest("follow", annotations={"fakekube.io/run-seconds": "40"})
    )
    fakekube.wait_for(
        lambda: core.read_namespaced_pod("follow", "default").status.phase == "Running"
    )
    fakekube.append_pod_log("default", "follow", "one")
    resp = core.read_namespaced_pod_log(
        "follow", "default", follow=True, timestamps=True, _preload_content=False
    )
    lines: list[str] = []

    def later() -> None:
        fakekube.append_pod_log("default", "follow", "two")

    threading.Timer(0.2, later).start()
    for raw in resp.stream(amt=None, decode_content=False):
        lines += [ln for ln in raw.decode().split("\n") if ln]
    resp.release_conn()
    assert [ln.split(" ", 1)[1] for ln in lines] == ["one", "two"]
    stamp = lines[0].split(" ", 1)[0]
    assert len(stamp) == len("2026-11-26T03:11:17.123456789Z") and stamp.endswith("Z")
    # As with a real kubelet, the stream ends when the container exits; status follows.
    fakekube.wait_for(
        lambda: core.read_namespaced_pod("follow", "default").status.phase == "Succeeded"
    )


def test_every_kind_deserialises_with_the_typed_client(fakekube: FakeKube) -> None:
    ac = api_client(fakekube)
    core, batch = client.CoreV1Api(ac), client.BatchV1Api(ac)
    core.create_namespaced_persistent_volume_claim(
        "default",
        {
            "metadata": {"name": "work"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    batch.create_namespaced_job(
        "default",
        {
            "metadata": {"name": "j"},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "busybox"}],
                    }
                }
            },
        },
    )
    fakekube.wait_for(
        lambda: (batch.read_namespaced_job("j", "default").status.conditions or [None])[-1]
    )
    assert core.read_namespaced_persistent_volume_claim("work", "default").status.phase == "Bound"
    assert core.list_namespace().items
    assert core.list_namespaced_service_account("default").items[0].metadata.name == "default"
    assert core.list_namespaced_pod("default").items
    events = core.list_namespaced_event("default").items
    assert {"SuccessfulCreate", "Scheduled", "Started", "Completed"} <= {e.reason for e in events}
    assert all(e.involved_object.uid and e.count >= 1 and e.first_timestamp for e in events)
    assert batch.list_job_for_all_namespaces().items[0].status.succeeded == 1
    assert core.list_pod_for_all_namespaces().items
    job = batch.read_namespaced_job("j", "default")
    assert job.spec.backoff_limit == 6 and job.spec.completion_mode == "NonIndexed"
    assert job.spec.selector.match_labels == {
        "batch.kubernetes.io/controller-uid": job.metadata.uid
    }
    for kind, obj in (("V1Job", fakekube.api.get("jobs", "default", "j")),):
        typed(kind, obj)


def test_rbac_denies_and_ssar_reports_it(fakekube: FakeKube, core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", pod_manifest("victim"))
    fakekube.rbac.deny("delete", "pods", namespace="default")
    with pytest.raises(ApiException) as exc:
        core.delete_namespaced_pod("victim", "default")
    assert exc.value.status == 403
    assert error_body(exc.value)["message"] == (
        'pods "victim" is forbidden: User "fake-user" cannot delete resource "pods" in API group '
        '"" in the namespace "default"'
    )
    authz = client.AuthorizationV1Api(api_client(fakekube))

    def review(verb: str) -> client.V1SelfSubjectAccessReview:
        return authz.create_self_subject_access_review(
            client.V1SelfSubjectAccessReview(
                spec=client.V1SelfSubjectAccessReviewSpec(
                    resource_attributes=client.V1ResourceAttributes(
                        namespace="default", verb=verb, resource="pods"
                    )
                )
            )
        )

    assert review("delete").status.allowed is False
    assert review("create").status.allowed is True
    fakekube.rbac.allow_all()
    assert review("delete").status.allowed is True


def test_authentication(fakekube: FakeKube, core: client.CoreV1Api) -> None:
    fakekube.set_unauthorized(True)
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_pod("default")
    assert exc.value.status == 401
    fakekube.set_unauthorized(False)
    req = urllib.request.Request(
        fakekube.url + "/api/v1/namespaces", headers={"Authorization": "Bearer wrong"}
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    assert err.value.code == 401
    assert json.loads(err.value.read())["reason"] == "Unauthorized"


def test_protobuf_bodies_are_refused_and_no_content_type_is_json(fakekube: FakeKube) -> None:
    host, port = fakekube.url.removeprefix("http://").split(":")
    path = "/api/v1/namespaces/default/configmaps"
    conn = http.client.HTTPConnection(host, int(port))
    conn.request("POST", path, b"k8s\x00", {"Content-Type": "application/vnd.kubernetes.protobuf"})
    resp = conn.getresponse()
    assert resp.status == 415
    assert json.loads(resp.read())["reason"] == "UnsupportedMediaType"
    # Same connection (keep-alive), a JSON body with no Content-Type at all.
    conn.request("POST", path, json.dumps({"metadata": {"name": "plain"}}).encode())
    resp = conn.getresponse()
    assert resp.status == 201, resp.read()
    resp.read()
    conn.close()


def test_date_header_follows_the_server_clock(fakekube: FakeKube, core: client.CoreV1Api) -> None:
    import time

    fakekube.clock_offset = 3600.0
    # Both stamps have whole seconds: each lies within the second around its request.
    before = time.time() + 3600 - 1
    with urllib.request.urlopen(fakekube.url + "/version") as resp:
        date = parsedate_to_datetime(resp.headers["Date"])
    cm = core.create_namespaced_config_map("default", _cm("clock"))
    after = time.time() + 3600
    assert before <= date.timestamp() <= after
    assert before <= cm.metadata.creation_timestamp.timestamp() <= after


def test_fault_injection(fakekube: FakeKube, core: client.CoreV1Api) -> None:
    fakekube.faults.add(verb="list", resource="configmaps", status=503, count=1)
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_config_map("default")
    assert exc.value.status == 503
    core.list_namespaced_config_map("default")  # only the first request fails
    fakekube.faults.clear()
    fakekube.faults.add(verb="get", resource="configmaps", status=429, retry_after=7, count=1)
    req = urllib.request.Request(
        fakekube.url + "/api/v1/namespaces/default/configmaps/kube-root-ca.crt"
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    assert err.value.code == 429 and err.value.headers["Retry-After"] == "7"
    fakekube.faults.add(verb="get", resource="namespaces", drop=True, count=1)
    with pytest.raises((ConnectionError, urllib.error.URLError, OSError)):
        urllib.request.urlopen(fakekube.url + "/api/v1/namespaces/default")
    assert fakekube.requests.count(verb="get", resource="namespaces") == 1


def test_lost_response_and_skipped_matches(fakekube: FakeKube, core: client.CoreV1Api) -> None:
    lost = fakekube.faults.add(verb="create", resource="configmaps", lose_response=True, count=1)
    body = json.dumps({"metadata": {"name": "applied"}, "data": {"k": "v"}}).encode()
    req = urllib.request.Request(
        fakekube.url + "/api/v1/namespaces/default/configmaps",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises((http.client.HTTPException, urllib.error.URLError, OSError)):
        urllib.request.urlopen(req)
    assert lost.fired == 1
    # The create was carried out although its answer never came.
    assert core.read_namespaced_config_map("applied", "default").data == {"k": "v"}
    assert fakekube.requests.filter(verb="create", resource="configmaps")[0].status == 201

    third = fakekube.faults.add(verb="get", resource="configmaps", status=503, skip=2, count=1)
    core.read_namespaced_config_map("applied", "default")
    core.read_namespaced_config_map("applied", "default")
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_config_map("applied", "default")
    assert exc.value.status == 503
    core.read_namespaced_config_map("applied", "default")
    assert (third.matched, third.fired) == (4, 1)


def test_request_log(fakekube: FakeKube, core: client.CoreV1Api) -> None:
    fakekube.requests.clear()
    core.create_namespaced_config_map("default", _cm("r"))
    core.read_namespaced_config_map("r", "default")
    core.patch_namespaced_config_map("r", "default", {"data": {"a": "b"}})
    core.delete_namespaced_config_map("r", "default")
    assert fakekube.requests.count(verb="get", resource="configmaps") == 1
    assert [w.verb for w in fakekube.requests.writes()] == ["create", "patch", "delete"]
    assert fakekube.requests.summary()[("create", "configmaps")] == 1
    rec = fakekube.requests.writes()[0]
    assert (rec.namespace, rec.status) == ("default", 201)
    fakekube.api.create("configmaps", "default", {"metadata": {"name": "inproc"}})
    assert fakekube.requests.count(verb="create") == 1  # in-process calls are not logged


def test_patch_flavours_and_status_subresource(fakekube: FakeKube) -> None:
    ac = api_client(fakekube)
    core, batch = client.CoreV1Api(ac), client.BatchV1Api(ac)
    pod = pod_manifest(
        "sp",
        annotations={"fakekube.io/pending-seconds": "600"},
        containers=[
            {"name": "a", "image": "busybox:1", "env": [{"name": "X", "value": "1"}]},
            {"name": "b", "image": "busybox:1"},
        ],
    )
    core.create_namespaced_pod("default", pod)
    # Strategic merge: containers merge by name, env by name.
    patched = core.patch_namespaced_pod(
        "sp", "default", {"spec": {"containers": [{"name": "b", "image": "busybox:2"}]}}
    )
    assert [c.image for c in patched.spec.containers] == ["busybox:1", "busybox:2"]
    assert patched.metadata.generation == 2  # spec changed
    # JSON patch.
    host, port = fakekube.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))
    ops = [{"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}]
    conn.request(
        "PATCH",
        "/api/v1/namespaces/default/pods/sp",
        json.dumps(ops),
        {"Content-Type": "application/json-patch+json"},
    )
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read())["metadata"]["labels"] == {"x": "y"}
    conn.request(
        "PATCH", "/api/v1/namespaces/default/pods/sp", "{}", {"Content-Type": "text/plain"}
    )
    resp = conn.getresponse()
    assert resp.status == 415
    resp.read()
    conn.request("POST", "/api/v1/namespaces/default/pods/sp", "{}")
    resp = conn.getresponse()
    assert resp.status == 405
    resp.read()
    conn.close()
    # A main-resource write ignores status; /status writes only status.
    job = batch.create_namespaced_job(
        "default",
        {
            "metadata": {"name": "st"},
            "spec": {
                "suspend": True,
                "template": {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "b"}]}
                },
            },
        },
    )
    assert job.status.active is None
    # Let the Job controller write its first status, then write with a fresh copy.
    fakekube.wait_for(lambda: batch.read_namespaced_job("st", "default").status.active == 0)
    job = batch.read_namespaced_job("st", "default")
    job.status = client.V1JobStatus(active=7)
    assert batch.replace_namespaced_job("st", "default", job).status.active == 0
    fresh = batch.read_namespaced_job("st", "default")
    fresh.status.active = 7
    fresh.spec.parallelism = 5
    out = batch.replace_namespaced_job_status("st", "default", fresh)
    assert out.status.active == 7 and out.spec.parallelism == 1


def test_delete_collection_and_options(fakekube: FakeKube, core: client.CoreV1Api) -> None:
    for i in range(3):
        core.create_namespaced_config_map("default", _cm(f"d{i}", {"grp": "x" if i < 2 else "y"}))
    core.delete_collection_namespaced_config_map("default", label_selector="grp=x")
    left = [c.metadata.name for c in core.list_namespaced_config_map("default").items]
    assert left == ["d2", "kube-root-ca.crt"]
    uid = core.read_namespaced_config_map("d2", "default").metadata.uid
    with pytest.raises(ApiException) as exc:
        core.delete_namespaced_config_map(
            "d2",
            "default",
            body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="other")),
        )
    assert exc.value.status == 409
    core.delete_namespaced_config_map(
        "d2", "default", body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=uid))
    )
    core.create_namespaced_pod(
        "default", pod_manifest("gone", annotations={"fakekube.io/run-seconds": "600"})
    )
    fakekube.wait_for(lambda: core.read_namespaced_pod("gone", "default").status.phase == "Running")
    deleted = core.delete_namespaced_pod("gone", "default", grace_period_seconds=0)
    assert deleted.metadata.name == "gone"  # pods answer with the object
    with pytest.raises(ApiException):
        core.read_namespaced_pod("gone", "default")


def test_secret_string_data_is_stored_base64_and_mounted(
    fakekube: FakeKube, core: client.CoreV1Api
) -> None:
    created = core.create_namespaced_secret(
        "default",
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="params"), string_data={"params.json": "{}"}
        ),
    )
    assert created.type == "Opaque"
    assert created.string_data is None
    assert created.data == {"params.json": "e30="}
    with pytest.raises(ApiException) as bad:
        core.create_namespaced_secret(
            "default",
            client.V1Secret(metadata=client.V1ObjectMeta(name="bad"), data={"k": "not base64!"}),
        )
    assert bad.value.status == 422
    listing = fakekube.kubectl("get", "secrets")
    assert "params" in listing.stdout and "Opaque" in listing.stdout
