"""The only module that imports ``kubernetes``: connection, raw JSON requests, watches, log streams.

nfk8s works on plain JSON dicts rather than the client's typed models: the models cost
hundreds of milliseconds to load and validate, and every object nfk8s writes is built by
``manifests.py`` anyway. The client still provides what is hard to get right: kubeconfig
and in-cluster loading, exec/OIDC auth plugins, TLS and the connection pool.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from nfk8s.errors import (
    RETRYABLE_STATUS,
    BadInput,
    ClusterError,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    Unauthorized,
    Unreachable,
)
from nfk8s.redact import remember, scrub

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

IN_CLUSTER_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
DEFAULT_TIMEOUT = 30.0
# A metadata-only list: kubectl asks for this, and so does every API server since 1.15.
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io, application/json"


@dataclass(frozen=True)
class Resource:
    """Where a kind lives in the API."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def display(self) -> str:
        """``jobs.batch``-style name, as kubectl and RBAC messages write it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None, name: str | None = None, sub: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace is not None:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name, safe='')}"
        if sub is not None:
            base += f"/{sub}"
        return base


LEASES = Resource("coordination.k8s.io", "v1", "leases", "Lease")
CONFIGMAPS = Resource("", "v1", "configmaps", "ConfigMap")
JOBS = Resource("batch", "v1", "jobs", "Job")
PODS = Resource("", "v1", "pods", "Pod")
EVENTS = Resource("", "v1", "events", "Event")
SECRETS = Resource("", "v1", "secrets", "Secret")
PVCS = Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
SERVICEACCOUNTS = Resource("", "v1", "serviceaccounts", "ServiceAccount")
NAMESPACES = Resource("", "v1", "namespaces", "Namespace", False)
SELF_SUBJECT_ACCESS_REVIEWS = Resource(
    "authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False
)


@dataclass(frozen=True)
class KubeTarget:
    """Which cluster and namespace to talk to, as the user asked for it."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None


@dataclass
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK
    object: dict[str, Any]


@dataclass
class ListPage:
    items: list[dict[str, Any]]
    resource_version: str
    continue_token: str | None


@dataclass
class RetryPolicy:
    """Backoff for calls that are safe to repeat (reads, deletes, CAS writes)."""

    attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 5.0
    sleep: Callable[[float], None] = field(default=time.sleep)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        backoff = min(self.base_delay * (2**attempt), self.max_delay)
        return backoff * (0.5 + random.random() / 2)


# Characters no HTTP header value may hold (RFC 9110): a token with one cannot be sent.
_BAD_HEADER_CHARS = frozenset(chr(c) for c in [*range(0x20), 0x7F]) - {"\t"}


def _tidy_credentials(configuration: Any, where: str) -> None:
    """Strip whitespace around tokens, as client-go does, and remember them for scrubbing.

    A token file written by ``echo`` ends with a newline, which urllib3 refuses to put in
    a header, with the token in the message. The client's refresh hook rewrites the token
    before every request, so the stripping wraps it.
    """
    hook = configuration.refresh_api_key_hook

    def tidy(conf: Any) -> None:
        if hook is not None:
            hook(conf)
            # The client's hook installs itself again each time it runs: stay in front.
            conf.refresh_api_key_hook = tidy
        for name, value in list(conf.api_key.items()):
            if isinstance(value, str):
                # "Bearer  <token>\n": the token itself is what gets stripped.
                scheme, _, token = value.strip().partition(" ")
                token = token.strip()
                conf.api_key[name] = f"{scheme} {token}" if token else scheme
                remember(token or scheme)

    configuration.refresh_api_key_hook = tidy
    tidy(configuration)
    remember(configuration.password)
    for value in configuration.api_key.values():
        if isinstance(value, str) and any(ch in _BAD_HEADER_CHARS for ch in value):
            raise BadInput(
                f"the token of {where} has a line break or control character inside it",
                hint="fix the token (or tokenFile) in the kubeconfig, e.g. with "
                "`kubectl config set-credentials`",
            )
    for path in (configuration.key_file, configuration.cert_file):
        if path:
            with contextlib.suppress(OSError):
                remember(Path(path).read_text(encoding="utf-8", errors="replace"))


