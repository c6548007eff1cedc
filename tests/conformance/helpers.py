"""A uniform raw-HTTP client over the fake and the real API server, and matchers for answers.

``Backend`` is what a conformance check talks to: ``request()`` sends one request and returns the
whole answer, ``stream()`` opens a watch or log stream whose lines are read with a deadline.
Everything a check needs that only one backend can do (making a resourceVersion expire, a user
without rights) is a method here with one implementation per backend, so the checks themselves
are identical for both.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import re
import secrets
import socket
import ssl
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tests.fakekube.util import poll_until

T = TypeVar("T")

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
# RFC 7231 IMF-fixdate, as Go's net/http writes it: "Sun, 06 Nov 1994 08:49:37 GMT".
HTTP_DATE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d\d:\d\d:\d\d GMT$"
)
# The kubelet's log timestamps: RFC 3339 with exactly nine fractional digits, in UTC.
LOG_STAMP = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")


# ---------------------------------------------------------------------------- answers


class Response:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.header_list = headers
        self.body = body

    def header(self, name: str) -> str | None:
        for k, v in self.header_list:
            if k.lower() == name.lower():
                return v
        return None

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.body[:300]!r}>"


class Stream:
    """An open streaming answer (watch, followed log); lines are read with a deadline."""

    def __init__(
        self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse, timeout: float
    ) -> None:
        self.conn = conn
        self.resp = resp
        self.status = resp.status
        self.header_list = resp.getheaders()
        self._timeout = timeout

    def header(self, name: str) -> str | None:
        return self.resp.getheader(name)

    def next_line(self, timeout: float) -> bytes | None:
        """The next line; b"" once the server ended the stream, None if nothing came in time."""
        sock = self.conn.sock
        if sock is not None:
            sock.settimeout(timeout)
        try:
            return self.resp.readline()
        except TimeoutError:
            return None
        except (http.client.IncompleteRead, ConnectionError):
            return b""

    def events(self, timeout: float) -> Iterator[dict[str, Any]]:
        """Watch events until the stream ends or ``timeout`` seconds pass without one."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            line = self.next_line(left)
            if not line:
                return
            yield json.loads(line)

    def read_to_end(self) -> bytes:
        return self.resp.read()

    def close(self) -> None:
        sock = self.conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            self.conn.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------- matching


class Match:
    """A value in an expected answer that is compared by regular expression (fullmatch)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(pattern, re.DOTALL)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and self.pattern.fullmatch(other) is not None

    def __hash__(self) -> int:
        return hash(self.pattern.pattern)

    def __repr__(self) -> str:
        return f"Match({self.pattern.pattern!r})"


class _Any:
    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Any()
UID = Match(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def status_body(resp: Response) -> dict[str, Any]:
    assert (resp.header("Content-Type") or "").startswith(JSON), resp
    body = resp.json()
    assert body.get("kind") == "Status", body
    assert body.get("apiVersion") == "v1", body
    return body


def expect_status(
    resp: Response,
    code: int,
    reason: str | None,
    message: Any = ANY,
    details: Any = None,
    *,
    metadata: Any = None,
) -> dict[str, Any]:
    """``resp`` is a failure ``Status`` with exactly these fields (absent ones must be absent)."""
    body = status_body(resp)
    got = {
        "http": resp.status,
        "status": body.get("status"),
        "code": body.get("code"),
        "reason": body.get("reason"),
        "message": body.get("message"),
        "details": body.get("details"),
        "metadata": body.get("metadata"),
    }
    want = {
        "http": code,
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
        "details": details,
        "metadata": {} if metadata is None else metadata,
    }
    assert got == want, f"\n got: {got}\nwant: {want}"
    return body


def invalid_details(
    name: str, kind: str, causes: list[tuple[str, str, str]], group: str = ""
) -> dict[str, Any]:
    """``details`` of a 422 Invalid, causes given as (reason, message, field)."""
    out: dict[str, Any] = {}
    if name:
        out["name"] = name
    if group:
        out["group"] = group
    out["kind"] = kind
    out["causes"] = [{"reason": r, "message": m, "field": f} for r, m, f in causes]
    return out


def ref_details(name: str, kind: str, group: str = "", **extra: Any) -> dict[str, Any]:
    """``details`` of NotFound, AlreadyExists, Conflict, Forbidden: empty fields are omitted."""
    out: dict[str, Any] = {}
    if name:
        out["name"] = name
    if group:
        out["group"] = group
    out["kind"] = kind
    out.update(extra)
    return out


def continue_token(rv: int, start: str) -> str:
    """A list continue token in the apiserver's own format (meta.k8s.io/v1)."""
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


