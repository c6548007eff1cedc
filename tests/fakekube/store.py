"""The object store: etcd plus the apiserver's registry logic, in memory.

One lock guards everything. Stored objects are immutable snapshots: every change
builds a new dict, so watch events can share them without copies. Public getters
return copies the caller may change.
"""

from __future__ import annotations

import base64
import json
import queue
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.fakekube.api import StatusError
from tests.fakekube.defaults import apply_create_defaults
from tests.fakekube.discovery import RESOURCES, ResourceType
from tests.fakekube.patch import json_patch, merge_patch, strategic_merge
from tests.fakekube.selectors import FieldSelector, LabelSelector
from tests.fakekube.util import Clock, copy_json, name_suffix
from tests.fakekube.validation import (
    Cause,
    immutable,
    invalid_error,
    invalid_status,
    object_causes,
    update_causes,
)

FOREGROUND_FINALIZER = "foregroundDeletion"
ROOT_CA_PEM = "-----BEGIN CERTIFICATE-----\nZmFrZWt1YmU=\n-----END CERTIFICATE-----\n"
ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
    "guaranteed across distributions of Kubernetes clusters."
)
ORPHAN_FINALIZER = "orphan"
_SERVER_META = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
    "managedFields",
)
_HAS_STATUS = {"pods", "jobs", "namespaces", "persistentvolumeclaims"}
_KEEP_BODY_STATUS_ON_CREATE: set[str] = set()

# ---------------------------------------------------------------------------- errors


def not_found(rt: ResourceType, name: str) -> StatusError:
    return StatusError(
        404,
        "NotFound",
        f'{rt.group_resource} "{name}" not found',
        details={"name": name, "group": rt.group, "kind": rt.name},
    )


def already_exists(rt: ResourceType, name: str) -> StatusError:
    return StatusError(
        409,
        "AlreadyExists",
        f'{rt.group_resource} "{name}" already exists',
        details={"name": name, "group": rt.group, "kind": rt.name},
    )


def conflict(rt: ResourceType, name: str, detail: str | None = None) -> StatusError:
    detail = detail or (
        "the object has been modified; please apply your changes to the latest version and "
        "try again"
    )
    return StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rt.group_resource} "{name}": {detail}',
        details={"name": name, "group": rt.group, "kind": rt.name},
    )


def precondition_conflict(rt: ResourceType, name: str, detail: str) -> StatusError:
    """A DeleteOptions precondition that does not hold: the registry names the Kind."""
    kind = f"{rt.kind}.{rt.group}" if rt.group else rt.kind
    return StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {kind} "{name}": {detail}',
        details={"name": name, "group": rt.group, "kind": rt.kind},
    )


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def expired(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def namespace_not_found(name: str) -> StatusError:
    return StatusError(
        404,
        "NotFound",
        f'namespaces "{name}" not found',
        details={"name": name, "kind": "namespaces"},
    )


# ---------------------------------------------------------------------------- watch plumbing


@dataclass
class WatchEvent:
    type: str  # ADDED / MODIFIED / DELETED
    rv: int
    resource: str
    namespace: str
    obj: dict[str, Any]  # snapshot after the change (last state for DELETED)
    old: dict[str, Any] | None = None


def filter_event(
    ev: WatchEvent, matches: Callable[[dict[str, Any]], bool]
) -> tuple[str, dict[str, Any]] | None:
    """Translate an event through a selector like the watch cache does.

    An object that stops matching is reported as DELETED, one that starts matching as ADDED.
    """
    if ev.type == "ADDED":
        return ("ADDED", ev.obj) if matches(ev.obj) else None
    if ev.type == "DELETED":
        return ("DELETED", ev.obj) if matches(ev.obj) else None
    new_m = matches(ev.obj)
    old_m = ev.old is not None and matches(ev.old)
    if new_m and old_m:
        return ("MODIFIED", ev.obj)
    if new_m:
        return ("ADDED", ev.obj)
    if old_m:
        return ("DELETED", ev.obj)
    return None


_CLOSED = object()


class Watcher:
    """A subscription to one resource type's events (optionally one namespace)."""

    def __init__(self, store: Store, resources: tuple[str, ...], namespace: str | None) -> None:
        self._store = store
        self.resources = resources
        self.namespace = namespace
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.closed = False

    def _offer(self, ev: WatchEvent) -> None:
        if self.namespace is None or self.namespace == ev.namespace:
            self._queue.put(ev)

    def get(self, timeout: float) -> WatchEvent | None:
        """The next event, or None after ``timeout`` or once the watcher is closed."""
        if self.closed:
            return None
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _CLOSED:
            self.closed = True
            return None
        return item

    def close(self) -> None:
        if not self.closed:
            self._store._unregister(self)
            self._queue.put(_CLOSED)
            self.closed = True


@dataclass
class ListResult:
    items: list[dict[str, Any]]
    resource_version: str
    continue_token: str = ""
    remaining: int | None = None


@dataclass
class DeleteResult:
    obj: dict[str, Any]  # the object as last stored (deletionTimestamp set if pending)
    deleted: bool  # gone from the store now
    warnings: list[str] = field(default_factory=list)


def _reorder(obj: dict[str, Any]) -> dict[str, Any]:
    """kind, apiVersion, metadata first and status last, like apiserver output."""
    out: dict[str, Any] = {}
    for k in ("kind", "apiVersion", "metadata"):
        if k in obj:
            out[k] = obj[k]
    for k, v in obj.items():
        if k not in out and k != "status":
            out[k] = v
    if "status" in obj:
        out["status"] = obj["status"]
    return out


def encode_continue(rv: int, start: str) -> str:
    """A continue token as the apiserver writes it: base64url (no padding) of
    {"v":"meta.k8s.io/v1","rv":RV,"start":KEY}, KEY relative to the list's key prefix."""
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


INVALID_CONTINUE = "continue key is not valid"
EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted between "
    "the time the first chunk was returned and now may show up in the list."
)
EXPIRED_LIST = "The resourceVersion for the provided list is too old."


