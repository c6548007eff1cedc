"""The fake API server must answer like the real one: the same checks against both.

Every check runs once per backend (``fake``: tests/fakekube, ``real``: kube-apiserver v1.37.2 from
tests/realkube, one control plane for the module). The expected answers written below are the
real server's; a difference on the fake is a bug in the fake. Values that change from run to run
(uids, resourceVersions, timestamps, generated names, the user a 403 names) are matched by shape.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from tests.conformance.helpers import (
    ANY,
    HTTP_DATE,
    LOG_STAMP,
    MERGE_PATCH,
    Backend,
    FakeBackend,
    Match,
    RealBackend,
    Response,
    continue_token,
    decode_continue,
    expect_status,
    invalid_details,
    ref_details,
    status_body,
    wait_for,
)

# ---------------------------------------------------------------------------- fixtures


def _real_available() -> None:
    """Skip the real backend where it cannot run, except under CI, which must run it."""
    import os

    from tests.realkube import binaries_available, build

    if build.is_built():
        return
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        build.build()  # a failed build fails the run
        return
    ok, reason = binaries_available()
    pytest.skip(
        reason
        if not ok
        else "the real control plane is not built: uv run python -m tests.realkube.build"
    )


@pytest.fixture(scope="module", params=["fake", "real"])
def api(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """One API server for the module: the fake, or one real control plane with one node."""
    from tests import backends

    chosen = backends.selected(request.config.getoption("--backend", None))
    if request.param not in chosen:
        pytest.skip(
            f"the {request.param} API server is not selected (--backend / NFK8S_TEST_BACKEND)"
        )
    backend: Backend
    if request.param == "fake":
        backend = FakeBackend()
    else:
        _real_available()
        backend = RealBackend()
    try:
        yield backend
    finally:
        backend.stop()


@pytest.fixture
def ns(api: Backend) -> Iterator[str]:
    """A fresh namespace for the test."""
    name = api.create_namespace()
    try:
        yield name
    finally:
        api.delete_namespace(name)


# ---------------------------------------------------------------------------- objects

IMAGE = "busybox:1.36"

# plural -> (API prefix, group, Kind, the name error messages give the resource)
TYPES: dict[str, tuple[str, str, str, str]] = {
    "configmaps": ("/api/v1", "", "ConfigMap", "configmaps"),
    "pods": ("/api/v1", "", "Pod", "pods"),
    "events": ("/api/v1", "", "Event", "events"),
    "jobs": ("/apis/batch/v1", "batch", "Job", "jobs.batch"),
    "leases": (
        "/apis/coordination.k8s.io/v1",
        "coordination.k8s.io",
        "Lease",
        "leases.coordination.k8s.io",
    ),
}


def path(resource: str, ns: str, name: str = "", sub: str = "") -> str:
    prefix = TYPES[resource][0]
    out = f"{prefix}/namespaces/{ns}/{resource}"
    if name:
        out += f"/{name}"
    if sub:
        out += f"/{sub}"
    return out


def qualified_kind(resource: str) -> str:
    _prefix, group, kind, _gr = TYPES[resource]
    return f"{kind}.{group}" if group else kind


def configmap(name: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **extra}


def lease(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name},
        "spec": {"holderIdentity": "conformance", **spec},
    }


def job(name: str, restart_policy: str | None = "Never") -> dict[str, Any]:
    """A suspended Job: the Job controllers never make pods for it."""
    pod_spec: dict[str, Any] = {"containers": [{"name": "main", "image": IMAGE}]}
    if restart_policy is not None:
        pod_spec["restartPolicy"] = restart_policy
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"suspend": True, "template": {"spec": pod_spec}},
    }


def pod(name: str, *, annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": IMAGE, "command": ["sh", "-c", "true"]}],
            **spec,
        },
    }


BODIES = {"configmaps": configmap, "leases": lease, "jobs": job, "pods": pod}


def names(resp: Response) -> list[str]:
    assert resp.status == 200, resp
    return sorted(i["metadata"]["name"] for i in resp.json()["items"])


# ---------------------------------------------------------------------------- 1. NotFound


@pytest.mark.parametrize("resource", ["configmaps", "jobs", "leases", "pods"])
def test_get_and_delete_of_a_missing_object_are_404_not_found(
    api: Backend, ns: str, resource: str
) -> None:
    _prefix, group, _kind, gr = TYPES[resource]
    for method in ("GET", "DELETE"):
        resp = api.request(method, path(resource, ns, "x"))
        expect_status(
            resp, 404, "NotFound", f'{gr} "x" not found', ref_details("x", resource, group)
        )


def test_create_in_a_missing_namespace_is_404_for_the_namespace(api: Backend) -> None:
    resp = api.request("POST", path("configmaps", "no-such-ns"), body=configmap("a"))
    expect_status(
        resp,
        404,
        "NotFound",
        'namespaces "no-such-ns" not found',
        ref_details("no-such-ns", "namespaces"),
    )


def test_unknown_resource_and_subresource_paths_are_404_with_empty_details(
    api: Backend, ns: str
) -> None:
    for p in (
        f"/api/v1/namespaces/{ns}/nothings",
        f"/api/v1/namespaces/{ns}/configmaps/x/status",
        f"/apis/batch/v2/namespaces/{ns}/jobs",
    ):
        resp = api.request("GET", p)
        expect_status(resp, 404, "NotFound", "the server could not find the requested resource", {})


def test_put_on_a_collection_is_405_method_not_allowed(api: Backend, ns: str) -> None:
    resp = api.request("PUT", path("configmaps", ns), body=configmap("x"))
    expect_status(
        resp,
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        {},
    )


# ---------------------------------------------------------------------------- 2. Conflicts


@pytest.mark.parametrize("resource", ["configmaps", "jobs", "leases"])
def test_create_of_an_existing_name_is_409_already_exists(
    api: Backend, ns: str, resource: str
) -> None:
    _prefix, group, _kind, gr = TYPES[resource]
    api.create(path(resource, ns), BODIES[resource]("dup"))
    resp = api.request("POST", path(resource, ns), body=BODIES[resource]("dup"))
    expect_status(
        resp,
        409,
        "AlreadyExists",
        f'{gr} "dup" already exists',
        ref_details("dup", resource, group),
    )


@pytest.mark.parametrize("resource", ["configmaps", "leases"])
def test_update_with_a_stale_resource_version_is_409_conflict(
    api: Backend, ns: str, resource: str
) -> None:
    _prefix, group, _kind, gr = TYPES[resource]
    first = api.create(path(resource, ns), BODIES[resource]("cas"))
    changed = dict(first, metadata=dict(first["metadata"], labels={"v": "2"}))
    assert api.request("PUT", path(resource, ns, "cas"), body=changed).status == 200
    stale = dict(first, metadata=dict(first["metadata"], labels={"v": "3"}))
    resp = api.request("PUT", path(resource, ns, "cas"), body=stale)
    expect_status(
        resp,
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {gr} "cas": the object has been modified; please '
        "apply your changes to the latest version and try again",
        ref_details("cas", resource, group),
    )
    # A merge patch carrying the stale resourceVersion is refused the same way.
    resp = api.request(
        "PATCH",
        path(resource, ns, "cas"),
        body={"metadata": {"resourceVersion": first["metadata"]["resourceVersion"]}},
        content_type=MERGE_PATCH,
    )
    expect_status(resp, 409, "Conflict", ANY, ref_details("cas", resource, group))


def test_update_with_another_uid_is_409_storage_precondition_failure(api: Backend, ns: str) -> None:
    cm = api.create(path("configmaps", ns), configmap("u"))
    body = configmap("u", metadata={"name": "u", "uid": "00000000-0000-0000-0000-000000000000"})
    resp = api.request("PUT", path("configmaps", ns, "u"), body=body)
    expect_status(
        resp,
        409,
        "Conflict",
        f'Operation cannot be fulfilled on configmaps "u": StorageError: invalid object, Code: 4, '
        f"Key: /registry/configmaps/{ns}/u, ResourceVersion: 0, AdditionalErrorMsg: "
        "Precondition failed: UID in precondition: 00000000-0000-0000-0000-000000000000, "
        f"UID in object meta: {cm['metadata']['uid']}",
        ref_details("u", "configmaps"),
    )


def test_patch_that_changes_the_uid_is_422_immutable(api: Backend, ns: str) -> None:
    api.create(path("configmaps", ns), configmap("u"))
    other = "00000000-0000-0000-0000-000000000000"
    resp = api.request(
        "PATCH",
        path("configmaps", ns, "u"),
        body={"metadata": {"uid": other}},
        content_type=MERGE_PATCH,
    )
    cause = ("FieldValueInvalid", f'Invalid value: "{other}": field is immutable', "metadata.uid")
    expect_status(
        resp,
        422,
        "Invalid",
        f'ConfigMap "u" is invalid: metadata.uid: {cause[1]}',
        invalid_details("u", "ConfigMap", [cause]),
    )


def test_update_whose_body_names_another_object_is_400(api: Backend, ns: str) -> None:
    api.create(path("configmaps", ns), configmap("u"))
    resp = api.request("PUT", path("configmaps", ns, "u"), body=configmap("other"))
    expect_status(
        resp,
        400,
        "BadRequest",
        "the name of the object (other) does not match the name on the URL (u)",
    )


# ---------------------------------------------------------------------------- 3. Invalid

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
LABEL_KEY_MSG = (
    "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS "
    "subdomain prefix and '/' (e.g. 'example.com/MyName')"
)
NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
    "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LONG = "a" * 254


def _render(causes: list[tuple[str, str, str]]) -> str:
    rendered = [f"{f}: {m}" for _r, m, f in causes]
    return rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"


@pytest.mark.parametrize(
    ("resource", "name", "causes"),
    [
        ("configmaps", "Upper", [("metadata.name", f'Invalid value: "Upper": {SUBDOMAIN_MSG}')]),
        (
            "configmaps",
            LONG,
            [("metadata.name", f'Invalid value: "{LONG}": must be no more than 253 characters')],
        ),
        ("configmaps", "dash-", [("metadata.name", f'Invalid value: "dash-": {SUBDOMAIN_MSG}')]),
        ("leases", "Upper", [("metadata.name", f'Invalid value: "Upper": {SUBDOMAIN_MSG}')]),
        (
            "leases",
            LONG,
            [("metadata.name", f'Invalid value: "{LONG}": must be no more than 253 characters')],
        ),
        ("leases", "dash-", [("metadata.name", f'Invalid value: "dash-": {SUBDOMAIN_MSG}')]),
        ("jobs", "Upper", [("metadata.name", f'Invalid value: "Upper": {SUBDOMAIN_MSG}')]),
        # The job-name labels the apiserver puts on the pod template fail too (once: the
        # apiserver reports identical errors once).
        (
            "jobs",
            "dash-",
            [
                ("metadata.name", f'Invalid value: "dash-": {SUBDOMAIN_MSG}'),
                ("spec.template.labels", f'Invalid value: "dash-": {LABEL_VALUE_MSG}'),
            ],
        ),
        (
            "jobs",
            "a" * 64,
            [
                (
                    "spec.template.labels",
                    f'Invalid value: "{"a" * 64}": must be no more than 63 bytes',
                )
            ],
        ),
    ],
    ids=[
        "cm-upper",
        "cm-long",
        "cm-dash",
        "lease-upper",
        "lease-long",
        "lease-dash",
        "job-upper",
        "job-dash",
        "job-64",
    ],
)
def test_bad_object_names_are_422_invalid(
    api: Backend, ns: str, resource: str, name: str, causes: list[tuple[str, str]]
) -> None:
    _prefix, group, kind, _gr = TYPES[resource]
    full = [("FieldValueInvalid", m, f) for f, m in causes]
    resp = api.request("POST", path(resource, ns), body=BODIES[resource](name))
    expect_status(
        resp,
        422,
        "Invalid",
        f'{qualified_kind(resource)} "{name}" is invalid: {_render(full)}',
        invalid_details(name, kind, full, group),
    )


def test_missing_name_is_422_required(api: Backend, ns: str) -> None:
    resp = api.request("POST", path("configmaps", ns), body={"metadata": {}})
    cause = (
        "FieldValueRequired",
        "Required value: name or generateName is required",
        "metadata.name",
    )
    expect_status(
        resp,
        422,
        "Invalid",
        f'ConfigMap "" is invalid: metadata.name: {cause[1]}',
        invalid_details("", "ConfigMap", [cause]),
    )


def test_label_keys_and_values_are_validated_with_one_cause_each(api: Backend, ns: str) -> None:
    long_key = "k" * 64
    body = configmap("labels")
    body["metadata"]["labels"] = {
        "x/y/z": "1",
        "bad key!": "v",
        long_key: "v",
        "ok": "bad value!",
        "ok2": "v" * 64,
        "/name": "v",
        "Prefix.example/a": "v",
    }
    resp = api.request("POST", path("configmaps", ns), body=body)
    body = status_body(resp)
    assert resp.status == 422 and body["reason"] == "Invalid", body
    want = sorted(
        [
            f'Invalid value: "x/y/z": {LABEL_KEY_MSG}',
            f'Invalid value: "bad key!": {NAME_PART_MSG}',
            f'Invalid value: "{long_key}": name part must be no more than 63 bytes',
            f'Invalid value: "bad value!": {LABEL_VALUE_MSG}',
            f'Invalid value: "{"v" * 64}": must be no more than 63 bytes',
            'Invalid value: "/name": prefix part must be non-empty',
            f'Invalid value: "Prefix.example/a": prefix part {SUBDOMAIN_MSG}',
        ]
    )
    causes = body["details"]["causes"]
    # Labels are a map: the apiserver reports them in Go's random map order.
    assert sorted(c["message"] for c in causes) == want
    assert {(c["reason"], c["field"]) for c in causes} == {("FieldValueInvalid", "metadata.labels")}
    assert body["details"]["name"] == "labels" and body["details"]["kind"] == "ConfigMap"
    assert "group" not in body["details"]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (
            "2024-01-01T00:00:00Z",
            'parsing time "2024-01-01T00:00:00Z" as "2006-01-02T15:04:05.000000Z07:00": '
            'cannot parse "Z" as ".000000"',
        ),
        (
            "2024-01-01T00:00:00.123Z",
            'parsing time "2024-01-01T00:00:00.123Z" as "2006-01-02T15:04:05.000000Z07:00": '
            'cannot parse ".123Z" as ".000000"',
        ),
        (
            "yesterday",
            'parsing time "yesterday" as "2006-01-02T15:04:05.000000Z07:00": '
            'cannot parse "yesterday" as "2006"',
        ),
        (
            "2024-13-01T00:00:00.000000Z",
            'parsing time "2024-13-01T00:00:00.000000Z": month out of range',
        ),
        (
            "2024-01-01 00:00:00.000000Z",
            'parsing time "2024-01-01 00:00:00.000000Z" as "2006-01-02T15:04:05.000000Z07:00": '
            'cannot parse " 00:00:00.000000Z" as "T"',
        ),
        (
            5,
            "json: cannot unmarshal number into Go struct field LeaseSpec.spec.renewTime of type "
            "string",
        ),
    ],
    ids=["no-fraction", "millis", "word", "month-13", "space", "number"],
)
def test_lease_renew_time_not_in_micro_time_format_is_400_when_decoded(
    api: Backend, ns: str, value: Any, error: str
) -> None:
    resp = api.request("POST", path("leases", ns), body=lease("l", renewTime=value))
    expect_status(
        resp, 400, "BadRequest", f'Lease in version "v1" cannot be handled as a Lease: {error}'
    )


def test_lease_with_micro_time_stamps_is_created(api: Backend, ns: str) -> None:
    stamp = "2024-01-01T00:00:00.123456Z"
    out = api.create(path("leases", ns), lease("l", renewTime=stamp, acquireTime=stamp))
    assert out["spec"]["renewTime"] == stamp and out["spec"]["acquireTime"] == stamp


@pytest.mark.parametrize(
    ("policy", "causes"),
    [
        (None, [("FieldValueRequired", 'Required value: valid values: "OnFailure", "Never"')]),
        # A Job's pod template never restarts: Always reads as "not set".
        ("Always", [("FieldValueRequired", 'Required value: valid values: "OnFailure", "Never"')]),
        (
            "Sometimes",
            [
                (
                    "FieldValueNotSupported",
                    'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", '
                    '"Never"',
                ),
                (
                    "FieldValueNotSupported",
                    'Unsupported value: "Sometimes": supported values: "OnFailure", "Never"',
                ),
            ],
        ),
    ],
)
def test_job_whose_pods_would_restart_is_422(
    api: Backend, ns: str, policy: str | None, causes: list[tuple[str, str]]
) -> None:
    full = [(r, m, "spec.template.spec.restartPolicy") for r, m in causes]
    resp = api.request("POST", path("jobs", ns), body=job("rp", policy))
    expect_status(
        resp,
        422,
        "Invalid",
        f'Job.batch "rp" is invalid: {_render(full)}',
        invalid_details("rp", "Job", full, "batch"),
    )


def test_configmap_data_over_1_mib_is_422_too_long(api: Backend, ns: str) -> None:
    body = configmap("big", data={"a": "x" * (1024 * 1024), "b": "y"})
    resp = api.request("POST", path("configmaps", ns), body=body)
    cause = ("FieldValueTooLong", "Too long: may not be more than 1048576 bytes", "[]")
    expect_status(
        resp,
        422,
        "Invalid",
        f'ConfigMap "big" is invalid: []: {cause[1]}',
        invalid_details("big", "ConfigMap", [cause]),
    )
    # Exactly 1 MiB is allowed.
    api.create(path("configmaps", ns), configmap("max", data={"a": "x" * (1024 * 1024)}))


def test_configmap_keys_are_validated_per_key(api: Backend, ns: str) -> None:
    resp = api.request("POST", path("configmaps", ns), body=configmap("k", data={"bad key": "v"}))
    msg = (
        'Invalid value: "bad key": a valid config key must consist of alphanumeric characters, '
        "'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
        "validation is '[-._a-zA-Z0-9]+')"
    )
    cause = ("FieldValueInvalid", msg, "data[bad key]")
    expect_status(
        resp,
        422,
        "Invalid",
        f'ConfigMap "k" is invalid: data[bad key]: {msg}',
        invalid_details("k", "ConfigMap", [cause]),
    )


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            configmap("t", data={"k": 1}),
            "json: cannot unmarshal number into Go struct field ConfigMap.data of type string",
        ),
        (
            {"metadata": {"name": "t", "labels": {"a": True}}},
            "json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.labels of type "
            "string",
        ),
        (
            {"kind": "ConfigMap", "apiVersion": "v2", "metadata": {"name": "t"}},
            'no kind "ConfigMap" is registered for version "v2" in scheme '
            '"pkg/runtime/scheme.go:111"',
        ),
    ],
    ids=["data-number", "label-bool", "api-version"],
)
def test_body_that_does_not_decode_as_a_configmap_is_400(
    api: Backend, ns: str, body: dict[str, Any], error: str
) -> None:
    resp = api.request("POST", path("configmaps", ns), body=body)
    kind = body.get("kind", "ConfigMap")
    version = body.get("apiVersion", "v1")
    expect_status(
        resp,
        400,
        "BadRequest",
        f'{kind} in version "{version}" cannot be handled as a ConfigMap: {error}',
    )


def test_create_with_a_resource_version_is_500_without_a_reason(api: Backend, ns: str) -> None:
    body = configmap("rv", metadata={"name": "rv", "resourceVersion": "5"})
    resp = api.request("POST", path("configmaps", ns), body=body)
    expect_status(resp, 500, None, "resourceVersion should not be set on objects to be created")


def test_generate_name_is_validated_before_the_generated_name(api: Backend, ns: str) -> None:
    resp = api.request("POST", path("configmaps", ns), body={"metadata": {"generateName": "Bad-"}})
    body = status_body(resp)
    assert resp.status == 422, body
    name = body["details"]["name"]
    assert re.fullmatch(r"Bad-[a-z0-9]{5}", name), name
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": f'Invalid value: "Bad-": {SUBDOMAIN_MSG}',
            "field": "metadata.generateName",
        },
        {
            "reason": "FieldValueInvalid",
            "message": f'Invalid value: "{name}": {SUBDOMAIN_MSG}',
            "field": "metadata.name",
        },
    ]


# ---------------------------------------------------------------------------- 4. Forbidden


@pytest.mark.parametrize(
    ("method", "suffix", "verb", "resource", "name"),
    [
        ("GET", "configmaps", "list", "configmaps", ""),
        ("GET", "configmaps?watch=true", "watch", "configmaps", ""),
        ("GET", "configmaps/c1", "get", "configmaps", "c1"),
        ("POST", "leases", "create", "leases", ""),
        ("DELETE", "jobs/j1", "delete", "jobs", "j1"),
        ("GET", "pods/p1/log", "get", "pods/log", "p1"),
    ],
    ids=["list", "watch", "get", "create", "delete", "log"],
)
def test_user_without_rights_is_403_forbidden_with_the_rbac_message(
    api: Backend, ns: str, method: str, suffix: str, verb: str, resource: str, name: str
) -> None:
    api.deny_namespace(ns)
    plural = resource.split("/", maxsplit=1)[0]
    prefix, group, _kind, gr = TYPES[plural]
    body = lease("x") if method == "POST" else None
    resp = api.request(method, f"{prefix}/namespaces/{ns}/{suffix}", body=body, denied=True)
    who = f'{gr} "{name}"' if name else gr
    message = (
        f'{who} is forbidden: User "{api.denied_user}" cannot {verb} resource "{resource}" in '
        f'API group "{group}" in the namespace "{ns}"'
    )
    expect_status(resp, 403, "Forbidden", message, ref_details(name, plural, group))


def test_user_without_rights_is_403_for_a_list_across_namespaces(api: Backend) -> None:
    undo = api.deny_cluster_list("configmaps")
    try:
        resp = api.request("GET", "/api/v1/configmaps", denied=True)
    finally:
        undo()
    expect_status(
        resp,
        403,
        "Forbidden",
        f'configmaps is forbidden: User "{api.denied_user}" cannot list resource "configmaps" in '
        'API group "" at the cluster scope',
        ref_details("", "configmaps"),
    )


# ---------------------------------------------------------------------------- 5. Field selectors


@pytest.mark.parametrize("resource", ["configmaps", "leases", "jobs"])
def test_field_selectors_on_metadata_name_and_namespace(
    api: Backend, ns: str, resource: str
) -> None:
    for n in ("fa", "fb"):
        api.create(path(resource, ns), BODIES[resource](n))
    coll = path(resource, ns)

    def select(fs: str) -> list[str]:
        return [
            n
            for n in names(api.request("GET", coll, query={"fieldSelector": fs}))
            if n in ("fa", "fb")
        ]

    assert select("metadata.name=fa") == ["fa"]
    assert select("metadata.name==fb") == ["fb"]
    assert select("metadata.name!=fa") == ["fb"]
    assert select(f"metadata.namespace={ns}") == ["fa", "fb"]
    assert select(f"metadata.namespace={ns},metadata.name=fb") == ["fb"]
    assert select("metadata.namespace=elsewhere") == []
    # Across all namespaces, the namespace selector picks this one.
    prefix = TYPES[resource][0]
    resp = api.request(
        "GET",
        f"{prefix}/{resource}",
        query={"fieldSelector": f"metadata.namespace={ns},metadata.name=fa"},
    )
    assert names(resp) == ["fa"]


def test_pod_field_selectors_on_phase_and_node_name(api: Backend, ns: str) -> None:
    api.wait_for_default_service_account(ns)
    api.create(path("pods", ns), pod("waiting", schedulerName="no-such-scheduler"))
    api.create(path("pods", ns), pod("running", annotations={"fakekube.io/run-seconds": "100000"}))
    running = wait_for(
        lambda: (
            (p := api.get(path("pods", ns, "running")))
            and p["status"].get("phase") == "Running"
            and p
        ),
        api.node_timeout,
        what="pod running is Running",
    )
    node = running["spec"]["nodeName"]
    coll = path("pods", ns)

    def select(fs: str) -> list[str]:
        return names(api.request("GET", coll, query={"fieldSelector": fs}))

    assert api.get(path("pods", ns, "waiting"))["status"]["phase"] == "Pending"
    assert select("status.phase=Pending") == ["waiting"]
    assert select("status.phase=Running") == ["running"]
    assert select("status.phase!=Pending") == ["running"]
    assert select("spec.nodeName=") == ["waiting"]
    assert select(f"spec.nodeName={node}") == ["running"]
    assert select(f"spec.nodeName={node},status.phase=Running") == ["running"]
    assert select("spec.schedulerName=no-such-scheduler") == ["waiting"]
    assert select("spec.restartPolicy=Never") == ["running", "waiting"]
    assert select("spec.hostNetwork=false") == ["running", "waiting"]
    assert select("spec.serviceAccountName=default") == ["running", "waiting"]


def _event(
    name: str, ns: str, kind: str, obj: str, uid: str, reason: str, type_: str
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name},
        "involvedObject": {
            "kind": kind,
            "name": obj,
            "namespace": ns,
            "uid": uid,
            "apiVersion": "v1",
        },
        "reason": reason,
        "type": type_,
        "message": f"{reason} {obj}",
        "source": {"component": "conformance"},
        "firstTimestamp": "2024-01-01T00:00:00Z",
        "lastTimestamp": "2024-01-01T00:00:00Z",
        "count": 1,
    }


def test_event_field_selectors_on_involved_object_reason_and_type(api: Backend, ns: str) -> None:
    u1, u2 = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
    api.create(path("events", ns), _event("e1", ns, "Pod", "p1", u1, "Started", "Normal"))
    api.create(path("events", ns), _event("e2", ns, "ConfigMap", "c1", u2, "Failed", "Warning"))
    coll = path("events", ns)

    def select(fs: str) -> list[str]:
        return [
            n
            for n in names(api.request("GET", coll, query={"fieldSelector": fs}))
            if n in ("e1", "e2")
        ]

    assert select("involvedObject.kind=Pod") == ["e1"]
    assert select("involvedObject.name=c1") == ["e2"]
    assert select(f"involvedObject.uid={u2}") == ["e2"]
    assert select(f"involvedObject.namespace={ns}") == ["e1", "e2"]
    assert select("reason=Started") == ["e1"]
    assert select("type=Warning") == ["e2"]
    assert select("type!=Warning") == ["e1"]
    assert select("source=conformance") == ["e1", "e2"]
    assert select("involvedObject.kind=Pod,involvedObject.name=p1,reason=Started,type=Normal") == [
        "e1"
    ]


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (
            "configmaps",
            '"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"',
        ),
        (
            "leases",
            '"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"',
        ),
        ("jobs", 'field label "spec.foo" not supported for Job'),
        ("pods", "field label not supported: spec.foo"),
        ("events", "field label not supported: spec.foo"),
    ],
)
def test_unsupported_field_selector_is_400_with_the_per_type_message(
    api: Backend, ns: str, resource: str, message: str
) -> None:
    resp = api.request("GET", path(resource, ns), query={"fieldSelector": "spec.foo=1"})
    expect_status(resp, 400, "BadRequest", message)
    # Watches parse the selector the same way.
    resp = api.request(
        "GET", path(resource, ns), query={"fieldSelector": "spec.foo=1", "watch": "1"}
    )
    expect_status(resp, 400, "BadRequest", message)


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
        (
            "metadata.name in (a)",
            "invalid selector: 'metadata.name in (a)'; can't understand 'metadata.name in (a)'",
        ),
        ("metadata.name=a=b", "invalid field selector: unescaped character in value: 61"),
        ("metadata.name=a\\x", "invalid field selector: invalid escape sequence: \\x"),
        ("=a", '"" is not a known field selector: only "metadata.name", "metadata.namespace"'),
        # Terms are checked in sorted order.
        (
            "spec.b=1,spec.a=1",
            '"spec.a" is not a known field selector: only "metadata.name", "metadata.namespace"',
        ),
    ],
    ids=[
        "no-operator",
        "set-based",
        "unescaped-equals",
        "bad-escape",
        "empty-field",
        "sorted-terms",
    ],
)
def test_malformed_field_selector_is_400(
    api: Backend, ns: str, selector: str, message: str
) -> None:
    resp = api.request("GET", path("configmaps", ns), query={"fieldSelector": selector})
    expect_status(resp, 400, "BadRequest", message)


def test_escaped_comma_and_equals_in_a_field_selector_value_are_accepted(
    api: Backend, ns: str
) -> None:
    # Names cannot hold "," or "=", so an escaped value simply matches nothing, without error.
    resp = api.request(
        "GET", path("configmaps", ns), query={"fieldSelector": "metadata.name=a\\,b\\=c"}
    )
    assert names(resp) == []


# ---------------------------------------------------------------------------- 6. Label selectors


@pytest.fixture
def labelled(api: Backend, ns: str) -> str:
    for n, labels in (
        ("la", {"app": "a", "tier": "x"}),
        ("lb", {"app": "b"}),
        ("lc", {"other": "1", "num": "5"}),
    ):
        api.create(path("configmaps", ns), configmap(n, metadata={"name": n, "labels": labels}))
    return ns


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=a", ["la"]),
        ("app==a", ["la"]),
        ("app!=a", ["lb", "lc"]),
        ("app in (a,b)", ["la", "lb"]),
        ("app notin (a)", ["lb", "lc"]),
        ("app", ["la", "lb"]),
        ("!app", ["lc"]),
        ("app,tier", ["la"]),
        ("app in (a,b),!tier", ["lb"]),
        ("app=", []),
        ("app in ()", []),
        ("app notin ()", ["la", "lb", "lc"]),
        ("num>4", ["lc"]),
        ("num<5", []),
        (" app = a ", ["la"]),
        ("app in (a,,b)", ["la", "lb"]),
    ],
)
def test_label_selector_operators_select_the_right_objects(
    api: Backend, labelled: str, selector: str, expected: list[str]
) -> None:
    resp = api.request("GET", path("configmaps", labelled), query={"labelSelector": selector})
    assert [n for n in names(resp) if n in ("la", "lb", "lc")] == expected


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("app in (a", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("app notin", "unable to parse requirement: found '' expected: '('"),
        (
            "Bad Key=a",
            "unable to parse requirement: found 'Key', expected: in, notin, =, ==, !=, gt, lt",
        ),
        (
            "app gt 1",
            "unable to parse requirement: found 'gt', expected: in, notin, =, ==, !=, gt, lt",
        ),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("app,", "found '', expected: identifier after ','"),
        ("app=a,,tier", "found ',', expected: identifier after ','"),
        (",app", "found ',', expected: !, identifier, or 'end of string'"),
        ("app=a b", "found 'b', expected: ',' or 'end of string'"),
        ("app!", "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt"),
        ("app!==a", "unable to parse requirement: found '=', expected: identifier"),
        ("app=!a", "unable to parse requirement: found '!', expected: identifier"),
        (
            "x/y/z=1",
            f'unable to parse requirement: <nil>: Invalid value: "x/y/z": {LABEL_KEY_MSG}',
        ),
        (
            "k" * 64 + "=1",
            f'unable to parse requirement: <nil>: Invalid value: "{"k" * 64}": name part must be '
            "no "
            "more than 63 bytes",
        ),
        (
            "app=" + "v" * 64,
            f'unable to parse requirement: values[0][app]: Invalid value: "{"v" * 64}": must be no '
            "more than 63 bytes",
        ),
        (
            "app=bad!",
            "found '!', expected: ',' or 'end of string'",
        ),
        (
            "app>a",
            "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' "
            "operators, the value must be an integer",
        ),
        (
            "app in (b.,a.)",
            'unable to parse requirement: [values[0][app]: Invalid value: "a.": '
            f"{LABEL_VALUE_MSG}, "
            f'values[1][app]: Invalid value: "b.": {LABEL_VALUE_MSG}]',
        ),
    ],
)
def test_invalid_label_selector_is_400_with_the_parser_message(
    api: Backend, ns: str, selector: str, message: str
) -> None:
    resp = api.request("GET", path("configmaps", ns), query={"labelSelector": selector})
    expect_status(resp, 400, "BadRequest", message)


# ---------------------------------------------------------------------------- 7. Watch


def test_watch_from_a_resource_version_sees_added_modified_deleted_in_order(
    api: Backend, ns: str
) -> None:
    coll = path("configmaps", ns)
    rv = api.request("GET", coll).json()["metadata"]["resourceVersion"]
    created = api.create(coll, configmap("w", data={"v": "1"}))
    updated = api.request(
        "PUT", path("configmaps", ns, "w"), body=dict(created, data={"v": "2"})
    ).json()
    assert api.request("DELETE", path("configmaps", ns, "w")).status == 200
    # Only "w": the root-CA publisher may add kube-root-ca.crt at any time.
    query = {
        "watch": "true",
        "resourceVersion": rv,
        "timeoutSeconds": 30,
        "fieldSelector": "metadata.name=w",
    }
    with api.stream(coll, query=query) as s:
        assert s.status == 200
        assert (s.header("Content-Type") or "").startswith("application/json")
        got = []
        for ev in s.events(60):
            got.append(ev)
            if len(got) == 3:
                break
    assert [e["type"] for e in got] == ["ADDED", "MODIFIED", "DELETED"]
    assert [e["object"]["data"]["v"] for e in got] == ["1", "2", "2"]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in got]
    assert rvs[0] == int(created["metadata"]["resourceVersion"])
    assert rvs[1] == int(updated["metadata"]["resourceVersion"])
    assert rvs[0] < rvs[1] < rvs[2]
    for e in got:
        assert e["object"]["kind"] == "ConfigMap" and e["object"]["apiVersion"] == "v1"


def test_legacy_watch_path_with_a_name_sees_only_that_object(api: Backend, ns: str) -> None:
    """The legacy /watch/ path with a name watches that object only."""
    coll = path("configmaps", ns)
    rv = api.request("GET", coll).json()["metadata"]["resourceVersion"]
    api.create(coll, configmap("other"))
    api.create(coll, configmap("mine"))
    with api.stream(
        f"/api/v1/watch/namespaces/{ns}/configmaps/mine",
        query={"resourceVersion": rv, "timeoutSeconds": 30},
    ) as s:
        first = next(s.events(60))
    assert first["type"] == "ADDED" and first["object"]["metadata"]["name"] == "mine"


def test_watch_from_a_compacted_resource_version_is_one_410_error_event_in_a_200_stream(
    api: Backend, ns: str
) -> None:
    target = api.expired_target(ns, ["e0", "e1"])
    query = {"watch": "true", "resourceVersion": target.old_rv, "timeoutSeconds": 30}
    with api.stream(target.path, query=query) as s:
        assert s.status == 200
        events = list(s.events(60))  # the server ends the stream after the error
    assert len(events) == 1, events
    assert events[0]["type"] == "ERROR"
    assert events[0]["object"] == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": Match(rf"too old resource version: {target.old_rv} \(\d+\)"),
        "reason": "Expired",
        "code": 410,
    }
    floor = int(re.findall(r"\((\d+)\)", events[0]["object"]["message"])[0])
    assert floor > target.old_rv


def test_watch_list_ends_its_initial_events_with_an_annotated_bookmark(
    api: Backend, ns: str
) -> None:
    coll = path("configmaps", ns)
    api.create(coll, configmap("init"))
    query = {
        "watch": "true",
        "sendInitialEvents": "true",
        "resourceVersionMatch": "NotOlderThan",
        "allowWatchBookmarks": "true",
        "fieldSelector": "metadata.name=init",
        "timeoutSeconds": 30,
    }
    with api.stream(coll, query=query) as s:
        got = []
        for ev in s.events(60):
            got.append(ev)
            if ev["type"] == "BOOKMARK":
                break
    assert [e["type"] for e in got] == ["ADDED", "BOOKMARK"]
    assert got[0]["object"]["metadata"]["name"] == "init"
    assert got[1]["object"] == {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {
            "resourceVersion": Match(r"\d+"),
            "annotations": {"k8s.io/initial-events-end": "true"},
        },
    }


def test_a_bookmark_that_arrives_carries_only_kind_api_version_and_resource_version(
    api: Backend, ns: str
) -> None:
    """Bookmarks come when the server likes (about once a minute on the real one): the shape is
    checked if one arrives within the wait, nothing is assumed about when."""
    api.wait_for_root_ca(ns)  # then nothing changes among the namespace's ConfigMaps
    coll = path("configmaps", ns)
    rv = api.request("GET", coll).json()["metadata"]["resourceVersion"]
    query = {
        "watch": "true",
        "resourceVersion": rv,
        "allowWatchBookmarks": "true",
        "timeoutSeconds": 5,
    }
    with api.stream(coll, query=query) as s:
        events = list(s.events(30))
    for ev in events:
        assert ev["type"] == "BOOKMARK", ev  # nothing else changed in the namespace
        assert ev["object"] == {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": Match(r"\d+")},
        }


def test_watch_with_an_unparsable_resource_version_is_500_without_a_reason(
    api: Backend, ns: str
) -> None:
    for rv in ("abc", "-5"):
        resp = api.request(
            "GET", path("configmaps", ns), query={"watch": "true", "resourceVersion": rv}
        )
        expect_status(
            resp,
            500,
            None,
            f'resourceVersion: Invalid value: "{rv}": strconv.ParseUint: parsing "{rv}": invalid '
            "syntax",
        )


RVM = "resourceVersionMatch"


@pytest.mark.parametrize(
    ("query", "causes"),
    [
        (
            {"watch": "true", "sendInitialEvents": "true"},
            [
                (
                    "FieldValueForbidden",
                    "Forbidden: sendInitialEvents requires setting resourceVersionMatch to "
                    "NotOlderThan",
                    RVM,
                )
            ],
        ),
        (
            {"watch": "true", RVM: "Exact", "resourceVersion": "5"},
            [
                (
                    "FieldValueForbidden",
                    "Forbidden: resourceVersionMatch is forbidden for watch unless "
                    "sendInitialEvents is provided",
                    RVM,
                ),
                (
                    "FieldValueNotSupported",
                    'Unsupported value: "Exact": supported values: "NotOlderThan"',
                    RVM,
                ),
            ],
        ),
        (
            {RVM: "Exact"},
            [
                (
                    "FieldValueForbidden",
                    "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is "
                    "provided",
                    RVM,
                )
            ],
        ),
        (
            {RVM: "Newest", "resourceVersion": "5"},
            [
                (
                    "FieldValueNotSupported",
                    'Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", ""',
                    RVM,
                )
            ],
        ),
        (
            {"sendInitialEvents": "true"},
            [
                (
                    "FieldValueForbidden",
                    "Forbidden: sendInitialEvents is forbidden for list",
                    "sendInitialEvents",
                )
            ],
        ),
    ],
    ids=[
        "watchlist-without-match",
        "watch-exact",
        "list-match-without-rv",
        "list-unknown-match",
        "list-initial-events",
    ],
)
def test_list_and_watch_options_are_validated_422(
    api: Backend, ns: str, query: dict[str, str], causes: list[tuple[str, str, str]]
) -> None:
    resp = api.request("GET", path("configmaps", ns), query=query)
    expect_status(
        resp,
        422,
        "Invalid",
        f'ListOptions.meta.k8s.io "" is invalid: {_render(causes)}',
        invalid_details("", "ListOptions", causes, "meta.k8s.io"),
    )


@pytest.mark.parametrize("param", ["limit", "timeoutSeconds"])
def test_integer_query_parameter_that_is_not_a_number_is_400(
    api: Backend, ns: str, param: str
) -> None:
    query = {param: "x"}
    if param == "timeoutSeconds":
        query["watch"] = "true"
    resp = api.request("GET", path("configmaps", ns), query=query)
    expect_status(resp, 400, "BadRequest", 'strconv.ParseInt: parsing "x": invalid syntax')


def test_list_with_an_unparsable_resource_version_is_400(api: Backend, ns: str) -> None:
    resp = api.request("GET", path("configmaps", ns), query={"resourceVersion": "abc"})
    expect_status(
        resp,
        400,
        "BadRequest",
        'invalid resource version: resourceVersion: Invalid value: "abc": strconv.ParseUint: '
        'parsing "abc": invalid syntax',
    )


# ---------------------------------------------------------------------------- 8. Pagination


def test_limit_and_continue_page_through_the_namespace_with_remaining_item_counts(
    api: Backend, ns: str
) -> None:
    api.wait_for_root_ca(ns)  # the publisher's ConfigMap is part of the namespace's list
    coll = path("configmaps", ns)
    for i in range(7):
        api.create(coll, configmap(f"p{i}"))
    all_names = names(api.request("GET", coll))
    assert all_names == ["kube-root-ca.crt", *[f"p{i}" for i in range(7)]]
    pages: list[list[str]] = []
    remaining: list[int | None] = []
    rvs: set[str] = set()
    token = ""
    while True:
        query: dict[str, Any] = {"limit": 3}
        if token:
            query["continue"] = token
        resp = api.request("GET", coll, query=query)
        assert resp.status == 200, resp
        meta = resp.json()["metadata"]
        pages.append([i["metadata"]["name"] for i in resp.json()["items"]])
        remaining.append(meta.get("remainingItemCount"))
        rvs.add(meta["resourceVersion"])
        token = meta.get("continue", "")
        if not token:
            break
        # The token names the last key relative to the list: "/<name>\x00", at the list's RV.
        decoded = decode_continue(token)
        assert decoded == {
            "v": "meta.k8s.io/v1",
            "rv": int(meta["resourceVersion"]),
            "start": f"/{pages[-1][-1]}\x00",
        }
    assert pages == [["kube-root-ca.crt", "p0", "p1"], ["p2", "p3", "p4"], ["p5", "p6"]]
    assert remaining == [5, 2, None]
    assert len(rvs) == 1  # every page is read at the first page's resourceVersion
    # With a selector, the server cannot count what is left.
    resp = api.request("GET", coll, query={"limit": 3, "labelSelector": "x!=y"})
    meta = resp.json()["metadata"]
    assert "continue" in meta and "remainingItemCount" not in meta
    # limit=0 and negative limits mean "no limit".
    for limit in (0, -1):
        resp = api.request("GET", coll, query={"limit": limit})
        assert names(resp) == all_names and "continue" not in resp.json()["metadata"]


def _token_with_version(version: str) -> str:
    raw = json.dumps({"v": version, "rv": 5, "start": "/a\x00"}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("!!!", "continue key is not valid: illegal base64 data at input byte 0"),
        (
            "garbage",
            "continue key is not valid: invalid character '\\u0081' looking for beginning of value",
        ),
        (
            "WzFd",  # [1]
            "continue key is not valid: json: cannot unmarshal array into Go value of type "
            "storage.continueToken",
        ),
        (
            "eyJ2IjoxfQ",  # {"v":1}
            "continue key is not valid: json: cannot unmarshal number into Go struct field "
            "continueToken.v of type string",
        ),
        (
            _token_with_version("x"),
            "continue key is not valid: server does not recognize this encoded version x",
        ),
        (
            continue_token(0, "/a\x00"),
            "continue key is not valid: incorrect encoded start resourceVersion (version "
            "meta.k8s.io/v1)",
        ),
        (
            continue_token(5, ""),
            "continue key is not valid: encoded start key empty (version meta.k8s.io/v1)",
        ),
        (continue_token(5, "../a"), "continue key is not valid: ../a"),
    ],
    ids=[
        "not-base64",
        "not-json",
        "json-array",
        "version-number",
        "skip",
        "rv-zero",
        "empty-start",
        "traversal",
    ],
)
def test_garbage_continue_token_is_400_bad_request(
    api: Backend, ns: str, token: str, message: str
) -> None:
    resp = api.request("GET", path("configmaps", ns), query={"limit": 2, "continue": token})
    expect_status(resp, 400, "BadRequest", f"invalid continue token: {message}")


EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this response "
    "to retrieve the remainder of the results. Continuing with the provided token results in an "
    "inconsistent list - objects that were created, modified, or deleted between the time the "
    "first chunk was returned and now may show up in the list."
)


def test_continue_token_older_than_the_compaction_is_410_with_an_inconsistent_continue_token(
    api: Backend, ns: str
) -> None:
    target = api.expired_target(ns, ["a0", "a1", "a2", "a3"])
    token = continue_token(target.old_rv, "/a1\x00")
    resp = api.request("GET", target.path, query={"limit": 2, "continue": token})
    body = expect_status(resp, 410, "Expired", EXPIRED_CONTINUE, metadata={"continue": ANY})
    inconsistent = body["metadata"]["continue"]
    assert decode_continue(inconsistent) == {"v": "meta.k8s.io/v1", "rv": -1, "start": "a1\x00"}
    # The inconsistent token lists the remainder at the latest resourceVersion.
    resp = api.request("GET", target.path, query={"limit": 2, "continue": inconsistent})
    assert resp.status == 200, resp
    assert [i["metadata"]["name"] for i in resp.json()["items"]] == ["a2", "a3"]


def test_exact_list_at_a_compacted_resource_version_is_410_expired(api: Backend, ns: str) -> None:
    target = api.expired_target(ns, ["x0"])
    for query in (
        {"resourceVersion": target.old_rv, "resourceVersionMatch": "Exact"},
        {"resourceVersion": target.old_rv, "limit": 2},
    ):
        resp = api.request("GET", target.path, query=query)
        expect_status(resp, 410, "Expired", "The resourceVersion for the provided list is too old.")
    # NotOlderThan (and no match) serve the current state.
    resp = api.request("GET", target.path, query={"resourceVersion": target.old_rv})
    assert resp.status == 200, resp
    assert [
        i["metadata"]["name"] for i in resp.json()["items"] if i["metadata"]["name"] in target.names
    ] == ["x0"]


# ---------------------------------------------------------------------------- 9. Pod logs


@pytest.fixture
def log_pods(api: Backend, ns: str) -> dict[str, str]:
    """A running pod with four log lines, a pod nothing schedules, a pod stuck creating its
    container, and a pod with an init container and two containers."""
    api.wait_for_default_service_account(ns)
    coll = path("pods", ns)
    api.create(
        coll,
        pod(
            "running",
            annotations={
                "fakekube.io/log": "one\ntwo\nthree\nfour",
                "fakekube.io/run-seconds": "100000",
            },
        ),
    )
    api.create(coll, pod("unscheduled", schedulerName="no-such-scheduler"))
    api.create(coll, pod("creating", annotations={"fakekube.io/pending-seconds": "100000"}))
    multi = pod("multi", annotations={"fakekube.io/run-seconds": "100000"})
    multi["spec"]["initContainers"] = [{"name": "setup", "image": IMAGE}]
    multi["spec"]["containers"].append({"name": "side", "image": IMAGE})
    api.create(coll, multi)
    wait_for(
        lambda: (
            api.request("GET", path("pods", ns, "running", "log")).body
            == b"one\ntwo\nthree\nfour\n"
        ),
        api.node_timeout,
        what="the running pod's four log lines",
    )
    wait_for(
        lambda: (p := api.get(path("pods", ns, "creating"))) and p["spec"].get("nodeName"),
        api.node_timeout,
        what="pod creating is scheduled",
    )
    return {"ns": ns}


def _log(api: Backend, ns: str, name: str, **query: Any) -> Response:
    return api.request("GET", path("pods", ns, name, "log"), query=query)


def test_log_of_a_container_not_in_the_pod_is_400(api: Backend, log_pods: dict[str, str]) -> None:
    ns = log_pods["ns"]
    for name in ("running", "unscheduled"):
        resp = _log(api, ns, name, container="nope")
        expect_status(resp, 400, "BadRequest", f"container nope is not valid for pod {name}")


def test_log_of_a_missing_pod_is_404(api: Backend, ns: str) -> None:
    resp = _log(api, ns, "missing")
    expect_status(resp, 404, "NotFound", 'pods "missing" not found', ref_details("missing", "pods"))


def test_log_of_a_multi_container_pod_needs_a_container_name(
    api: Backend, log_pods: dict[str, str]
) -> None:
    resp = _log(api, log_pods["ns"], "multi")
    expect_status(
        resp,
        400,
        "BadRequest",
        "a container name must be specified for pod multi, choose one of: [setup main side]",
    )


def test_log_with_both_since_time_and_since_seconds_is_422_forbidden(
    api: Backend, log_pods: dict[str, str]
) -> None:
    resp = _log(api, log_pods["ns"], "running", sinceTime="2024-01-01T00:00:00Z", sinceSeconds=5)
    msg = "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"
    expect_status(
        resp,
        422,
        "Invalid",
        f'PodLogOptions "running" is invalid: []: {msg}',
        invalid_details("running", "PodLogOptions", [("FieldValueForbidden", msg, "[]")]),
    )


@pytest.mark.parametrize(
    ("query", "causes"),
    [
        (
            {"tailLines": -1},
            [("tailLines", "Invalid value: -1: must be greater than or equal to 0")],
        ),
        ({"limitBytes": -1}, [("limitBytes", "Invalid value: -1: must be greater than 0")]),
        ({"limitBytes": 0}, [("limitBytes", "Invalid value: 0: must be greater than 0")]),
        ({"sinceSeconds": -1}, [("sinceSeconds", "Invalid value: -1: must be greater than 0")]),
        ({"sinceSeconds": 0}, [("sinceSeconds", "Invalid value: 0: must be greater than 0")]),
        (
            {"sinceSeconds": 0, "limitBytes": 0, "tailLines": -1},
            [
                ("tailLines", "Invalid value: -1: must be greater than or equal to 0"),
                ("limitBytes", "Invalid value: 0: must be greater than 0"),
                ("sinceSeconds", "Invalid value: 0: must be greater than 0"),
            ],
        ),
    ],
    ids=["tail", "limit-negative", "limit-zero", "since-negative", "since-zero", "all-three"],
)
def test_out_of_range_log_options_are_422_with_one_cause_each(
    api: Backend, log_pods: dict[str, str], query: dict[str, int], causes: list[tuple[str, str]]
) -> None:
    full = [("FieldValueInvalid", m, f) for f, m in causes]
    # Checked before anything about the pod's node: the unscheduled pod answers the same.
    for name in ("running", "unscheduled"):
        resp = _log(api, log_pods["ns"], name, **query)
        expect_status(
            resp,
            422,
            "Invalid",
            f'PodLogOptions "{name}" is invalid: {_render(full)}',
            invalid_details(name, "PodLogOptions", full),
        )


def test_log_options_that_do_not_parse_are_400(api: Backend, log_pods: dict[str, str]) -> None:
    ns = log_pods["ns"]
    expect_status(
        _log(api, ns, "running", tailLines="x"),
        400,
        "BadRequest",
        'strconv.ParseInt: parsing "x": invalid syntax',
    )
    expect_status(
        _log(api, ns, "running", sinceTime="yesterday"),
        400,
        "BadRequest",
        'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as '
        '"2006"',
    )


def test_log_of_a_pod_no_node_runs_is_204_no_content(
    api: Backend, log_pods: dict[str, str]
) -> None:
    resp = _log(api, log_pods["ns"], "unscheduled")
    assert resp.status == 204, resp
    assert resp.body == b""
    assert resp.header("Content-Type") is None
    assert HTTP_DATE.match(resp.header("Date") or ""), resp.header_list


def test_log_of_a_container_still_being_created_is_400_waiting_to_start(
    api: Backend, log_pods: dict[str, str]
) -> None:
    resp = _log(api, log_pods["ns"], "creating")
    expect_status(
        resp,
        400,
        "BadRequest",
        'container "main" in pod "creating" is waiting to start: ContainerCreating',
    )


def test_previous_log_of_a_container_that_never_restarted_is_400(
    api: Backend, log_pods: dict[str, str]
) -> None:
    resp = _log(api, log_pods["ns"], "running", previous="true")
    expect_status(
        resp, 400, "BadRequest", 'previous terminated container "main" in pod "running" not found'
    )


def test_log_tail_lines_limit_bytes_and_timestamps_of_a_running_pod(
    api: Backend, log_pods: dict[str, str]
) -> None:
    ns = log_pods["ns"]
    resp = _log(api, ns, "running")
    assert resp.status == 200 and (resp.header("Content-Type") or "").startswith("text/plain")
    assert resp.body == b"one\ntwo\nthree\nfour\n"
    assert _log(api, ns, "running", tailLines=2).body == b"three\nfour\n"
    assert _log(api, ns, "running", tailLines=0).body == b""
    assert _log(api, ns, "running", tailLines=10).body == b"one\ntwo\nthree\nfour\n"
    assert _log(api, ns, "running", limitBytes=6).body == b"one\ntw"
    assert _log(api, ns, "running", limitBytes=4).body == b"one\n"
    assert _log(api, ns, "running", tailLines=2, limitBytes=7).body == b"three\nf"
    stamped = _log(api, ns, "running", timestamps="true").body.splitlines(keepends=True)
    assert [LOG_STAMP.sub(b"", line) for line in stamped] == [
        b"one\n",
        b"two\n",
        b"three\n",
        b"four\n",
    ]
    assert all(LOG_STAMP.match(line) for line in stamped), stamped
    # sinceTime before the pod existed returns everything; far in the future, nothing.
    assert (
        _log(api, ns, "running", sinceTime="2000-01-01T00:00:00Z").body
        == b"one\ntwo\nthree\nfour\n"
    )
    assert _log(api, ns, "running", sinceTime="2999-01-01T00:00:00Z").body == b""
    # An init container that ran and exited has its (empty) log.
    resp = _log(api, ns, "multi", container="setup")
    assert resp.status == 200 and resp.body == b""


def test_followed_log_streams_the_lines_already_written(
    api: Backend, log_pods: dict[str, str]
) -> None:
    with api.stream(path("pods", log_pods["ns"], "running", "log"), query={"follow": "true"}) as s:
        assert s.status == 200
        lines = [s.next_line(30) for _ in range(4)]
    assert lines == [b"one\n", b"two\n", b"three\n", b"four\n"]


# ---------------------------------------------------------------------------- 10. Date header


def test_every_answer_has_an_rfc_7231_date_header(api: Backend, ns: str) -> None:
    api.create(path("configmaps", ns), configmap("d"))
    answers = [
        api.request("GET", "/version"),
        api.request("GET", "/no-such-path"),
        api.request("GET", path("configmaps", ns)),
        api.request("GET", path("configmaps", ns, "d")),
        api.request("GET", path("configmaps", ns, "missing")),
        api.request("POST", path("configmaps", ns), body=configmap("d")),
        api.request("POST", path("configmaps", ns), body=configmap("Bad")),
        api.request("GET", path("configmaps", ns), query={"fieldSelector": "spec.x=1"}),
        api.request("DELETE", path("configmaps", ns, "d")),
    ]
    with api.stream(path("configmaps", ns), query={"watch": "true", "timeoutSeconds": 1}) as s:
        answers.append(Response(s.status, s.header_list, b""))
    for resp in answers:
        date = resp.header("Date")
        assert date is not None and HTTP_DATE.match(date), (resp, resp.header_list)
        assert parsedate_to_datetime(date).tzinfo is not None


# ---------------------------------------------------------------------------- 11. Deletion


HOLD = "conformance.nfk8s.test/hold"


@pytest.fixture
def owned(api: Backend, ns: str) -> dict[str, Any]:
    """A suspended Job owning a ConfigMap (blockOwnerDeletion) that a finalizer of ours holds."""
    owner = api.create(path("jobs", ns), job("owner"))
    ref = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
        "blockOwnerDeletion": True,
    }
    dep = configmap(
        "dependent", metadata={"name": "dependent", "ownerReferences": [ref], "finalizers": [HOLD]}
    )
    api.create(path("configmaps", ns), dep)
    return {"ns": ns, "owner": owner}


def _release(api: Backend, ns: str, name: str) -> None:
    api.request(
        "PATCH",
        path("configmaps", ns, name),
        body={"metadata": {"finalizers": None}},
        content_type=MERGE_PATCH,
    )


def test_background_delete_removes_the_owner_at_once_and_then_its_dependent(
    api: Backend, owned: dict[str, Any]
) -> None:
    ns, owner = owned["ns"], owned["owner"]
    resp = api.request(
        "DELETE", path("jobs", ns, "owner"), body={"propagationPolicy": "Background"}
    )
    assert resp.status == 200, resp
    assert resp.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": "owner",
            "group": "batch",
            "kind": "jobs",
            "uid": owner["metadata"]["uid"],
        },
    }
    assert api.get(path("jobs", ns, "owner")) is None
    dep = wait_for(
        lambda: (
            (d := api.get(path("configmaps", ns, "dependent")))
            and d["metadata"].get("deletionTimestamp")
            and d
        ),
        api.node_timeout,
        what="the garbage collector deletes the dependent",
    )
    assert dep["metadata"]["finalizers"] == [HOLD]
    _release(api, ns, "dependent")
    wait_for(
        lambda: api.get(path("configmaps", ns, "dependent")) is None,
        api.node_timeout,
        what="dependent gone",
    )


def test_foreground_delete_keeps_the_owner_with_a_finalizer_until_its_dependent_is_gone(
    api: Backend, owned: dict[str, Any]
) -> None:
    ns = owned["ns"]
    resp = api.request(
        "DELETE", path("jobs", ns, "owner"), body={"propagationPolicy": "Foreground"}
    )
    assert resp.status == 200, resp
    out = resp.json()
    assert out["kind"] == "Job" and out["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert (
        out["metadata"]["deletionTimestamp"] and out["metadata"]["deletionGracePeriodSeconds"] == 0
    )
    # The collector deletes the dependent; our finalizer holds it, so the owner must wait.
    wait_for(
        lambda: (
            (d := api.get(path("configmaps", ns, "dependent")))
            and d["metadata"].get("deletionTimestamp")
        ),
        api.node_timeout,
        what="the garbage collector deletes the dependent",
    )
    still = api.get(path("jobs", ns, "owner"))
    assert still is not None and still["metadata"]["finalizers"] == ["foregroundDeletion"]
    _release(api, ns, "dependent")
    wait_for(
        lambda: api.get(path("jobs", ns, "owner")) is None, api.node_timeout, what="owner gone"
    )
    assert api.get(path("configmaps", ns, "dependent")) is None


@pytest.mark.parametrize("policy", ["Orphan", None])
def test_orphan_delete_keeps_the_dependent_without_its_owner_reference(
    api: Backend, owned: dict[str, Any], policy: str | None
) -> None:
    ns = owned["ns"]
    body = {"propagationPolicy": policy} if policy else None
    resp = api.request("DELETE", path("jobs", ns, "owner"), body=body)
    assert resp.status == 200, resp
    out = resp.json()
    assert out["kind"] == "Job" and out["metadata"]["finalizers"] == ["orphan"]
    assert out["metadata"]["deletionTimestamp"]
    warning = resp.header("Warning")
    if policy is None:  # batch/v1 Jobs orphan by default, and say so
        assert warning == (
            '299 - "child pods are preserved by default when jobs are deleted; set '
            "propagationPolicy=Background to remove them or set propagationPolicy=Orphan to "
            'suppress this warning"'
        )
    else:
        assert warning is None
    wait_for(
        lambda: api.get(path("jobs", ns, "owner")) is None, api.node_timeout, what="owner gone"
    )
    dep = api.get(path("configmaps", ns, "dependent"))
    assert dep is not None
    assert "ownerReferences" not in dep["metadata"] and "deletionTimestamp" not in dep["metadata"]
    _release(api, ns, "dependent")


def test_foreground_and_orphan_deletes_of_an_object_without_dependents_still_pass_by_a_finalizer(
    api: Backend, ns: str
) -> None:
    for policy, finalizer in (("Foreground", "foregroundDeletion"), ("Orphan", "orphan")):
        name = f"lone-{policy.lower()}"
        api.create(path("configmaps", ns), configmap(name))
        resp = api.request(
            "DELETE", path("configmaps", ns, name), body={"propagationPolicy": policy}
        )
        assert resp.status == 200, resp
        assert resp.json()["kind"] == "ConfigMap"
        assert resp.json()["metadata"]["finalizers"] == [finalizer]
        wait_for(
            lambda name=name: api.get(path("configmaps", ns, name)) is None,
            api.node_timeout,
            what=f"{name} gone",
        )


def test_delete_with_mismatched_preconditions_is_409_conflict(
    api: Backend, owned: dict[str, Any]
) -> None:
    ns, owner = owned["ns"], owned["owner"]
    other = "00000000-0000-0000-0000-000000000000"
    resp = api.request("DELETE", path("jobs", ns, "owner"), body={"preconditions": {"uid": other}})
    expect_status(
        resp,
        409,
        "Conflict",
        'Operation cannot be fulfilled on Job.batch "owner": the UID in the precondition '
        f"({other}) "
        f"does not match the UID in record ({owner['metadata']['uid']}). The object might have "
        "been deleted and then recreated",
        ref_details("owner", "Job", "batch"),
    )
    current = api.get(path("jobs", ns, "owner"))
    assert current is not None
    resp = api.request(
        "DELETE", path("jobs", ns, "owner"), body={"preconditions": {"resourceVersion": "1"}}
    )
    expect_status(
        resp,
        409,
        "Conflict",
        Match(
            r'Operation cannot be fulfilled on Job\.batch "owner": the ResourceVersion in the '
            r"precondition \(1\) does not match the ResourceVersion in record \(\d+\)\. The object "
            r"might have been modified"
        ),
        ref_details("owner", "Job", "batch"),
    )
    # A ConfigMap's conflict names its Kind the same way (core group: no suffix).
    resp = api.request(
        "DELETE", path("configmaps", ns, "dependent"), body={"preconditions": {"uid": other}}
    )
    expect_status(
        resp,
        409,
        "Conflict",
        Match(r'Operation cannot be fulfilled on ConfigMap "dependent": .*'),
        ref_details("dependent", "ConfigMap"),
    )
    # Matching preconditions delete.
    resp = api.request(
        "DELETE",
        path("jobs", ns, "owner"),
        body={
            "preconditions": {"uid": owner["metadata"]["uid"]},
            "propagationPolicy": "Background",
        },
    )
    assert resp.status == 200, resp
    _release(api, ns, "dependent")


@pytest.mark.parametrize(
    ("query", "body", "cause"),
    [
        (
            None,
            {"propagationPolicy": "Sideways"},
            (
                "FieldValueNotSupported",
                'Unsupported value: "Sideways": supported values: "Foreground", "Background", '
                '"Orphan", "nil"',
                "propagationPolicy",
            ),
        ),
        (
            {"propagationPolicy": "Foreground", "orphanDependents": "true"},
            None,
            (
                "FieldValueInvalid",
                'Invalid value: "Foreground": orphanDependents and deletionPropagation cannot be '
                "both set",
                "propagationPolicy",
            ),
        ),
    ],
    ids=["unknown-policy", "policy-and-orphan"],
)
def test_invalid_delete_options_are_422(
    api: Backend,
    ns: str,
    query: dict[str, str] | None,
    body: dict[str, Any] | None,
    cause: tuple[str, str, str],
) -> None:
    api.create(path("configmaps", ns), configmap("del"))
    resp = api.request("DELETE", path("configmaps", ns, "del"), query=query, body=body)
    expect_status(
        resp,
        422,
        "Invalid",
        f'DeleteOptions.meta.k8s.io "" is invalid: {cause[2]}: {cause[1]}',
        invalid_details("", "DeleteOptions", [cause], "meta.k8s.io"),
    )
    assert api.get(path("configmaps", ns, "del")) is not None


def test_negative_grace_period_deletes_a_configmap_like_zero(api: Backend, ns: str) -> None:
    created = api.create(path("configmaps", ns), configmap("g"))
    resp = api.request("DELETE", path("configmaps", ns, "g"), query={"gracePeriodSeconds": -5})
    assert resp.status == 200, resp
    assert resp.json()["details"] == {
        "name": "g",
        "kind": "configmaps",
        "uid": created["metadata"]["uid"],
    }


# ---------------------------------------------------------------------------- 12. Request limits


def test_request_body_over_3_mib_is_413_request_entity_too_large(api: Backend, ns: str) -> None:
    body = configmap("huge", data={"a": "x" * (3 * 1024 * 1024 + 10)})
    resp = api.request("POST", path("configmaps", ns), body=body)
    expect_status(resp, 413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")
    assert api.get(path("configmaps", ns, "huge")) is None


@pytest.mark.parametrize(
    ("content_type", "message", "details"),
    [
        (
            "text/plain",
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json, application/yaml, application/vnd.kubernetes.protobuf",
            None,
        ),
    ],
)
def test_create_with_an_unsupported_content_type_is_415(
    api: Backend, ns: str, content_type: str, message: str, details: Any
) -> None:
    resp = api.request(
        "POST", path("configmaps", ns), body=configmap("ct"), content_type=content_type
    )
    expect_status(resp, 415, "UnsupportedMediaType", message, details)


def test_patch_with_a_plain_json_content_type_is_415(api: Backend, ns: str) -> None:
    api.create(path("configmaps", ns), configmap("p"))
    resp = api.request("PATCH", path("configmaps", ns, "p"), body={"data": {"a": "1"}})
    expect_status(resp, 415, "UnsupportedMediaType", "415: Unsupported Media Type", {})
