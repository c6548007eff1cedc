"""The HTTP front end: kube-apiserver's URL layout, auth, RBAC, faults, watch and log streams."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakekube import discovery
from tests.fakekube.api import StatusError
from tests.fakekube.decode import decode_error
from tests.fakekube.discovery import RESOURCES, ResourceType
from tests.fakekube.faults import FaultDecision, Faults
from tests.fakekube.gotime import RFC3339, parse_error
from tests.fakekube.logs import LogOptions, LogStore, render_lines
from tests.fakekube.rbac import TOKEN, USER, Rbac, forbidden_message
from tests.fakekube.reqlog import RequestLog, RequestRecord
from tests.fakekube.selectors import (
    FieldSelector,
    LabelSelector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from tests.fakekube.store import Store, bad_request, filter_event, not_found
from tests.fakekube.tables import to_table, wants_table
from tests.fakekube.util import Clock, parse_time
from tests.fakekube.validation import Cause, forbidden, invalid, invalid_status, unsupported

JSON = "application/json"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
DEFAULT_WATCH_TIMEOUT = 1800.0


@dataclass
class ServerState:
    """Everything the request handlers share."""

    clock: Clock
    store: Store
    logs: LogStore
    rbac: Rbac = field(default_factory=Rbac)
    faults: Faults = field(default_factory=Faults)
    requests: RequestLog = field(default_factory=RequestLog)
    token: str = TOKEN
    unauthorized: bool = False
    stopping: threading.Event = field(default_factory=threading.Event)
    bookmark_interval: float = 1.0  # real seconds between watch bookmarks
    poll: float = 0.1  # how often streams check for shutdown


def omit_empty(details: dict[str, Any]) -> dict[str, Any]:
    """StatusDetails as Go marshals it: empty name/group/kind/uid/causes are left out."""
    out: dict[str, Any] = {}
    for k, v in details.items():
        if v in ("", None, []) or (k == "retryAfterSeconds" and not v):
            continue
        if k == "causes":
            out[k] = [{ck: cv for ck, cv in c.items() if cv not in ("", None)} for c in v]
        else:
            out[k] = v
    return out


def status_body(
    code: int,
    reason: str,
    message: str,
    details: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A failure Status; ``details`` None leaves the field out, {} sends ``"details": {}``."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": dict(metadata or {}),
        "status": "Failure",
        "message": message,
    }
    if reason:
        body["reason"] = reason
    if details is not None:
        body["details"] = omit_empty(details)
    body["code"] = code
    return body


def not_served() -> StatusError:
    return StatusError(
        404, "NotFound", "the server could not find the requested resource", details={}
    )


def qbool(query: dict[str, str], key: str) -> bool:
    """A boolean query parameter as the apiserver reads it: present and not "0"/"false"."""
    if key not in query:
        return False
    return query[key] != "0" and query[key].lower() != "false"


MAX_BODY_BYTES = 3 * 1024 * 1024  # kube-apiserver --max-request-body-bytes


@dataclass
class RequestInfo:
    """What a request is about, parsed from its path (the apiserver's RequestInfo)."""

    api: bool = False
    verb: str = ""
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    rt: ResourceType | None = None
    legacy_watch: bool = False


_HTTP_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


def parse_request_info(method: str, path: str, query: dict[str, str]) -> RequestInfo:
    parts = [p for p in path.split("/") if p]
    info = RequestInfo()
    if parts[:2] == ["api", "v1"]:
        info.group, info.version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        info.group, info.version, rest = parts[1], parts[2], parts[3:]
    else:
        return info
    if not rest:
        return info
    info.api = True
    if rest[0] == "watch":
        info.legacy_watch = True
        rest = rest[1:]
    if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) != 2 and rest[2:] != ["status"]:
        # /namespaces/<ns>/<resource>[/<name>[/<sub>]]
        info.namespace = rest[1]
        rest = rest[2:]
        if rest[:1] == ["finalize"]:
            rest = ["namespaces", info.namespace, "finalize"]
            info.namespace = ""
    if rest:
        info.resource = rest[0]
    if len(rest) >= 2:
        info.name = rest[1]
    if len(rest) >= 3:
        info.subresource = "/".join(rest[2:])
    if info.resource == "namespaces" and info.name and not info.namespace:
        info.namespace = info.name
    info.rt = discovery.lookup(info.group, info.version, info.resource)
    watch = info.legacy_watch or qbool(query, "watch")
    if method in ("GET", "HEAD"):
        if info.name and info.legacy_watch and not info.subresource:
            info.verb = "watch"  # /watch/.../<name> watches one object
        elif info.name:
            info.verb = "get"
        else:
            info.verb = "watch" if watch else "list"
    elif method == "DELETE":
        info.verb = "delete" if info.name else "deletecollection"
    else:
        info.verb = _HTTP_VERBS.get(method, method.lower())
    return info


