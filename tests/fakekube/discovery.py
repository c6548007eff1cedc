"""The resource types the fake server serves, and the discovery documents describing them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SERVER_VERSION = {
    "major": "1",
    "minor": "37",
    "emulationMajor": "1",
    "emulationMinor": "37",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "36",
    "gitVersion": "v1.37.0-fakekube",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.25.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}

CRUD = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    name: str  # plural, the URL segment
    singular: str
    kind: str
    group: str
    version: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = CRUD
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    # Whether DELETE answers with the deleted object (pods) or a Success Status (most).
    returns_deleted_object: bool = False
    has_generation: bool = False
    field_selectors: tuple[str, ...] = field(default=())
    # Which field label conversion the type registers, so which message an unsupported field
    # selector gets: "meta" (the default: metadata.name/namespace only), "core" (core/v1 types
    # with their own function), "job".
    field_label_style: str = "meta"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """``leases.coordination.k8s.io`` or ``configmaps``: how error messages name it."""
        return f"{self.name}.{self.group}" if self.group else self.name


_COMMON_FIELDS = ("metadata.name", "metadata.namespace")

RESOURCES: dict[str, ResourceType] = {
    r.name: r
    for r in (
        ResourceType(
            "namespaces",
            "namespace",
            "Namespace",
            "",
            "v1",
            namespaced=False,
            short_names=("ns",),
            verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
            subresources=("status",),
            returns_deleted_object=True,
            field_selectors=("metadata.name", "status.phase"),
            field_label_style="core",
        ),
        ResourceType(
            "pods",
            "pod",
            "Pod",
            "",
            "v1",
            namespaced=True,
            short_names=("po",),
            subresources=("status", "log"),
            categories=("all",),
            returns_deleted_object=True,
            has_generation=True,
            field_selectors=(
                *_COMMON_FIELDS,
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.podIPs",
                "status.nominatedNodeName",
            ),
            field_label_style="core",
        ),
        ResourceType(
            "configmaps",
            "configmap",
            "ConfigMap",
            "",
            "v1",
            namespaced=True,
            short_names=("cm",),
            field_selectors=_COMMON_FIELDS,
        ),
        ResourceType(
            "events",
            "event",
            "Event",
            "",
            "v1",
            namespaced=True,
            short_names=("ev",),
            field_selectors=(
                *_COMMON_FIELDS,
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "source",
                "type",
            ),
            field_label_style="core",
        ),
        ResourceType(
            "persistentvolumeclaims",
            "persistentvolumeclaim",
            "PersistentVolumeClaim",
            "",
            "v1",
            namespaced=True,
            short_names=("pvc",),
            subresources=("status",),
            returns_deleted_object=True,
            field_selectors=_COMMON_FIELDS,
        ),
        ResourceType(
            "secrets",
            "secret",
            "Secret",
            "",
            "v1",
            namespaced=True,
            field_selectors=(*_COMMON_FIELDS, "type"),
            field_label_style="core",
        ),
        ResourceType(
            "serviceaccounts",
            "serviceaccount",
            "ServiceAccount",
            "",
            "v1",
            namespaced=True,
            short_names=("sa",),
            field_selectors=_COMMON_FIELDS,
        ),
        ResourceType(
            "leases",
            "lease",
            "Lease",
            "coordination.k8s.io",
            "v1",
            namespaced=True,
            field_selectors=_COMMON_FIELDS,
        ),
        ResourceType(
            "jobs",
            "job",
            "Job",
            "batch",
            "v1",
            namespaced=True,
            subresources=("status",),
            categories=("all",),
            has_generation=True,
            field_selectors=(*_COMMON_FIELDS, "status.successful"),
            field_label_style="job",
        ),
        ResourceType(
            "selfsubjectaccessreviews",
            "selfsubjectaccessreview",
            "SelfSubjectAccessReview",
            "authorization.k8s.io",
            "v1",
            namespaced=False,
            verbs=("create",),
        ),
    )
}

# Resources by (group, version) as served under /api/v1 and /apis/<group>/<version>.
GROUP_VERSIONS: dict[tuple[str, str], list[ResourceType]] = {}
for _r in RESOURCES.values():
    GROUP_VERSIONS.setdefault((_r.group, _r.version), []).append(_r)

# Subresource verbs as a real server reports them.
_SUBRESOURCE_VERBS = {"status": ("get", "patch", "update"), "log": ("get",)}


def lookup(group: str, version: str, plural: str) -> ResourceType | None:
    r = RESOURCES.get(plural)
    if r is None or r.group != group or r.version != version:
        return None
    return r


def api_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def api_group_list() -> dict[str, Any]:
    groups = sorted({g for g, _ in GROUP_VERSIONS if g})
    out = []
    for g in groups:
        versions = [v for gg, v in GROUP_VERSIONS if gg == g]
        gv = [{"groupVersion": f"{g}/{v}", "version": v} for v in versions]
        out.append({"name": g, "versions": gv, "preferredVersion": gv[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": out}


def api_group(group: str) -> dict[str, Any] | None:
    versions = [v for g, v in GROUP_VERSIONS if g == group]
    if not versions:
        return None
    gv = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": gv,
        "preferredVersion": gv[0],
    }


def _resource_entries(r: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": r.name,
        "singularName": r.singular,
        "namespaced": r.namespaced,
        "kind": r.kind,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        main["shortNames"] = list(r.short_names)
    if r.categories:
        main["categories"] = list(r.categories)
    entries = [main]
    for sub in r.subresources:
        entries.append(
            {
                "name": f"{r.name}/{sub}",
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": "Pod" if sub == "log" else r.kind,
                "verbs": list(_SUBRESOURCE_VERBS.get(sub, ("get",))),
            }
        )
    return entries


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    resources = GROUP_VERSIONS.get((group, version))
    if resources is None:
        return None
    entries: list[dict[str, Any]] = []
    for r in sorted(resources, key=lambda x: x.name):
        entries.extend(_resource_entries(r))
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": entries,
    }


def aggregated_discovery(core: bool) -> dict[str, Any]:
    """apidiscovery.k8s.io/v2 APIGroupDiscoveryList for /api (core) or /apis (groups)."""
    items = []
    groups = [""] if core else sorted({g for g, _ in GROUP_VERSIONS if g})
    for g in groups:
        versions = []
        for (gg, v), resources in GROUP_VERSIONS.items():
            if gg != g:
                continue
            res = []
            for r in sorted(resources, key=lambda x: x.name):
                entry: dict[str, Any] = {
                    "resource": r.name,
                    "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                    "scope": "Namespaced" if r.namespaced else "Cluster",
                    "singularResource": r.singular,
                    "verbs": list(r.verbs),
                }
                if r.short_names:
                    entry["shortNames"] = list(r.short_names)
                if r.categories:
                    entry["categories"] = list(r.categories)
                subs = []
                for sub in r.subresources:
                    kind = "Pod" if sub == "log" else r.kind
                    subs.append(
                        {
                            "subresource": sub,
                            "responseKind": {"group": r.group, "version": r.version, "kind": kind},
                            "verbs": list(_SUBRESOURCE_VERBS.get(sub, ("get",))),
                        }
                    )
                if subs:
                    entry["subresources"] = subs
                res.append(entry)
            versions.append({"version": v, "resources": res, "freshness": "Current"})
        items.append({"metadata": {"name": g, "creationTimestamp": None}, "versions": versions})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def openapi_v3_root() -> dict[str, Any]:
    """The /openapi/v3 index kubectl reads to learn that fieldValidation is supported."""
    return {
        "paths": {
            _gv_path(g, v): {"serverRelativeURL": f"/openapi/v3/{_gv_path(g, v)}?hash=fakekube"}
            for g, v in GROUP_VERSIONS
        }
    }


_QUERY_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")


def openapi_v3_group_version(path: str) -> dict[str, Any] | None:
    """A skeletal OpenAPI v3 document: paths with their PATCH operations and parameters.

    It carries no schemas: kubectl only needs to see which query parameters exist.
    """
    for (g, v), resources in GROUP_VERSIONS.items():
        if _gv_path(g, v) != path:
            continue
        paths: dict[str, Any] = {}
        prefix = "/" + path
        for r in resources:
            if "patch" not in r.verbs:
                continue
            item = (
                f"{prefix}/namespaces/{{namespace}}/{r.name}/{{name}}"
                if r.namespaced
                else f"{prefix}/{r.name}/{{name}}"
            )
            gvk = {"group": r.group, "version": r.version, "kind": r.kind}
            paths[item] = {
                "patch": {
                    "parameters": [
                        {
                            "name": p,
                            "in": "query",
                            "schema": {"type": "string", "uniqueItems": True},
                        }
                        for p in _QUERY_PARAMS
                    ],
                    "operationId": f"patch{r.kind}",
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": gvk,
                    "responses": {"200": {"description": "OK"}},
                },
            }
        return {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.37.0"},
            "paths": paths,
            "components": {"schemas": {}},
        }
    return None
