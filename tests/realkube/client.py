"""A small HTTPS client for the real API server: the node agent's and the simulator's.

It implements ``tests.fakekube.api.ClusterAPI`` (so the one Nextflow simulator runs under either
backend) plus what a kubelet needs: status writes, patches, watches and TokenRequests. Errors are
``StatusError`` built from the server's own ``Status`` body.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

from tests.fakekube.api import StatusError

# plural -> (API prefix, kind, namespaced)
RESOURCES: dict[str, tuple[str, str, bool]] = {
    "pods": ("/api/v1", "Pod", True),
    "configmaps": ("/api/v1", "ConfigMap", True),
    "secrets": ("/api/v1", "Secret", True),
    "events": ("/api/v1", "Event", True),
    "persistentvolumeclaims": ("/api/v1", "PersistentVolumeClaim", True),
    "persistentvolumes": ("/api/v1", "PersistentVolume", False),
    "serviceaccounts": ("/api/v1", "ServiceAccount", True),
    "namespaces": ("/api/v1", "Namespace", False),
    "nodes": ("/api/v1", "Node", False),
    "resourcequotas": ("/api/v1", "ResourceQuota", True),
    "limitranges": ("/api/v1", "LimitRange", True),
    "jobs": ("/apis/batch/v1", "Job", True),
    "leases": ("/apis/coordination.k8s.io/v1", "Lease", True),
    "roles": ("/apis/rbac.authorization.k8s.io/v1", "Role", True),
    "rolebindings": ("/apis/rbac.authorization.k8s.io/v1", "RoleBinding", True),
    "clusterroles": ("/apis/rbac.authorization.k8s.io/v1", "ClusterRole", False),
    "clusterrolebindings": ("/apis/rbac.authorization.k8s.io/v1", "ClusterRoleBinding", False),
}

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}


def resource_path(resource: str, namespace: str = "", name: str = "", subresource: str = "") -> str:
    prefix, _kind, namespaced = RESOURCES[resource]
    path = prefix
    if namespaced and namespace:
        path += f"/namespaces/{urllib.parse.quote(namespace)}"
    path += f"/{resource}"
    if name:
        path += f"/{urllib.parse.quote(name)}"
    if subresource:
        path += f"/{subresource}"
    return path


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Client:
    """One HTTPS connection per thread to ``host:port``, authenticated by a bearer token."""

    def __init__(self, url: str, token: str, ca_file: str, *, timeout: float = 30.0) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.url = url
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 443
        self.token = token
        self.timeout = timeout
        self._ssl = ssl.create_default_context(cafile=ca_file)
        self._local = threading.local()
        # What the simulator's per-cluster memory is keyed by: every Client of one control
        # plane shares it (see ``nextflow_sim._cluster_state``).
        self.store: object = self

    def with_token(self, token: str) -> Client:
        other = Client.__new__(Client)
        other.__dict__.update(self.__dict__)
        other.token = token
        other._local = threading.local()
        return other

    # ------------------------------------------------------------------ raw

    def _connection(self) -> http.client.HTTPSConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPSConnection(
                self.host, self.port, context=self._ssl, timeout=self.timeout
            )
            self._local.conn = conn
        return conn

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Response:
        if query:
            path += "?" + urllib.parse.urlencode(
                {k: _q(v) for k, v in query.items() if v is not None}
            )
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        for attempt in range(2):
            conn = self._connection()
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
                return Response(resp.status, dict(resp.getheaders()), payload)
            except (http.client.HTTPException, ConnectionError, OSError):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def call(self, method: str, path: str, **kw: Any) -> Any:
        resp = self.request(method, path, **kw)
        if resp.status >= 400:
            raise _status_error(resp)
        return resp.json()

    # ------------------------------------------------------------------ ClusterAPI

    def create(self, resource: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", resource_path(resource, namespace), body=_with_kind(resource, obj))

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        return self.call("GET", resource_path(resource, namespace, name))

    def get_status(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        return self.call("GET", resource_path(resource, namespace, name, "status"))

    def try_get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self.get(resource, namespace, name)
        except StatusError as e:
            if e.code == 404:
                return None
            raise

    def list(
        self,
        resource: str,
        namespace: str,
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> list[dict[str, Any]]:
        doc = self.list_raw(
            resource, namespace, label_selector=label_selector, field_selector=field_selector
        )
        _prefix, kind, _ns = RESOURCES[resource]
        api_version = RESOURCES[resource][0].removeprefix("/api/").removeprefix("/apis/")
        items = doc.get("items") or []
        for item in items:
            item["kind"] = kind
            item["apiVersion"] = api_version
        return items

    def list_raw(
        self,
        resource: str,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        **query: Any,
    ) -> dict[str, Any]:
        q = dict(query)
        if label_selector:
            q["labelSelector"] = label_selector
        if field_selector:
            q["fieldSelector"] = field_selector
        return self.call("GET", resource_path(resource, namespace), query=q)

    def replace(self, resource: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        name = obj["metadata"]["name"]
        return self.call(
            "PUT", resource_path(resource, namespace, name), body=_with_kind(resource, obj)
        )

    def replace_status(self, resource: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        name = obj["metadata"]["name"]
        return self.call(
            "PUT",
            resource_path(resource, namespace, name, "status"),
            body=_with_kind(resource, obj),
        )

    def patch(
        self,
        resource: str,
        namespace: str,
        name: str,
        patch: Any,
        *,
        patch_type: str = "merge",
        subresource: str = "",
    ) -> dict[str, Any]:
        return self.call(
            "PATCH",
            resource_path(resource, namespace, name, subresource),
            body=patch,
            content_type=PATCH_TYPES[patch_type],
        )

    def delete(
        self,
        resource: str,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        uid: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        if propagation_policy is not None:
            body["propagationPolicy"] = propagation_policy
        if uid is not None:
            body["preconditions"] = {"uid": uid}
        return self.call("DELETE", resource_path(resource, namespace, name), body=body)

    # ------------------------------------------------------------------ extras

    def service_account_token(
        self,
        namespace: str,
        service_account: str,
        *,
        pod: dict[str, Any] | None = None,
        seconds: int = 3600,
    ) -> str:
        spec: dict[str, Any] = {"audiences": [], "expirationSeconds": seconds}
        if pod is not None:
            spec["boundObjectRef"] = {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": pod["metadata"]["name"],
                "uid": pod["metadata"]["uid"],
            }
        doc = self.call(
            "POST",
            resource_path("serviceaccounts", namespace, service_account, "token"),
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
        )
        return str(doc["status"]["token"])

    def open_stream(
        self,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Stream:
        """A GET whose body is read as it arrives (watches, ``pods/log?follow=true``).

        Answers of 400 and above are raised as ``StatusError``. ``Stream.close()`` may be
        called from another thread to end a blocked read.
        """
        if query:
            path += "?" + urllib.parse.urlencode(
                {k: _q(v) for k, v in query.items() if v is not None}
            )
        conn = http.client.HTTPSConnection(
            self.host, self.port, context=self._ssl, timeout=timeout or self.timeout
        )
        try:
            conn.request("GET", path, headers={"Authorization": f"Bearer {self.token}"})
            resp = conn.getresponse()
        except BaseException:
            conn.close()
            raise
        if resp.status >= 400:
            body = resp.read()
            conn.close()
            raise _status_error(Response(resp.status, dict(resp.getheaders()), body))
        return Stream(conn, resp)

    def open_watch(
        self,
        resource: str,
        namespace: str = "",
        *,
        resource_version: str = "",
        label_selector: str = "",
        field_selector: str = "",
        timeout_seconds: int = 300,
    ) -> WatchStream:
        """Watch events as dicts; ``WatchStream.close()`` ends it from another thread, a 410
        answer or ERROR event is raised as ``StatusError``."""
        q: dict[str, Any] = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": timeout_seconds,
        }
        if resource_version:
            q["resourceVersion"] = resource_version
        if label_selector:
            q["labelSelector"] = label_selector
        if field_selector:
            q["fieldSelector"] = field_selector
        stream = self.open_stream(
            resource_path(resource, namespace), query=q, timeout=timeout_seconds + 30
        )
        return WatchStream(stream)


class Stream:
    """An open streaming response: ``readline``/``read1``, ``close`` from any thread."""

    def __init__(self, conn: http.client.HTTPSConnection, resp: http.client.HTTPResponse) -> None:
        self.conn = conn
        self.resp = resp
        self.status = resp.status
        self.headers = dict(resp.getheaders())
        self.closed = False

    def readline(self) -> bytes:
        if self.closed:
            return b""
        try:
            return self.resp.readline()
        except (OSError, ValueError, http.client.HTTPException):
            if self.closed:
                return b""
            raise

    def read1(self, n: int = 65536) -> bytes:
        if self.closed:
            return b""
        try:
            return self.resp.read1(n)
        except (OSError, ValueError, http.client.HTTPException):
            if self.closed:
                return b""
            raise

    def lines(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def close(self) -> None:
        self.closed = True
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


class WatchStream:
    """Watch events as dicts; iteration ends when the server ends the stream or on close."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for line in self.stream.lines():
            ev = json.loads(line)
            if ev.get("type") == "ERROR":
                st = ev.get("object") or {}
                raise StatusError(
                    int(st.get("code") or 500), st.get("reason", ""), st.get("message", "")
                )
            yield ev

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> WatchStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _q(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _with_kind(resource: str, obj: dict[str, Any]) -> dict[str, Any]:
    prefix, kind, _ns = RESOURCES[resource]
    out = dict(obj)
    out.setdefault("apiVersion", prefix.removeprefix("/api/").removeprefix("/apis/"))
    out.setdefault("kind", kind)
    return out


def _status_error(resp: Response) -> StatusError:
    try:
        doc = json.loads(resp.body)
    except ValueError:
        doc = {}
    if not isinstance(doc, dict) or doc.get("kind") != "Status":
        text = resp.body.decode(errors="replace").strip()
        return StatusError(resp.status, "", text or f"HTTP {resp.status}")
    return StatusError(
        int(doc.get("code") or resp.status),
        str(doc.get("reason") or ""),
        str(doc.get("message") or ""),
        details=doc.get("details") or {},
        headers=resp.headers,
    )
