"""What fails when kube-apiserver decodes a request body, before any validation: 400 BadRequest
``<Kind> in version "<v>" cannot be handled as a <Kind>: <Go error>``.

Covered: an apiVersion/kind the endpoint does not take, JSON values of the wrong type in the
fields the fake's types have (``json: cannot unmarshal number into Go struct field
ConfigMap.data of type string``), ``metav1.Time``/``MicroTime`` strings that Go's
``time.Parse`` rejects, and ``binaryData`` that is not base64.
"""

from __future__ import annotations

from typing import Any

from tests.fakekube.discovery import RESOURCES, ResourceType
from tests.fakekube.gotime import RFC3339, RFC3339_MICRO, parse_error
from tests.fakekube.store import go_base64_error, go_json_type

_SCHEME = 'in scheme "pkg/runtime/scheme.go:111"'
# The internal API group names used in conversion errors.
_INTERNAL_GROUP = {"": "core", "batch": "batch", "coordination.k8s.io": "coordination"}


class _Fail(Exception):
    pass


def _type_error(value: Any, struct: str, path: str, go_type: str) -> _Fail:
    return _Fail(
        f"json: cannot unmarshal {go_json_type(value)} into Go struct field "
        f"{struct}.{path} of type {go_type}"
    )


def _string(obj: dict[str, Any], key: str, struct: str, path: str) -> None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise _type_error(value, struct, path, "string")


def _string_map(obj: dict[str, Any], key: str, struct: str, path: str) -> None:
    value = obj.get(key)
    if value is None:
        return
    if not isinstance(value, dict):
        raise _type_error(value, struct, path, "map[string]string")
    for v in value.values():
        if v is not None and not isinstance(v, str):
            raise _type_error(v, struct, path, "string")


def _int(obj: dict[str, Any], key: str, struct: str, path: str, go_type: str) -> None:
    value = obj.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise _type_error(value, struct, path, go_type)


def _time(obj: dict[str, Any], key: str, struct: str, path: str, layout: str) -> None:
    value = obj.get(key)
    if value is None:
        return
    if not isinstance(value, str):
        raise _type_error(value, struct, path, "string")
    err = parse_error(layout, value)
    if err:
        raise _Fail(err)


def _metadata(obj: dict[str, Any]) -> None:
    meta = obj.get("metadata")
    if meta is None:
        return
    if not isinstance(meta, dict):
        raise _type_error(meta, "", "metadata", "v1.ObjectMeta")
    for key in ("name", "generateName", "namespace", "uid", "resourceVersion"):
        _string(meta, key, "ObjectMeta", f"metadata.{key}")
    for key in ("labels", "annotations"):
        _string_map(meta, key, "ObjectMeta", f"metadata.{key}")


def _configmap(obj: dict[str, Any]) -> None:
    _string_map(obj, "data", "ConfigMap", "data")
    binary = obj.get("binaryData")
    if binary is None:
        return
    if not isinstance(binary, dict):
        raise _type_error(binary, "ConfigMap", "binaryData", "map[string][]uint8")
    for v in binary.values():
        if v is None:
            continue
        if not isinstance(v, str):
            raise _type_error(v, "ConfigMap", "binaryData", "[]uint8")
        pos = go_base64_error(v)
        if pos is not None:
            raise _Fail(f"illegal base64 data at input byte {pos}")


def _lease(obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    _string(spec, "holderIdentity", "LeaseSpec", "spec.holderIdentity")
    for key in ("leaseDurationSeconds", "leaseTransitions"):
        _int(spec, key, "LeaseSpec", f"spec.{key}", "int32")
    for key in ("acquireTime", "renewTime"):
        _time(spec, key, "LeaseSpec", f"spec.{key}", RFC3339_MICRO)


def _event(obj: dict[str, Any]) -> None:
    for key in ("reason", "message", "type"):
        _string(obj, key, "Event", key)
    for key in ("firstTimestamp", "lastTimestamp"):
        _time(obj, key, "Event", key, RFC3339)
    _time(obj, "eventTime", "Event", "eventTime", RFC3339_MICRO)


_CHECKS = {"configmaps": _configmap, "leases": _lease, "events": _event}


def decode_error(rt: ResourceType, obj: Any) -> str | None:
    """The 400 message kube-apiserver gives for decoding ``obj`` at ``rt``'s endpoint, or None."""
    if not isinstance(obj, dict):
        return None
    kind = obj.get("kind") or rt.kind
    api_version = obj.get("apiVersion") or rt.api_version
    version = api_version.rsplit("/", 1)[-1]
    prefix = f'{kind} in version "{version}" cannot be handled as a {rt.kind}: '
    try:
        if api_version != rt.api_version:
            raise _Fail(f'no kind "{kind}" is registered for version "{api_version}" {_SCHEME}')
        if kind != rt.kind:
            known = {r.kind for r in RESOURCES.values() if r.api_version == api_version}
            if kind not in known:
                raise _Fail(f'no kind "{kind}" is registered for version "{api_version}" {_SCHEME}')
            raise _Fail(
                f"converting ({version}.{kind}) to ({_INTERNAL_GROUP.get(rt.group, rt.group)}."
                f"{rt.kind}): unknown conversion"
            )
        _metadata(obj)
        check = _CHECKS.get(rt.name)
        if check is not None:
            check(obj)
    except _Fail as exc:
        return prefix + str(exc)
    return None
