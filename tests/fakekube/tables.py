"""Server-side printing: the meta.k8s.io/v1 Table that ``kubectl get`` asks for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fakekube.discovery import ResourceType
from tests.fakekube.util import parse_time

Row = list[Any]


def human_duration(seconds: float) -> str:
    """apimachinery's duration.HumanDuration."""
    s = int(seconds)
    if s < 0:
        return "<invalid>"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if h < 24 * 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    if d < 365 * 8:
        return f"{d // 365}y{d % 365}d" if d % 365 else f"{d // 365}y"
    return f"{d // 365}y"


def _age(obj: dict[str, Any], now: float) -> str:
    ts = obj["metadata"].get("creationTimestamp")
    return human_duration(now - parse_time(ts)) if ts else "<unknown>"


def _col(name: str, type_: str = "string", fmt: str = "", priority: int = 0) -> dict[str, Any]:
    return {"name": name, "type": type_, "format": fmt, "description": name, "priority": priority}


def _pod_status(pod: dict[str, Any]) -> str:
    st = pod.get("status") or {}
    reason = st.get("reason") or st.get("phase") or "Pending"
    for cs in st.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated", {}).get("reason"):
            reason = state["terminated"]["reason"]
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _pod_row(pod: dict[str, Any], now: float) -> Row:
    st = pod.get("status") or {}
    statuses = st.get("containerStatuses") or []
    total = len(pod["spec"].get("containers") or [])
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(int(cs.get("restartCount", 0)) for cs in statuses)
    return [
        pod["metadata"]["name"],
        f"{ready}/{total}",
        _pod_status(pod),
        str(restarts),
        _age(pod, now),
        st.get("podIP") or "<none>",
        pod["spec"].get("nodeName") or "<none>",
        "<none>",
        "<none>",
    ]


def _job_status(job: dict[str, Any]) -> str:
    conds = {
        c["type"]: c
        for c in (job.get("status") or {}).get("conditions") or []
        if c["status"] == "True"
    }
    if job["metadata"].get("deletionTimestamp"):
        return "Terminating"
    for t, label in (
        ("Complete", "Complete"),
        ("Failed", "Failed"),
        ("FailureTarget", "FailureTarget"),
        ("SuccessCriteriaMet", "SuccessCriteriaMet"),
        ("Suspended", "Suspended"),
    ):
        if t in conds:
            return label
    return "Running"


def _job_row(job: dict[str, Any], now: float) -> Row:
    st = job.get("status") or {}
    spec = job["spec"]
    completions = spec.get("completions")
    comp = (
        f"{st.get('succeeded', 0)}/{completions}"
        if completions is not None
        else f"{st.get('succeeded', 0)}/1 of {spec.get('parallelism', 1)}"
    )
    duration = ""
    if st.get("startTime"):
        end = parse_time(st["completionTime"]) if st.get("completionTime") else now
        duration = human_duration(end - parse_time(st["startTime"]))
    tspec = (spec.get("template") or {}).get("spec") or {}
    containers = tspec.get("containers") or []
    sel = ",".join(
        f"{k}={v}" for k, v in ((spec.get("selector") or {}).get("matchLabels") or {}).items()
    )
    return [
        job["metadata"]["name"],
        _job_status(job),
        comp,
        duration,
        _age(job, now),
        ",".join(c["name"] for c in containers),
        ",".join(c.get("image", "") for c in containers),
        sel,
    ]


def _event_row(ev: dict[str, Any], now: float) -> Row:
    last = ev.get("lastTimestamp") or ev.get("eventTime") or ev["metadata"].get("creationTimestamp")
    first = ev.get("firstTimestamp") or last
    inv = ev.get("involvedObject") or {}
    src = ev.get("source") or {}
    return [
        human_duration(now - parse_time(last)) if last else "<unknown>",
        ev.get("type", ""),
        ev.get("reason", ""),
        f"{inv.get('kind', '').lower()}/{inv.get('name', '')}",
        ev.get("message", ""),
        inv.get("fieldPath", ""),
        ", ".join(x for x in (src.get("component"), src.get("host")) if x),
        human_duration(now - parse_time(first)) if first else "<unknown>",
        ev.get("count", 1),
        ev["metadata"]["name"],
    ]