def _is_in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and IN_CLUSTER_NAMESPACE_FILE.exists()


def _default_kubeconfig_paths() -> list[str]:
    env = os.environ.get("KUBECONFIG")
    if env:
        return [p for p in env.split(os.pathsep) if p]
    return [str(Path.home() / ".kube" / "config")]


class Kube:
    """Raw-JSON access to one namespace of one cluster."""

    def __init__(
        self,
        api_client: ApiClient,
        namespace: str,
        *,
        user: str | None = None,
        context: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._api = api_client
        self.namespace = namespace
        self.user = user
        self.context = context
        self.retry = retry or RetryPolicy()
        self._server_date: datetime | None = None
        self._server_date_mono = 0.0

    # -- connection -------------------------------------------------------------------

    @classmethod
    def connect(cls, target: KubeTarget) -> Kube:
        """Load credentials the way kubectl does: kubeconfig, else in-cluster."""
        import yaml
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        configuration = client.Configuration()
        # One retry layer, nfk8s's own (``RetryPolicy``): urllib3 would otherwise resend
        # PUTs and DELETEs unseen after a dropped connection, hiding that the first
        # attempt may have been carried out.
        configuration.retries = 0
        paths = [target.kubeconfig] if target.kubeconfig else _default_kubeconfig_paths()
        existing = [p for p in paths if Path(p).expanduser().is_file()]
        if target.kubeconfig and not existing:
            raise BadInput(
                f"kubeconfig {target.kubeconfig} does not exist",
                hint="pass --kubeconfig with a readable file, or unset it to use ~/.kube/config",
            )
        if not existing and not target.context and _is_in_cluster():
            config.load_incluster_config(client_configuration=configuration)
            _tidy_credentials(configuration, "the in-cluster ServiceAccount")
            namespace = target.namespace or IN_CLUSTER_NAMESPACE_FILE.read_text().strip()
            return cls(client.ApiClient(configuration), namespace, context=None)
        if not existing:
            raise BadInput(
                "no kubeconfig found (looked in " + ", ".join(paths) + ")",
                hint="set KUBECONFIG or pass --kubeconfig; inside a pod, mount a ServiceAccount",
            )
        kubeconfig = os.pathsep.join(existing)
        # A file that is not YAML, or YAML of the wrong shape, fails deep in the loader.
        malformed = (ConfigException, yaml.YAMLError, TypeError, ValueError, AttributeError)
        try:
            contexts, current = config.list_kube_config_contexts(config_file=kubeconfig)
            names = [str(c["name"]) for c in contexts or []]
        except (*malformed, KeyError) as exc:
            raise BadInput(
                f"cannot read kubeconfig {kubeconfig}: {_first_line(exc)}",
                hint="check the file with `kubectl config view`",
            ) from None
        if target.context and target.context not in names:
            raise BadInput(
                f"context {target.context!r} is not in {kubeconfig}",
                hint="choose one of: " + (", ".join(names) or "(none)"),
            )
        active = next((c for c in contexts if c["name"] == target.context), current)
        if not active:
            raise BadInput(
                f"kubeconfig {kubeconfig} has no current context",
                hint="pass --context or run `kubectl config use-context NAME`",
            )
        from nfk8s import credfiles

        try:
            config.load_kube_config(
                config_file=kubeconfig,
                context=active["name"],
                client_configuration=configuration,
                persist_config=False,
                # client-key-data is written to a file for OpenSSL: never the shared /tmp.
                temp_file_path=str(credfiles.private_dir()),
            )
        except malformed as exc:
            raise BadInput(
                f"cannot use context {active['name']!r}: {scrub(_first_line(exc))}",
                hint="check it with `kubectl config view --minify`",
            ) from None
        _tidy_credentials(configuration, f"context {active['name']!r}")
        ctx = active.get("context") or {}
        namespace = target.namespace or ctx.get("namespace") or "default"
        return cls(
            client.ApiClient(configuration),
            namespace,
            user=ctx.get("user"),
            context=active["name"],
        )

    def close(self) -> None:
        self._api.close()

    @property
    def server(self) -> str:
        return str(self._api.configuration.host)

    # -- server clock -----------------------------------------------------------------

    def _note_date(self, headers: Mapping[str, str]) -> None:
        raw = headers.get("Date") or headers.get("date")
        if not raw:
            return
        try:
            parsed = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return
        self._server_date = parsed.astimezone(UTC)
        self._server_date_mono = time.monotonic()

    def server_now(self) -> datetime:
        """The API server's clock, from the last response's Date header.

        Lock decisions use this, never the local clock: CI runners' clocks drift.
        """
        if self._server_date is None:
            self.request("GET", "/version")
        assert self._server_date is not None
        return self._server_date + timedelta(seconds=time.monotonic() - self._server_date_mono)

    # -- requests ---------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str | None = None,
        accept: str = "application/json",
        timeout: float | tuple[float, float] | None = DEFAULT_TIMEOUT,
    ) -> Any:
        """One HTTP exchange; returns the urllib3 response, status unchecked."""
        import urllib3.exceptions
        from kubernetes.client.exceptions import ApiException

        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        m, url, hdrs, payload, _ = self._api.param_serialize(
            method,
            path,
            query_params=query or None,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            response = self._api.call_api(
                m, url, header_params=hdrs, body=payload, _request_timeout=timeout
            )
        except ApiException as exc:  # raised by the REST layer for transport problems
            raise Unreachable(
                f"cannot reach the API server at {self.server}: {_first_line(exc)}",
                hint=self._unreachable_hint(),
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            error = Unreachable(
                f"cannot reach the API server at {self.server}: {_transport_reason(exc)}",
                hint=self._unreachable_hint(),
            )
            # Nobody listening is not a blip: urllib3 has already retried the connect.
            error.refused = isinstance(
                getattr(exc, "reason", exc), urllib3.exceptions.NewConnectionError
            )
            raise error from None
        raw = response.response
        self._note_date(raw.headers)
        return raw

    def _read(self, raw: Any) -> bytes:
        """The whole body of an answer; a connection cut part-way is ``Unreachable``."""
        import urllib3.exceptions

        try:
            return bytes(raw.data)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unreachable(
                f"the answer from the API server at {self.server} was cut: "
                f"{_transport_reason(exc)}",
                hint=self._unreachable_hint(),
            ) from None
        finally:
            raw.release_conn()

    def _unreachable_hint(self) -> str:
        where = f"context {self.context!r}" if self.context else "the in-cluster config"
        return f"check the cluster is up and {where} points at it (`nfk8s doctor`)"

    def request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str | None = None,
        action: str | None = None,
        retry: bool | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> Any:
        """Send a request and decode its JSON answer, raising nfk8s errors for failures.

        ``retry`` defaults to True for methods that are safe to repeat; creates are
        retried only by ``create`` when the caller can recognise its own object.
        """
        if retry is None:
            retry = method in {"GET", "DELETE", "PUT"}
        attempt = 0
        while True:
            try:
                raw = self._send(
                    method, path, query=query, body=body, content_type=content_type, timeout=timeout
                )
                data = self._read(raw)
            except Unreachable as exc:
                if not retry or exc.refused or attempt + 1 >= self.retry.attempts:
                    raise
                self.retry.sleep(self.retry.delay(attempt, None))
                attempt += 1
                continue
            if 200 <= raw.status < 300:
                if not data:
                    return None
                try:
                    return json.loads(data)
                except ValueError:
                    raise self._not_json(raw, action or f"{method} {path}") from None
            if retry and raw.status in RETRYABLE_STATUS and attempt + 1 < self.retry.attempts:
                self.retry.sleep(self.retry.delay(attempt, _retry_after(raw.headers)))
                attempt += 1
                continue
            raise self._error(
                raw.status, data, action or f"{method} {path}", _retry_after(raw.headers)
            )

    def _not_json(self, raw: Any, action: str) -> ClusterError:
        # A proxy, a login page or another service where the API server should be.
        kind = raw.headers.get("Content-Type") or "none"
        return ClusterError(
            f"the server at {self.server} answered {action} with a body that is not JSON "
            f"(Content-Type: {kind}): it does not look like a Kubernetes API server",
            hint="check the server URL of the kubeconfig's cluster (`kubectl config view "
            "--minify`); a proxy or login page may be answering instead",
            status=raw.status,
        )

    def _error(
        self, status: int, data: bytes, action: str, retry_after: float | None = None
    ) -> ClusterError:
        try:
            body = json.loads(data) if data else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        message = str(body.get("message") or data[:200].decode("utf-8", "replace") or status)
        reason = str(body.get("reason") or "")
        rbac_hint = "run `nfk8s rbac` for the Role nfk8s needs, or `nfk8s doctor` to check access"
        cls: type[ClusterError]
        hint: str | None = None
        if status == 401:
            cls, hint = Unauthorized, "refresh your credentials (e.g. log in again) and retry"
            message = f"unauthorized: the API server did not accept the credentials for {action}"
        elif status == 403:
            cls, hint = Forbidden, rbac_hint
            message = f"forbidden: cannot {action}: {message}"
        elif status == 404:
            cls = NotFound
            message = f"not found: cannot {action}: {message}"
        elif status == 409:
            cls = Conflict
        elif status == 410:
            cls = Gone
        elif status == 422:
            cls = Invalid
            message = f"the API server rejected {action}: {message}"
        else:
            cls = ClusterError
            message = f"API error {status} {reason} on {action}: {message}".replace("  ", " ")
        return cls(message, hint=hint, status=status, reason=reason, retry_after=retry_after)

    # -- typed helpers ----------------------------------------------------------------

    def _ns(self, resource: Resource) -> str | None:
        return self.namespace if resource.namespaced else None

    def _action(self, verb: str, resource: Resource, name: str | None = None) -> str:
        what = resource.display + (f" {name!r}" if name else "")
        where = f" in namespace {self.namespace!r}" if resource.namespaced else ""
        return f"{verb} {what}{where}"

    def get(self, resource: Resource, name: str) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            return self.request(
                "GET",
                resource.path(self._ns(resource), name),
                action=self._action("get", resource, name),
            )
        except NotFound:
            return None

    def create(
        self,
        resource: Resource,
        obj: dict[str, Any],
        *,
        is_ours: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """Create ``obj``; raises ``Conflict`` when it already exists.

        With ``is_ours``, the create is retried after transient failures, and an
        AlreadyExists that follows an ambiguous failure is resolved by reading the object
        back: if it is ours, the first attempt went through.
        """
        name = obj.get("metadata", {}).get("name")
        action = self._action("create", resource, name)
        path = resource.path(self._ns(resource))
        ambiguous = False
        for attempt in range(self.retry.attempts):
            try:
                return self.request("POST", path, body=obj, action=action, retry=False)
            except Conflict:
                if ambiguous and is_ours is not None and name:
                    existing = self.get(resource, name)
                    if existing is not None and is_ours(existing):
                        return existing
                raise
            except ClusterError as exc:
                if is_ours is None or not exc.transient or attempt + 1 >= self.retry.attempts:
                    raise
                # The request may have been carried out although its answer was lost.
                ambiguous = True
                self.retry.sleep(self.retry.delay(attempt, exc.retry_after))
        raise AssertionError("unreachable: the last attempt raises")

    def replace(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        """PUT ``obj``; with ``metadata.resourceVersion`` set this is a compare-and-swap."""
        name = obj["metadata"]["name"]
        return self.request(
            "PUT",
            resource.path(self._ns(resource), name),
            body=obj,
            action=self._action("update", resource, name),
            # A CAS replace that timed out may have applied: repeating it then fails with
            # Conflict, which callers already treat as "re-read and decide again".
            retry=True,
        )

    def patch(
        self,
        resource: Resource,
        name: str,
        patch: Mapping[str, Any],
        *,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """JSON merge patch (idempotent, so retried)."""
        return self.request(
            "PATCH",
            resource.path(self._ns(resource), name, subresource),
            body=dict(patch),
            content_type="application/merge-patch+json",
            action=self._action("patch", resource, name),
            retry=True,
        )

    def delete(
        self,
        resource: Resource,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        uid: str | None = None,
    ) -> dict[str, Any] | None:
        """Delete by name (only the object with ``uid``, if given); None when it was already gone.

        Retried after transient failures; NotFound after an attempt whose answer was lost
        means that attempt deleted it, and is reported as a deletion (a Success Status).
        """
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if propagation_policy is not None:
            options["propagationPolicy"] = propagation_policy
        if uid is not None:
            options["preconditions"] = {"uid": uid}
        path = resource.path(self._ns(resource), name)
        action = self._action("delete", resource, name)
        ambiguous = False
        for attempt in range(self.retry.attempts):
            try:
                return self.request("DELETE", path, body=options, action=action, retry=False)
            except NotFound:
                if not ambiguous:
                    return None
                return {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Success",
                    "details": {"name": name, "kind": resource.plural},
                }
            except ClusterError as exc:
                if not exc.transient or attempt + 1 >= self.retry.attempts:
                    raise
                ambiguous = True
                self.retry.sleep(self.retry.delay(attempt, exc.retry_after))
        raise AssertionError("unreachable: the last attempt raises")

    def list_page(
        self,
        resource: Resource,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> ListPage:
        query: list[tuple[str, str]] = []
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        if limit:
            query.append(("limit", str(limit)))
        if continue_token:
            query.append(("continue", continue_token))
        data = self.request(
            "GET",
            resource.path(self._ns(resource)),
            query=query,
            action=self._action("list", resource),
        )
        meta = data.get("metadata") or {}
        return ListPage(
            items=data.get("items") or [],
            resource_version=str(meta.get("resourceVersion") or ""),
            continue_token=meta.get("continue") or None,
        )

    def list(
        self,
        resource: Resource,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
    ) -> ListPage:
        """Every matching object, fetched page by page (kubectl's chunk size)."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        resource_version = ""
        while True:
            page = self.list_page(
                resource,
                label_selector=label_selector,
                field_selector=field_selector,
                limit=page_size,
                continue_token=token,
            )
            items.extend(page.items)
            resource_version = resource_version or page.resource_version
            token = page.continue_token
            if not token:
                return ListPage(items, resource_version, None)

    def list_metadata(
        self,
        resource: Resource,
        *,
        label_selector: str | None = None,
        limit: int = 500,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> list[dict[str, Any]]:
        """The ``metadata`` of matching objects, without their bodies: one request, one page.

        Asks for a server-side Table with the metadata of each row, as ``kubectl get``
        does, so a ConfigMap's data never crosses the wire; a server that ignores the
        request for a Table answers with the full list, which works too.
        """
        query = [("includeObject", "Metadata"), ("limit", str(limit))]
        if label_selector:
            query.append(("labelSelector", label_selector))
        action = self._action("list", resource)
        raw = self._send(
            "GET",
            resource.path(self._ns(resource)),
            query=query,
            accept=TABLE_ACCEPT,
            timeout=timeout,
        )
        data = raw.data
        raw.release_conn()
        if not 200 <= raw.status < 300:
            raise self._error(raw.status, data, action)
        try:
            body = json.loads(data)
        except ValueError:
            raise ClusterError(f"the answer to {action} is not JSON") from None
        rows = body.get("rows")
        objects = (
            [row.get("object") or {} for row in rows] if rows is not None else body.get("items")
        )
        return [obj.get("metadata") or {} for obj in objects or []]

    def watch(
        self,
        resource: Resource,
        *,
        resource_version: str,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> Iterator[WatchEvent]:
        """Events after ``resource_version`` until the server ends the stream.

        Raises ``Gone`` when that version is too old: list again and watch from there.
        """
        query = [("watch", "1"), ("allowWatchBookmarks", "true")]
        query.append(("resourceVersion", resource_version))
        query.append(("timeoutSeconds", str(timeout_seconds)))
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        action = self._action("watch", resource)
        raw = self._open_stream(resource.path(self._ns(resource)), query, action, timeout_seconds)
        try:
            for line in _iter_lines(raw):
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    return  # a cut stream: the caller resumes from the last version it saw
                kind = event.get("type")
                obj = event.get("object") or {}
                if kind == "ERROR":
                    code = obj.get("code")
                    if code == 410:
                        raise Gone(str(obj.get("message") or "watch expired"), status=410)
                    raise ClusterError(
                        f"watch failed on {action}: {obj.get('message')}", status=code
                    )
                yield WatchEvent(kind, obj)
        finally:
            raw.release_conn()

    def _open_stream(
        self,
        path: str,
        query: list[tuple[str, str]],
        action: str,
        timeout_seconds: float | None,
        *,
        accept: str = "application/json",
    ) -> Any:
        # The read timeout outlasts the server's own timeoutSeconds so the server ends it.
        read_timeout = None if timeout_seconds is None else timeout_seconds + 30
        attempt = 0
        while True:
            raw = None
            try:
                raw = self._send(
                    "GET", path, query=query, accept=accept, timeout=(10, read_timeout)
                )
            except Unreachable as exc:
                if exc.refused or attempt + 1 >= self.retry.attempts:
                    raise
            if raw is not None and 200 <= raw.status < 300:
                return raw
            if raw is not None:
                data = raw.data
                raw.release_conn()
                if raw.status not in RETRYABLE_STATUS or attempt + 1 >= self.retry.attempts:
                    raise self._error(raw.status, data, action)
                delay = self.retry.delay(attempt, _retry_after(raw.headers))
            else:
                delay = self.retry.delay(attempt, None)
            self.retry.sleep(delay)
            attempt += 1

    def pod_log(
        self,
        pod: str,
        *,
        container: str | None = None,
        follow: bool = False,
        timestamps: bool = False,
        since_time: datetime | None = None,
        since_seconds: int | None = None,
        tail_lines: int | None = None,
        strict: bool = False,
    ) -> Iterator[str]:
        """Lines of a container's log (without the newline), streamed as they arrive.

        ``strict``: a stream cut before its end raises ``Unreachable`` instead of just
        ending, so a reader can tell a partial log from a complete one.
        """
        query: list[tuple[str, str]] = []
        if container:
            query.append(("container", container))
        if follow:
            query.append(("follow", "true"))
        if timestamps:
            query.append(("timestamps", "true"))
        if since_time is not None:
            stamp = since_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            query.append(("sinceTime", stamp))
        if since_seconds is not None:
            query.append(("sinceSeconds", str(since_seconds)))
        if tail_lines is not None:
            query.append(("tailLines", str(tail_lines)))
        action = self._action("get", PODS, pod) + " (log)"
        raw = self._open_stream(
            PODS.path(self.namespace, pod, "log"),
            query,
            action,
            None if follow else DEFAULT_TIMEOUT,
            accept="*/*",
        )
        try:
            yield from _iter_lines(raw, strict=strict, what=action)
        finally:
            raw.release_conn()

    def pod_log_chunks(
        self, pod: str, *, container: str | None = None, chunk_size: int = 256 * 1024
    ) -> Iterator[bytes]:
        """The raw bytes of a container's whole log as they arrive (no decoding, no lines).

        A stream cut before its end raises ``Unreachable``.
        """
        import urllib3.exceptions

        query = [("container", container)] if container else []
        action = self._action("get", PODS, pod) + " (log)"
        raw = self._open_stream(
            PODS.path(self.namespace, pod, "log"), query, action, DEFAULT_TIMEOUT, accept="*/*"
        )
        try:
            yield from raw.stream(chunk_size, decode_content=True)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unreachable(f"stream cut on {action}: {_transport_reason(exc)}") from None
        finally:
            raw.release_conn()

    def can_i(
        self, verb: str, resource: Resource, *, subresource: str | None = None
    ) -> tuple[bool, str]:
        """Ask the server (SelfSubjectAccessReview) whether the current user may do ``verb``."""
        attrs: dict[str, Any] = {
            "namespace": self.namespace,
            "verb": verb,
            "group": resource.group,
            "resource": resource.plural,
        }
        if subresource:
            attrs["subresource"] = subresource
        review = {
            "apiVersion": SELF_SUBJECT_ACCESS_REVIEWS.api_version,
            "kind": SELF_SUBJECT_ACCESS_REVIEWS.kind,
            "spec": {"resourceAttributes": attrs},
        }
        answer = self.request(
            "POST",
            SELF_SUBJECT_ACCESS_REVIEWS.path(None),
            body=review,
            action="create selfsubjectaccessreviews.authorization.k8s.io",
            retry=True,  # a review writes nothing
        )
        status = answer.get("status") or {}
        return bool(status.get("allowed")), str(status.get("reason") or "")

    def server_version(self) -> str:
        data = self.request("GET", "/version", action="get the server version")
        return str(data.get("gitVersion") or "unknown")


def _iter_lines(raw: Any, *, strict: bool = False, what: str = "") -> Iterator[str]:
    """Decode a streamed body into lines; a cut connection ends the iteration.

    With ``strict`` the cut raises ``Unreachable`` (the partial last line is dropped).
    """
    import urllib3.exceptions

    buffer = b""
    try:
        for chunk in raw.stream(64 * 1024, decode_content=True):
            buffer += chunk
            if b"\n" not in buffer:
                continue
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                yield line.decode("utf-8", "replace")
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        if strict:
            raise Unreachable(f"stream cut on {what}: {_transport_reason(exc)}") from None
        return
    if buffer:
        yield buffer.decode("utf-8", "replace")


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _transport_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return _first_line(reason if isinstance(reason, BaseException) else exc)


def namespace_from_kubeconfig(target: KubeTarget) -> str:
    """The namespace ``target`` resolves to, read offline (for ``--dry-run``)."""
    if target.namespace:
        return target.namespace
    paths = [target.kubeconfig] if target.kubeconfig else _default_kubeconfig_paths()
    docs = _kubeconfig_docs(paths)
    if not docs:
        if _is_in_cluster():
            return IN_CLUSTER_NAMESPACE_FILE.read_text().strip()
        raise BadInput("no readable kubeconfig", hint="pass --namespace")
    context = _context_of(docs, _current_context(docs, target.context))
    if context is not None:
        return context.get("namespace") or "default"
    if target.context:
        raise BadInput(
            f"context {target.context!r} is not in the kubeconfig",
            hint="see `kubectl config get-contexts`",
        )
    return "default"


def kubeconfig_defaults(target: KubeTarget) -> dict[str, tuple[str, str]]:
    """``{setting: (value, source)}`` for the kubeconfig, context and namespace that
    ``target`` leaves to the kubeconfig (or the pod's ServiceAccount), read offline for
    ``nfk8s config``; what cannot be read is left out."""
    found: dict[str, tuple[str, str]] = {}
    paths = [target.kubeconfig] if target.kubeconfig else _default_kubeconfig_paths()
    existing = [p for p in paths if Path(p).expanduser().is_file()]
    if not target.kubeconfig and existing:
        source = "env KUBECONFIG" if os.environ.get("KUBECONFIG") else "default"
        found["kubeconfig"] = (os.pathsep.join(existing), source)
    docs = _kubeconfig_docs(existing)
    if not docs:
        if _is_in_cluster() and not target.namespace and not target.context:
            namespace = IN_CLUSTER_NAMESPACE_FILE.read_text().strip()
            found["namespace"] = (namespace, "in-cluster ServiceAccount")
        return found
    current = _current_context(docs, target.context)
    if current and not target.context:
        found["context"] = (current, "kubeconfig")
    context = _context_of(docs, current)
    if not target.namespace and context is not None:
        namespace = context.get("namespace")
        found["namespace"] = (namespace, "kubeconfig") if namespace else ("default", "default")
    return found


def _kubeconfig_docs(paths: list[str]) -> list[dict[str, Any]]:
    import yaml

    docs: list[dict[str, Any]] = []
    for path in paths:
        try:
            loaded = yaml.safe_load(Path(path).expanduser().read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(loaded, dict):
            docs.append(loaded)
    return docs


def _current_context(docs: list[dict[str, Any]], context: str | None) -> str | None:
    return context or next(
        (d.get("current-context") for d in docs if d.get("current-context")), None
    )


def _context_of(docs: list[dict[str, Any]], name: str | None) -> dict[str, Any] | None:
    """The ``context:`` mapping of the kubeconfig context ``name``; None if there is none."""
    for doc in docs:
        for entry in doc.get("contexts") or []:
            if isinstance(entry, dict) and entry.get("name") == name:
                context = entry.get("context")
                return context if isinstance(context, dict) else {}
    return None
