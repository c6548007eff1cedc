"""``driver_pod_patch``: a YAML or JSON file merged into the driver's pod template.

The patch is a pod template: ``metadata`` (``labels``, ``annotations``) and ``spec``.
It merges the way ``kubectl patch --type strategic`` does for the parts a driver pod has:

- maps merge key by key, recursively; a ``null`` value removes the key;
- lists of ``containers``, ``initContainers``, ``volumes``, ``env``, ``imagePullSecrets``
  merge item by item on ``name``, and ``volumeMounts`` on ``mountPath``; an item whose
  key is new is appended, and ``{"name": X, "$patch": "delete"}`` removes item X;
- every other list (``tolerations``, ``args``...) is replaced whole.

What carries the run cannot be patched, so nfk8s refuses, at plan time and before it
writes anything, a patch that changes a container's ``command``/``args``/``workingDir``,
removes or changes nfk8s's volumes or their mounts, changes ``restartPolicy`` or
``serviceAccountName`` (the runner ServiceAccount is a setting Nextflow's config also
names), or sets nfk8s's or Nextflow's labels. A container the pod does not have must be a
whole container (with an ``image``); unknown pod-spec fields and wrong types are refused.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from nfk8s.errors import BadInput
from nfk8s.inputs import parse_yaml, read_text_file
from nfk8s.podshape import RESERVED_PREFIXES

DELETE = "$patch"
HINT = "fix the driver_pod_patch file (see README: Shaping the driver pod)"
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "volumes": "name",
    "env": "name",
    "imagePullSecrets": "name",
    "volumeMounts": "mountPath",
}
# The fields of a v1 PodSpec; anything else is a typo the API server would reject later.
POD_SPEC_FIELDS = frozenset(
    [
        "activeDeadlineSeconds",
        "affinity",
        "automountServiceAccountToken",
        "containers",
        "dnsConfig",
        "dnsPolicy",
        "enableServiceLinks",
        "ephemeralContainers",
        "hostAliases",
        "hostIPC",
        "hostNetwork",
        "hostPID",
        "hostUsers",
        "hostname",
        "imagePullSecrets",
        "initContainers",
        "nodeName",
        "nodeSelector",
        "os",
        "overhead",
        "preemptionPolicy",
        "priority",
        "priorityClassName",
        "readinessGates",
        "resourceClaims",
        "resources",
        "restartPolicy",
        "runtimeClassName",
        "schedulerName",
        "schedulingGates",
        "securityContext",
        "serviceAccount",
        "serviceAccountName",
        "setHostnameAsFQDN",
        "shareProcessNamespace",
        "subdomain",
        "terminationGracePeriodSeconds",
        "tolerations",
        "topologySpreadConstraints",
        "volumes",
    ]
)
CONTAINER_FIELDS = frozenset(
    [
        "args",
        "command",
        "env",
        "envFrom",
        "image",
        "imagePullPolicy",
        "lifecycle",
        "livenessProbe",
        "name",
        "ports",
        "readinessProbe",
        "resizePolicy",
        "resources",
        "restartPolicy",
        "securityContext",
        "startupProbe",
        "stdin",
        "stdinOnce",
        "terminationMessagePath",
        "terminationMessagePolicy",
        "tty",
        "volumeDevices",
        "volumeMounts",
        "workingDir",
    ]
)
FIXED_POD_FIELDS = ("restartPolicy", "serviceAccountName", "serviceAccount")
FIXED_CONTAINER_FIELDS = ("command", "args", "workingDir")


def load_patch(path: str) -> dict[str, Any]:
    """The patch in ``path``, checked for shape (not yet against a pod)."""
    text = read_text_file(path, what="driver pod patch", hint=HINT)
    data = parse_yaml(text, what=f"driver pod patch {path!r}", hint=HINT)
    return check_shape(data, where=f"driver pod patch {path}")


def check_shape(data: Any, *, where: str = "driver pod patch") -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInput(f"{where} holds a {type(data).__name__}, not a pod template", hint=HINT)
    unknown = sorted(set(data) - {"metadata", "spec"})
    if unknown:
        raise BadInput(
            f"{where} has unknown top-level fields {unknown}",
            hint="a pod template has only metadata (labels, annotations) and spec",
        )
    metadata = _mapping(data.get("metadata"), f"{where}: metadata")
    bad = sorted(set(metadata) - {"labels", "annotations"})
    if bad:
        raise BadInput(f"{where}: metadata may hold labels and annotations, not {bad}", hint=HINT)
    for part in ("labels", "annotations"):
        for key, value in _mapping(metadata.get(part), f"{where}: metadata.{part}").items():
            if value is not None and not isinstance(value, str):
                raise BadInput(f"{where}: metadata.{part}.{key} must be text", hint=HINT)
            if part == "labels" and str(key).startswith(RESERVED_PREFIXES):
                raise BadInput(
                    f"{where}: the label {key!r} belongs to nfk8s or Nextflow", hint=HINT
                )
    spec = _mapping(data.get("spec"), f"{where}: spec")
    unknown = sorted(k for k in spec if k not in POD_SPEC_FIELDS)
    if unknown:
        raise BadInput(f"{where}: spec has unknown fields {unknown}", hint=HINT)
    for kind in ("volumes", "imagePullSecrets"):
        _named_items(spec.get(kind), f"{where}: spec.{kind}", "name")
    for kind in ("containers", "initContainers"):
        for item in _named_items(spec.get(kind), f"{where}: spec.{kind}", "name"):
            for part in ("env", "volumeMounts"):
                _named_items(item.get(part), f"{where}: {item['name']}.{part}", MERGE_KEYS[part])
            bad = sorted(k for k in item if k not in CONTAINER_FIELDS and k != DELETE)
            if bad:
                raise BadInput(
                    f"{where}: {kind} {item['name']!r} has unknown fields {bad}", hint=HINT
                )
    return data


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadInput(f"{where} must be a map, not a {type(value).__name__}", hint=HINT)
    return value


def _named_items(value: Any, where: str, key: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadInput(f"{where} must be a list, not a {type(value).__name__}", hint=HINT)
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get(key), str) or not item[key]:
            raise BadInput(f"{where}: every item needs a {key}", hint=HINT)
        if DELETE in item and item[DELETE] != "delete":
            raise BadInput(f"{where}: {DELETE} may only be 'delete'", hint=HINT)
    return value


def merge(base: Any, patch: Any, *, field: str = "") -> Any:
    """``patch`` merged into ``base`` (neither changed), by the rules in the module doc."""
    if isinstance(patch, dict):
        if base is None:
            return _without_directives(patch)
        if not isinstance(base, dict):
            raise BadInput(f"driver pod patch: {field} must not be a map", hint=HINT)
        out = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = merge(out.get(key), value, field=key)
        return out
    if isinstance(patch, list):
        if base is not None and not isinstance(base, list):
            raise BadInput(f"driver pod patch: {field} must not be a list", hint=HINT)
        if base is not None and field in MERGE_KEYS:
            return _merge_list(base, patch, MERGE_KEYS[field], field)
        return _without_directives(patch)
    if isinstance(base, dict | list):
        kind = "map" if isinstance(base, dict) else "list"
        raise BadInput(f"driver pod patch: {field} must be a {kind}", hint=HINT)
    return patch


def _merge_list(base: list[Any], patch: list[Any], key: str, field: str) -> list[dict[str, Any]]:
    out = [copy.deepcopy(item) for item in base]
    for item in _named_items(patch, f"driver pod patch: {field}", key):
        index = next((i for i, old in enumerate(out) if old.get(key) == item[key]), None)
        if item.get(DELETE) == "delete":
            if index is not None:
                out.pop(index)
            continue
        if index is None:
            out.append(_without_directives(item))
        else:
            out[index] = merge(out[index], item, field=field)
    return out


def _without_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_directives(v) for k, v in value.items() if k != DELETE and v is not None
        }
    if isinstance(value, list):
        return [
            _without_directives(v)
            for v in value
            if not (isinstance(v, dict) and v.get(DELETE) == "delete")
        ]
    return value


def apply(template: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """The pod template with ``patch`` merged in, refusing what would break the run."""
    if not patch:
        return dict(template)
    spec = patch.get("spec") or {}
    base_spec = template.get("spec") or {}
    for name in FIXED_POD_FIELDS:
        if name in spec and spec[name] != base_spec.get(name):
            raise BadInput(
                f"driver pod patch changes spec.{name}, which nfk8s sets for the run",
                hint="set runner_service_account instead"
                if name.startswith("serviceAccount")
                else HINT,
            )
    own_volumes = {v["name"] for v in base_spec.get("volumes") or []}
    for item in spec.get("volumes") or []:
        if item["name"] in own_volumes:
            raise BadInput(
                f"driver pod patch changes the volume {item['name']!r}, which carries the run",
                hint="add volumes under other names",
            )
    for kind in ("containers", "initContainers"):
        _check_containers(base_spec.get(kind) or [], spec.get(kind) or [], kind, own_volumes)
    return dict(merge(dict(template), dict(patch)))


def _check_containers(
    base: list[dict[str, Any]], patch: list[dict[str, Any]], kind: str, own_volumes: set[str]
) -> None:
    by_name = {c["name"]: c for c in base}
    for item in patch:
        name = item["name"]
        old = by_name.get(name)
        if old is None:
            if item.get(DELETE) != "delete" and not item.get("image"):
                known = ", ".join(by_name) or "none"
                raise BadInput(
                    f"driver pod patch names the {kind[:-1]} {name!r}, which the driver pod "
                    f"does not have (it has {known}), and is not a whole container",
                    hint="name one of the pod's containers, or give a new one an image",
                )
            continue
        if item.get(DELETE) == "delete":
            raise BadInput(f"driver pod patch deletes nfk8s's {kind[:-1]} {name!r}", hint=HINT)
        for field in FIXED_CONTAINER_FIELDS:
            if field in item and item[field] != old.get(field):
                raise BadInput(
                    f"driver pod patch changes {field} of the {kind[:-1]} {name!r}, which "
                    "runs the pipeline",
                    hint="pass Nextflow options after -- on `nfk8s run` instead",
                )
        own_mounts = {m["mountPath"]: m for m in old.get("volumeMounts") or []}
        for mount in _named_items(item.get("volumeMounts"), f"{name}: volumeMounts", "mountPath"):
            if mount["mountPath"] in own_mounts or mount.get("name") in own_volumes:
                raise BadInput(
                    f"driver pod patch changes the mount {mount['mountPath']!r} of {name!r}, "
                    "which carries the run",
                    hint="mount other volumes at other paths",
                )