_TABLES: dict[str, tuple[list[dict[str, Any]], Callable[[dict[str, Any], float], Row]]] = {
    "pods": (
        [
            _col("Name", fmt="name"),
            _col("Ready"),
            _col("Status"),
            _col("Restarts"),
            _col("Age"),
            _col("IP", priority=1),
            _col("Node", priority=1),
            _col("Nominated Node", priority=1),
            _col("Readiness Gates", priority=1),
        ],
        _pod_row,
    ),
    "jobs": (
        [
            _col("Name", fmt="name"),
            _col("Status"),
            _col("Completions"),
            _col("Duration"),
            _col("Age"),
            _col("Containers", priority=1),
            _col("Images", priority=1),
            _col("Selector", priority=1),
        ],
        _job_row,
    ),
    "events": (
        [
            _col("Last Seen"),
            _col("Type"),
            _col("Reason"),
            _col("Object"),
            _col("Message"),
            _col("Subobject", priority=1),
            _col("Source", priority=1),
            _col("First Seen", priority=1),
            _col("Count", "integer", priority=1),
            _col("Name", fmt="name", priority=1),
        ],
        _event_row,
    ),
    "configmaps": (
        [_col("Name", fmt="name"), _col("Data", "integer"), _col("Age")],
        lambda o, now: [
            o["metadata"]["name"],
            len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            _age(o, now),
        ],
    ),
    "namespaces": (
        [_col("Name", fmt="name"), _col("Status"), _col("Age")],
        lambda o, now: [
            o["metadata"]["name"],
            (o.get("status") or {}).get("phase", ""),
            _age(o, now),
        ],
    ),
    "leases": (
        [_col("Name", fmt="name"), _col("Holder"), _col("Age")],
        lambda o, now: [
            o["metadata"]["name"],
            (o.get("spec") or {}).get("holderIdentity", ""),
            _age(o, now),
        ],
    ),
    "secrets": (
        [_col("Name", fmt="name"), _col("Type"), _col("Data", "integer"), _col("Age")],
        lambda o, now: [
            o["metadata"]["name"],
            o.get("type", "Opaque"),
            len(o.get("data") or {}),
            _age(o, now),
        ],
    ),
    "serviceaccounts": (
        [_col("Name", fmt="name"), _col("Secrets", "integer"), _col("Age")],
        lambda o, now: [o["metadata"]["name"], len(o.get("secrets") or []), _age(o, now)],
    ),
    "persistentvolumeclaims": (
        [
            _col("Name", fmt="name"),
            _col("Status"),
            _col("Volume"),
            _col("Capacity"),
            _col("Access Modes"),
            _col("StorageClass"),
            _col("VolumeAttributesClass"),
            _col("Age"),
            _col("VolumeMode", priority=1),
        ],
        lambda o, now: [
            o["metadata"]["name"],
            (o.get("status") or {}).get("phase", ""),
            (o.get("spec") or {}).get("volumeName", ""),
            ((o.get("status") or {}).get("capacity") or {}).get("storage", ""),
            ",".join(
                {
                    "ReadWriteOnce": "RWO",
                    "ReadWriteMany": "RWX",
                    "ReadOnlyMany": "ROX",
                    "ReadWriteOncePod": "RWOP",
                }.get(m, m)
                for m in (o.get("status") or {}).get("accessModes") or []
            ),
            (o.get("spec") or {}).get("storageClassName", ""),
            "<unset>",
            _age(o, now),
            (o.get("spec") or {}).get("volumeMode", ""),
        ],
    ),
}


def wants_table(accept: str) -> bool:
    first = accept.split(",", maxsplit=1)[0]
    return "as=Table" in first and "g=meta.k8s.io" in first


def _row_object(rt: ResourceType, obj: dict[str, Any], include: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        full = dict(obj)
        full.setdefault("kind", rt.kind)
        full.setdefault("apiVersion", rt.api_version)
        return full
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def to_table(
    rt: ResourceType,
    items: list[dict[str, Any]],
    now: float,
    *,
    include_object: str = "Metadata",
    resource_version: str = "",
    continue_token: str = "",
    columns: bool = True,
) -> dict[str, Any]:
    cols, row_fn = _TABLES.get(
        rt.name,
        ([_col("Name", fmt="name"), _col("Age")], lambda o, n: [o["metadata"]["name"], _age(o, n)]),
    )
    rows = []
    for obj in items:
        row: dict[str, Any] = {"cells": row_fn(obj, now)}
        ro = _row_object(rt, obj, include_object)
        if ro is not None:
            row["object"] = ro
        rows.append(row)
    meta: dict[str, Any] = {}
    if resource_version:
        meta["resourceVersion"] = resource_version
    if continue_token:
        meta["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": cols if columns else None,
        "rows": rows,
    }