def wait_for(
    predicate: Callable[[], T], timeout: float = 60.0, interval: float = 0.05, what: str = ""
) -> T:
    """Poll ``predicate`` until it returns something truthy (bounded by ``timeout``)."""
    return poll_until(predicate, timeout, interval, f"condition not met within {timeout}s: {what}")


# ---------------------------------------------------------------------------- backends


@dataclass
class ExpiredTarget:
    """A collection whose watch and list history before ``old_rv`` is gone (compacted)."""

    path: str  # the collection URL path, namespaced
    old_rv: int  # a resourceVersion from before the compaction
    names: list[str] = field(default_factory=list)  # objects in it, created before compaction


class Backend:
    """One API server, spoken to over raw HTTP(S). Subclasses: ``FakeBackend``, ``RealBackend``."""

    name = ""
    denied_user = ""  # the user name a 403 message names for ``denied=True`` requests
    node_timeout = 60.0  # bound for waits on controllers and the kubelet

    def __init__(self, url: str, ca_file: str | None = None, token: str | None = None) -> None:
        self.url = url
        parsed = urllib.parse.urlsplit(url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self.https = parsed.scheme == "https"
        self._ssl = ssl.create_default_context(cafile=ca_file) if self.https else None
        self.token = token
        self._counter = 0

    # ------------------------------------------------------------------ plumbing

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(
                self.host, self.port, context=self._ssl, timeout=timeout
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def _headers(self, denied: bool, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"Accept": JSON}
        token = self.denied_token() if denied else self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        headers.update(extra or {})
        return headers

    def denied_token(self) -> str | None:
        raise NotImplementedError

    @staticmethod
    def _target(path: str, query: Mapping[str, Any] | None) -> str:
        if query:
            path += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        return path

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        raw: bytes | None = None,
        content_type: str = JSON,
        headers: Mapping[str, str] | None = None,
        denied: bool = False,
        timeout: float = 60.0,
    ) -> Response:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        hdrs = self._headers(denied, headers)
        if data is not None:
            hdrs["Content-Type"] = content_type
        conn = self._connection(timeout)
        try:
            conn.request(method, self._target(path, query), body=data, headers=hdrs)
            resp = conn.getresponse()
            payload = resp.read()
            return Response(resp.status, resp.getheaders(), payload)
        finally:
            conn.close()

    def stream(
        self,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        denied: bool = False,
        timeout: float = 60.0,
    ) -> Stream:
        conn = self._connection(timeout)
        conn.request("GET", self._target(path, query), headers=self._headers(denied, None))
        return Stream(conn, conn.getresponse(), timeout)

    # ------------------------------------------------------------------ objects

    def create(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        resp = self.request("POST", path, body=obj)
        assert resp.status == 201, resp
        return resp.json()

    def get(self, path: str) -> dict[str, Any] | None:
        resp = self.request("GET", path)
        if resp.status == 404:
            return None
        assert resp.status == 200, resp
        return resp.json()

    def create_namespace(self, prefix: str = "c") -> str:
        self._counter += 1
        name = f"{prefix}-{self._counter}-{secrets.token_hex(3)}"
        self.create("/api/v1/namespaces", {"metadata": {"name": name}})
        return name

    def delete_namespace(self, name: str) -> None:
        self.request("DELETE", f"/api/v1/namespaces/{name}")

    def wait_for_default_service_account(self, ns: str) -> None:
        """Pods are refused until the ServiceAccount controller made ``default``."""
        wait_for(
            lambda: self.get(f"/api/v1/namespaces/{ns}/serviceaccounts/default"),
            self.node_timeout,
            what=f"ServiceAccount {ns}/default",
        )

    def wait_for_root_ca(self, ns: str) -> None:
        """The root-CA publisher puts ``kube-root-ca.crt`` in every namespace."""
        wait_for(
            lambda: self.get(f"/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt"),
            self.node_timeout,
            what=f"ConfigMap {ns}/kube-root-ca.crt",
        )

    # ------------------------------------------------------------------ backend knobs

    def deny_namespace(self, ns: str) -> None:
        """``denied=True`` requests have no rights in ``ns``."""
        raise NotImplementedError

    def deny_cluster_list(self, resource: str) -> Callable[[], None]:
        """``denied=True`` requests may not list ``resource`` across all namespaces; returns an
        undo function."""
        raise NotImplementedError

    def expired_target(self, ns: str, names: list[str]) -> ExpiredTarget:
        """A namespaced collection holding ``names``, whose history before ``old_rv`` is gone."""
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class FakeBackend(Backend):
    name = "fake"
    node_timeout = 30.0

    def __init__(self) -> None:
        from tests.fakekube import FakeKube
        from tests.fakekube.rbac import USER

        self.fk = FakeKube(speed=20.0)
        self.denied_user = USER
        super().__init__(self.fk.url)

    def denied_token(self) -> str | None:
        # The fake's one user makes every request; deny rules take its rights away.
        return None

    def deny_namespace(self, ns: str) -> None:
        self.fk.rbac.deny("*", "*", namespace=ns)
        self.fk.rbac.deny("*", "*", namespace=ns, subresource="*")

    def deny_cluster_list(self, resource: str) -> Callable[[], None]:
        rule = self.fk.rbac.deny("list", resource, namespace="")
        return lambda: self.fk.rbac.remove(rule)

    def expired_target(self, ns: str, names: list[str]) -> ExpiredTarget:
        path = f"/api/v1/namespaces/{ns}/configmaps"
        old_rv = int(self.request("GET", path).json()["metadata"]["resourceVersion"])
        for n in names:
            self.create(path, {"metadata": {"name": n}})
        # Like an etcd compaction plus the watch cache dropping its window.
        self.fk.compact_watch_history()
        return ExpiredTarget(path, old_rv, names)

    def stop(self) -> None:
        self.fk.stop()


CRD_GROUP = "conformance.nfk8s.test"


class RealBackend(Backend):
    name = "real"
    node_timeout = 90.0

    def __init__(self) -> None:
        from tests.realkube import OTHER_USER, RealKube

        self.rk = RealKube(speed=20.0, nodes=1, setup_namespace=False)
        self.denied_user = OTHER_USER
        self._crd_ready = False
        super().__init__(self.rk.url, str(self.rk.pki.ca), self.rk.admin_token)

    def denied_token(self) -> str | None:
        return str(self.rk.other_token)  # other-user: bound to nothing

    def deny_namespace(self, ns: str) -> None:
        """other-user has no rights anywhere: nothing to do."""

    def deny_cluster_list(self, resource: str) -> Callable[[], None]:
        return lambda: None

    # ------------------------------------------------------------------ expiry

    def etcd_url(self) -> str:
        return str(self.rk.etcd_url)

    def compact_etcd(self) -> None:
        """Compact etcd up to its current revision through its JSON gateway."""
        base = self.etcd_url()

        def post(path: str, doc: dict[str, Any]) -> dict[str, Any]:
            req = urllib.request.Request(
                base + path, data=json.dumps(doc).encode(), headers={"Content-Type": JSON}
            )
            with urllib.request.urlopen(req, timeout=30) as r:
                return dict(json.loads(r.read()))

        revision = post("/v3/kv/range", {"key": base64.b64encode(b"/").decode()})["header"][
            "revision"
        ]
        post("/v3/kv/compaction", {"revision": str(revision), "physical": True})

    def _ensure_crd(self) -> None:
        """A CustomResourceDefinition made after the built-in types: its watch cache starts at
        the resourceVersion of its creation, so older versions are outside its window (the
        built-in types' caches start near resourceVersion 1 on a fresh etcd)."""
        if self._crd_ready:
            return
        crd = {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"widgets.{CRD_GROUP}"},
            "spec": {
                "group": CRD_GROUP,
                "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    }
                ],
            },
        }
        self.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        wait_for(
            lambda: self.request("GET", f"/apis/{CRD_GROUP}/v1/widgets").status == 200,
            self.node_timeout,
            what="the Widget CRD is served",
        )
        self._crd_ready = True

    def expired_target(self, ns: str, names: list[str]) -> ExpiredTarget:
        self._ensure_crd()
        path = f"/apis/{CRD_GROUP}/v1/namespaces/{ns}/widgets"
        for n in names:
            self.create(
                path, {"apiVersion": f"{CRD_GROUP}/v1", "kind": "Widget", "metadata": {"name": n}}
            )
        self.compact_etcd()  # lists older than the cache go to etcd: make them too old there too
        return ExpiredTarget(path, 1, names)

    def stop(self) -> None:
        self.rk.stop()