def _int_param(query: dict[str, str], key: str) -> int | None:
    """An integer query parameter, refused like Go's strconv.ParseInt(v, 10, 64)."""
    v = query.get(key)
    if v is None or v == "":
        return None
    if not re.fullmatch(r"[+-]?[0-9]+", v):
        raise bad_request(f'strconv.ParseInt: parsing "{v}": invalid syntax')
    n = int(v)
    if not -(2**63) <= n < 2**63:
        raise bad_request(f'strconv.ParseInt: parsing "{v}": value out of range')
    return n


def _parse_rv(value: str) -> int | None:
    """A resourceVersion as the storage layer parses it (strconv.ParseUint); None if invalid."""
    if not re.fullmatch(r"[0-9]+", value) or int(value) >= 2**64:
        return None
    return int(value)


def _rv_message(value: str) -> str:
    why = "value out of range" if re.fullmatch(r"[0-9]+", value) else "invalid syntax"
    return f'resourceVersion: Invalid value: "{value}": strconv.ParseUint: parsing "{value}": {why}'


def list_options_causes(query: dict[str, str], watch: bool) -> list[Cause]:
    """apimachinery's ValidateListOptions (the WatchList feature is on)."""
    field = "resourceVersionMatch"
    match = query.get(field, "")
    rv = query.get("resourceVersion", "")
    cont = query.get("continue", "")
    initial = "sendInitialEvents" in query
    causes: list[Cause] = []
    if watch:
        if initial and match != "NotOlderThan":
            causes.append(
                forbidden(
                    field, "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
                )
            )
        if match:
            if not initial:
                causes.append(
                    forbidden(
                        field,
                        "resourceVersionMatch is forbidden for watch unless sendInitialEvents is "
                        "provided",
                    )
                )
            if match != "NotOlderThan":
                causes.append(unsupported(field, match, ["NotOlderThan"]))
            if cont:
                causes.append(
                    forbidden(field, "resourceVersionMatch is forbidden when continue is provided")
                )
        return causes
    if match:
        if not rv:
            causes.append(
                forbidden(
                    field, "resourceVersionMatch is forbidden unless resourceVersion is provided"
                )
            )
        if cont:
            causes.append(
                forbidden(field, "resourceVersionMatch is forbidden when continue is provided")
            )
        if match not in ("Exact", "NotOlderThan"):
            causes.append(unsupported(field, match, ["Exact", "NotOlderThan", ""]))
        if match == "Exact" and rv == "0":
            causes.append(
                forbidden(
                    field, 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'
                )
            )
    if initial:
        causes.append(forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    return causes


class _Dropped(Exception):
    """The fault injector asked to close the connection without answering."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakekube"
    sys_version = ""
    state: ServerState  # set on the subclass the server builds
    # TCP_NODELAY, as Go's net/http (so kube-apiserver) sets: without it the body, written
    # after the headers, waits for the client's delayed ACK - about 40 ms per request.
    disable_nagle_algorithm = True
    _lose_response = False  # a fault: carry the request out, then drop the answer

    # ------------------------------------------------------------------ plumbing

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log records what tests need."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        return self.state.clock.http_date()

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)  # type: ignore[attr-defined]

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_OPTIONS(self) -> None:
        self._dispatch("OPTIONS")

    def _read_body(self) -> bytes:
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            chunks = []
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self,
        code: int,
        body: bytes,
        content_type: str = JSON,
        headers: dict[str, str] | None = None,
    ) -> None:
        extra = dict(headers or {})
        # Logged before the client can read the answer, so a test that inspects the log
        # right after its call returns always finds that call.
        self._status = code
        self._on_stream_start()
        if self._lose_response:
            raise _Dropped  # done, but the answer never reaches the client
        self.send_response(code)
        self.send_header("Content-Type", extra.pop("Content-Type", content_type))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._status = code

    def _send_no_content(self) -> None:
        """204 as Go writes it: no Content-Type, no Content-Length, no body."""
        self._status = 204
        self._on_stream_start()
        if self._lose_response:
            raise _Dropped
        self.send_response(204)
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.end_headers()

    def _send_json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(code, json.dumps(obj, separators=(",", ":")).encode() + b"\n", JSON, headers)

    def _send_status(self, err: StatusError) -> None:
        headers = dict(err.headers)
        body = status_body(
            err.code,
            err.reason,
            err.message,
            err.details if err.has_details else None,
            err.metadata,
        )
        self._send_json(err.code, body, headers)

    def _start_stream(self, content_type: str) -> None:
        self._status = 200
        self._on_stream_start()
        if self._lose_response:
            raise _Dropped
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self, method: str) -> None:
        st = self.state
        split = urlsplit(self.path)
        path = split.path
        # Go's query decoding reads the first value of a repeated parameter.
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        info = parse_request_info(method, path, query)
        self._status = 0
        self._recorded = False
        self._lose_response = False
        started = st.clock.now()

        def record() -> None:
            if self._recorded or not (info.api or path.startswith(("/api", "/apis"))):
                return
            self._recorded = True
            st.requests.add(
                RequestRecord(
                    method=method,
                    path=path,
                    verb=info.verb,
                    resource=info.resource,
                    subresource=info.subresource,
                    namespace=info.namespace,
                    name=info.name,
                    query=query,
                    status=self._status,
                    timestamp=started,
                    group=info.group,
                )
            )

        # Streams are logged when they start, so tests can see an open watch or follow.
        self._on_stream_start = record
        body = self._read_body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
        decision = FaultDecision()
        try:
            if st.stopping.is_set():
                raise _Dropped
            self._authenticate(path)
            if info.api:
                self._authorize(info)
                decision = st.faults.decide(
                    info.verb, info.resource, info.subresource, info.namespace, info.name
                )
                if decision.latency:
                    time.sleep(decision.latency)
                for gate in decision.gates:
                    while not gate.wait(0.05):
                        if st.stopping.is_set():
                            raise _Dropped
                if decision.drop:
                    raise _Dropped
                if decision.status is not None:
                    raise _fault_error(decision)
                if len(body) > MAX_BODY_BYTES and method in ("POST", "PUT", "PATCH"):
                    raise StatusError(
                        413,
                        "RequestEntityTooLarge",
                        f"Request entity too large: limit is {MAX_BODY_BYTES}",
                    )
                self._lose_response = decision.lose_response
                self._handle_api(method, info, query, body, decision)
            else:
                self._handle_other(method, path)
        except _Dropped:
            self.close_connection = True
            if not self._recorded:
                self._status = 0
                record()  # before the client can see the connection close
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        except StatusError as err:
            self._answer_error(err)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug in the fake should still look like an apiserver error
            import traceback

            traceback.print_exc()
            self._answer_error(StatusError(500, "InternalError", f"Internal error occurred: {exc}"))
        finally:
            record()

    def _answer_error(self, err: StatusError) -> None:
        try:
            self._send_status(err)
        except _Dropped:  # a lost response loses errors too
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    def _authenticate(self, path: str) -> None:
        st = self.state
        if path in ("/healthz", "/livez", "/readyz") and not st.unauthorized:
            return
        auth = self.headers.get("Authorization", "")
        # kubectl (client-go) never sends a bearer token over plain HTTP, so a request
        # without credentials counts as the kubeconfig user; a wrong token is refused.
        if st.unauthorized or (auth and auth != f"Bearer {st.token}"):
            raise StatusError(401, "Unauthorized", "Unauthorized")

    def _authorize(self, info: RequestInfo) -> None:
        if info.resource == "selfsubjectaccessreviews":
            return  # every authenticated user may ask what it may do
        verb = info.verb
        if not self.state.rbac.allowed(
            verb,
            info.resource,
            info.namespace if info.resource != "namespaces" else "",
            info.subresource,
            info.name,
        ):
            raise StatusError(
                403,
                "Forbidden",
                forbidden_message(
                    verb, info.resource, info.group, info.namespace, info.name, info.subresource
                ),
                details={"name": info.name, "group": info.group, "kind": info.resource},
            )

    # ------------------------------------------------------------------ discovery

    def _accepts_aggregated(self) -> bool:
        accept = self.headers.get("Accept", "")
        first = accept.split(",")[0]
        return "as=APIGroupDiscoveryList" in first and "v=v2" in first

    def _handle_other(self, method: str, path: str) -> None:
        if method not in ("GET", "HEAD"):
            raise StatusError(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            )
        p = path.rstrip("/") or "/"
        if p in ("/healthz", "/livez", "/readyz"):
            self._send(200, b"ok", "text/plain; charset=utf-8")
            return
        if p == "/version":
            self._send_json(200, discovery.SERVER_VERSION)
            return
        if p in ("/api", "/apis") and self._accepts_aggregated():
            self._send_json(
                200,
                discovery.aggregated_discovery(core=p == "/api"),
                {"Content-Type": AGGREGATED},
            )
            return
        if p == "/openapi/v3":
            self._send_json(200, discovery.openapi_v3_root())
            return
        if p.startswith("/openapi/v3/"):
            doc = discovery.openapi_v3_group_version(p[len("/openapi/v3/") :])
            if doc is not None:
                self._send_json(200, doc)
                return
        if p == "/api":
            self._send_json(200, discovery.api_versions())
            return
        if p == "/apis":
            self._send_json(200, discovery.api_group_list())
            return
        if p == "/api/v1":
            self._send_json(200, discovery.api_resource_list("", "v1"))
            return
        parts = p.strip("/").split("/")
        if parts[0] == "apis" and len(parts) == 2:
            group = discovery.api_group(parts[1])
            if group is not None:
                self._send_json(200, group)
                return
        if parts[0] == "apis" and len(parts) == 3:
            rl = discovery.api_resource_list(parts[1], parts[2])
            if rl is not None:
                self._send_json(200, rl)
                return
        self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")

    # ------------------------------------------------------------------ resources

    def _handle_api(
        self,
        method: str,
        info: RequestInfo,
        query: dict[str, str],
        body: bytes,
        decision: FaultDecision,
    ) -> None:
        rt = info.rt
        if rt is None:
            raise not_served()
        if info.subresource and info.subresource not in rt.subresources:
            raise not_served()
        if not info.name and method in ("PUT", "PATCH"):
            raise _method_not_allowed()  # no update or patch of a whole collection
        if info.subresource == "log":
            if method != "GET":
                raise _method_not_allowed()
            self._pod_log(info, query, decision)
            return
        if not info.subresource and info.verb not in rt.verbs:
            raise _method_not_allowed()
        if info.subresource == "status" and info.verb not in ("get", "update", "patch"):
            raise _method_not_allowed()
        if rt.namespaced and not info.namespace and info.verb not in ("list", "watch"):
            raise not_served()
        if rt.name == "selfsubjectaccessreviews":
            self._ssar(self._json_body(body, method))
            return
        store = self.state.store
        ns = info.namespace if rt.namespaced else ""
        dry_run = query.get("dryRun", "") == "All"
        v = info.verb
        if v == "get":
            obj = store.get(rt.name, ns, info.name)
            if self._table():
                self._send_json(
                    200,
                    to_table(
                        rt,
                        [obj],
                        self.state.clock.now(),
                        include_object=query.get("includeObject", "Metadata"),
                        resource_version=obj["metadata"].get("resourceVersion", ""),
                    ),
                )
                return
            self._send_json(200, obj)
        elif v == "list":
            self._list(rt, ns, query)
        elif v == "watch":
            self._watch(rt, ns, query, decision, info.name)
        elif v == "create":
            if info.name:
                raise _method_not_allowed()
            obj = self._decoded_body(rt, body, method)
            created = store.create(rt.name, ns, obj, dry_run=dry_run, http=True)
            self._send_json(201, created)
        elif v == "update":
            obj = self._decoded_body(rt, body, method)
            updated = store.update(
                rt.name, ns, info.name, obj, subresource=info.subresource or None, dry_run=dry_run
            )
            self._send_json(200, updated)
        elif v == "patch":
            self._patch(rt, ns, info, body, query, dry_run)
        elif v == "delete":
            self._delete(rt, ns, info.name, query, body, dry_run)
        elif v == "deletecollection":
            self._delete_collection(rt, ns, query, body)
        else:
            raise _method_not_allowed()

    def _table(self) -> bool:
        return wants_table(self.headers.get("Accept", ""))

    def _decoded_body(self, rt: ResourceType, body: bytes, method: str) -> Any:
        """The JSON body, refused like the apiserver's decoder refuses it (400)."""
        obj = self._json_body(body, method)
        err = decode_error(rt, obj)
        if err:
            raise bad_request(err)
        return obj

    def _json_body(self, body: bytes, method: str) -> Any:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if (
            ctype
            and ctype not in ("application/json", "*/*")
            and not (method == "PATCH" and ctype.endswith("+json"))
        ):
            raise _unsupported_media(ctype)
        if not body.strip():
            raise bad_request("the body of the request was in an unknown format")
        try:
            return json.loads(body)
        except ValueError as exc:
            raise bad_request(f"the body of the request was in an unknown format: {exc}") from None

    def _selectors(
        self, rt: ResourceType, query: dict[str, str], *, watch: bool = False
    ) -> tuple[LabelSelector, FieldSelector]:
        """Both selectors, then the ListOptions checks, in the apiserver's order."""
        try:
            label = parse_label_selector(query.get("labelSelector"))
            fields = parse_field_selector(
                query.get("fieldSelector"),
                rt.field_selectors,
                style=rt.field_label_style,
                kind=rt.kind,
            )
        except SelectorError as exc:
            raise bad_request(str(exc)) from None
        for key in ("limit", "timeoutSeconds"):
            _int_param(query, key)
        causes = list_options_causes(query, watch)
        if causes:
            raise invalid_status("meta.k8s.io", "ListOptions", "", causes)
        return label, fields

    def _list(self, rt: ResourceType, ns: str, query: dict[str, str]) -> None:
        label, fields = self._selectors(rt, query)
        limit = _int_param(query, "limit") or 0
        rv = query.get("resourceVersion", "")
        if rv and _parse_rv(rv) is None:
            raise bad_request(f"invalid resource version: {_rv_message(rv)}")
        res = self.state.store.list(
            rt.name,
            ns or None,
            label_selector=label,
            field_selector=fields,
            limit=max(limit, 0),
            continue_token=query.get("continue", ""),
            resource_version=rv,
            match=query.get("resourceVersionMatch", ""),
        )
        if self._table():
            self._send_json(
                200,
                to_table(
                    rt,
                    res.items,
                    self.state.clock.now(),
                    include_object=query.get("includeObject", "Metadata"),
                    resource_version=res.resource_version,
                    continue_token=res.continue_token,
                ),
            )
            return
        meta: dict[str, Any] = {"resourceVersion": res.resource_version}
        if res.continue_token:
            meta["continue"] = res.continue_token
        if res.remaining is not None:
            meta["remainingItemCount"] = res.remaining
        self._send_json(
            200,
            {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version,
                "metadata": meta,
                "items": res.items,
            },
        )

    def _watch(
        self,
        rt: ResourceType,
        ns: str,
        query: dict[str, str],
        decision: FaultDecision,
        name: str = "",
    ) -> None:
        st = self.state
        if name:
            pin = f"metadata.name={name}"
            given = query.get("fieldSelector")
            query = dict(query, fieldSelector=f"{given},{pin}" if given else pin)
        label, fields = self._selectors(rt, query, watch=True)
        timeout = _int_param(query, "timeoutSeconds")
        rv = query.get("resourceVersion")
        if rv not in (None, "") and _parse_rv(rv) is None:
            # The cacher parses it once the request was accepted: a bare 500.
            raise StatusError(500, "", _rv_message(rv))
        bookmarks = qbool(query, "allowWatchBookmarks")
        send_initial = qbool(query, "sendInitialEvents") if "sendInitialEvents" in query else None

        def matches(obj: dict[str, Any]) -> bool:
            return label.matches(obj["metadata"].get("labels")) and fields.matches(obj)

        try:
            watcher, replay = st.store.watch(rt.name, ns or None, rv, initial_events=send_initial)
        except StatusError as err:
            if err.code != 410:
                raise
            # A real apiserver answers 200 and reports expiry as an ERROR event.
            self._start_stream(JSON)
            self._chunk(_event_line("ERROR", status_body(410, "Expired", err.message)))
            self._end_stream()
            return
        table = self._table()
        include = query.get("includeObject", "Metadata")
        first_table = [True]

        def encode(etype: str, obj: dict[str, Any]) -> bytes:
            if table and etype in ("ADDED", "MODIFIED", "DELETED"):
                obj = to_table(
                    rt,
                    [obj],
                    st.clock.now(),
                    include_object=include,
                    resource_version=obj["metadata"].get("resourceVersion", ""),
                    columns=first_table[0],
                )
                first_table[0] = False
            return _event_line(etype, obj)

        sent = 0
        cut = decision.cut_after
        # timeoutSeconds=0 means "no timeout": the server's own default applies.
        deadline = time.monotonic() + (timeout if timeout else DEFAULT_WATCH_TIMEOUT)
        last_rv = rv if rv not in (None, "", "0") else str(st.store.resource_version)
        try:
            self._start_stream(JSON)
            for ev in replay:
                out = filter_event(ev, matches)
                if out is None:
                    continue
                if cut is not None and sent >= cut:
                    raise _Dropped
                self._chunk(encode(out[0], out[1]))
                sent += 1
                last_rv = str(ev.rv)
            if send_initial and bookmarks:
                self._chunk(
                    _event_line(
                        "BOOKMARK",
                        {
                            "kind": rt.kind,
                            "apiVersion": rt.api_version,
                            "metadata": {
                                "resourceVersion": str(st.store.resource_version),
                                "annotations": {"k8s.io/initial-events-end": "true"},
                            },
                        },
                    )
                )
            next_bookmark = time.monotonic() + st.bookmark_interval
            while not st.stopping.is_set():
                now = time.monotonic()
                if now >= deadline:
                    break
                ev = watcher.get(min(st.poll, deadline - now))
                if ev is None:
                    if watcher.closed:
                        break
                    if bookmarks and time.monotonic() >= next_bookmark:
                        bookmark_rv = str(max(int(last_rv or 0), st.store.resource_version))
                        self._chunk(
                            _event_line(
                                "BOOKMARK",
                                {
                                    "kind": rt.kind,
                                    "apiVersion": rt.api_version,
                                    "metadata": {"resourceVersion": bookmark_rv},
                                },
                            )
                        )
                        next_bookmark = time.monotonic() + st.bookmark_interval
                    continue
                out = filter_event(ev, matches)
                last_rv = str(ev.rv)
                if out is None:
                    continue
                if cut is not None and sent >= cut:
                    raise _Dropped
                self._chunk(encode(out[0], out[1]))
                sent += 1
            if not st.stopping.is_set():
                self._end_stream()
            else:
                raise _Dropped
        finally:
            watcher.close()

    def _patch(
        self,
        rt: ResourceType,
        ns: str,
        info: RequestInfo,
        body: bytes,
        query: dict[str, str],
        dry_run: bool,
    ) -> None:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        kinds = {
            "application/merge-patch+json": "merge",
            "application/strategic-merge-patch+json": "strategic",
            "application/json-patch+json": "json",
            "application/apply-patch+yaml": "apply",
            "application/apply-patch+cbor": "",
        }
        kind = kinds.get(ctype)
        if ctype == "application/json":
            # Not a patch type at all: refused before the patch handler, by the router.
            raise StatusError(
                415, "UnsupportedMediaType", "415: Unsupported Media Type", details={}
            )
        if not kind:
            raise _unsupported_media(ctype, patch=True)
        try:
            doc = json.loads(body) if body.strip() else None
        except ValueError:
            raise _unsupported_media(ctype, patch=True) from None
        if doc is None:
            raise bad_request("the body of the request was in an unknown format")
        store = self.state.store
        if kind == "apply":
            if not query.get("fieldManager"):
                raise bad_request(
                    'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                    "is required for apply patch"
                )
            if store.try_get(rt.name, ns, info.name) is None:
                doc.setdefault("metadata", {})["name"] = info.name
                self._send_json(201, store.create(rt.name, ns, doc, dry_run=dry_run))
                return
            kind = "strategic"
        patched = store.patch(
            rt.name, ns, info.name, kind, doc, subresource=info.subresource or None, dry_run=dry_run
        )
        self._send_json(200, patched)

    def _delete_options(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        opts: dict[str, Any] = {}
        if body.strip():
            try:
                parsed = json.loads(body)
            except ValueError:
                raise bad_request("the body of the request was in an unknown format") from None
            if isinstance(parsed, dict):
                opts = parsed
        grace = _int_param(query, "gracePeriodSeconds")
        if grace is None and opts.get("gracePeriodSeconds") is not None:
            grace = int(opts["gracePeriodSeconds"])
        policy = query.get("propagationPolicy") or opts.get("propagationPolicy")
        orphan = opts.get("orphanDependents")
        if "orphanDependents" in query:
            orphan = qbool(query, "orphanDependents")
        # ValidateDeleteOptions
        causes: list[Cause] = []
        if orphan is not None and policy is not None:
            causes.append(
                invalid(
                    "propagationPolicy",
                    policy,
                    "orphanDependents and deletionPropagation cannot be both set",
                )
            )
        if policy is not None and policy not in ("Foreground", "Background", "Orphan"):
            causes.append(
                unsupported(
                    "propagationPolicy", policy, ["Foreground", "Background", "Orphan", "nil"]
                )
            )
        if causes:
            raise invalid_status("meta.k8s.io", "DeleteOptions", "", causes)
        pre = opts.get("preconditions") or {}
        dry = query.get("dryRun") == "All" or "All" in (opts.get("dryRun") or [])
        return {"grace": grace, "policy": policy, "orphan": orphan, "pre": pre, "dry": dry}

    def _delete(
        self,
        rt: ResourceType,
        ns: str,
        name: str,
        query: dict[str, str],
        body: bytes,
        dry_run: bool,
    ) -> None:
        o = self._delete_options(query, body)
        res = self.state.store.delete(
            rt.name,
            ns,
            name,
            grace_period_seconds=o["grace"],
            propagation_policy=o["policy"],
            orphan_dependents=o["orphan"],
            preconditions=o["pre"],
            dry_run=dry_run or o["dry"],
        )
        headers = {"Warning": f'299 - "{res.warnings[0]}"'} if res.warnings else {}
        if res.deleted and not rt.returns_deleted_object:
            out = {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": omit_empty(
                    {
                        "name": name,
                        "group": rt.group,
                        "kind": rt.name,
                        "uid": res.obj["metadata"]["uid"],
                    }
                ),
            }
            self._send_json(200, out, headers)
        else:
            self._send_json(200, res.obj, headers)

    def _delete_collection(
        self, rt: ResourceType, ns: str, query: dict[str, str], body: bytes
    ) -> None:
        label, fields = self._selectors(rt, query)
        o = self._delete_options(query, body)
        self.state.store.delete_collection(
            rt.name,
            ns,
            label_selector=label,
            field_selector=fields,
            grace_period_seconds=o["grace"],
            propagation_policy=o["policy"],
        )
        self._send_json(
            200,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"group": rt.group, "kind": rt.name},
            },
        )

    def _ssar(self, body: Any) -> None:
        if not isinstance(body, dict):
            raise bad_request("the body of the request was in an unknown format")
        spec = body.get("spec") or {}
        attrs = spec.get("resourceAttributes")
        status: dict[str, Any]
        if attrs:
            verb = attrs.get("verb", "")
            resource = attrs.get("resource", "")
            ok = self.state.rbac.allowed(
                verb,
                resource,
                attrs.get("namespace", ""),
                attrs.get("subresource", ""),
                attrs.get("name", ""),
            )
            if ok:
                status = {
                    "allowed": True,
                    "reason": (
                        'RBAC: allowed by ClusterRoleBinding "fakekube-admin" of ClusterRole '
                        f'"cluster-admin" to User "{USER}"'
                    ),
                }
            else:
                status = {
                    "allowed": False,
                    "denied": True,
                    "reason": "fakekube: denied by a deny rule",
                }
        elif spec.get("nonResourceAttributes"):
            status = {"allowed": True, "reason": "fakekube: non-resource URLs are open"}
        else:
            raise StatusError(
                422,
                "Invalid",
                'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: '
                'spec.resourceAttributes: Invalid value: "null": exactly one of '
                "nonResourceAttributes or "
                "resourceAttributes must be specified",
                details={"group": "authorization.k8s.io", "kind": "SelfSubjectAccessReview"},
            )
        meta = dict(body.get("metadata") or {})
        meta["creationTimestamp"] = None
        out = {
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": meta,
            "spec": spec,
            "status": status,
        }
        self._send_json(201, out)

    # ------------------------------------------------------------------ logs

    def _pod_log(self, info: RequestInfo, query: dict[str, str], decision: FaultDecision) -> None:
        st = self.state
        # PodLogOptions: decoded from the query (400), validated (422), before the pod is read.
        tail_lines = _int_param(query, "tailLines")
        limit_bytes = _int_param(query, "limitBytes")
        since_seconds = _int_param(query, "sinceSeconds")
        since_time = query.get("sinceTime") or None
        if since_time is not None:
            err = parse_error(RFC3339, since_time)
            if err:
                raise bad_request(err)
        causes: list[Cause] = []
        if tail_lines is not None and tail_lines < 0:
            causes.append(invalid("tailLines", tail_lines, "must be greater than or equal to 0"))
        if limit_bytes is not None and limit_bytes < 1:
            causes.append(invalid("limitBytes", limit_bytes, "must be greater than 0"))
        if since_seconds is not None and since_time is not None:
            causes.append(
                forbidden("[]", "at most one of `sinceTime` or `sinceSeconds` may be specified")
            )
        elif since_seconds is not None and since_seconds < 1:
            causes.append(invalid("sinceSeconds", since_seconds, "must be greater than 0"))
        if causes:
            raise invalid_status("", "PodLogOptions", info.name, causes)
        pod = st.store.get("pods", info.namespace, info.name)
        containers = [c["name"] for c in pod["spec"].get("containers") or []]
        init = [c["name"] for c in pod["spec"].get("initContainers") or []]
        container = query.get("container") or ""
        if not container:
            if len(containers) == 1:
                container = containers[0]
            elif not containers:
                raise bad_request(f"a container name must be specified for pod {info.name}")
            else:
                raise bad_request(
                    f"a container name must be specified for pod {info.name}, choose one of: "
                    f"[{' '.join(init + containers)}]"
                )
        if container not in containers and container not in init:
            raise bad_request(f"container {container} is not valid for pod {info.name}")
        if not pod["spec"].get("nodeName"):
            # No node to ask: the apiserver streams nothing (204).
            self._send_no_content()
            return
        # What follows is the kubelet's answer, proxied.
        previous = qbool(query, "previous")
        uid = pod["metadata"]["uid"]
        buf = st.logs.get(uid, container, previous=previous)
        if previous and buf is None:
            raise bad_request(
                f'previous terminated container "{container}" in pod "{info.name}" not found'
            )
        if buf is None:
            reason = _waiting_reason(pod, container)
            raise bad_request(
                f'container "{container}" in pod "{info.name}" is waiting to start: {reason}'
            )
        opts = LogOptions(
            follow=qbool(query, "follow") and not previous,
            timestamps=qbool(query, "timestamps"),
            tail_lines=tail_lines,
            limit_bytes=limit_bytes,
        )
        if since_time is not None:
            opts.since_ns = int(parse_time(since_time) * 1e9)
        elif since_seconds is not None:
            opts.since_ns = int((st.clock.now() - since_seconds) * 1e9)

        def alive() -> bool:
            cur = st.store.try_get("pods", info.namespace, info.name)
            return cur is not None and cur["metadata"]["uid"] == uid

        cut = decision.cut_after
        self._start_stream("text/plain")
        sent = 0
        for batch in render_lines(buf, opts, stopping=st.stopping, alive=alive, poll=st.poll):
            if cut is not None and sent + len(batch) > cut:
                self._chunk(b"".join(batch[: cut - sent]))
                raise _Dropped
            self._chunk(b"".join(batch))
            sent += len(batch)
        if st.stopping.is_set():
            raise _Dropped
        self._end_stream()


