"""The node agent: a Python stand-in for the kubelet of a real control plane.

``NodeAgent`` registers Nodes with the real kube-apiserver, keeps their Leases and Ready
condition fresh, watches every pod, and walks each pod bound to one of its nodes through the
lifecycle the kubelet gives it: volume mounts, sandbox, image pulls, init containers in order,
the main containers, restarts with back-off, graceful termination and the final grace-0 delete.
It talks to the API over HTTPS only (``tests.realkube.client.Client``), writes ``pods/status``
with the resourceVersion it read (re-reading on 409), and records core/v1 Events the way the
kubelet's event recorder does. Each node serves the kubelet's ``/containerLogs`` endpoint over
HTTPS, which the apiserver proxies ``pods/log`` and ``kubectl logs`` to.

What the containers do
======================

Nothing is executed. A container whose argv (command + args) starts with an executable named
``nextflow`` runs the Nextflow simulator (``tests.fakekube.nextflow_sim.run_driver``) in a
thread; its API client carries a TokenRequest token of the pod's ServiceAccount, bound to the
pod, so every request it makes meets real RBAC. Every other container plays the
``fakekube.io/*`` annotations of its pod, as the fake kubelet does (``tests/fakekube/api.py``):

``fakekube.io/pending-seconds``   time between the sandbox and the first container (default 0.2)
``fakekube.io/run-seconds``       main container run time (default: ``sleep N`` in argv, or 0.5)
``fakekube.io/exit-code``         main container exit code (default 0)
``fakekube.io/reason``            terminated reason for a non-zero exit (default ``Error``)
``fakekube.io/log``               main container log, lines separated by newlines

Init containers (which the fake kubelet has none of) read their own annotations; a key with a
``.<container name>`` suffix applies to that init container only and wins over the plain key:

``fakekube.io/init-seconds[.NAME]``     run time (default: ``sleep N`` in the argv, else 0.5)
``fakekube.io/init-exit-code[.NAME]``   exit code (default 0)
``fakekube.io/init-log[.NAME]``         log lines, separated by newlines

All durations are simulated seconds: every delay divides by ``NodeAgent.speed``.

Node-side failures
==================

- An image whose tag is ``missing`` or ``bad``, or whose repository path contains
  ``does-not-exist``, cannot be pulled: ``ErrImagePull`` then ``ImagePullBackOff`` (10 s
  doubling to 5 min between pulls), with the kubelet's events and messages; it never starts.
- An image reference that does not parse (an upper-case repository...) is ``InvalidImageName``
  and is never pulled.
- ``env``/``envFrom`` naming a missing Secret, ConfigMap or key (not optional) is
  ``CreateContainerConfigError`` with the kubelet's message, re-checked every 10 s, so creating
  the object later lets the container start.
- A configMap/secret volume (or projected source) whose object or key is missing keeps the pod
  in ``ContainerCreating`` with ``FailedMount`` events until it appears.

Images are "present" on a node once pulled there; ``imagePullPolicy: Always`` pulls every time.

For tests
=========

``NodeAgent(admin, pki, nodes=1, speed=20.0, node_resources=[...])``; ``add_node(cpu=, memory=,
labels=, taints=)`` registers another node (e.g. to make a pending pod fit); ``node_names``;
``speed`` (settable); ``ready()``; ``worker(ns, pod)`` (white-box: ``read_file``,
``container_env``); ``pod_logs(ns, pod, container=None)`` and ``append_pod_log(...)`` read and
write a running container's log; ``stop()``.

Messages are those of kubelet v1.37.2 (checked in its source): ``Container created``,
``Container started``, ``Stopping container NAME``, ``Back-off restarting failed container ...``,
``Pulling image "X"``, ``Failed to pull image "X": ...``, ``Back-off pulling image "X"``,
``MountVolume.SetUp failed for volume "V" : ...``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import importlib
import itertools
import re
import secrets
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakekube import api as contract
from tests.fakekube.api import DriverKilled, StatusError
from tests.fakekube.controllers import (
    DEFAULT_PENDING,
    SIM_MODULE,
    _cond,
    _float,
    _image_id,
    _order_conditions,
    _set_condition,
    _sleep_seconds,
)
from tests.fakekube.logs import LogBuffer, LogOptions, render_lines
from tests.fakekube.util import copy_json, parse_time, rfc3339, rfc3339_micro
from tests.realkube.client import Client, WatchStream
from tests.realkube.pki import Pki

KUBELET_VERSION = "v1.37.2"
HOST_IP = "127.0.0.1"
LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION_SECONDS = 40

INIT_SECONDS = contract.ANNOTATION_PREFIX + "init-seconds"
INIT_EXIT_CODE = contract.ANNOTATION_PREFIX + "init-exit-code"
INIT_LOG = contract.ANNOTATION_PREFIX + "init-log"

# Simulated seconds, from the kubelet's source.
SYNC_RETRY = 10.0  # pod worker re-sync after a failed sync (backOffPeriod)
BACKOFF_INITIAL = 10.0  # image pull and crash-loop back-off start...
BACKOFF_MAX = 300.0  # ...and cap (MaxContainerBackOff)
MOUNT_RETRY_INITIAL = 0.5  # nestedpendingoperations' first retry delay...
MOUNT_RETRY_MAX = 122.0  # ...and cap
MOUNT_TIMEOUT = 123.0  # podAttachAndMountTimeout
PULL_SECONDS = 0.5  # how long a successful pull takes
BACKOFF_RESYNC = 1.0  # after a failed pull, the next sync shows ImagePullBackOff this soon

SERVICE_ENV = {
    "KUBERNETES_SERVICE_HOST": "10.96.0.1",
    "KUBERNETES_SERVICE_PORT": "443",
    "KUBERNETES_SERVICE_PORT_HTTPS": "443",
    "KUBERNETES_PORT": "tcp://10.96.0.1:443",
    "KUBERNETES_PORT_443_TCP": "tcp://10.96.0.1:443",
    "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
    "KUBERNETES_PORT_443_TCP_PORT": "443",
    "KUBERNETES_PORT_443_TCP_ADDR": "10.96.0.1",
}


def _log_error(what: str) -> None:
    print(f"realkube node agent: {what}", file=sys.stderr, flush=True)
    traceback.print_exc(file=sys.stderr)


def _now() -> str:
    return rfc3339(time.time())


def go_duration(seconds: float) -> str:
    """``time.Duration.String()``: ``500ms``, ``10s``, ``1m20s``, ``5m0s``."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    if ns < 1_000_000:
        return f"{ns / 1000:g}µs"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:g}ms"
    hours, rest = divmod(ns, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    secs = f"{rest / 1e9:.9f}".rstrip("0").rstrip(".")
    out = f"{hours}h" if hours else ""
    if hours or minutes:
        out += f"{minutes}m"
    return out + f"{secs}s"


# ---------------------------------------------------------------------------- image references

_ALNUM = r"[a-z0-9]+"
_SEP = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = _ALNUM + r"(?:" + _SEP + _ALNUM + r")*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = (
    r"(?:" + _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*"
    r"|\[(?:[a-fA-F0-9:]+)\])(?::[0-9]+)?"
)
_NAME = r"(?:" + _DOMAIN + r"/)?" + _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_REFERENCE = re.compile(r"^(" + _NAME + r")(?::(" + _TAG + r"))?(?:@(" + _DIGEST + r"))?$")
_IDENTIFIER = re.compile(r"^[a-f0-9]{64}$")


def _split_docker_domain(name: str) -> tuple[str, str]:
    if "/" not in name:
        return "docker.io", "library/" + name
    maybe_domain, remote = name.split("/", 1)
    if maybe_domain == "localhost":
        domain = maybe_domain
    elif maybe_domain == "index.docker.io":
        domain = "docker.io"
    elif any(ch in maybe_domain for ch in ".:") or maybe_domain.lower() != maybe_domain:
        domain = maybe_domain
    else:
        domain, remote = "docker.io", name
    if domain == "docker.io" and "/" not in remote:
        remote = "library/" + remote
    return domain, remote


