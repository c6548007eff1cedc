"""A log of every HTTP request the server answered, for assertions about client traffic."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    verb: str  # get/list/watch/create/update/patch/delete/deletecollection ("" off-API)
    resource: str
    subresource: str
    namespace: str
    name: str
    query: dict[str, str] = field(hash=False)
    status: int
    timestamp: float  # server clock, epoch seconds
    group: str = ""


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def __iter__(self):
        return iter(self.all())

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def all(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def filter(
        self,
        *,
        verb: str | None = None,
        resource: str | None = None,
        subresource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        status: int | None = None,
    ) -> list[RequestRecord]:
        if resource and "/" in resource and subresource is None:
            resource, subresource = resource.split("/", 1)
        out = []
        for r in self.all():
            if verb is not None and r.verb != verb:
                continue
            if resource is not None and r.resource != resource:
                continue
            if subresource is not None and r.subresource != subresource:
                continue
            if namespace is not None and r.namespace != namespace:
                continue
            if name is not None and r.name != name:
                continue
            if status is not None and r.status != status:
                continue
            out.append(r)
        return out

    def count(self, verb: str | None = None, resource: str | None = None, **kw: str | int) -> int:
        return len(self.filter(verb=verb, resource=resource, **kw))  # type: ignore[arg-type]

    def writes(self) -> list[RequestRecord]:
        return [r for r in self.all() if r.verb in WRITE_VERBS]

    def summary(self) -> dict[tuple[str, str], int]:
        """Requests per (verb, resource[/subresource])."""
        c: Counter[tuple[str, str]] = Counter()
        for r in self.all():
            res = f"{r.resource}/{r.subresource}" if r.subresource else r.resource
            c[(r.verb, res)] += 1
        return dict(sorted(c.items()))

    def table(self) -> str:
        """The summary as aligned text, handy in assertion messages."""
        rows = [(v, res, str(n)) for (v, res), n in self.summary().items()]
        if not rows:
            return "(no requests)"
        w0 = max(len(r[0]) for r in rows)
        w1 = max(len(r[1]) for r in rows)
        return "\n".join(f"{v:<{w0}}  {res:<{w1}}  {n}" for v, res, n in rows)