def decode_continue(token: str) -> tuple[int, str]:
    """storage.DecodeContinue: (resourceVersion, start key relative to the list, with "/")."""

    def bad(detail: str) -> StatusError:
        return bad_request(f"invalid continue token: {INVALID_CONTINUE}: {detail}")

    pos = go_base64_error(token, url=True, padded=False)
    if pos is not None:
        raise bad(f"illegal base64 data at input byte {pos}")
    data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    doc, err = go_json_object(data, "storage.continueToken")
    if err:
        raise bad(err)
    types = {"v": (str, "string"), "rv": (int, "int64"), "start": (str, "string")}
    for key, (typ, go_type) in types.items():
        value = doc.get(key)
        if value is not None and (not isinstance(value, typ) or isinstance(value, bool)):
            raise bad(
                f"json: cannot unmarshal {go_json_type(value)} into Go struct field "
                f"continueToken.{key} of type {go_type}"
            )
    version = doc.get("v") or ""
    if version != "meta.k8s.io/v1":
        raise bad(f"server does not recognize this encoded version {version}")
    rv = int(doc.get("rv") or 0)
    if rv == 0:
        raise bad("incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    start = doc.get("start") or ""
    if not start:
        raise bad("encoded start key empty (version meta.k8s.io/v1)")
    key = start if start.startswith("/") else "/" + start
    if go_path_clean(key) != key:
        raise bad(start)
    return rv, key


def go_path_clean(p: str) -> str:
    """Go's path.Clean for a rooted path."""
    out: list[str] = []
    for part in p.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out:
                out.pop()
            continue
        out.append(part)
    return "/" + "/".join(out)


_B64_STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_URL = _B64_STD[:62] + "-_"


def go_base64_error(text: str, *, url: bool = False, padded: bool = True) -> int | None:
    """The offset Go's base64 decoder reports as corrupt (CorruptInputError), or None."""
    alphabet = set(_B64_URL if url else _B64_STD)
    src = text.encode("latin-1", errors="replace")
    si = 0
    n = len(src)
    while si < n:
        j = 0
        while j < 4:
            if si == n:
                if j == 0:
                    return None
                if j == 1 or padded:
                    return si - j
                break
            ch = chr(src[si])
            si += 1
            if ch in alphabet:
                j += 1
                continue
            if ch in "\r\n":
                continue
            if ch != "=" or not padded:
                return si - 1
            if j in (0, 1):
                return si - 1
            if j == 2:
                while si < n and chr(src[si]) in "\r\n":
                    si += 1
                if si == n:
                    return n
                if chr(src[si]) != "=":
                    return si - 1
                si += 1
            while si < n and chr(src[si]) in "\r\n":
                si += 1
            if si < n:
                return si
            return None
    return None


def go_json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _go_quote_char(c: str) -> str:
    if c == "'":
        return "'\\''"
    if c == '"':
        return "'\"'"
    o = ord(c)
    escapes = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v"}
    if o in escapes:
        return f"'{escapes[o]}'"
    if o < 0x20 or o == 0x7F:
        return f"'\\x{o:02x}'"
    if 0x80 <= o < 0xA0 or o == 0xAD:
        return f"'\\u{o:04x}'"
    if c == "\\":
        return "'\\\\'"
    return f"'{c}'"


def go_json_object(data: bytes, go_type: str) -> tuple[dict[str, Any], str]:
    """json.Unmarshal into a Go struct: the object, or Go's error text for what it rejects."""
    text = data.decode("latin-1")
    stripped = text.lstrip(" \t\r\n")
    if not stripped:
        return {}, "unexpected end of JSON input"
    if stripped[0] not in '{["-0123456789tfn':
        return {}, f"invalid character {_go_quote_char(stripped[0])} looking for beginning of value"
    try:
        doc = json.loads(data)
    except ValueError:
        return {}, "unexpected end of JSON input"
    if not isinstance(doc, dict):
        if doc is None:
            return {}, ""
        return {}, f"json: cannot unmarshal {go_json_type(doc)} into Go value of type {go_type}"
    return doc, ""


class Store:
    def __init__(self, clock: Clock, *, history_size: int = 1000) -> None:
        self.clock = clock
        self.history_size = history_size
        self.lock = threading.RLock()
        self._rv = 100
        self._objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {r: {} for r in RESOURCES}
        self._history: dict[str, deque[WatchEvent]] = {r: deque() for r in RESOURCES}
        self._floor: dict[str, int] = dict.fromkeys(RESOURCES, 0)
        self._watchers: dict[str, list[Watcher]] = {r: [] for r in RESOURCES}
        self._seed()

    # ------------------------------------------------------------------ bootstrap

    def _seed(self) -> None:
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.create("namespaces", "", {"metadata": {"name": ns}})

    def _populate_namespace_locked(self, ns: str) -> None:
        """What the ServiceAccount controller and the root-CA publisher put in every new
        namespace (a real control plane does it moments after; here, at once)."""
        for resource, obj in (
            ("serviceaccounts", {"metadata": {"name": "default"}}),
            (
                "configmaps",
                {
                    "metadata": {
                        "name": "kube-root-ca.crt",
                        "annotations": {"kubernetes.io/description": ROOT_CA_DESCRIPTION},
                    },
                    "data": {"ca.crt": ROOT_CA_PEM},
                },
            ),
        ):
            if (ns, obj["metadata"]["name"]) not in self._objects[resource]:
                self.create(resource, ns, obj)

    # ------------------------------------------------------------------ primitives

    @property
    def resource_version(self) -> int:
        with self.lock:
            return self._rv

    def _rt(self, resource: str) -> ResourceType:
        rt = RESOURCES.get(resource)
        if rt is None:
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        return rt

    def _key(self, rt: ResourceType, namespace: str, name: str) -> tuple[str, str]:
        return (namespace if rt.namespaced else "", name)

    def _commit(
        self,
        resource: str,
        etype: str,
        new: dict[str, Any],
        old: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """Store ``new`` (or remove it for DELETED) with a fresh resourceVersion."""
        self._rv += 1
        rv = self._rv
        meta = dict(new.get("metadata") or {})
        meta["resourceVersion"] = str(rv)
        new = dict(new)
        new["metadata"] = meta
        new = _reorder(new)
        key = (meta.get("namespace", ""), meta["name"])
        if etype == "DELETED":
            self._objects[resource].pop(key, None)
        else:
            self._objects[resource][key] = new
        ev = WatchEvent(etype, rv, resource, key[0], new, old)
        hist = self._history[resource]
        hist.append(ev)
        while len(hist) > self.history_size:
            dropped = hist.popleft()
            self._floor[resource] = dropped.rv
        for w in self._watchers[resource]:
            w._offer(ev)
        return new

    def _unregister(self, watcher: Watcher) -> None:
        with self.lock:
            for r in watcher.resources:
                lst = self._watchers.get(r, [])
                if watcher in lst:
                    lst.remove(watcher)

    def _get_locked(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        obj = self._objects[rt.name].get(self._key(rt, namespace, name))
        if obj is None:
            raise not_found(rt, name)
        return obj

    def _check_namespace(self, rt: ResourceType, namespace: str) -> None:
        if not rt.namespaced:
            return
        ns = self._objects["namespaces"].get(("", namespace))
        if ns is None:
            raise namespace_not_found(namespace)

    # ------------------------------------------------------------------ reads

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        rt = self._rt(resource)
        with self.lock:
            return copy_json(self._get_locked(rt, namespace, name))

    def try_get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        rt = self._rt(resource)
        with self.lock:
            obj = self._objects[rt.name].get(self._key(rt, namespace, name))
            return copy_json(obj) if obj is not None else None

    def snapshot(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Stored snapshots (not copies: read only) sorted like etcd keys."""
        with self.lock:
            objs = self._objects[resource]
            keys = sorted(k for k in objs if namespace is None or k[0] == namespace)
            return [objs[k] for k in keys]

    def list(
        self,
        resource: str,
        namespace: str | None,
        *,
        label_selector: LabelSelector | None = None,
        field_selector: FieldSelector | None = None,
        limit: int = 0,
        continue_token: str = "",
        resource_version: str = "",
        match: str = "",
    ) -> ListResult:
        rt = self._rt(resource)
        with self.lock:
            start = ""
            floor = self._floor[resource]
            if continue_token:
                token_rv, start = decode_continue(continue_token)
                # A list snapshot cannot be continued once history up to it was compacted:
                # the answer carries a token to go on at the latest version (rv -1).
                if 0 <= token_rv <= floor:
                    raise StatusError(
                        410,
                        "Expired",
                        EXPIRED_CONTINUE,
                        metadata={"continue": encode_continue(-1, start[1:])},
                    )
            elif (
                resource_version
                and resource_version != "0"
                and (match == "Exact" or (not match and limit))
                and int(resource_version) < floor
            ):
                # An exact read at a version etcd no longer has.
                raise expired(EXPIRED_LIST)
            # Every page reports (and its token keeps) the first page's resourceVersion.
            rv = token_rv if continue_token and token_rv > 0 else self._rv
            objs = self._objects[resource]
            ns_filter = namespace if rt.namespaced and namespace else None

            def rel_key(k: tuple[str, str]) -> str:
                # The key relative to the list's prefix: /<name>, or /<ns>/<name> across
                # namespaces (etcd key order).
                return f"/{k[0]}/{k[1]}" if rt.namespaced and ns_filter is None else f"/{k[1]}"

            keys = sorted((k for k in objs if ns_filter is None or k[0] == ns_filter), key=rel_key)
            selected: list[tuple[str, dict[str, Any]]] = []
            for k in keys:
                etcd_key = rel_key(k)
                if start and etcd_key < start:
                    continue
                obj = objs[k]
                if label_selector and not label_selector.matches(obj["metadata"].get("labels")):
                    continue
                if field_selector and not field_selector.matches(obj):
                    continue
                selected.append((etcd_key, obj))
            token = ""
            remaining: int | None = None
            if limit and len(selected) > limit:
                last_key = selected[limit - 1][0]
                token = encode_continue(rv, last_key + "\x00")
                if not (label_selector and not label_selector.empty) and not (
                    field_selector and not field_selector.empty
                ):
                    remaining = len(selected) - limit
                selected = selected[:limit]
            items = []
            for _, obj in selected:
                item = copy_json(obj)
                # Items in a list carry no kind/apiVersion, as from a real server.
                item.pop("kind", None)
                item.pop("apiVersion", None)
                items.append(item)
            return ListResult(items, str(rv), token, remaining)

    # ------------------------------------------------------------------ create

    def create(
        self,
        resource: str,
        namespace: str,
        body: dict[str, Any],
        *,
        dry_run: bool = False,
        http: bool = False,
    ) -> dict[str, Any]:
        """Create ``body``. ``http``: the request came over HTTP and gets every check the
        apiserver makes (in-process callers may pass objects they read back)."""
        rt = self._rt(resource)
        if not isinstance(body, dict):
            raise bad_request("the body of the request was in an unknown format")
        obj = copy_json(body)
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if rt.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and body_ns != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        obj["kind"] = rt.kind
        obj["apiVersion"] = rt.api_version
        rv_set = bool(meta.get("resourceVersion"))
        for k in _SERVER_META:
            meta.pop(k, None)
        for k in [k for k, v in meta.items() if v is None]:
            del meta[k]
        with self.lock:
            self._check_namespace(rt, namespace)
            if rt.namespaced:
                ns_obj = self._objects["namespaces"][("", namespace)]
                if ns_obj["metadata"].get("deletionTimestamp"):
                    raise StatusError(
                        403,
                        "Forbidden",
                        f'{rt.group_resource} "{meta.get("name") or meta.get("generateName", "")}" '
                        f"is forbidden: unable to create new content in namespace {namespace} "
                        f"because it is being terminated",
                        details={"name": meta.get("name", ""), "group": rt.group, "kind": rt.name},
                    )
            if not meta.get("name") and meta.get("generateName"):
                base = meta["generateName"][:58]
                for _ in range(20):
                    candidate = base + name_suffix(5)
                    if self._key(rt, namespace, candidate) not in self._objects[resource]:
                        break
                meta["name"] = candidate
            name = meta.get("name") or ""
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = self.clock.rfc3339()
            if rt.has_generation:
                meta["generation"] = 1
            if resource not in _HAS_STATUS and resource not in _KEEP_BODY_STATUS_ON_CREATE:
                obj.pop("status", None)
            apply_create_defaults(resource, obj)
            causes = object_causes(rt, obj)
            if causes:
                raise invalid_error(rt, name, causes)
            if resource == "pods":
                self._admit_pod(rt, obj)
            if http and rv_set:
                # etcd3 store: ErrResourceVersionSetOnCreate, sent as a bare 500.
                raise StatusError(
                    500, "", "resourceVersion should not be set on objects to be created"
                )
            if self._key(rt, namespace, name) in self._objects[resource]:
                raise already_exists(rt, name)
            if dry_run:
                meta.pop("uid", None)
                return _reorder(obj)
            stored = copy_json(self._commit(resource, "ADDED", obj, None))
            if resource == "namespaces":
                self._populate_namespace_locked(name)
            return stored

    def _admit_pod(self, rt: ResourceType, pod: dict[str, Any]) -> None:
        """The ServiceAccount admission plugin: the pod's ServiceAccount must exist."""
        ns = pod["metadata"]["namespace"]
        sa = pod["spec"].get("serviceAccountName") or "default"
        if (ns, sa) not in self._objects["serviceaccounts"]:
            name = pod["metadata"].get("name", "")
            raise StatusError(
                403,
                "Forbidden",
                f'pods "{name}" is forbidden: error looking up service account {ns}/{sa}: '
                f'serviceaccount "{sa}" not found',
                details={"name": name, "kind": "pods"},
            )

    # ------------------------------------------------------------------ update / patch

    def update(
        self,
        resource: str,
        namespace: str,
        name: str,
        body: dict[str, Any],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        rt = self._rt(resource)
        if not isinstance(body, dict):
            raise bad_request("the body of the request was in an unknown format")
        meta = body.get("metadata") or {}
        body_name = meta.get("name")
        if body_name and body_name != name:
            raise bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        if rt.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        with self.lock:
            old = self._get_locked(rt, namespace, name)
            return self._update_locked(
                rt, old, copy_json(body), subresource=subresource, dry_run=dry_run
            )

    def patch(
        self,
        resource: str,
        namespace: str,
        name: str,
        patch_type: str,
        patch_body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        rt = self._rt(resource)
        with self.lock:
            old = self._get_locked(rt, namespace, name)
            base = copy_json(old)
            if patch_type == "json":
                new = json_patch(base, patch_body)
                rv_given = _json_patch_sets_rv(patch_body)
            else:
                if not isinstance(patch_body, dict):
                    raise bad_request(
                        "json: cannot unmarshal array into Go value of type map[string]interface {}"
                    )
                if patch_type == "merge":
                    new = merge_patch(base, patch_body)
                else:
                    new = strategic_merge(base, patch_body)
                rv_given = bool((patch_body.get("metadata") or {}).get("resourceVersion"))
            if not isinstance(new, dict):
                raise bad_request("patch did not produce an object")
            new_meta = new.get("metadata") or {}
            if new_meta.get("name", name) != name:
                raise bad_request(
                    f"the name of the object ({new_meta.get('name')}) does not match the name on "
                    f"the URL ({name})"
                )
            if not rv_given:
                new.setdefault("metadata", {})["resourceVersion"] = old["metadata"][
                    "resourceVersion"
                ]
            new_uid = new_meta.get("uid")
            if new_uid and new_uid != old["metadata"]["uid"]:
                raise invalid_error(rt, name, [immutable("metadata.uid", new_uid)])
            return self._update_locked(rt, old, new, subresource=subresource, dry_run=dry_run)

    def _update_locked(
        self,
        rt: ResourceType,
        old: dict[str, Any],
        body: dict[str, Any],
        *,
        subresource: str | None,
        dry_run: bool,
    ) -> dict[str, Any]:
        name = old["metadata"]["name"]
        meta = body.get("metadata")
        if not isinstance(meta, dict):
            meta = body["metadata"] = {}
        rv = meta.get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        uid = meta.get("uid")
        if uid and uid != old["metadata"]["uid"]:
            ns = old["metadata"].get("namespace")
            key = f"/registry/{rt.name}/{ns}/{name}" if ns else f"/registry/{rt.name}/{name}"
            raise conflict(
                rt,
                name,
                f"StorageError: invalid object, Code: 4, Key: {key}, ResourceVersion: 0, "
                f"AdditionalErrorMsg: Precondition failed: UID in precondition: {uid}, "
                f"UID in object meta: {old['metadata']['uid']}",
            )
        if subresource == "status":
            new = copy_json(old)
            if "status" in body:
                new["status"] = body["status"]
            else:
                new.pop("status", None)
        else:
            new = body
            new["kind"] = rt.kind
            new["apiVersion"] = rt.api_version
            nmeta = new["metadata"]
            for k in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ):
                if k in old["metadata"]:
                    nmeta[k] = old["metadata"][k]
                else:
                    nmeta.pop(k, None)
            nmeta["name"] = name
            if rt.namespaced:
                nmeta["namespace"] = old["metadata"]["namespace"]
            for k in [k for k, v in nmeta.items() if v is None]:
                del nmeta[k]
            if rt.name in _HAS_STATUS:
                # The main resource ignores status; only /status writes it.
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
            elif rt.name not in _HAS_STATUS:
                new.pop("status", None)
            if rt.has_generation and new.get("spec") != old.get("spec"):
                nmeta["generation"] = int(old["metadata"].get("generation", 1)) + 1
            if old["metadata"].get("deletionTimestamp"):
                # Finalizers may only be removed while an object is being deleted.
                added = set(nmeta.get("finalizers") or []) - set(
                    old["metadata"].get("finalizers") or []
                )
                if added:
                    raise invalid_error(
                        rt,
                        name,
                        [
                            Cause(
                                "metadata.finalizers",
                                "FieldValueForbidden",
                                "Forbidden: no new finalizers can be added if the object is "
                                f"being deleted, found new finalizers {sorted(added)!r}",
                            )
                        ],
                    )
            causes = object_causes(rt, new) + update_causes(rt, old, new)
            if causes:
                raise invalid_error(rt, name, causes)
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if _reorder(new) == old:
            # A no-op write does not bump the resourceVersion, as with a real apiserver.
            return copy_json(old)
        if dry_run:
            return _reorder(new)
        if _deletable(rt.name, new):
            stored = self._commit(rt.name, "DELETED", new, old)
            self._on_deleted_locked(rt, stored)
            return copy_json(stored)
        return copy_json(self._commit(rt.name, "MODIFIED", new, old))

    def mutate(
        self,
        resource: str,
        namespace: str,
        name: str,
        fn: Callable[[dict[str, Any]], Any],
        *,
        expect_uid: str | None = None,
    ) -> dict[str, Any] | None:
        """Read-modify-write for in-process controllers (no validation, no CAS).

        ``fn`` changes the copy in place; returns the stored object or None if it is gone
        (or was replaced by another object with the same name).
        """
        rt = self._rt(resource)
        with self.lock:
            old = self._objects[resource].get(self._key(rt, namespace, name))
            if old is None or (expect_uid and old["metadata"]["uid"] != expect_uid):
                return None
            new = copy_json(old)
            fn(new)
            if new == old:
                return copy_json(old)
            if _deletable(resource, new):
                stored = self._commit(resource, "DELETED", new, old)
                self._on_deleted_locked(rt, stored)
                return None
            return copy_json(self._commit(resource, "MODIFIED", new, old))

    # ------------------------------------------------------------------ delete

    def delete(
        self,
        resource: str,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        orphan_dependents: bool | None = None,
        preconditions: dict[str, Any] | None = None,
        dry_run: bool = False,
    ) -> DeleteResult:
        rt = self._rt(resource)
        with self.lock:
            obj = self._get_locked(rt, namespace, name)
            meta = obj["metadata"]
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != meta["uid"]:
                raise precondition_conflict(
                    rt,
                    name,
                    f"the UID in the precondition ({pre['uid']}) does not match the UID in "
                    f"record ({meta['uid']}). The object might have been deleted and then "
                    "recreated",
                )
            if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
                raise precondition_conflict(
                    rt,
                    name,
                    f"the ResourceVersion in the precondition ({pre['resourceVersion']}) does "
                    f"not match the ResourceVersion in record ({meta['resourceVersion']}). The "
                    "object might have been modified",
                )
            warnings: list[str] = []
            policy = propagation_policy
            if policy is None and orphan_dependents is not None:
                policy = "Orphan" if orphan_dependents else "Background"
            if policy is None:
                if rt.name == "jobs":
                    # batch/v1 Jobs orphan their pods unless told otherwise (a kube quirk).
                    policy = "Orphan"
                    warnings.append(
                        "child pods are preserved by default when jobs are deleted; set "
                        "propagationPolicy=Background to remove them or set "
                        "propagationPolicy=Orphan to suppress this warning"
                    )
                else:
                    policy = "Background"
            if policy not in ("Orphan", "Background", "Foreground"):
                raise invalid_status(
                    "meta.k8s.io",
                    "DeleteOptions",
                    "",
                    [
                        Cause(
                            "propagationPolicy",
                            "FieldValueNotSupported",
                            f'Unsupported value: "{policy}": supported values: "Foreground", '
                            f'"Background", "Orphan", "nil"',
                        )
                    ],
                )
            if grace_period_seconds is not None and grace_period_seconds < 0:
                grace_period_seconds = 0
            if dry_run:
                return DeleteResult(copy_json(obj), False, warnings)

            new = copy_json(obj)
            nmeta = new["metadata"]
            finalizers = list(nmeta.get("finalizers") or [])
            now = self.clock.now()
            # Like the registry: Orphan and Foreground always add their finalizer (the object
            # is answered, pending); the garbage collector removes it. Orphaning is done here
            # at once (a fast collector); the collector then drops the finalizer.
            if policy == "Orphan":
                self._orphan_dependents_locked(meta["uid"])
                if ORPHAN_FINALIZER not in finalizers and not nmeta.get("deletionTimestamp"):
                    finalizers.append(ORPHAN_FINALIZER)
            elif policy == "Foreground":
                finalizers = [f for f in finalizers if f != ORPHAN_FINALIZER]
                if FOREGROUND_FINALIZER not in finalizers:
                    finalizers.append(FOREGROUND_FINALIZER)
            if finalizers:
                nmeta["finalizers"] = finalizers

            graceful = False
            if rt.name == "pods":
                grace = grace_period_seconds
                if grace is None:
                    grace = int(new["spec"].get("terminationGracePeriodSeconds", 30))
                phase = (new.get("status") or {}).get("phase")
                if not new["spec"].get("nodeName") or phase in ("Succeeded", "Failed"):
                    grace = 0
                cur = nmeta.get("deletionGracePeriodSeconds")
                if cur is not None and grace > cur:
                    grace = cur  # the grace period may only be shortened
                if grace > 0:
                    graceful = True
                    if cur is None or grace < cur:
                        nmeta["deletionTimestamp"] = self.clock.rfc3339(now + grace)
                        nmeta["deletionGracePeriodSeconds"] = grace
                else:
                    nmeta["deletionGracePeriodSeconds"] = 0
                    nmeta.setdefault("deletionTimestamp", self.clock.rfc3339(now))
            if finalizers or graceful:
                if not nmeta.get("deletionTimestamp"):
                    nmeta["deletionTimestamp"] = self.clock.rfc3339(now)
                    nmeta["deletionGracePeriodSeconds"] = 0
                if rt.name == "namespaces":
                    new["status"] = {"phase": "Terminating"}
                if new == obj:
                    return DeleteResult(copy_json(obj), False, warnings)
                stored = self._commit(resource, "MODIFIED", new, obj)
                return DeleteResult(copy_json(stored), False, warnings)
            if rt.name == "namespaces" and self._namespace_has_content_locked(name):
                # Namespaces drain their content first (the namespace controller's job).
                nmeta["deletionTimestamp"] = self.clock.rfc3339(now)
                nmeta["deletionGracePeriodSeconds"] = 0
                new["status"] = {"phase": "Terminating"}
                stored = self._commit(resource, "MODIFIED", new, obj)
                return DeleteResult(copy_json(stored), False, warnings)
            stored = self._commit(resource, "DELETED", new, obj)
            self._on_deleted_locked(rt, stored)
            return DeleteResult(copy_json(stored), True, warnings)

    def delete_collection(
        self,
        resource: str,
        namespace: str,
        *,
        label_selector: LabelSelector | None = None,
        field_selector: FieldSelector | None = None,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
    ) -> list[dict[str, Any]]:
        with self.lock:
            names = [
                o["metadata"]["name"]
                for o in self.list(
                    resource,
                    namespace,
                    label_selector=label_selector,
                    field_selector=field_selector,
                ).items
            ]
            out = []
            for n in names:
                try:
                    res = self.delete(
                        resource,
                        namespace,
                        n,
                        grace_period_seconds=grace_period_seconds,
                        propagation_policy=propagation_policy,
                    )
                except StatusError:
                    continue
                out.append(res.obj)
            return out

    def force_remove(
        self, resource: str, namespace: str, name: str, uid: str | None = None
    ) -> bool:
        """Remove an object at once whatever its finalizers (the kubelet's final delete)."""
        rt = self._rt(resource)
        with self.lock:
            obj = self._objects[resource].get(self._key(rt, namespace, name))
            if obj is None or (uid and obj["metadata"]["uid"] != uid):
                return False
            new = copy_json(obj)
            new["metadata"].setdefault("deletionTimestamp", self.clock.rfc3339())
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            stored = self._commit(resource, "DELETED", new, obj)
            self._on_deleted_locked(rt, stored)
            return True

    def _on_deleted_locked(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        """Hook for the garbage collector; it watches DELETED events instead."""

    # ------------------------------------------------------------------ ownership

    def _dependents_locked(self, owner_uid: str) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for resource, objs in self._objects.items():
            for obj in objs.values():
                for ref in obj["metadata"].get("ownerReferences") or ():
                    if ref.get("uid") == owner_uid:
                        out.append((resource, obj))
                        break
        return out

    def dependents(self, owner_uid: str) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            return [(r, copy_json(o)) for r, o in self._dependents_locked(owner_uid)]

    def _orphan_dependents_locked(self, owner_uid: str) -> None:
        for resource, obj in self._dependents_locked(owner_uid):
            new = copy_json(obj)
            refs = [
                r for r in new["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid
            ]
            if refs:
                new["metadata"]["ownerReferences"] = refs
            else:
                new["metadata"].pop("ownerReferences", None)
            self._commit(resource, "MODIFIED", new, obj)

    def orphan_dependents(self, owner_uid: str) -> None:
        with self.lock:
            self._orphan_dependents_locked(owner_uid)

    def _namespace_has_content_locked(self, namespace: str) -> bool:
        for resource, objs in self._objects.items():
            if RESOURCES[resource].namespaced and any(k[0] == namespace for k in objs):
                return True
        return False

    def uid_exists(self, uid: str) -> bool:
        with self.lock:
            return any(
                o["metadata"]["uid"] == uid
                for objs in self._objects.values()
                for o in objs.values()
            )

    def find_by_uid(self, uid: str) -> tuple[str, dict[str, Any]] | None:
        with self.lock:
            for resource, objs in self._objects.items():
                for o in objs.values():
                    if o["metadata"]["uid"] == uid:
                        return resource, copy_json(o)
        return None

    # ------------------------------------------------------------------ watch

    def watch(
        self,
        resource: str,
        namespace: str | None,
        resource_version: str | None,
        *,
        initial_events: bool | None = None,
    ) -> tuple[Watcher, list[WatchEvent]]:
        """Subscribe; returns the watcher and the events to replay before live ones.

        ``resource_version`` "" / "0" / None replays the current objects as ADDED.
        Raises StatusError 410 when ``resource_version`` has been compacted away.
        """
        rt = self._rt(resource)
        with self.lock:
            ns = namespace if rt.namespaced and namespace else None
            replay: list[WatchEvent] = []
            synthetic = (
                resource_version in (None, "", "0") if initial_events is None else initial_events
            )
            if synthetic:
                for k in sorted(self._objects[resource]):
                    if ns is None or k[0] == ns:
                        obj = self._objects[resource][k]
                        replay.append(
                            WatchEvent(
                                "ADDED",
                                int(obj["metadata"]["resourceVersion"]),
                                resource,
                                k[0],
                                obj,
                            )
                        )
            if resource_version not in (None, "", "0") and not synthetic:
                try:
                    since = int(resource_version)
                except ValueError:
                    raise bad_request(f'invalid resource version "{resource_version}"') from None
                if since < self._floor[resource]:
                    raise expired(f"too old resource version: {since} ({self._floor[resource]})")
                replay.extend(
                    e
                    for e in self._history[resource]
                    if e.rv > since and (ns is None or e.namespace == ns)
                )
            w = Watcher(self, (resource,), ns)
            self._watchers[resource].append(w)
            return w, replay

    def subscribe(self, resources: Iterable[str]) -> Watcher:
        """Live events of several resource types in one queue (for in-process controllers)."""
        with self.lock:
            w = Watcher(self, tuple(resources), None)
            for r in w.resources:
                self._watchers[r].append(w)
            return w

    def compact(self) -> None:
        """Drop all watch history, as an etcd compaction does."""
        with self.lock:
            for r in self._history:
                self._history[r].clear()
                self._floor[r] = self._rv

    def close_watchers(self) -> None:
        with self.lock:
            watchers = [w for lst in self._watchers.values() for w in lst]
        for w in watchers:
            w.close()

    def all_objects(self) -> Iterable[tuple[str, dict[str, Any]]]:
        with self.lock:
            return [(r, o) for r, objs in self._objects.items() for o in objs.values()]


def _deletable(resource: str, obj: dict[str, Any]) -> bool:
    """Being deleted, no finalizers left, and (pods) no kubelet still stopping containers."""
    meta = obj["metadata"]
    if not meta.get("deletionTimestamp") or meta.get("finalizers"):
        return False
    return not (resource == "pods" and _pod_awaits_kubelet(obj))


def _pod_awaits_kubelet(pod: dict[str, Any]) -> bool:
    """A graceful pod deletion waits for the kubelet to stop the containers."""
    meta = pod["metadata"]
    return bool(meta.get("deletionGracePeriodSeconds")) and bool(
        pod.get("spec", {}).get("nodeName")
    )


def _json_patch_sets_rv(ops: Any) -> bool:
    if not isinstance(ops, list):
        return False
    for op in ops:
        if (
            isinstance(op, dict)
            and op.get("path") in ("/metadata/resourceVersion",)
            and op.get("op") in ("add", "replace")
        ):
            return True
    return False
