"""A deny-rule table standing in for RBAC: everything is allowed unless a rule denies it."""

from __future__ import annotations

import threading
from dataclasses import dataclass

USER = "fake-user"
TOKEN = "fake-token"


@dataclass(frozen=True)
class DenyRule:
    verb: str  # "*" for any
    resource: str  # "*" for any
    namespace: str | None = None  # None for any
    subresource: str | None = None  # None: the rule covers the resource itself only
    name: str | None = None

    def matches(
        self, verb: str, resource: str, namespace: str, subresource: str, name: str
    ) -> bool:
        if self.verb not in ("*", verb):
            return False
        if self.resource not in ("*", resource):
            return False
        if self.namespace is not None and self.namespace != namespace:
            return False
        if (self.subresource or "") not in ("*", subresource or ""):
            return False
        return self.name is None or self.name == name


class Rbac:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[DenyRule] = []

    def deny(
        self,
        verb: str,
        resource: str,
        namespace: str | None = None,
        subresource: str | None = None,
        *,
        name: str | None = None,
    ) -> DenyRule:
        """Deny ``verb`` on ``resource`` (``pods/log`` also names a subresource)."""
        if "/" in resource and subresource is None:
            resource, subresource = resource.split("/", 1)
        rule = DenyRule(verb, resource, namespace, subresource, name)
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove(self, rule: DenyRule) -> None:
        with self._lock:
            if rule in self._rules:
                self._rules.remove(rule)

    def allow_all(self) -> None:
        with self._lock:
            self._rules.clear()

    def allowed(
        self,
        verb: str,
        resource: str,
        namespace: str = "",
        subresource: str = "",
        name: str = "",
    ) -> bool:
        with self._lock:
            return not any(
                r.matches(verb, resource, namespace, subresource, name) for r in self._rules
            )

    @property
    def rules(self) -> list[DenyRule]:
        with self._lock:
            return list(self._rules)


def forbidden_message(
    verb: str, resource: str, group: str, namespace: str, name: str, subresource: str
) -> str:
    """responsewriters.Forbidden: ``<resource>[.<group>] ["<name>"] is forbidden: User ...``."""
    res = f"{resource}/{subresource}" if subresource else resource
    qualified = f"{resource}.{group}" if group else resource
    who = f'{qualified} "{name}"' if name else qualified
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    return (
        f'{who} is forbidden: User "{USER}" cannot {verb} resource "{res}" in API group '
        f'"{group}" {scope}'
    )