def parse_image(image: str) -> tuple[str, str]:
    """``(normalized reference with default tag, "")`` or ``("", error)``, as
    ``parsers.ParseImageName`` (distribution/reference ``ParseNormalizedNamed``) answers."""
    if _IDENTIFIER.match(image):
        return "", (
            f"invalid repository name ({image}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_docker_domain(image)
    remote = remainder.split(":", 1)[0] if ":" in remainder else remainder
    if remote.lower() != remote:
        return "", f"invalid reference format: repository name ({remote}) must be lowercase"
    full = f"{domain}/{remainder}"
    m = _REFERENCE.match(full)
    if m is None:
        if not full:
            return "", "repository name must have at least one component"
        if _REFERENCE.match(full.lower()):
            return "", "repository name must be lowercase"
        return "", "invalid reference format"
    name, tag, digest = m.group(1), m.group(2), m.group(3)
    if len(name.split("/", 1)[-1]) > 255:
        return "", "repository name must not be more than 255 characters"
    if not tag and not digest:
        tag = "latest"
    ref = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    return ref, ""


def image_missing(ref: str) -> bool:
    """Images this node's "registry" does not have: tag ``missing``/``bad``, or a repository
    path containing ``does-not-exist``."""
    name = ref.split("@", 1)[0]
    repo, _, tag = name.rpartition(":")
    if "/" in tag:  # a registry port, not a tag
        repo, tag = name, ""
    return tag in ("missing", "bad") or "does-not-exist" in repo


def _default_pull_policy(image: str) -> str:
    ref, err = parse_image(image)
    if err:
        return "IfNotPresent"
    name = ref.split("@", 1)[0]
    tag = name.rpartition(":")[2]
    return "Always" if tag == "latest" and "@" not in image else "IfNotPresent"


# ---------------------------------------------------------------------------- events


class EventRecorder:
    """core/v1 Events as client-go's recorder writes them for the kubelet: a repeat of the
    same (object, fieldPath, type, reason, message) bumps ``count`` and ``lastTimestamp``."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str, str, str, str], list[Any]] = {}

    def emit(
        self,
        obj: dict[str, Any],
        type_: str,
        reason: str,
        message: str,
        *,
        host: str,
        field_path: str | None = None,
        component: str = "kubelet",
    ) -> None:
        meta = obj["metadata"]
        ns = meta.get("namespace") or "default"
        key = (meta.get("uid", ""), field_path or "", type_, reason, message)
        now = _now()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None:
                seen[1] += 1
                name, count = seen[0], seen[1]
        if seen is not None:
            try:
                self.client.patch(
                    "events",
                    ns,
                    name,
                    {"count": count, "lastTimestamp": now},
                    patch_type="strategic",
                )
                return
            except StatusError as e:
                if e.code != 404:
                    return
            except OSError:
                return
        involved: dict[str, Any] = {
            "kind": obj.get("kind") or "Pod",
            "namespace": ns,
            "name": meta["name"],
            "uid": meta.get("uid", ""),
            "apiVersion": obj.get("apiVersion") or "v1",
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        if field_path:
            involved["fieldPath"] = field_path
        ev = {
            "metadata": {"name": f"{meta['name']}.{time.time_ns():x}", "namespace": ns},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": {"component": component, "host": host},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": type_,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host,
        }
        try:
            created = self.client.create("events", ns, ev)
        except (StatusError, OSError):
            return  # e.g. the namespace is terminating: the recorder drops these too
        with self._lock:
            self._seen[key] = [created["metadata"]["name"], 1]

    def forget(self, uid: str) -> None:
        with self._lock:
            for key in [k for k in self._seen if k[0] == uid]:
                del self._seen[key]


# ---------------------------------------------------------------------------- nodes


@dataclass
class NodeSpec:
    """One simulated node: its capacity, labels and taints."""

    name: str
    cpu: str = "8"
    memory: str = "32Gi"
    pods: str = "110"
    ephemeral_storage: str = "100Gi"
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, Any]] = field(default_factory=list)


class _Node:
    def __init__(self, spec: NodeSpec, index: int) -> None:
        self.spec = spec
        self.name = spec.name
        self.index = index
        self.port = 0
        self.uid = ""
        self.registered = False
        self.lease_rv = ""
        self.next_lease = 0.0
        self.next_status = 0.0
        self.images: set[str] = set()
        self.server: _LogServer | None = None
        self.server_thread: threading.Thread | None = None
        self._ips = itertools.count(2)
        self.boot_id = secrets.token_hex(16)
        self.machine_id = secrets.token_hex(16)

    def allocate_ip(self) -> str:
        n = next(self._ips)
        return f"10.244.{self.index}.{n % 250 + 2}"

    def resources(self) -> dict[str, str]:
        s = self.spec
        return {
            "cpu": s.cpu,
            "memory": s.memory,
            "pods": s.pods,
            "ephemeral-storage": s.ephemeral_storage,
            "hugepages-1Gi": "0",
            "hugepages-2Mi": "0",
        }

    def conditions(self, now: str, transition: str) -> list[dict[str, Any]]:
        def c(type_: str, status: str, reason: str, message: str) -> dict[str, Any]:
            return {
                "type": type_,
                "status": status,
                "lastHeartbeatTime": now,
                "lastTransitionTime": transition,
                "reason": reason,
                "message": message,
            }

        return [
            c(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            c("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            c(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            c("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ]

    def manifest(self) -> dict[str, Any]:
        s = self.spec
        labels = {
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
            **s.labels,
        }
        spec: dict[str, Any] = {"podCIDR": f"10.244.{self.index}.0/24"}
        spec["podCIDRs"] = [spec["podCIDR"]]
        if s.taints:
            spec["taints"] = copy_json(s.taints)
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.name,
                "labels": labels,
                "annotations": {
                    "node.alpha.kubernetes.io/ttl": "0",
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                },
            },
            "spec": spec,
        }

    def status(self, now: str) -> dict[str, Any]:
        return {
            "capacity": self.resources(),
            "allocatable": self.resources(),
            "conditions": self.conditions(now, now),
            "addresses": [
                {"type": "InternalIP", "address": HOST_IP},
                {"type": "Hostname", "address": self.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.port}},
            "nodeInfo": {
                "machineID": self.machine_id,
                "systemUUID": self.machine_id,
                "bootID": self.boot_id,
                "kernelVersion": "6.1.0-realkube",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "containerRuntimeVersion": "containerd://2.1.4",
                "kubeletVersion": KUBELET_VERSION,
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
            "images": [],
        }


# ---------------------------------------------------------------------------- containers


@dataclass
class _Container:
    spec: dict[str, Any]
    init: bool
    state: dict[str, Any]
    last_state: dict[str, Any] = field(default_factory=dict)
    restart_count: int = 0
    ready: bool = False
    started: bool = False
    container_id: str = ""
    image_ref: str = ""
    image_id: str = ""

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    @property
    def field_path(self) -> str:
        kind = "initContainers" if self.init else "containers"
        return f"spec.{kind}{{{self.name}}}"

    def argv(self) -> list[str]:
        return list(self.spec.get("command") or []) + list(self.spec.get("args") or [])

    def status(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "state": copy_json(self.state),
            "lastState": copy_json(self.last_state),
            "ready": self.ready,
            "restartCount": self.restart_count,
            "image": self.image_ref or self.spec.get("image", ""),
            "imageID": self.image_id,
            "started": self.started,
        }
        if self.container_id:
            d["containerID"] = self.container_id
        return d


class DriverContext:
    """The ``SimContext`` a Nextflow driver container runs with on the real cluster."""

    def __init__(
        self,
        worker: PodWorker,
        container: _Container,
        buf: LogBuffer,
        env: dict[str, str],
        api: Client,
    ) -> None:
        self._worker = worker
        self._container = container
        self._buf = buf
        self.argv: list[str] = container.argv()
        self.namespace: str = worker.ns
        self.pod_name: str = worker.name
        self.container_name: str = container.name
        self.env = env
        self.api = api

    @property
    def speed(self) -> float:
        return self._worker.agent.speed

    @property
    def terminating(self) -> bool:
        # A SIGKILL leaves no time for the graceful path: a driver between two API calls
        # must die here, not start its shutdown (which makes calls but never sleeps).
        if self._worker.kill.is_set():
            raise DriverKilled("killed")
        return self._worker.term.is_set()

    def log(self, line: str) -> None:
        if self._worker.kill.is_set():
            return
        self._buf.append(line, time.time_ns())

    def sleep(self, seconds: float) -> None:
        w = self._worker
        deadline = time.monotonic() + max(seconds, 0) / self.speed
        while True:
            if w.kill.is_set():
                raise DriverKilled("killed")
            if w.term.is_set():
                return
            left = deadline - time.monotonic()
            if left <= 0:
                return
            w.wake.wait(min(left, 0.05))

    def read_file(self, path: str) -> str | None:
        return self._worker.read_file(self._container.spec, path)


class _ConfigError(Exception):
    """A container cannot be configured (CreateContainerConfigError)."""


# ---------------------------------------------------------------------------- pod worker


class PodWorker(threading.Thread):
    """Runs one pod bound to one of the agent's nodes."""

    def __init__(self, agent: NodeAgent, node: _Node, pod: dict[str, Any]) -> None:
        super().__init__(daemon=True, name=f"realkube-pod-{pod['metadata']['name']}")
        self.agent = agent
        self.node = node
        self.latest = pod  # the newest pod object seen (watch or our own writes)
        self.ns: str = pod["metadata"]["namespace"]
        self.name: str = pod["metadata"]["name"]
        self.uid: str = pod["metadata"]["uid"]
        spec = pod["spec"]
        self.spec = spec
        has_init = bool(spec.get("initContainers"))
        waiting = {"waiting": {"reason": "PodInitializing" if has_init else "ContainerCreating"}}
        self.inits = [
            _Container(c, True, copy_json(waiting)) for c in spec.get("initContainers") or []
        ]
        self.mains = [
            _Container(c, False, copy_json(waiting)) for c in spec.get("containers") or []
        ]
        self.phase = "Pending"
        self.start_time = ""
        self.pod_ip = ""
        self.sandbox_ready = False
        self.sandbox_message = "no pod sandbox exists"
        self.buffers: dict[str, LogBuffer] = {}  # container ID -> log
        self.running: set[str] = set()  # names of running containers
        self.term = threading.Event()  # SIGTERM: graceful deletion requested
        self.kill = threading.Event()  # SIGKILL: grace over, pod gone or agent stopping
        self.gone = threading.Event()  # the pod object no longer exists
        self.wake = threading.Event()
        self.grace_deadline: float | None = None
        self.done = False
        self._lock = threading.Lock()
        self._status_lock = threading.Lock()
        self._removed = False
        self._pull_backoff: dict[str, tuple[float, float, str]] = {}  # image -> (until, s, err)

    # ---------------------------------------------------------------- signals

    def observe(self, pod: dict[str, Any]) -> None:
        """A newer pod object from the watch."""
        if _rv(pod) >= _rv(self.latest):
            self.latest = pod
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            self.request_termination(int(meta.get("deletionGracePeriodSeconds") or 0))

    def request_termination(self, grace_seconds: int) -> None:
        deadline = time.monotonic() + max(grace_seconds, 0) / self.agent.speed
        with self._lock:
            first = not self.term.is_set()
            if self.grace_deadline is None or deadline < self.grace_deadline:
                self.grace_deadline = deadline
            if first and not self.done:
                # Recorded before the signal, so the event exists before the pod can go away.
                for c in [*self.inits, *self.mains]:
                    if c.name in self.running:
                        self._event(c, "Normal", "Killing", f"Stopping container {c.name}")
            if grace_seconds <= 0:
                self.kill.set()  # before term: whoever sees term must already see the kill
            self.term.set()
            finished = self.done
        self.wake.set()
        if finished:
            self._remove()

    def removed(self) -> None:
        self.gone.set()
        self.kill.set()
        self.term.set()
        self.wake.set()

    # ---------------------------------------------------------------- helpers

    @property
    def client(self) -> Client:
        return self.agent.admin

    def _stopping(self) -> bool:
        return self.kill.is_set() or self.term.is_set() or self.agent.stopped.is_set()

    def _wait(self, sim_seconds: float) -> bool:
        """Sleep simulated seconds; False when termination interrupts it."""
        deadline = time.monotonic() + max(sim_seconds, 0) / self.agent.speed
        while True:
            if self._stopping():
                return False
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            self.wake.wait(min(left, 0.05))
            self.wake.clear()

    def _event(self, c: _Container | None, type_: str, reason: str, message: str) -> None:
        if self.agent.stopped.is_set():
            return
        self.agent.events.emit(
            self.latest,
            type_,
            reason,
            message,
            host=self.node.name,
            field_path=c.field_path if c is not None else None,
        )

    def _annotation(self, key: str) -> str | None:
        return (self.latest["metadata"].get("annotations") or {}).get(key)

    # ---------------------------------------------------------------- status

    def _conditions(self) -> list[dict[str, Any]]:
        now = _now()
        gen = self.latest["metadata"].get("generation", 1)
        out = []
        if self.sandbox_ready:
            out.append(_cond("PodReadyToStartContainers", True, now))
        else:
            out.append(
                _cond(
                    "PodReadyToStartContainers",
                    False,
                    now,
                    "PodSandboxNotReady",
                    self.sandbox_message,
                )
            )
        if not self.inits:
            out.append(_cond("Initialized", True, now))
        elif self.phase == "Succeeded":
            out.append(_cond("Initialized", True, now, "PodCompleted"))
        elif any(c.container_id for c in self.mains):
            out.append(_cond("Initialized", True, now))
        else:
            incomplete = [c.name for c in self.inits if not c.ready]
            if incomplete:
                out.append(
                    _cond(
                        "Initialized",
                        False,
                        now,
                        "ContainersNotInitialized",
                        f"containers with incomplete status: [{' '.join(incomplete)}]",
                    )
                )
            else:
                out.append(_cond("Initialized", True, now))
        if self.phase in ("Succeeded", "Failed"):
            reason = "PodCompleted" if self.phase == "Succeeded" else "PodFailed"
            out.append(_cond("Ready", False, now, reason))
            out.append(_cond("ContainersReady", False, now, reason))
        else:
            unready = [c.name for c in self.mains if not c.ready]
            if unready:
                msg = f"containers with unready status: [{' '.join(unready)}]"
                out.append(_cond("Ready", False, now, "ContainersNotReady", msg))
                out.append(_cond("ContainersReady", False, now, "ContainersNotReady", msg))
            else:
                out.append(_cond("Ready", True, now))
                out.append(_cond("ContainersReady", True, now))
        for c in out:
            c["observedGeneration"] = gen
        return out

    def _render(self, base: dict[str, Any]) -> dict[str, Any]:
        old = base.get("status") or {}
        st = copy_json(old)
        st["phase"] = self.phase
        st["observedGeneration"] = base["metadata"].get("generation", 1)
        st["hostIP"] = HOST_IP
        st["hostIPs"] = [{"ip": HOST_IP}]
        if self.pod_ip:
            st["podIP"] = self.pod_ip
            st["podIPs"] = [{"ip": self.pod_ip}]
        if self.start_time:
            st["startTime"] = self.start_time
        conds = copy_json(old.get("conditions") or [])
        for c in self._conditions():
            _set_condition(conds, c)
        st["conditions"] = _order_conditions(conds)
        st["containerStatuses"] = [c.status() for c in self.mains]
        if self.inits:
            st["initContainerStatuses"] = [c.status() for c in self.inits]
        return st

    def _sync(self) -> bool:
        """PUT pods/status from the worker's model; on 409 re-read and try again."""
        with self._status_lock:
            for _attempt in range(30):
                if self.gone.is_set() or self.agent.stopped.is_set():
                    return False
                base = self.latest
                body = copy_json(base)
                body["status"] = self._render(base)
                try:
                    out = self.client.replace_status("pods", self.ns, body)
                except StatusError as e:
                    if e.code == 409:
                        fresh = self.client.try_get("pods", self.ns, self.name)
                        if fresh is None or fresh["metadata"]["uid"] != self.uid:
                            self.gone.set()
                            return False
                        self.latest = fresh
                        continue
                    if e.code == 404:
                        self.gone.set()
                        return False
                    if e.code in (429, 500, 503, 504):
                        self.agent.stopped.wait(0.2)
                        continue
                    print(
                        f"realkube node agent: status of {self.ns}/{self.name}: "
                        f"{e.code} {e.message}",
                        file=sys.stderr,
                    )
                    return False
                except OSError:
                    self.agent.stopped.wait(0.2)
                    continue
                if _rv(out) >= _rv(self.latest):
                    self.latest = out
                return True
            return False

    # ---------------------------------------------------------------- lifecycle

    def run(self) -> None:
        try:
            self._run()
        except Exception:
            _log_error(f"pod {self.ns}/{self.name}")
        finally:
            for buf in self.buffers.values():
                buf.close()
            with self._lock:
                self.done = True
                remove = self.term.is_set()
            if remove:
                self._remove()

    def _run(self) -> None:
        self.start_time = _now()
        if self.term.is_set():
            self._terminate_unstarted()
            return
        self._sync()
        if not self._mount_volumes():
            self._terminate_unstarted()
            return
        self.pod_ip = HOST_IP if self.spec.get("hostNetwork") else self.node.allocate_ip()
        self.sandbox_ready = True
        if not self._wait(_float(self._annotation(contract.PENDING_SECONDS), DEFAULT_PENDING)):
            self._terminate_unstarted()
            return
        self._sync()
        policy = self.spec.get("restartPolicy") or "Always"
        for c in self.inits:
            if not self._run_init_container(c, policy):
                return
        restarts = 0
        while True:
            envs: dict[str, dict[str, str]] = {}
            for c in self.mains:
                env = self._prepare(c)
                if env is None:
                    if restarts:
                        self._finish_terminal()
                    else:
                        self._terminate_unstarted()
                    return
                envs[c.name] = env
            code, _reason = self._run_mains(envs, restarts)
            if self.gone.is_set() or self.agent.stopped.is_set():
                return
            restart = not self.term.is_set() and (
                policy == "Always" or (policy == "OnFailure" and code != 0)
            )
            if not restart:
                self._finish_terminal()
                return
            restarts += 1
            backoff = min(BACKOFF_INITIAL * 2 ** (restarts - 1), BACKOFF_MAX)
            for c in self.mains:
                c.last_state = {"terminated": c.state.get("terminated") or {}}
                c.restart_count = restarts
                c.state = {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off {go_duration(backoff)} restarting failed "
                        f"container={c.name} pod={self.name}_{self.ns}({self.uid})",
                    }
                }
            self._sync()
            main = self.mains[0]
            self._event(
                main,
                "Warning",
                "BackOff",
                f"Back-off restarting failed container {main.name} in pod "
                f"{self.name}_{self.ns}({self.uid})",
            )
            if not self._wait(backoff):
                self._finish_terminal()
                return

    def _terminate_unstarted(self) -> None:
        """Deleted before the main containers ran: TerminatePod marks the pod Failed."""
        if self.gone.is_set() or self.agent.stopped.is_set() or not self.term.is_set():
            return
        self.phase = "Failed"
        self.sandbox_ready = False
        self.sandbox_message = "pod sandbox is not ready"
        self._sync()

    def _finish_terminal(self) -> None:
        """Every main container stopped for good: the terminal phase (getPhase)."""
        if self.gone.is_set() or self.agent.stopped.is_set():
            return
        codes = []
        for c in self.mains:
            term = c.state.get("terminated") or (c.last_state.get("terminated") or {})
            codes.append(int(term.get("exitCode", 137)))
        self.phase = "Succeeded" if codes and all(x == 0 for x in codes) else "Failed"
        self.sandbox_ready = False
        self.sandbox_message = "pod sandbox is not ready"
        self._sync()

    def _remove(self) -> None:
        """The kubelet's final grace-0 delete once the containers have stopped."""
        with self._lock:
            if self._removed or self.gone.is_set() or self.agent.stopped.is_set():
                return
            self._removed = True
        with contextlib.suppress(StatusError, OSError):
            self.client.delete("pods", self.ns, self.name, grace_period_seconds=0, uid=self.uid)

    # ---------------------------------------------------------------- volumes

    def _volume_errors(self) -> list[tuple[str, str]]:
        errors: list[tuple[str, str]] = []
        for vol in self.spec.get("volumes") or []:
            msgs: list[str] = []
            if "configMap" in vol:
                msgs += self._source_errors("configmaps", vol["configMap"])
            elif "secret" in vol:
                src = dict(vol["secret"], name=vol["secret"].get("secretName", ""))
                msgs += self._source_errors("secrets", src)
            elif "projected" in vol:
                for source in vol["projected"].get("sources") or []:
                    if "configMap" in source:
                        msgs += self._source_errors("configmaps", source["configMap"])
                    elif "secret" in source:
                        msgs += self._source_errors("secrets", source["secret"])
            if len(msgs) == 1:
                errors.append((vol["name"], msgs[0]))
            elif msgs:
                errors.append((vol["name"], "[" + ", ".join(msgs) + "]"))
        return errors

    def _source_errors(self, resource: str, src: Mapping[str, Any]) -> list[str]:
        optional = bool(src.get("optional"))
        obj = self.client.try_get(resource, self.ns, src.get("name", ""))
        singular = "configmap" if resource == "configmaps" else "secret"
        if obj is None:
            return [] if optional else [f'{singular} "{src.get("name", "")}" not found']
        data = dict(obj.get("data") or {})
        data.update(obj.get("binaryData") or {})
        for item in src.get("items") or []:
            if item.get("key") not in data and not optional:
                if resource == "configmaps":
                    return [f"configmap references non-existent config key: {item.get('key')}"]
                return [f"references non-existent secret key: {item.get('key')}"]
        return []

    def _mount_volumes(self) -> bool:
        """WaitForAttachAndMount: FailedMount events until every volume can be set up."""
        delay = MOUNT_RETRY_INITIAL
        waited = 0.0
        while True:
            if self._stopping():
                return False
            try:
                errors = self._volume_errors()
            except (StatusError, OSError):
                errors = []
                _log_error(f"volumes of {self.ns}/{self.name}")
            if not errors:
                return True
            for vol, err in errors:
                self._event(
                    None,
                    "Warning",
                    "FailedMount",
                    f'MountVolume.SetUp failed for volume "{vol}" : {err}',
                )
            if waited >= MOUNT_TIMEOUT:
                names = " ".join(v for v, _ in errors)
                self._event(
                    None,
                    "Warning",
                    "FailedMount",
                    f"Unable to attach or mount volumes: unmounted volumes=[{names}], "
                    "unattached volumes=[], failed to process volumes=[]: "
                    "context deadline exceeded",
                )
                waited = 0.0
            if not self._wait(delay):
                return False
            waited += delay
            delay = min(delay * 2, MOUNT_RETRY_MAX)

    # ---------------------------------------------------------------- images and config

    def _prepare(self, c: _Container) -> dict[str, str] | None:
        """Pull the image and resolve the environment, re-syncing as the kubelet does on
        failure. None once the pod is being stopped."""
        while True:
            if self._stopping():
                return None
            ok, retry = self._ensure_image(c)
            if ok:
                try:
                    return self.container_env(c.spec)
                except _ConfigError as e:
                    msg = str(e)
                    self._event(c, "Warning", "Failed", f"Error: {msg}")
                    c.state = {"waiting": {"reason": "CreateContainerConfigError", "message": msg}}
                    self._sync()
                    retry = SYNC_RETRY
            if not self._wait(retry):
                return None

    def _ensure_image(self, c: _Container) -> tuple[bool, float]:
        """EnsureImageExists: (pulled, simulated seconds until the next try)."""
        image = str(c.spec.get("image") or "")
        ref, err = parse_image(image)
        if err:
            msg = (
                f'Failed to apply default image tag "{image}": '
                f'couldn\'t parse image name "{image}": {err}'
            )
            self._event(c, "Warning", "InspectFailed", msg)
            self._event(c, "Warning", "Failed", "Error: InvalidImageName")
            c.state = {"waiting": {"reason": "InvalidImageName", "message": msg}}
            self._sync()
            return False, SYNC_RETRY
        policy = c.spec.get("imagePullPolicy") or _default_pull_policy(image)
        present = ref in self.node.images and not image_missing(ref)
        if present and policy != "Always":
            self._event(
                c,
                "Normal",
                "Pulled",
                f'Container image "{image}" already present on machine and can be accessed '
                "by the pod",
            )
            self._image_ready(c, ref)
            return True, 0.0
        if policy == "Never":
            msg = f'Container image "{image}" is not present with pull policy of Never'
            self._event(c, "Warning", "ErrImageNeverPull", msg)
            self._event(c, "Warning", "Failed", "Error: ErrImageNeverPull")
            c.state = {"waiting": {"reason": "ErrImageNeverPull", "message": msg}}
            self._sync()
            return False, SYNC_RETRY
        backoff = self._pull_backoff.get(image)
        if backoff is not None and time.monotonic() < backoff[0]:
            msg = f'Back-off pulling image "{image}"'
            self._event(c, "Normal", "BackOff", msg)
            self._event(c, "Warning", "Failed", "Error: ImagePullBackOff")
            c.state = {"waiting": {"reason": "ImagePullBackOff", "message": f"{msg}: {backoff[2]}"}}
            self._sync()
            left = (backoff[0] - time.monotonic()) * self.agent.speed
            return False, max(min(SYNC_RETRY, left), 0.0)
        self._event(c, "Normal", "Pulling", f'Pulling image "{image}"')
        if image_missing(ref):
            err = (
                f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": '
                f'failed to resolve reference "{ref}": {ref}: not found'
            )
            self._event(c, "Warning", "Failed", f'Failed to pull image "{image}": {err}')
            self._event(c, "Warning", "Failed", "Error: ErrImagePull")
            seconds = BACKOFF_INITIAL if backoff is None else min(backoff[1] * 2, BACKOFF_MAX)
            until = time.monotonic() + seconds / self.agent.speed
            self._pull_backoff[image] = (until, seconds, f"ErrImagePull: {err}")
            c.state = {"waiting": {"reason": "ErrImagePull", "message": err}}
            self._sync()
            return False, BACKOFF_RESYNC
        if not self._wait(PULL_SECONDS):
            return False, 0.0
        self._pull_backoff.pop(image, None)
        size = 1_000_000 + int(hashlib.sha256(ref.encode()).hexdigest()[:6], 16)
        took = go_duration(PULL_SECONDS)
        self._event(
            c,
            "Normal",
            "Pulled",
            f'Successfully pulled image "{image}" in {took} ({took} including waiting). '
            f"Image size: {size} bytes.",
        )
        self.node.images.add(ref)
        self._image_ready(c, ref)
        return True, 0.0

    def _image_ready(self, c: _Container, ref: str) -> None:
        c.image_ref = ref
        c.image_id = _image_id(ref)

    def _field_value(self, fp: str) -> str:
        pod = self.latest
        meta = pod["metadata"]
        m = re.fullmatch(r"metadata\.(labels|annotations)\['(.*)'\]", fp)
        if m:
            return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
        if fp in ("metadata.labels", "metadata.annotations"):
            items = sorted((meta.get(fp.split(".")[1]) or {}).items())
            return "\n".join(f'{k}="{v}"' for k, v in items)
        values = {
            "metadata.name": self.name,
            "metadata.namespace": self.ns,
            "metadata.uid": self.uid,
            "spec.nodeName": self.node.name,
            "spec.serviceAccountName": self.spec.get("serviceAccountName", ""),
            "status.hostIP": HOST_IP,
            "status.hostIPs": HOST_IP,
            "status.podIP": self.pod_ip,
            "status.podIPs": self.pod_ip,
        }
        return values.get(fp, "")

    def container_env(self, container: dict[str, Any]) -> dict[str, str]:
        """``makeEnvironmentVariables``: envFrom, then env with ``$(VAR)`` expansion, then
        the service variables. Raises ``_ConfigError`` with the kubelet's message."""
        env: dict[str, str] = {}
        cache: dict[tuple[str, str], dict[str, Any] | None] = {}

        def fetch(resource: str, name: str) -> dict[str, Any] | None:
            key = (resource, name)
            if key not in cache:
                cache[key] = self.client.try_get(resource, self.ns, name)
            return cache[key]

        def not_found(resource: str, name: str) -> _ConfigError:
            singular = "configmap" if resource == "configmaps" else "secret"
            return _ConfigError(f'{singular} "{name}" not found')

        for src in container.get("envFrom") or []:
            prefix = src.get("prefix") or ""
            for resource, ref_key in (("configmaps", "configMapRef"), ("secrets", "secretRef")):
                ref = src.get(ref_key)
                if not ref:
                    continue
                obj = fetch(resource, ref.get("name", ""))
                if obj is None:
                    if ref.get("optional"):
                        continue
                    raise not_found(resource, ref.get("name", ""))
                for k, v in (obj.get("data") or {}).items():
                    env[prefix + k] = _b64(v) if resource == "secrets" else v
        for e in container.get("env") or []:
            name = e["name"]
            value = e.get("value")
            if value:
                env[name] = _expand(value, env, SERVICE_ENV)
                continue
            vf = e.get("valueFrom")
            if not vf:
                env[name] = ""
                continue
            if "fieldRef" in vf:
                env[name] = self._field_value(vf["fieldRef"].get("fieldPath", ""))
            elif "resourceFieldRef" in vf:
                env[name] = self._resource_value(container, vf["resourceFieldRef"])
            else:
                for resource, ref_key, kind in (
                    ("configmaps", "configMapKeyRef", "ConfigMap"),
                    ("secrets", "secretKeyRef", "Secret"),
                ):
                    ref = vf.get(ref_key)
                    if not ref:
                        continue
                    optional = bool(ref.get("optional"))
                    obj = fetch(resource, ref.get("name", ""))
                    if obj is None:
                        if optional:
                            break
                        raise not_found(resource, ref.get("name", ""))
                    data = obj.get("data") or {}
                    key = ref.get("key", "")
                    if key not in data:
                        if optional:
                            break
                        raise _ConfigError(
                            f"couldn't find key {key} in {kind} {self.ns}/{ref.get('name', '')}"
                        )
                    env[name] = _b64(data[key]) if resource == "secrets" else data[key]
                    break
        for k, v in SERVICE_ENV.items():
            env.setdefault(k, v)
        env.setdefault("HOSTNAME", self.name)
        return env

    def _resource_value(self, container: dict[str, Any], ref: Mapping[str, Any]) -> str:
        """``resourceFieldRef``: the container's limit or request (node allocatable when a
        limit is unset), divided by the divisor and rounded up, as the kubelet does."""
        resource = str(ref.get("resource", ""))
        kind, _, what = resource.partition(".")
        res = container.get("resources") or {}
        value = (res.get(kind) or {}).get(what)
        if value is None and kind == "limits":
            value = self.node.resources().get(what)
        if value is None:
            value = "0"
        divisor = _quantity(str(ref.get("divisor") or "1"))
        amount = _quantity(str(value))
        if divisor <= 0:
            return "0"
        return str(max(int(-(-amount // divisor)), 1 if amount > 0 else 0))

    # ---------------------------------------------------------------- files for drivers

    def read_file(self, container: dict[str, Any], path: str) -> str | None:
        """Resolve ``path`` through the container's volume mounts."""
        volumes = {v.get("name"): v for v in self.spec.get("volumes") or []}
        mounts = sorted(
            container.get("volumeMounts") or [],
            key=lambda m: len(m.get("mountPath", "")),
            reverse=True,
        )
        norm = "/" + path.strip("/")
        for m in mounts:
            mount_path = "/" + m.get("mountPath", "").strip("/")
            sub_path = (m.get("subPath") or "").strip("/")
            if norm == mount_path or norm.startswith(mount_path.rstrip("/") + "/"):
                rel = norm[len(mount_path) :].strip("/")
            else:
                continue
            if sub_path:
                rel = f"{sub_path}/{rel}".strip("/") if rel else sub_path
            vol = volumes.get(m.get("name"))
            if vol is None:
                return None
            try:
                return self._read_volume(vol, rel)
            except (StatusError, OSError):
                return None
        return None

    def _read_volume(self, vol: dict[str, Any], rel: str) -> str | None:
        if "configMap" in vol:
            return self._object_file("configmaps", vol["configMap"], rel)
        if "secret" in vol:
            src = dict(vol["secret"], name=vol["secret"].get("secretName", ""))
            return self._object_file("secrets", src, rel)
        if "projected" in vol:
            for source in vol["projected"].get("sources") or []:
                value: str | None = None
                if "configMap" in source:
                    value = self._object_file("configmaps", source["configMap"], rel)
                elif "secret" in source:
                    value = self._object_file("secrets", source["secret"], rel)
                elif "serviceAccountToken" in source:
                    sat = source["serviceAccountToken"]
                    if rel == sat.get("path", "token"):
                        value = self._token(int(sat.get("expirationSeconds") or 3607))
                elif "downwardAPI" in source:
                    value = self._downward_file(source["downwardAPI"], rel)
                if value is not None:
                    return value
            return None
        if "downwardAPI" in vol:
            return self._downward_file(vol["downwardAPI"], rel)
        if "persistentVolumeClaim" in vol:
            return self._pvc_file(vol["persistentVolumeClaim"].get("claimName", ""), rel)
        if "hostPath" in vol:
            return _read_host_file(vol["hostPath"].get("path", ""), rel)
        return None

    def _object_file(self, resource: str, src: Mapping[str, Any], rel: str) -> str | None:
        obj = self.client.try_get(resource, self.ns, src.get("name", ""))
        if obj is None:
            return None
        data = dict(obj.get("data") or {})
        if resource == "secrets":
            data = {k: _b64(v) for k, v in data.items()}
        items = src.get("items")
        if items:
            for item in items:
                if item.get("path", "").strip("/") == rel:
                    return data.get(item.get("key", ""))
            return None
        return data.get(rel)

    def _downward_file(self, src: Mapping[str, Any], rel: str) -> str | None:
        for item in src.get("items") or []:
            if item.get("path", "").strip("/") == rel:
                fp = (item.get("fieldRef") or {}).get("fieldPath")
                if fp:
                    return self._field_value(fp)
        return None

    def _pvc_file(self, claim: str, rel: str) -> str | None:
        pvc = self.client.try_get("persistentvolumeclaims", self.ns, claim)
        volume = ((pvc or {}).get("spec") or {}).get("volumeName")
        if not volume:
            return None
        pv = self.client.try_get("persistentvolumes", "", volume)
        host = (((pv or {}).get("spec") or {}).get("hostPath") or {}).get("path")
        return _read_host_file(host, rel) if host else None

    def _token(self, seconds: int) -> str:
        sa = self.spec.get("serviceAccountName") or "default"
        return self.client.service_account_token(
            self.ns, sa, pod=self.latest, seconds=max(seconds, 600)
        )

    # ---------------------------------------------------------------- containers

    def _start_container(self, c: _Container, restarts: int) -> LogBuffer:
        cid = "containerd://" + secrets.token_hex(32)
        buf = LogBuffer()
        self.buffers[cid] = buf
        if len(self.buffers) > 2 * (len(self.inits) + len(self.mains)) + 2:
            # Keep the current and the previous instance of each container.
            live = {x.container_id for x in [*self.inits, *self.mains]}
            live |= {
                (x.last_state.get("terminated") or {}).get("containerID", "")
                for x in [*self.inits, *self.mains]
            }
            for old in [k for k in self.buffers if k not in live and k != cid]:
                self.buffers.pop(old).close()
        self._event(c, "Normal", "Created", "Container created")
        self._event(c, "Normal", "Started", "Container started")
        c.container_id = cid
        c.restart_count = restarts
        c.state = {"running": {"startedAt": _now()}}
        c.ready = not c.init
        c.started = True
        self.running.add(c.name)
        return buf

    def _stop_container(self, c: _Container, code: int, reason: str) -> None:
        running = c.state.get("running") or {}
        c.state = {
            "terminated": {
                "exitCode": code,
                "reason": reason,
                "startedAt": running.get("startedAt") or _now(),
                "finishedAt": _now(),
                "containerID": c.container_id,
            }
        }
        c.ready = c.init and code == 0
        c.started = False
        self.running.discard(c.name)
        buf = self.buffers.get(c.container_id)
        if buf is not None:
            buf.close()

    def _init_annotation(self, key: str, c: _Container) -> str | None:
        value = self._annotation(f"{key}.{c.name}")
        return value if value is not None else self._annotation(key)

    def _run_init_container(self, c: _Container, policy: str) -> bool:
        """Run one init container to completion; False when the pod stops here."""
        attempt = 0
        while True:
            env = self._prepare(c)
            if env is None:
                self._terminate_unstarted()
                return False
            buf = self._start_container(c, attempt)
            self._sync()
            log = self._init_annotation(INIT_LOG, c)
            if log:
                t_ns = time.time_ns()
                for line in log.split("\n"):
                    buf.append(line, t_ns)
            seconds = _float(self._init_annotation(INIT_SECONDS, c), _sleep_seconds(c.argv()))
            if self._wait(seconds):
                code = int(_float(self._init_annotation(INIT_EXIT_CODE, c), 0))
            else:
                code = 137 if self.kill.is_set() else 143
            self._stop_container(c, code, "Completed" if code == 0 else "Error")
            if self.gone.is_set() or self.agent.stopped.is_set():
                return False
            if self.term.is_set():
                self._terminate_unstarted()
                return False
            if code == 0:
                self._sync()
                return True
            if policy == "Never":
                self.phase = "Failed"
                self.sandbox_ready = False
                self.sandbox_message = "pod sandbox is not ready"
                self._sync()
                return False
            attempt += 1
            backoff = min(BACKOFF_INITIAL * 2 ** (attempt - 1), BACKOFF_MAX)
            c.last_state = {"terminated": c.state["terminated"]}
            c.state = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off {go_duration(backoff)} restarting failed "
                    f"container={c.name} pod={self.name}_{self.ns}({self.uid})",
                }
            }
            c.restart_count = attempt
            self._sync()
            self._event(
                c,
                "Warning",
                "BackOff",
                f"Back-off restarting failed container {c.name} in pod "
                f"{self.name}_{self.ns}({self.uid})",
            )
            if not self._wait(backoff):
                self._terminate_unstarted()
                return False

    def _run_mains(self, envs: dict[str, dict[str, str]], restarts: int) -> tuple[int, str]:
        bufs = {c.name: self._start_container(c, restarts) for c in self.mains}
        self.phase = "Running"
        self._sync()
        main = self.mains[0]
        code, reason = self._run_main(main, envs[main.name], bufs[main.name])
        for c in self.mains:
            self._stop_container(c, code, reason)
        return code, reason

    def _run_main(self, main: _Container, env: dict[str, str], buf: LogBuffer) -> tuple[int, str]:
        argv = main.argv()
        if argv and argv[0].rsplit("/", 1)[-1] == "nextflow":
            try:
                module = importlib.import_module(SIM_MODULE)
                runner = module.run_driver
                token = self._token(3600)
            except Exception:
                t_ns = time.time_ns()
                for line in traceback.format_exc().rstrip().split("\n"):
                    buf.append(line, t_ns)
                return 1, "Error"
            api = self.client.with_token(token)
            return self._run_driver(runner, main, buf, env, api)
        log_text = self._annotation(contract.LOG)
        if log_text:
            t_ns = time.time_ns()
            for line in log_text.split("\n"):
                buf.append(line, t_ns)
        run_s = _float(self._annotation(contract.RUN_SECONDS), _sleep_seconds(argv))
        if not self._wait(run_s):
            return (137, "Error") if self.kill.is_set() else (143, "Error")
        code = int(_float(self._annotation(contract.EXIT_CODE), 0))
        reason = self._annotation(contract.REASON) or ("Completed" if code == 0 else "Error")
        if code == 0:
            reason = "Completed"
        return code, reason

    def _run_driver(
        self,
        runner: Callable[[Any], Any],
        container: _Container,
        buf: LogBuffer,
        env: dict[str, str],
        api: Client,
    ) -> tuple[int, str]:
        ctx = DriverContext(self, container, buf, env, api)
        result: dict[str, Any] = {}

        def target() -> None:
            try:
                rc = runner(ctx)
                result["code"] = 0 if rc is None else int(rc)
            except DriverKilled:
                result["code"] = 137
            except Exception:
                for line in traceback.format_exc().rstrip().split("\n"):
                    buf.append(line, time.time_ns())
                result["code"] = 1

        t = threading.Thread(target=target, daemon=True, name=f"realkube-driver-{self.name}")
        t.start()
        self.agent._track(t)
        while t.is_alive():
            if self.kill.is_set() or self.agent.stopped.is_set():
                # SIGKILL: do not wait for the simulator; its next sleep raises DriverKilled.
                self.kill.set()
                t.join(0.2)
                return 137, "Error"
            if (
                self.term.is_set()
                and self.grace_deadline is not None
                and time.monotonic() >= self.grace_deadline
            ):
                self.kill.set()
                continue
            t.join(0.02)
        code = result.get("code", 1)
        return code, ("Completed" if code == 0 else "Error")

    # ---------------------------------------------------------------- logs

    def container(self, name: str) -> _Container | None:
        for c in [*self.mains, *self.inits]:
            if c.name == name:
                return c
        return None


def _rv(obj: Mapping[str, Any]) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


def _b64(value: str) -> str:
    return base64.b64decode(value).decode("utf-8", "replace")


def _expand(value: str, *maps: Mapping[str, str]) -> str:
    """``$(VAR)`` expansion as ``third_party/forked/golang/expansion`` does it."""
    out = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "$" and i + 1 < len(value):
            nxt = value[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = value.find(")", i + 2)
                if end != -1:
                    name = value[i + 2 : end]
                    for m in maps:
                        if name in m:
                            out.append(m[name])
                            break
                    else:
                        out.append(value[i : end + 1])
                    i = end + 1
                    continue
        out.append(ch)
        i += 1
    return "".join(out)


_SUFFIXES = {
    "": 1,
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def _quantity(text: str) -> float:
    m = re.fullmatch(r"([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)", text.strip())
    if not m or m.group(2) not in _SUFFIXES:
        return 0.0
    return float(m.group(1)) * _SUFFIXES[m.group(2)]


def _read_host_file(root: str, rel: str) -> str | None:
    base = Path(root).resolve()
    target = (base / rel).resolve()
    if base != target and base not in target.parents:
        return None
    try:
        return target.read_text(errors="replace")
    except OSError:
        return None


# ---------------------------------------------------------------------------- log server


class _LogServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, agent: NodeAgent, node: _Node, context: ssl.SSLContext) -> None:
        super().__init__((HOST_IP, 0), _LogHandler)
        self.agent = agent
        self.node = node
        self.socket = context.wrap_socket(
            self.socket, server_side=True, do_handshake_on_connect=False
        )

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, ssl.SSLError, ValueError)):
            return  # a client that went away or failed the handshake
        super().handle_error(request, client_address)


def _parse_bool(values: list[str]) -> bool:
    # runtime.Convert_Slice_string_To_bool
    return bool(values) and not (values[0] == "0" or values[0].lower() == "false")


class _LogHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _LogServer

    def setup(self) -> None:
        self.request.settimeout(30)
        self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _text(self, code: int, text: str) -> None:
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/healthz":
            self._text(200, "ok")
            return
        parts = url.path.split("/")
        if len(parts) != 5 or parts[1] != "containerLogs":
            self._text(404, "404 page not found\n")
            return
        ns, pod_name, container = (urllib.parse.unquote(p) for p in parts[2:5])
        if not pod_name:
            self._text(400, '{"message": "Missing podID."}')
            return
        if not container:
            self._text(400, '{"message": "Missing container name."}')
            return
        if not ns:
            self._text(400, '{"message": "Missing podNamespace."}')
            return
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        tail = (query.get("tail") or [""])[0]
        if tail:
            query["tailLines"] = [tail]
            if tail == "all":
                del query["tailLines"]
        try:
            opts, previous, stream = _log_options(query)
        except ValueError:
            self._text(400, '{"message": "Unable to decode query."}')
            return
        if opts is None:
            self._text(422, '{"message": "Invalid request."}')
            return
        worker = self.server.agent._find(self.server.node.name, ns, pod_name)
        if worker is None:
            self._text(404, f'pod "{pod_name}" does not exist')
            return
        c = worker.container(container)
        if c is None:
            self._text(404, f'container "{container}" not found in pod "{pod_name}"')
            return
        if stream and stream != "All":
            self._text(
                400,
                f'unable to return the given log stream: "{stream}". Please enable '
                "PodLogsQuerySplitStreams feature gate in kubelet",
            )
            return
        cid, err = _log_container_id(c, pod_name, previous)
        if err:
            self._text(400, err)
            return
        buf = worker.buffers.get(cid)
        if buf is None:
            self._text(400, f"unable to retrieve container logs for {cid}")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        agent = self.server.agent

        def alive() -> bool:
            return not worker.gone.is_set() and not buf.closed

        try:
            for batch in render_lines(buf, opts, stopping=agent.stopped, alive=alive):
                data = b"".join(batch)
                if data:
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (OSError, ValueError):
            self.close_connection = True


def _log_options(query: dict[str, list[str]]) -> tuple[LogOptions | None, bool, str]:
    """PodLogOptions from the query, the kubelet's validation; None when invalid."""

    def num(key: str) -> int | None:
        values = query.get(key)
        if not values or values[0] == "":
            return None
        return int(values[0])

    since_seconds = num("sinceSeconds")
    tail = num("tailLines")
    limit = num("limitBytes")
    since_time = None
    if (query.get("sinceTime") or [""])[0]:
        text = query["sinceTime"][0]
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", text):
            raise ValueError(text)
        since_time = parse_time(text)
    if (
        (tail is not None and tail < 0)
        or (limit is not None and limit < 1)
        or (since_seconds is not None and since_seconds < 1)
        or (since_seconds is not None and since_time is not None)
    ):
        return None, False, ""
    since: float | None = None
    now = time.time()
    if since_seconds is not None:
        since = now - since_seconds
    if since_time is not None and (since is None or since_time > since):
        since = since_time
    opts = LogOptions(
        follow=_parse_bool(query.get("follow") or []),
        timestamps=_parse_bool(query.get("timestamps") or []),
        since_ns=None if since is None else int(since * 1e9),
        tail_lines=tail,
        limit_bytes=limit,
    )
    return opts, _parse_bool(query.get("previous") or []), (query.get("stream") or [""])[0]


def _log_container_id(c: _Container, pod: str, previous: bool) -> tuple[str, str]:
    """``validateContainerLogStatus``: which container instance, or the kubelet's error."""
    name = c.name
    last = c.last_state.get("terminated")
    state = c.state
    if previous:
        if not last or not last.get("containerID"):
            return "", f'previous terminated container "{name}" in pod "{pod}" not found'
        return last["containerID"], ""
    if "running" in state:
        return c.container_id, ""
    if "terminated" in state:
        cid = state["terminated"].get("containerID") or ""
        if cid:
            return cid, ""
        if last and last.get("containerID"):
            return last["containerID"], ""
        return "", f'container "{name}" in pod "{pod}" is terminated'
    if last:
        if not last.get("containerID"):
            return "", f'container "{name}" in pod "{pod}" is terminated'
        return last["containerID"], ""
    if "waiting" in state:
        reason = (state["waiting"] or {}).get("reason", "")
        if reason == "ErrImagePull":
            return "", (
                f'container "{name}" in pod "{pod}" is waiting to start: image can\'t be pulled'
            )
        if reason == "ImagePullBackOff":
            return "", (
                f'container "{name}" in pod "{pod}" is waiting to start: '
                "trying and failing to pull image"
            )
        return "", f'container "{name}" in pod "{pod}" is waiting to start: {reason}'
    return "", f'container "{name}" in pod "{pod}" is waiting to start - no logs yet'


# ---------------------------------------------------------------------------- the agent


class NodeAgent:
    """Plays the kubelet of ``nodes`` simulated nodes against a real control plane.

    ``node_resources`` gives per-node capacity, labels and taints (``NodeSpec`` or dicts of
    its fields, one per node; missing entries use the defaults); ``add_node`` adds more, before
    or after ``start``.
    """

    def __init__(
        self,
        admin: Client,
        pki: Pki,
        *,
        nodes: int = 1,
        speed: float = 20.0,
        node_resources: Sequence[NodeSpec | Mapping[str, Any]] | None = None,
        name_prefix: str = "realkube-node",
        lease_interval: float = 10.0,
        status_interval: float = 60.0,
    ) -> None:
        self.admin = admin
        self.pki = pki
        self.speed = speed
        self.name_prefix = name_prefix
        self.lease_interval = lease_interval
        self.status_interval = status_interval
        self.events = EventRecorder(admin)
        self.stopped = threading.Event()
        self._lock = threading.RLock()
        self._nodes: dict[str, _Node] = {}
        self._workers: dict[str, PodWorker] = {}
        self._deleting: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._watch: WatchStream | None = None
        self._started = False
        self._ssl: ssl.SSLContext | None = None
        specs = list(node_resources or [])
        for i in range(max(nodes, len(specs))):
            spec = specs[i] if i < len(specs) else None
            self._add(spec)

    # ---------------------------------------------------------------- nodes

    @property
    def node_names(self) -> list[str]:
        with self._lock:
            return list(self._nodes)

    def kubelet_port(self, node: str) -> int:
        """The port of ``node``'s HTTPS log server (its ``kubeletEndpoint``)."""
        return self._nodes[node].port

    def _add(self, spec: NodeSpec | Mapping[str, Any] | None) -> _Node:
        with self._lock:
            index = len(self._nodes) + 1
            if spec is None:
                spec = NodeSpec(name=f"{self.name_prefix}-{index}")
            elif not isinstance(spec, NodeSpec):
                fields = dict(spec)
                fields.setdefault("name", f"{self.name_prefix}-{index}")
                spec = NodeSpec(**fields)
            if spec.name in self._nodes:
                raise ValueError(f"node {spec.name} exists")
            node = _Node(spec, index)
            self._nodes[spec.name] = node
            return node

    def add_node(
        self,
        name: str | None = None,
        *,
        cpu: str = "8",
        memory: str = "32Gi",
        pods: str = "110",
        ephemeral_storage: str = "100Gi",
        labels: Mapping[str, str] | None = None,
        taints: Sequence[Mapping[str, Any]] | None = None,
    ) -> str:
        """Add a node; once started, it is registered before this returns."""
        with self._lock:
            spec = NodeSpec(
                name=name or f"{self.name_prefix}-{len(self._nodes) + 1}",
                cpu=cpu,
                memory=memory,
                pods=pods,
                ephemeral_storage=ephemeral_storage,
                labels=dict(labels or {}),
                taints=[dict(t) for t in taints or []],
            )
            node = self._add(spec)
            started = self._started
        if started:
            self._serve(node)
            deadline = time.monotonic() + 30
            while not node.registered and time.monotonic() < deadline:
                try:
                    self._register(node)
                except (StatusError, OSError):
                    self.stopped.wait(0.2)
            if not node.registered:
                raise RuntimeError(f"node {node.name} could not be registered")
        return node.name

    def _serve(self, node: _Node) -> None:
        if self._ssl is None:
            pair = self.pki.serving(
                "realkube-kubelet", dns=["localhost", *self.node_names], ips=[HOST_IP]
            )
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(str(pair.cert), str(pair.key))
            ctx.set_alpn_protocols(["http/1.1"])
            self._ssl = ctx
        server = _LogServer(self, node, self._ssl)
        node.server = server
        node.port = int(server.server_address[1])
        t = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            daemon=True,
            name=f"realkube-logs-{node.name}",
        )
        node.server_thread = t
        t.start()

    def _register(self, node: _Node) -> None:
        """tryRegisterWithAPIServer, then the full status."""
        now = _now()
        try:
            created = self.admin.create("nodes", "", node.manifest())
        except StatusError as e:
            if e.code != 409:
                raise
            created = self.admin.get("nodes", "", node.name)
            manifest = node.manifest()
            created["metadata"].setdefault("labels", {}).update(manifest["metadata"]["labels"])
            created = self.admin.replace("nodes", "", created)
        created["status"] = node.status(now)
        self.admin.replace_status("nodes", "", created)
        node.uid = created["metadata"]["uid"]
        node.registered = True
        node.next_status = time.monotonic() + self.status_interval
        self._renew_lease(node)

    def _renew_lease(self, node: _Node) -> None:
        renew = rfc3339_micro(time.time())
        lease = self.admin.try_get("leases", LEASE_NAMESPACE, node.name)
        if lease is None:
            self.admin.create(
                "leases",
                LEASE_NAMESPACE,
                {
                    "metadata": {
                        "name": node.name,
                        "namespace": LEASE_NAMESPACE,
                        "ownerReferences": [
                            {
                                "apiVersion": "v1",
                                "kind": "Node",
                                "name": node.name,
                                "uid": node.uid,
                            }
                        ],
                    },
                    "spec": {
                        "holderIdentity": node.name,
                        "leaseDurationSeconds": LEASE_DURATION_SECONDS,
                        "renewTime": renew,
                    },
                },
            )
        else:
            lease["spec"]["holderIdentity"] = node.name
            lease["spec"]["leaseDurationSeconds"] = LEASE_DURATION_SECONDS
            lease["spec"]["renewTime"] = renew
            self.admin.replace("leases", LEASE_NAMESPACE, lease)
        node.next_lease = time.monotonic() + self.lease_interval

    def _heartbeat(self, node: _Node) -> None:
        now = _now()
        self.admin.patch(
            "nodes",
            "",
            node.name,
            {
                "status": {
                    "conditions": [
                        {"type": c["type"], "lastHeartbeatTime": now}
                        for c in node.conditions(now, now)
                    ]
                }
            },
            patch_type="strategic",
            subresource="status",
        )
        node.next_status = time.monotonic() + self.status_interval

    def _node_loop(self) -> None:
        while not self.stopped.is_set():
            for node in list(self._nodes.values()):
                if self.stopped.is_set():
                    return
                try:
                    if not node.registered:
                        self._register(node)
                        continue
                    t = time.monotonic()
                    if t >= node.next_lease:
                        self._renew_lease(node)
                    if t >= node.next_status:
                        self._heartbeat(node)
                except (StatusError, OSError) as e:
                    if not self.stopped.is_set() and not (
                        isinstance(e, StatusError) and e.code == 404
                    ):
                        print(f"realkube node agent: node {node.name}: {e}", file=sys.stderr)
                except Exception:
                    _log_error(f"node {node.name}")
            self.stopped.wait(0.2)

    def ready(self) -> bool:
        """Every node registered, its Lease held and its Ready condition True."""
        for node in list(self._nodes.values()):
            if not node.registered:
                return False
            try:
                obj = self.admin.get("nodes", "", node.name)
                if self.admin.try_get("leases", LEASE_NAMESPACE, node.name) is None:
                    return False
            except (StatusError, OSError):
                return False
            conds = (obj.get("status") or {}).get("conditions") or []
            if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds):
                return False
            # The TaintNodesByCondition admission plugin taints every new Node not-ready; the
            # node lifecycle controller lifts it once it sees Ready. Until then nothing fits.
            taints = (obj.get("spec") or {}).get("taints") or []
            if any(t.get("key") == "node.kubernetes.io/not-ready" for t in taints):
                return False
        return True

    # ---------------------------------------------------------------- pods

    def _track(self, t: threading.Thread) -> None:
        with self._lock:
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)

    def _find(self, node: str, ns: str, name: str) -> PodWorker | None:
        with self._lock:
            for w in self._workers.values():
                if w.node.name == node and w.ns == ns and w.name == name:
                    return w
        return None

    def workers(self) -> list[PodWorker]:
        with self._lock:
            return list(self._workers.values())

    def worker(self, namespace: str, pod: str) -> PodWorker | None:
        """The worker running ``namespace/pod`` on any of the nodes, if any."""
        with self._lock:
            for w in self._workers.values():
                if w.ns == namespace and w.name == pod:
                    return w
        return None

    def _buffer(self, namespace: str, pod: str, container: str | None) -> LogBuffer | None:
        w = self.worker(namespace, pod)
        if w is None:
            return None
        c = w.container(container) if container else (w.mains[0] if w.mains else None)
        if c is None or not c.container_id:
            return None
        return w.buffers.get(c.container_id)

    def pod_logs(self, namespace: str, pod: str, container: str | None = None) -> list[str]:
        """The current instance's log lines (the first main container by default)."""
        buf = self._buffer(namespace, pod, container)
        return [] if buf is None else buf.texts()

    def append_pod_log(
        self, namespace: str, pod: str, line: str, container: str | None = None
    ) -> None:
        """Write a line to a started container's log, stamped now."""
        buf = self._buffer(namespace, pod, container)
        if buf is None:
            raise LookupError(f"no started container log for {namespace}/{pod}")
        buf.append(line, time.time_ns())

    def _watch_loop(self) -> None:
        rv = ""
        while not self.stopped.is_set():
            try:
                if not rv:
                    doc = self.admin.list_raw("pods", "")
                    rv = doc["metadata"]["resourceVersion"]
                    seen = set()
                    for pod in doc.get("items") or []:
                        seen.add(pod["metadata"]["uid"])
                        self._on_pod("MODIFIED", pod)
                    for uid in [u for u in list(self._workers) if u not in seen]:
                        self._on_deleted(uid)
                stream = self.admin.open_watch("pods", "", resource_version=rv, timeout_seconds=300)
                with self._lock:
                    self._watch = stream
                if self.stopped.is_set():
                    stream.close()
                    return
                with stream:
                    for ev in stream:
                        obj = ev.get("object") or {}
                        new_rv = (obj.get("metadata") or {}).get("resourceVersion")
                        if new_rv:
                            rv = new_rv
                        if ev.get("type") == "BOOKMARK":
                            continue
                        try:
                            self._on_pod(str(ev.get("type")), obj)
                        except Exception:
                            _log_error("pod event")
            except StatusError as e:
                if e.code == 410:
                    rv = ""
                    continue
                if not self.stopped.is_set():
                    print(f"realkube node agent: pod watch: {e.code} {e}", file=sys.stderr)
                    self.stopped.wait(0.5)
            except Exception:
                if self.stopped.is_set():
                    return
                _log_error("pod watch")
                rv = ""
                self.stopped.wait(0.5)

    def _on_deleted(self, uid: str) -> None:
        with self._lock:
            worker = self._workers.pop(uid, None)
            self._deleting.discard(uid)
        if worker is not None:
            worker.removed()
            for buf in worker.buffers.values():
                buf.close()
        self.events.forget(uid)

    def _on_pod(self, type_: str, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        if type_ == "DELETED":
            self._on_deleted(uid)
            return
        node = self._nodes.get((pod.get("spec") or {}).get("nodeName") or "")
        if node is None:
            return
        with self._lock:
            worker = self._workers.get(uid)
            if worker is None:
                phase = (pod.get("status") or {}).get("phase")
                if phase in ("Succeeded", "Failed"):
                    # Nothing runs this pod here (it finished before we knew it).
                    if meta.get("deletionTimestamp") and uid not in self._deleting:
                        self._deleting.add(uid)
                        threading.Thread(
                            target=self._force_delete, args=(pod,), daemon=True
                        ).start()
                    return
                if self.stopped.is_set():
                    return
                worker = PodWorker(self, node, pod)
                self._workers[uid] = worker
                self._track(worker)
                fresh = True
            else:
                fresh = False
        if fresh:
            if meta.get("deletionTimestamp"):
                worker.request_termination(int(meta.get("deletionGracePeriodSeconds") or 0))
            worker.start()
            return
        worker.observe(pod)

    def _force_delete(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        with contextlib.suppress(StatusError, OSError):
            self.admin.delete(
                "pods", meta["namespace"], meta["name"], grace_period_seconds=0, uid=meta["uid"]
            )

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
            nodes = list(self._nodes.values())
        for node in nodes:
            self._serve(node)
        for target, name in ((self._node_loop, "nodes"), (self._watch_loop, "pod-watch")):
            t = threading.Thread(target=target, daemon=True, name=f"realkube-{name}")
            self._track(t)
            t.start()

    def stop(self) -> None:
        if self.stopped.is_set():
            return
        self.stopped.set()
        with self._lock:
            stream = self._watch
            workers = list(self._workers.values())
            threads = list(self._threads)
        if stream is not None:
            stream.close()
        for w in workers:
            w.kill.set()
            w.wake.set()
            for buf in w.buffers.values():
                buf.close()
        for node in list(self._nodes.values()):
            if node.server is not None:
                node.server.shutdown()
                node.server.server_close()
            if node.server_thread is not None:
                node.server_thread.join(timeout=5)
        deadline = time.monotonic() + 10
        for t in threads:
            if t is threading.current_thread():
                continue
            t.join(timeout=max(deadline - time.monotonic(), 0.1))


__all__ = [
    "INIT_EXIT_CODE",
    "INIT_LOG",
    "INIT_SECONDS",
    "DriverContext",
    "EventRecorder",
    "NodeAgent",
    "NodeSpec",
    "PodWorker",
    "go_duration",
    "image_missing",
    "parse_image",
]