def _waiting_reason(pod: dict[str, Any], container: str) -> str:
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") == container:
            waiting = (cs.get("state") or {}).get("waiting")
            if waiting:
                return waiting.get("reason", "ContainerCreating")
    return "ContainerCreating"


def _event_line(etype: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": etype, "object": obj}, separators=(",", ":")).encode() + b"\n"


def _method_not_allowed() -> StatusError:
    return StatusError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        details={},
    )


def _unsupported_media(ctype: str, *, patch: bool = False) -> StatusError:
    accepted = (
        "application/json-patch+json, application/merge-patch+json, "
        "application/apply-patch+yaml, application/strategic-merge-patch+json"
        if patch
        else "application/json, application/yaml, application/vnd.kubernetes.protobuf"
    )
    return StatusError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + accepted,
    )


def _fault_error(d: FaultDecision) -> StatusError:
    code = d.status or 500
    headers = {}
    details: dict[str, Any] = {}
    if d.retry_after is not None:
        headers["Retry-After"] = str(d.retry_after)
        details["retryAfterSeconds"] = d.retry_after
    if code == 429:
        return StatusError(
            429,
            "TooManyRequests",
            d.message or "Too many requests, please try again later.",
            details=details,
            headers=headers,
        )
    if code == 503:
        return StatusError(
            503,
            "ServiceUnavailable",
            d.message or "The server is currently unable to handle the request (injected fault)",
            details=details,
            headers=headers,
        )
    if code == 504:
        return StatusError(
            504,
            "Timeout",
            d.message or "Timeout: request did not complete within requested timeout",
            details=details,
            headers=headers,
        )
    if code == 500:
        return StatusError(
            500,
            "InternalError",
            d.message or "Internal error occurred: injected fault",
            details=details,
            headers=headers,
        )
    return StatusError(
        code, "Unknown", d.message or f"injected fault {code}", details=details, headers=headers
    )


class FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Clients open many connections at once (watches, follows); the default 5 is too few.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: ServerState) -> None:
        handler = type("BoundHandler", (Handler,), {"state": state})
        super().__init__(address, handler)
        self.state = state
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up mid-answer is routine (a cancelled follow, a killed
        # process); the default handler would print its traceback into whatever
        # sys.stderr is at the time - an in-process command's captured stderr.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def track(self, conn: socket.socket) -> None:
        with self._conns_lock:
            self._conns.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._conns_lock:
            self._conns.discard(conn)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)


def resource_for(name: str) -> ResourceType:
    rt = RESOURCES.get(name)
    if rt is None:
        raise not_found(RESOURCES["namespaces"], name)
    return rt
