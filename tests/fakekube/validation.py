"""Create/update validation with the field paths, reasons and messages of a real apiserver."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.fakekube.api import StatusError
from tests.fakekube.discovery import ResourceType
from tests.fakekube.selectors import label_value_errors, qualified_name_errors

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

DNS_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
    "[a-z0-9])?)*')"
)
DNS_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
CONFIGMAP_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
    "'[-._a-zA-Z0-9]+')"
)
MAX_CONFIGMAP_BYTES = 1024 * 1024
MAX_ANNOTATIONS_BYTES = 256 * 1024

# Resources whose names must be DNS-1123 labels rather than subdomains.
_LABEL_NAMED = {"namespaces"}


@dataclass
class Cause:
    field: str
    reason: str  # FieldValueInvalid, FieldValueRequired, FieldValueTooLong, ...
    message: str  # the part after "<field>: "

    def render(self) -> str:
        return f"{self.field}: {self.message}"


def _quote(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def invalid(field: str, value: Any, detail: str) -> Cause:
    return Cause(field, "FieldValueInvalid", f"Invalid value: {_quote(value)}: {detail}")


def required(field: str, detail: str = "") -> Cause:
    return Cause(field, "FieldValueRequired", "Required value" + (f": {detail}" if detail else ""))


def too_long(field: str, limit: int, unit: str = "bytes") -> Cause:
    return Cause(field, "FieldValueTooLong", f"Too long: may not be more than {limit} {unit}")


def unsupported(field: str, value: Any, supported: list[str]) -> Cause:
    sv = ", ".join(_quote(s) for s in supported)
    return Cause(
        field,
        "FieldValueNotSupported",
        f"Unsupported value: {_quote(value)}: supported values: {sv}",
    )


def forbidden(field: str, detail: str) -> Cause:
    return Cause(field, "FieldValueForbidden", f"Forbidden: {detail}")


def immutable(field: str, value: Any = None) -> Cause:
    msg = "field is immutable"
    if value is not None:
        msg = f"Invalid value: {_quote(value)}: field is immutable"
    return Cause(field, "FieldValueInvalid", msg)


def qualified_kind(rt: ResourceType) -> str:
    return f"{rt.kind}.{rt.group}" if rt.group else rt.kind


def invalid_status(group: str, kind: str, name: str, causes: list[Cause]) -> StatusError:
    """errors.NewInvalid: identical causes are reported once."""
    unique: list[Cause] = []
    for c in causes:
        if all(c.render() != u.render() or c.reason != u.reason for u in unique):
            unique.append(c)
    rendered = [c.render() for c in unique]
    body = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
    qualified = f"{kind}.{group}" if group else kind
    return StatusError(
        422,
        "Invalid",
        f'{qualified} "{name}" is invalid: {body}',
        details={
            "name": name,
            "group": group,
            "kind": kind,
            "causes": [
                {"reason": c.reason, "message": c.message, "field": c.field} for c in unique
            ],
        },
    )


def invalid_error(rt: ResourceType, name: str, causes: list[Cause]) -> StatusError:
    return invalid_status(rt.group, rt.kind, name, causes)


def name_causes(name: str, field: str, *, label: bool) -> list[Cause]:
    limit = 63 if label else 253
    causes: list[Cause] = []
    if len(name) > limit:
        causes.append(invalid(field, name, f"must be no more than {limit} characters"))
    pattern = _DNS_LABEL if label else _DNS_SUBDOMAIN
    if not pattern.match(name):
        causes.append(invalid(field, name, DNS_LABEL_MSG if label else DNS_SUBDOMAIN_MSG))
    return causes


def _labels_causes(labels: Any, field: str) -> list[Cause]:
    causes: list[Cause] = []
    if labels is None:
        return causes
    if not isinstance(labels, dict):
        return [invalid(field, str(labels), "must be a map of string keys to string values")]
    for k, v in labels.items():
        causes.extend(invalid(field, k, e) for e in qualified_name_errors(k))
        if not isinstance(v, str):
            causes.append(invalid(f"{field}", str(v), "label values must be strings"))
            continue
        causes.extend(invalid(field, v, e) for e in label_value_errors(v))
    return causes


def _annotations_causes(annotations: Any, field: str) -> list[Cause]:
    causes: list[Cause] = []
    if not annotations:
        return causes
    total = 0
    for k, v in annotations.items():
        causes.extend(invalid(field, k, e) for e in qualified_name_errors(k.lower()))
        total += len(k) + len(str(v))
    if total > MAX_ANNOTATIONS_BYTES:
        causes.append(
            Cause(
                field,
                "FieldValueTooLong",
                f"Too long: may not be more than {MAX_ANNOTATIONS_BYTES} bytes",
            )
        )
    return causes


def metadata_causes(rt: ResourceType, meta: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    name = meta.get("name") or ""
    generate = meta.get("generateName") or ""
    if generate:
        # Validated as a prefix: a trailing "-" is allowed (apimachinery's maskTrailingDash).
        masked = generate[:-2] + "a" if len(generate) > 1 and generate.endswith("-") else generate
        causes.extend(
            Cause(c.field, c.reason, c.message.replace(_quote(masked), _quote(generate), 1))
            for c in name_causes(masked, "metadata.generateName", label=rt.name in _LABEL_NAMED)
        )
    if not name:
        causes.append(required("metadata.name", "name or generateName is required"))
    else:
        causes.extend(name_causes(name, "metadata.name", label=rt.name in _LABEL_NAMED))
    causes.extend(_labels_causes(meta.get("labels"), "metadata.labels"))
    causes.extend(_annotations_causes(meta.get("annotations"), "metadata.annotations"))
    for i, ref in enumerate(meta.get("ownerReferences") or []):
        for key in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(key):
                causes.append(required(f"metadata.ownerReferences[{i}].{key}"))
    return causes


def _container_causes(containers: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not containers:
        return [required(path)]
    seen: set[str] = set()
    for i, c in enumerate(containers):
        cpath = f"{path}[{i}]"
        name = c.get("name") or ""
        if not name:
            causes.append(required(f"{cpath}.name"))
        else:
            causes.extend(name_causes(name, f"{cpath}.name", label=True))
            if name in seen:
                causes.append(
                    Cause(f"{cpath}.name", "FieldValueDuplicate", f'Duplicate value: "{name}"')
                )
            seen.add(name)
        if not c.get("image"):
            causes.append(required(f"{cpath}.image"))
        for j, env in enumerate(c.get("env") or []):
            if not env.get("name"):
                causes.append(required(f"{cpath}.env[{j}].name"))
    return causes


_RESTART_POLICIES = ["Always", "OnFailure", "Never"]


def pod_spec_causes(spec: Any, path: str) -> list[Cause]:
    if not isinstance(spec, dict):
        return [required(path)]
    causes = _container_causes(spec.get("containers"), f"{path}.containers")
    if spec.get("initContainers"):
        causes.extend(_container_causes(spec["initContainers"], f"{path}.initContainers"))
    rp = spec.get("restartPolicy")
    if rp is not None and rp not in _RESTART_POLICIES:
        causes.append(unsupported(f"{path}.restartPolicy", rp, _RESTART_POLICIES))
    vol_names: set[str] = set()
    for i, v in enumerate(spec.get("volumes") or []):
        vname = v.get("name") or ""
        if not vname:
            causes.append(required(f"{path}.volumes[{i}].name"))
        else:
            causes.extend(name_causes(vname, f"{path}.volumes[{i}].name", label=True))
        vol_names.add(vname)
    for field in ("containers", "initContainers"):
        for i, c in enumerate(spec.get(field) or []):
            for j, m in enumerate(c.get("volumeMounts") or []):
                mpath = f"{path}.{field}[{i}].volumeMounts[{j}]"
                if not m.get("mountPath"):
                    causes.append(required(f"{mpath}.mountPath"))
                if m.get("name") not in vol_names:
                    causes.append(
                        Cause(
                            f"{mpath}.name",
                            "FieldValueNotFound",
                            f"Not found: {_quote(m.get('name'))}",
                        )
                    )
    tgp = spec.get("terminationGracePeriodSeconds")
    if tgp is not None and (not isinstance(tgp, int) or tgp < 0):
        causes.append(
            invalid(
                f"{path}.terminationGracePeriodSeconds", tgp, "must be greater than or equal to 0"
            )
        )
    ads = spec.get("activeDeadlineSeconds")
    if ads is not None and (not isinstance(ads, int) or ads <= 0):
        causes.append(
            invalid(
                f"{path}.activeDeadlineSeconds", ads, "must be between 1 and 2147483647, inclusive"
            )
        )
    return causes


def _non_negative(spec: dict[str, Any], key: str, path: str) -> list[Cause]:
    v = spec.get(key)
    if v is None:
        return []
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        return [invalid(f"{path}.{key}", v, "must be greater than or equal to 0")]
    return []


def job_spec_causes(spec: Any) -> list[Cause]:
    if not isinstance(spec, dict):
        return [required("spec")]
    causes: list[Cause] = []
    for key in ("parallelism", "completions", "backoffLimit"):
        causes.extend(_non_negative(spec, key, "spec"))
    ads = spec.get("activeDeadlineSeconds")
    if ads is not None and (not isinstance(ads, int) or ads <= 0):
        causes.append(
            invalid("spec.activeDeadlineSeconds", ads, "must be greater than or equal to 1")
        )
    ttl = spec.get("ttlSecondsAfterFinished")
    if ttl is not None and (not isinstance(ttl, int) or ttl < 0):
        causes.append(
            invalid("spec.ttlSecondsAfterFinished", ttl, "must be greater than or equal to 0")
        )
    template = spec.get("template") or {}
    tmeta = template.get("metadata") or {}
    causes.extend(_labels_causes(tmeta.get("labels"), "spec.template.labels"))
    tspec = template.get("spec")
    if not tspec:
        causes.append(required("spec.template.spec.containers"))
        return causes
    causes.extend(pod_spec_causes(tspec, "spec.template.spec"))
    rp = tspec.get("restartPolicy")
    # A pod template defaulted to Always reads as "not set" (batch validation).
    if rp in (None, "", "Always"):
        causes.append(
            required("spec.template.spec.restartPolicy", 'valid values: "OnFailure", "Never"')
        )
    elif rp not in ("OnFailure", "Never"):
        causes.append(unsupported("spec.template.spec.restartPolicy", rp, ["OnFailure", "Never"]))
    cm = spec.get("completionMode")
    if cm is not None and cm not in ("NonIndexed", "Indexed"):
        causes.append(unsupported("spec.completionMode", cm, ["NonIndexed", "Indexed"]))
    return causes


def configmap_causes(obj: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    total = 0
    data = obj.get("data") or {}
    binary = obj.get("binaryData") or {}
    if not isinstance(data, dict):
        return [invalid("data", str(data), "must be a map")]
    for key, value in data.items():
        if not _CONFIGMAP_KEY.match(key) or key in (".", ".."):
            causes.append(invalid(f"data[{key}]", key, CONFIGMAP_KEY_MSG))
        if key in binary:
            causes.append(invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
        if not isinstance(value, str):
            causes.append(invalid(f"data[{key}]", str(value), "must be a string"))
            continue
        total += len(value.encode())
    for key, value in binary.items():
        if not _CONFIGMAP_KEY.match(key) or key in (".", ".."):
            causes.append(invalid(f"binaryData[{key}]", key, CONFIGMAP_KEY_MSG))
        # binaryData travels base64-encoded; the limit applies to the decoded bytes.
        total += len(value) * 3 // 4 - value[-2:].count("=") if value else 0
    if total > MAX_CONFIGMAP_BYTES:
        causes.append(too_long("[]", MAX_CONFIGMAP_BYTES))
    return causes


def secret_causes(obj: dict[str, Any]) -> list[Cause]:
    import base64
    import binascii

    causes: list[Cause] = []
    data = obj.get("data") or {}
    if not isinstance(data, dict):
        return [invalid("data", str(data), "must be a map")]
    total = 0
    for key, value in data.items():
        if not _CONFIGMAP_KEY.match(key) or key in (".", ".."):
            causes.append(invalid("data", key, CONFIGMAP_KEY_MSG))
        try:
            total += len(base64.b64decode(str(value), validate=True))
        except (binascii.Error, ValueError):
            causes.append(invalid(f"data[{key}]", "<secret contents redacted>", "illegal base64"))
    if total > MAX_CONFIGMAP_BYTES:
        causes.append(too_long("data", MAX_CONFIGMAP_BYTES))
    return causes


def lease_causes(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes: list[Cause] = []
    lds = spec.get("leaseDurationSeconds")
    if lds is not None and (not isinstance(lds, int) or lds <= 0):
        causes.append(invalid("spec.leaseDurationSeconds", lds, "must be greater than 0"))
    lt = spec.get("leaseTransitions")
    if lt is not None and (not isinstance(lt, int) or lt < 0):
        causes.append(invalid("spec.leaseTransitions", lt, "must be greater than or equal to 0"))
    return causes


def pvc_causes(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes: list[Cause] = []
    if not spec.get("accessModes"):
        causes.append(required("spec.accessModes", "at least 1 access mode is required"))
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if not storage:
        causes.append(required("spec.resources[storage]"))
    return causes


def event_causes(obj: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    if not (obj.get("involvedObject") or {}).get("kind") and not obj.get("regarding"):
        causes.append(required("involvedObject.kind"))
    return causes


def object_causes(rt: ResourceType, obj: dict[str, Any]) -> list[Cause]:
    """All validation problems with ``obj`` (already defaulted) for a create or update."""
    causes = metadata_causes(rt, obj.get("metadata") or {})
    if rt.name == "pods":
        causes.extend(pod_spec_causes(obj.get("spec"), "spec"))
    elif rt.name == "jobs":
        causes.extend(job_spec_causes(obj.get("spec")))
    elif rt.name == "configmaps":
        causes.extend(configmap_causes(obj))
    elif rt.name == "leases":
        causes.extend(lease_causes(obj))
    elif rt.name == "secrets":
        causes.extend(secret_causes(obj))
    elif rt.name == "persistentvolumeclaims":
        causes.extend(pvc_causes(obj))
    elif rt.name == "events":
        causes.extend(event_causes(obj))
    return causes


def _strip_mutable_pod_fields(spec: dict[str, Any]) -> dict[str, Any]:
    s = dict(spec)
    s.pop("activeDeadlineSeconds", None)
    s.pop("tolerations", None)
    s["containers"] = [
        {k: v for k, v in c.items() if k != "image"} for c in s.get("containers") or []
    ]
    s["initContainers"] = [
        {k: v for k, v in c.items() if k != "image"} for c in s.get("initContainers") or []
    ]
    return s


def update_causes(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    """Problems with changing ``old`` into ``new`` (immutable fields)."""
    causes: list[Cause] = []
    if rt.name == "pods":
        os_, ns_ = old.get("spec") or {}, new.get("spec") or {}
        if _strip_mutable_pod_fields(os_) != _strip_mutable_pod_fields(ns_):
            causes.append(
                forbidden(
                    "spec",
                    "pod updates may not change fields other than `spec.containers[*].image`,"
                    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                    "`spec.tolerations` (only additions to existing tolerations),"
                    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                    "previously negative)",
                )
            )
    elif rt.name == "jobs":
        os_, ns_ = old.get("spec") or {}, new.get("spec") or {}
        if os_.get("template") != ns_.get("template"):
            causes.append(immutable("spec.template"))
        if os_.get("selector") != ns_.get("selector"):
            causes.append(immutable("spec.selector"))
        if os_.get("completions") != ns_.get("completions"):
            causes.append(immutable("spec.completions", ns_.get("completions")))
        if os_.get("completionMode") != ns_.get("completionMode"):
            causes.append(immutable("spec.completionMode", ns_.get("completionMode")))
    elif (
        rt.name in {"configmaps", "secrets"}
        and old.get("immutable")
        and (old.get("data") != new.get("data") or old.get("binaryData") != new.get("binaryData"))
    ):
        causes.append(forbidden("data", "field is immutable when `immutable` is set"))
    return causes
