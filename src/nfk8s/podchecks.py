"""Would the namespace admit and fit the driver pod? Pure judgements for ``nfk8s doctor``.

Pod Security: the subset of the Pod Security Standards (v1.37) that a driver pod can
break, checked for the namespace's ``enforce`` level. ``baseline``: no host namespaces,
privileged containers, hostPath volumes, host ports, added capabilities beyond the
default set, or an ``Unconfined`` seccomp profile. ``restricted`` adds: volumes of the
allowed types only, ``allowPrivilegeEscalation: false``, ``runAsNonRoot: true`` and no
UID 0, a ``RuntimeDefault`` or ``Localhost`` seccomp profile, and capabilities dropping
``ALL`` (adding ``NET_BIND_SERVICE`` at most). AppArmor, SELinux, sysctls and /proc mount
types are not checked: nothing nfk8s sets touches them.

ResourceQuota and LimitRange: the pod's effective requests and limits (the larger of the
biggest init container and the sum of the containers, as the scheduler and quota count
them) against each quota's ``hard - used`` and each range's ``min``/``max``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from nfk8s.inputs import quantity_value

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
LEVELS = ("privileged", "baseline", "restricted")
BASELINE_CAPABILITIES = frozenset(
    {
        *("AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD"),
        *("NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"),
    }
)
RESTRICTED_VOLUMES = frozenset(
    {
        *("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral"),
        *("persistentVolumeClaim", "projected", "secret"),
    }
)
COMPUTE = ("cpu", "memory")


def enforce_level(namespace: Mapping[str, Any]) -> str:
    """The namespace's enforced Pod Security level; none set means ``privileged``."""
    labels = (namespace.get("metadata") or {}).get("labels") or {}
    level = str(labels.get(ENFORCE_LABEL) or "privileged")
    return level if level in LEVELS else "restricted"  # an unknown level is refused as strictest


def _containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def pod_security_violations(spec: Mapping[str, Any], level: str) -> list[str]:
    """What in pod ``spec`` the Pod Security ``level`` refuses, one phrase each."""
    if level not in ("baseline", "restricted"):
        return []
    found = _baseline(spec)
    if level == "restricted":
        found += _restricted(spec)
    return list(dict.fromkeys(found))


