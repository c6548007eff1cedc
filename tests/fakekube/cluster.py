"""In-process ClusterAPI over the store: what the simulator and controllers call.

Requests made here bypass HTTP, so they are not in the request log and never meet RBAC
or injected faults.
"""

from __future__ import annotations

from typing import Any

from tests.fakekube.api import StatusError
from tests.fakekube.selectors import SelectorError, parse_label_selector
from tests.fakekube.store import Store


class InProcessAPI:
    """Implements ``tests.fakekube.api.ClusterAPI``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def create(self, resource: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        return self._store.create(resource, namespace, obj)

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        return self._store.get(resource, namespace, name)

    def get_status(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        return self._store.get(resource, namespace, name)

    def list(
        self, resource: str, namespace: str, *, label_selector: str = ""
    ) -> list[dict[str, Any]]:
        try:
            sel = parse_label_selector(label_selector)
        except SelectorError as exc:
            raise StatusError(400, "BadRequest", str(exc)) from None
        items = self._store.list(resource, namespace or None, label_selector=sel).items
        rt_kind, api_version = _kind_of(resource)
        for item in items:
            # Unlike list responses on the wire, callers here get whole objects.
            item["kind"] = rt_kind
            item["apiVersion"] = api_version
        return items

    def replace(self, resource: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        name = (obj.get("metadata") or {}).get("name", "")
        return self._store.update(resource, namespace, name, obj)

    def replace_status(self, resource: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        name = (obj.get("metadata") or {}).get("name", "")
        return self._store.update(resource, namespace, name, obj, subresource="status")

    def patch(
        self, resource: str, namespace: str, name: str, patch: Any, *, patch_type: str = "merge"
    ) -> dict[str, Any]:
        return self._store.patch(resource, namespace, name, patch_type, patch)

    def delete(
        self,
        resource: str,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
    ) -> dict[str, Any]:
        return self._store.delete(
            resource,
            namespace,
            name,
            grace_period_seconds=grace_period_seconds,
            propagation_policy=propagation_policy,
        ).obj


def _kind_of(resource: str) -> tuple[str, str]:
    from tests.fakekube.discovery import RESOURCES

    rt = RESOURCES[resource]
    return rt.kind, rt.api_version