def _baseline(spec: Mapping[str, Any]) -> list[str]:
    found = [f"{f}=true" for f in ("hostNetwork", "hostPID", "hostIPC") if spec.get(f)]
    found += [
        f"hostPath volume {v.get('name')!r}" for v in spec.get("volumes") or [] if "hostPath" in v
    ]
    pod_seccomp = ((spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
    if pod_seccomp == "Unconfined":
        found.append("seccompProfile Unconfined")
    for c in _containers(spec):
        name, sc = c.get("name"), c.get("securityContext") or {}
        if sc.get("privileged"):
            found.append(f"privileged container {name!r}")
        extra = set((sc.get("capabilities") or {}).get("add") or []) - BASELINE_CAPABILITIES
        if extra:
            found.append(f"container {name!r} adds capabilities {sorted(extra)}")
        if any(p.get("hostPort") for p in c.get("ports") or []):
            found.append(f"container {name!r} uses a host port")
        if (sc.get("seccompProfile") or {}).get("type") == "Unconfined":
            found.append(f"container {name!r} has seccompProfile Unconfined")
    return found


def _restricted(spec: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for v in spec.get("volumes") or []:
        kinds = set(v) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            found.append(f"volume {v.get('name')!r} of type {sorted(kinds - RESTRICTED_VOLUMES)}")
    pod = spec.get("securityContext") or {}
    if pod.get("runAsUser") == 0:
        found.append("runAsUser 0")
    for c in _containers(spec):
        name, sc = c.get("name"), c.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is not False:
            found.append(f"container {name!r} does not set allowPrivilegeEscalation: false")
        if not sc.get("runAsNonRoot", pod.get("runAsNonRoot")):
            found.append(f"container {name!r} does not set runAsNonRoot: true")
        if sc.get("runAsUser") == 0:
            found.append(f"container {name!r} runs as UID 0")
        seccomp = (sc.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"container {name!r} has no RuntimeDefault seccompProfile")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            found.append(f"container {name!r} does not drop ALL capabilities")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            found.append(f"container {name!r} adds capabilities besides NET_BIND_SERVICE")
    return found


# -- resources ------------------------------------------------------------------------


def _amount(container: Mapping[str, Any], kind: str, resource: str) -> Decimal:
    value = ((container.get("resources") or {}).get(kind) or {}).get(resource)
    return quantity_value(str(value)) if value is not None else Decimal(0)


def pod_amounts(spec: Mapping[str, Any], kind: str) -> dict[str, Decimal]:
    """The pod's effective ``requests`` or ``limits`` of cpu and memory."""
    out: dict[str, Decimal] = {}
    for resource in COMPUTE:
        main = sum((_amount(c, kind, resource) for c in spec.get("containers") or []), Decimal(0))
        init = max(
            (_amount(c, kind, resource) for c in spec.get("initContainers") or []),
            default=Decimal(0),
        )
        out[resource] = max(main, init)
    return out


def quota_demand(spec: Mapping[str, Any], *, secret: bool = False) -> dict[str, Decimal]:
    """What one run takes from a ResourceQuota, by the quota's resource names."""
    requests, limits = pod_amounts(spec, "requests"), pod_amounts(spec, "limits")
    demand = {"pods": Decimal(1), "count/pods": Decimal(1), "count/jobs.batch": Decimal(1)}
    demand |= {"configmaps": Decimal(1), "count/configmaps": Decimal(1)}
    if secret:
        demand |= {"secrets": Decimal(1), "count/secrets": Decimal(1)}
    for resource in COMPUTE:
        demand[resource] = demand[f"requests.{resource}"] = requests[resource]
        demand[f"limits.{resource}"] = limits[resource]
    return demand


def show(resource: str, value: Decimal) -> str:
    """A quantity for people: ``500m``, ``2``, ``1.5Gi``."""
    if resource.endswith("cpu"):
        return f"{value * 1000:.0f}m" if value != value.to_integral_value() else f"{value:.0f}"
    if resource.endswith("memory"):
        for unit, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
            if value >= size:
                return f"{(value / size).normalize():f}{unit}"
    return f"{value.normalize():f}"


def quota_shortfalls(quota: Mapping[str, Any], demand: Mapping[str, Decimal]) -> list[str]:
    """Where ``quota`` has less left than ``demand`` asks for, one phrase each."""
    hard = (quota.get("spec") or {}).get("hard") or {}
    used = (quota.get("status") or {}).get("used") or {}
    found = []
    for resource, limit in hard.items():
        if resource not in demand or not demand[resource]:
            continue
        left = quantity_value(str(limit)) - quantity_value(str(used.get(resource, "0")))
        if demand[resource] > left:
            found.append(
                f"{resource}: {show(resource, demand[resource])} needed, "
                f"{show(resource, max(left, Decimal(0)))} left of {limit}"
            )
    return found


def limit_range_violations(limit_range: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    """Where the pod's requests and limits fall outside ``limit_range``'s min and max."""
    found = []
    for item in (limit_range.get("spec") or {}).get("limits") or []:
        kind = item.get("type")
        if kind == "Container":
            subjects = [(f"container {c.get('name')!r}", c) for c in _containers(spec)]
        elif kind == "Pod":
            subjects = [("the pod", None)]
        else:
            continue
        for who, container in subjects:
            found += _bounds(item, who, container, spec)
    return found


def _bounds(
    item: Mapping[str, Any], who: str, container: Mapping[str, Any] | None, spec: Mapping[str, Any]
) -> Iterable[str]:
    for resource in COMPUTE:
        if container is None:
            request = pod_amounts(spec, "requests")[resource]
            limit = pod_amounts(spec, "limits")[resource]
        else:
            request = _amount(container, "requests", resource)
            limit = _amount(container, "limits", resource)
        low = (item.get("min") or {}).get(resource)
        high = (item.get("max") or {}).get(resource)
        if low is not None and request < quantity_value(str(low)):
            yield f"{who}: {resource} request {show(resource, request)} is below the minimum {low}"
        if high is not None and limit > quantity_value(str(high)):
            yield f"{who}: {resource} limit {show(resource, limit)} is above the maximum {high}"
