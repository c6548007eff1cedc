"""The control plane around the store: Job controller, kubelet, garbage collector, events.

One controller thread reacts to store events and timers; each pod gets a kubelet worker
thread that walks it through its lifecycle. Every delay here is in simulated seconds,
divided by ``speed``.
"""

from __future__ import annotations

import contextlib
import importlib
import secrets
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from tests.fakekube import api as contract
from tests.fakekube.api import DriverKilled, StatusError
from tests.fakekube.cluster import InProcessAPI
from tests.fakekube.defaults import (
    CONTROLLER_UID_LABEL,
    JOB_NAME_LABEL,
    LEGACY_CONTROLLER_UID_LABEL,
    LEGACY_JOB_NAME_LABEL,
)
from tests.fakekube.discovery import RESOURCES
from tests.fakekube.logs import LogBuffer, LogStore
from tests.fakekube.selectors import selector_from_match_labels
from tests.fakekube.store import FOREGROUND_FINALIZER, ORPHAN_FINALIZER, Store, WatchEvent
from tests.fakekube.util import Clock, copy_json, parse_time, pod_suffix, rfc3339

NODE_NAME = "fakekube-node"
HOST_IP = "172.18.0.2"
JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
DEFAULT_PENDING = 0.2
DEFAULT_RUN = 0.5
SIM_MODULE = "tests.fakekube.nextflow_sim"


def _cond(
    type_: str, status: bool, now: str, reason: str = "", message: str = ""
) -> dict[str, Any]:
    c: dict[str, Any] = {
        "type": type_,
        "status": "True" if status else "False",
        "lastProbeTime": None,
        "lastTransitionTime": now,
    }
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def _set_condition(conds: list[dict[str, Any]], new: dict[str, Any]) -> None:
    """Replace a condition by type, keeping lastTransitionTime when the status is unchanged."""
    for i, c in enumerate(conds):
        if c["type"] == new["type"]:
            if c.get("status") == new["status"]:
                new = dict(
                    new, lastTransitionTime=c.get("lastTransitionTime", new["lastTransitionTime"])
                )
            conds[i] = new
            return
    conds.append(new)


def _controller_uid(obj: dict[str, Any]) -> str | None:
    for ref in obj["metadata"].get("ownerReferences") or ():
        if ref.get("controller"):
            return ref.get("uid")
    return None


def _phase(pod: dict[str, Any]) -> str:
    return (pod.get("status") or {}).get("phase", "Pending")


def _is_terminal(pod: dict[str, Any]) -> bool:
    return _phase(pod) in ("Succeeded", "Failed")


def _counts_as_finished(pod: dict[str, Any], job_spec: dict[str, Any]) -> bool:
    """Upstream ``isPodFailed``: a deleted pod counts as failed at once.

    An orphaned or never-started pod may never reach a terminal phase; without this a
    ``backoffLimit: 0`` Job would replace a deleted pod and keep its tracking finalizer.
    """
    if _is_terminal(pod):
        return True
    if job_spec.get("podReplacementPolicy") == "Failed" or job_spec.get("podFailurePolicy"):
        return False
    return bool(pod["metadata"].get("deletionTimestamp"))


def _has_condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c.get("type") == type_ and c.get("status") == "True":
            return c
    return None


# ---------------------------------------------------------------------------- events


class EventRecorder:
    """Writes core/v1 Events the way client-go's recorder does, aggregating repeats."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str, str, str], str] = {}

    def emit(
        self,
        obj: dict[str, Any],
        type_: str,
        reason: str,
        message: str,
        component: str,
        *,
        host: str | None = None,
        field_path: str | None = None,
    ) -> None:
        meta = obj["metadata"]
        ns = meta.get("namespace") or "default"
        key = (meta["uid"], reason, message, component)
        now = self.clock.rfc3339()
        with self._lock:
            existing = self._seen.get(key)
            if existing is not None:

                def bump(ev: dict[str, Any]) -> None:
                    ev["count"] = int(ev.get("count", 1)) + 1
                    ev["lastTimestamp"] = now

                if self.store.mutate("events", ns, existing, bump) is not None:
                    return
            name = f"{meta['name']}.{time.time_ns():x}"
            involved: dict[str, Any] = {
                "kind": obj.get("kind", ""),
                "namespace": ns,
                "name": meta["name"],
                "uid": meta["uid"],
                "apiVersion": obj.get("apiVersion", ""),
                "resourceVersion": meta.get("resourceVersion", ""),
            }
            if field_path:
                involved["fieldPath"] = field_path
            source: dict[str, Any] = {"component": component}
            if host:
                source["host"] = host
            ev = {
                "metadata": {"name": name, "namespace": ns},
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "source": source,
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
                "type": type_,
                "eventTime": None,
                "reportingComponent": component,
                "reportingInstance": host or "",
            }
            try:
                self.store.create("events", ns, ev)
            except StatusError:
                return  # the namespace is going away; real recorders drop these too
            self._seen[key] = name


# ---------------------------------------------------------------------------- simulator context


class DriverContext:
    """The ``SimContext`` a Nextflow driver container runs with."""

    def __init__(self, worker: PodWorker, container: dict[str, Any], buf: LogBuffer) -> None:
        self._worker = worker
        self._container = container
        self._buf = buf
        pod = worker.pod
        self.argv: list[str] = list(container.get("command") or []) + list(
            container.get("args") or []
        )
        self.namespace: str = pod["metadata"]["namespace"]
        self.pod_name: str = pod["metadata"]["name"]
        self.api = InProcessAPI(worker.kubelet.ctrl.store)
        self.env: dict[str, str] = worker.container_env(container)
        self.container_name: str = container["name"]

    @property
    def speed(self) -> float:
        return self._worker.kubelet.ctrl.speed

    @property
    def terminating(self) -> bool:
        return self._worker.term.is_set()

    def log(self, line: str) -> None:
        if self._worker.kill.is_set():
            return
        self._buf.append(line, int(self._worker.kubelet.ctrl.clock.now() * 1e9))

    def sleep(self, seconds: float) -> None:
        w = self._worker
        if w.kill.is_set():
            raise DriverKilled("killed")
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
        return self._worker.read_file(self._container, path)


# ---------------------------------------------------------------------------- kubelet


class PodWorker(threading.Thread):
    """Runs one pod: scheduling, image pulls, containers, restarts, graceful termination."""

    def __init__(self, kubelet: Kubelet, pod: dict[str, Any]) -> None:
        super().__init__(daemon=True, name=f"kubelet-{pod['metadata']['name']}")
        self.kubelet = kubelet
        self.pod = pod
        self.ns: str = pod["metadata"]["namespace"]
        self.name: str = pod["metadata"]["name"]
        self.uid: str = pod["metadata"]["uid"]
        self.term = threading.Event()  # SIGTERM: graceful deletion requested
        self.kill = threading.Event()  # SIGKILL: grace over or forced removal
        self.gone = threading.Event()  # the pod object no longer exists
        self.wake = threading.Event()
        self.grace_deadline: float | None = None  # monotonic
        self.running = False  # containers started and not yet terminated
        self.started_at: str | None = None

    # ---------------------------------------------------------------- signals

    def request_termination(self, grace_seconds: int) -> None:
        speed = self.kubelet.ctrl.speed
        deadline = time.monotonic() + grace_seconds / speed
        if self.grace_deadline is None or deadline < self.grace_deadline:
            self.grace_deadline = deadline
        if not self.term.is_set() and self.running:
            # Recorded before the signal, so the event exists before the pod can go away.
            for c in self.pod["spec"].get("containers") or []:
                self._event("Normal", "Killing", f"Stopping container {c['name']}", c["name"])
        if grace_seconds <= 0:
            self.kill.set()
        self.term.set()
        self.wake.set()

    def removed(self) -> None:
        self.gone.set()
        self.kill.set()
        self.term.set()
        self.wake.set()

    # ---------------------------------------------------------------- helpers

    @property
    def ctrl(self) -> Controllers:
        return self.kubelet.ctrl

    def _wait(self, sim_seconds: float, *, interrupt_on_term: bool = True) -> bool:
        """Sleep; True if it ran the full time, False if interrupted."""
        deadline = time.monotonic() + max(sim_seconds, 0) / self.ctrl.speed
        while True:
            if self.kill.is_set() or self.ctrl.stopped.is_set():
                return False
            if interrupt_on_term and self.term.is_set():
                return False
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            self.wake.wait(min(left, 0.05))
            self.wake.clear()

    def _mutate(self, fn: Callable[[dict[str, Any]], Any]) -> dict[str, Any] | None:
        if self.gone.is_set():
            return None
        out = self.ctrl.store.mutate("pods", self.ns, self.name, fn, expect_uid=self.uid)
        if out is not None:
            self.pod = out
        return out

    def _event(self, type_: str, reason: str, message: str, container: str | None = None) -> None:
        fp = f"spec.containers{{{container}}}" if container else None
        self.ctrl.events.emit(
            self.pod, type_, reason, message, "kubelet", host=NODE_NAME, field_path=fp
        )

    def container_env(self, container: dict[str, Any]) -> dict[str, str]:
        env: dict[str, str] = {}
        store = self.ctrl.store
        for src in container.get("envFrom") or []:
            cm_ref = src.get("configMapRef")
            if cm_ref:
                cm = store.try_get("configmaps", self.ns, cm_ref.get("name", ""))
                for k, v in ((cm or {}).get("data") or {}).items():
                    env[(src.get("prefix") or "") + k] = v
        for e in container.get("env") or []:
            if "value" in e:
                env[e["name"]] = str(e["value"])
                continue
            vf = e.get("valueFrom") or {}
            if "fieldRef" in vf:
                fp = vf["fieldRef"].get("fieldPath", "")
                val = {
                    "metadata.name": self.name,
                    "metadata.namespace": self.ns,
                    "metadata.uid": self.uid,
                    "spec.nodeName": NODE_NAME,
                    "spec.serviceAccountName": self.pod["spec"].get("serviceAccountName", ""),
                    "status.hostIP": HOST_IP,
                    "status.podIP": (self.pod.get("status") or {}).get("podIP", ""),
                }.get(fp)
                if val is None and fp.startswith("metadata.labels['"):
                    val = (self.pod["metadata"].get("labels") or {}).get(fp[17:-2], "")
                if val is None and fp.startswith("metadata.annotations['"):
                    val = (self.pod["metadata"].get("annotations") or {}).get(fp[22:-2], "")
                env[e["name"]] = val or ""
            elif "configMapKeyRef" in vf:
                ref = vf["configMapKeyRef"]
                cm = store.try_get("configmaps", self.ns, ref.get("name", ""))
                value = ((cm or {}).get("data") or {}).get(ref.get("key", ""))
                if value is not None:
                    env[e["name"]] = value
        env.setdefault("HOSTNAME", self.name)
        env.setdefault("KUBERNETES_SERVICE_HOST", "10.96.0.1")
        env.setdefault("KUBERNETES_SERVICE_PORT", "443")
        return env

    def read_file(self, container: dict[str, Any], path: str) -> str | None:
        """Resolve ``path`` through the container's volume mounts (configMap, projected)."""
        volumes = {v.get("name"): v for v in self.pod["spec"].get("volumes") or []}
        mounts = sorted(
            container.get("volumeMounts") or [],
            key=lambda m: len(m.get("mountPath", "")),
            reverse=True,
        )
        norm = "/" + path.strip("/")
        for m in mounts:
            mount_path = "/" + m.get("mountPath", "").strip("/")
            sub_path = m.get("subPath")
            if sub_path:
                if norm != mount_path:
                    continue
                rel = sub_path.strip("/")
            elif norm == mount_path or norm.startswith(mount_path.rstrip("/") + "/"):
                rel = norm[len(mount_path) :].strip("/")
            else:
                continue
            vol = volumes.get(m.get("name"))
            if vol is None:
                return None
            return self._read_volume(vol, rel)
        return None

    def _read_volume(self, vol: dict[str, Any], rel: str) -> str | None:
        store = self.ctrl.store
        if "configMap" in vol:
            return _configmap_file(store, self.ns, vol["configMap"], rel)
        if "secret" in vol:
            return _secret_file(store, self.ns, vol["secret"], rel)
        if "projected" in vol:
            for source in vol["projected"].get("sources") or []:
                if "configMap" in source:
                    value = _configmap_file(store, self.ns, source["configMap"], rel)
                    if value is not None:
                        return value
                elif "serviceAccountToken" in source:
                    if rel == source["serviceAccountToken"].get("path", "token"):
                        return "fake-serviceaccount-token"
                elif "downwardAPI" in source:
                    for item in source["downwardAPI"].get("items") or []:
                        if item.get("path") == rel:
                            fp = (item.get("fieldRef") or {}).get("fieldPath")
                            if fp == "metadata.namespace":
                                return self.ns
                            if fp == "metadata.name":
                                return self.name
        if "downwardAPI" in vol:
            for item in vol["downwardAPI"].get("items") or []:
                if item.get("path") == rel:
                    fp = (item.get("fieldRef") or {}).get("fieldPath")
                    return {"metadata.namespace": self.ns, "metadata.name": self.name}.get(fp or "")
        return None

    # ---------------------------------------------------------------- lifecycle

    def run(self) -> None:
        try:
            self._run()
        except Exception:
            traceback.print_exc()
        finally:
            self.kubelet.forget(self.uid)

    def _run(self) -> None:
        now = self.ctrl.clock.rfc3339
        spec = self.pod["spec"]
        containers = spec.get("containers") or []
        main = containers[0]
        annotations = self.pod["metadata"].get("annotations") or {}
        ip = self.kubelet.allocate_ip()

        # Scheduling: bind to the one node.
        if not self._wait(0.02):
            self._finish_without_start()
            return
        scheduled_at = now()

        def bind(p: dict[str, Any]) -> None:
            p["spec"]["nodeName"] = NODE_NAME
            st = p.setdefault("status", {})
            st["conditions"] = [_cond("PodScheduled", True, scheduled_at)]

        if self._mutate(bind) is None:
            return
        self.ctrl.events.emit(
            self.pod,
            "Normal",
            "Scheduled",
            f"Successfully assigned {self.ns}/{self.name} to {NODE_NAME}",
            "default-scheduler",
        )
        started = now()
        names = [c["name"] for c in containers]

        def pending(p: dict[str, Any]) -> None:
            st = p.setdefault("status", {})
            t = now()
            conds = st.get("conditions") or []
            for c in (
                _cond("PodReadyToStartContainers", False, t),
                _cond("Initialized", True, t),
                _cond(
                    "Ready",
                    False,
                    t,
                    "ContainersNotReady",
                    f"containers with unready status: [{' '.join(names)}]",
                ),
                _cond(
                    "ContainersReady",
                    False,
                    t,
                    "ContainersNotReady",
                    f"containers with unready status: [{' '.join(names)}]",
                ),
            ):
                _set_condition(conds, c)
            st["conditions"] = _order_conditions(conds)
            st["hostIP"] = HOST_IP
            st["hostIPs"] = [{"ip": HOST_IP}]
            st["startTime"] = started
            st["observedGeneration"] = p["metadata"].get("generation", 1)
            st["containerStatuses"] = [
                {
                    "name": c["name"],
                    "state": {"waiting": {"reason": "ContainerCreating"}},
                    "lastState": {},
                    "ready": False,
                    "restartCount": 0,
                    "image": c.get("image", ""),
                    "imageID": "",
                    "started": False,
                }
                for c in containers
            ]

        if self._mutate(pending) is None:
            return
        pending_s = _float(annotations.get(contract.PENDING_SECONDS), DEFAULT_PENDING)
        if not self._wait(pending_s):
            self._finish_without_start()
            return
        for c in containers:
            if c.get("imagePullPolicy") == "Always":
                self._event("Normal", "Pulling", f'Pulling image "{c["image"]}"', c["name"])
                self._event(
                    "Normal",
                    "Pulled",
                    f'Successfully pulled image "{c["image"]}" in 12ms (12ms including waiting). '
                    f"Image size: 1024 bytes.",
                    c["name"],
                )
            else:
                self._event(
                    "Normal",
                    "Pulled",
                    f'Container image "{c["image"]}" already present on machine',
                    c["name"],
                )
        restart_policy = spec.get("restartPolicy", "Always")
        restarts = 0
        while True:
            exit_code, _reason = self._run_containers(containers, main, annotations, ip, restarts)
            if self.gone.is_set():
                return
            restart = not self.term.is_set() and (
                restart_policy == "Always" or (restart_policy == "OnFailure" and exit_code != 0)
            )
            if not restart:
                self._terminal(containers, exit_code)
                break
            restarts += 1
            backoff = min(10.0 * 2 ** (restarts - 1), 300.0)
            self._crash_loop(containers, restarts, backoff)
            self._event(
                "Warning",
                "BackOff",
                "Back-off restarting failed container "
                + main["name"]
                + f" in pod {self.name}_{self.ns}({self.uid})",
                main["name"],
            )
            if not self._wait(backoff):
                self._terminal(containers, exit_code)
                break
        self._await_deletion()

    def _run_containers(
        self,
        containers: list[dict[str, Any]],
        main: dict[str, Any],
        annotations: dict[str, str],
        ip: str,
        restarts: int,
    ) -> tuple[int, str]:
        ctrl = self.ctrl
        if not restarts:
            # Init containers are not played; they count as having run and exited with an
            # empty log (so their log reads as empty, not "waiting to start").
            for c in self.pod["spec"].get("initContainers") or []:
                if ctrl.logs.get(self.uid, c["name"]) is None:
                    ctrl.logs.buffer(self.uid, c["name"]).close()
        bufs = {}
        for c in containers:
            if restarts:
                bufs[c["name"]] = ctrl.logs.restart(self.uid, c["name"])
            else:
                bufs[c["name"]] = ctrl.logs.buffer(self.uid, c["name"])
        for c in containers:
            self._event("Normal", "Created", f"Created container: {c['name']}", c["name"])
            self._event("Normal", "Started", f"Started container {c['name']}", c["name"])
        self.started_at = ctrl.clock.rfc3339()
        started_at = self.started_at
        cids = {c["name"]: "containerd://" + secrets.token_hex(32) for c in containers}
        self._container_ids = cids

        def running(p: dict[str, Any]) -> None:
            st = p.setdefault("status", {})
            t = ctrl.clock.rfc3339()
            conds = st.get("conditions") or []
            for cnd in (
                _cond("PodReadyToStartContainers", True, t),
                _cond("Initialized", True, t),
                _cond("Ready", True, t),
                _cond("ContainersReady", True, t),
            ):
                _set_condition(conds, cnd)
            st["conditions"] = _order_conditions(conds)
            st["phase"] = "Running"
            st["podIP"] = ip
            st["podIPs"] = [{"ip": ip}]
            old = {cs["name"]: cs for cs in st.get("containerStatuses") or []}
            st["containerStatuses"] = [
                {
                    "name": c["name"],
                    "state": {"running": {"startedAt": started_at}},
                    "lastState": (old.get(c["name"]) or {}).get("lastState") or {},
                    "ready": True,
                    "restartCount": restarts,
                    "image": _image_ref(c.get("image", "")),
                    "imageID": _image_id(c.get("image", "")),
                    "containerID": cids[c["name"]],
                    "started": True,
                }
                for c in containers
            ]

        if self._mutate(running) is None:
            return 137, "Error"
        self.running = True
        try:
            return self._run_main(main, annotations, bufs)
        finally:
            self.running = False

    def _run_main(
        self, main: dict[str, Any], annotations: dict[str, str], bufs: dict[str, LogBuffer]
    ) -> tuple[int, str]:
        ctrl = self.ctrl

        argv = list(main.get("command") or []) + list(main.get("args") or [])
        if argv and argv[0].rsplit("/", 1)[-1] == "nextflow":
            try:
                runner = self.kubelet.driver_runner()
            except Exception:
                # A simulator that fails to import fails its pod, visibly, like a bad image.
                t_ns = int(ctrl.clock.now() * 1e9)
                for line in traceback.format_exc().rstrip().split("\n"):
                    bufs[main["name"]].append(line, t_ns)
                return 1, "Error"
            if runner is not None:
                return self._run_driver(runner, main, bufs[main["name"]])
        log_text = annotations.get(contract.LOG)
        if log_text:
            t_ns = int(ctrl.clock.now() * 1e9)
            buf = bufs[main["name"]]
            for line in log_text.split("\n"):
                buf.append(line, t_ns)
        run_s = _float(annotations.get(contract.RUN_SECONDS), _sleep_seconds(argv))
        if not self._wait(run_s):
            return (137, "Error") if self.kill.is_set() else (143, "Error")
        code = int(_float(annotations.get(contract.EXIT_CODE), 0))
        reason = annotations.get(contract.REASON) or ("Completed" if code == 0 else "Error")
        return code, reason

    def _run_driver(
        self, runner: Callable[[Any], Any], container: dict[str, Any], buf: LogBuffer
    ) -> tuple[int, str]:
        ctx = DriverContext(self, container, buf)
        result: dict[str, Any] = {}

        def target() -> None:
            try:
                rc = runner(ctx)
                result["code"] = 0 if rc is None else int(rc)
            except DriverKilled:
                result["code"] = 137
            except Exception:
                for line in traceback.format_exc().rstrip().split("\n"):
                    buf.append(line, int(self.ctrl.clock.now() * 1e9))
                result["code"] = 1

        t = threading.Thread(target=target, daemon=True, name=f"driver-{self.name}")
        t.start()
        while t.is_alive():
            if self.kill.is_set() or self.ctrl.stopped.is_set():
                # SIGKILL: do not wait for the simulator; its next sleep raises DriverKilled.
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

    def _terminal(self, containers: list[dict[str, Any]], exit_code: int) -> None:
        ctrl = self.ctrl
        annotations = self.pod["metadata"].get("annotations") or {}
        reason = "Completed" if exit_code == 0 else (annotations.get(contract.REASON) or "Error")
        if self.term.is_set() and exit_code in (137, 143):
            reason = "Error"
        finished = ctrl.clock.rfc3339()
        for c in containers:
            buf = ctrl.logs.get(self.uid, c["name"])
            if buf is not None:
                buf.close()
        policy = self.pod["spec"].get("restartPolicy", "Always")
        phase = "Succeeded" if exit_code == 0 else "Failed"
        if policy == "Always" and not self.term.is_set():
            phase = "Running"
        cids = getattr(self, "_container_ids", {})

        def terminal(p: dict[str, Any]) -> None:
            st = p.setdefault("status", {})
            t = ctrl.clock.rfc3339()
            conds = st.get("conditions") or []
            for cnd in (
                _cond("PodReadyToStartContainers", False, t),
                _cond("Ready", False, t, "PodCompleted"),
                _cond("ContainersReady", False, t, "PodCompleted"),
            ):
                _set_condition(conds, cnd)
            st["conditions"] = _order_conditions(conds)
            st["phase"] = phase
            statuses = []
            for cs in st.get("containerStatuses") or []:
                term: dict[str, Any] = {
                    "exitCode": exit_code,
                    "reason": reason,
                    "startedAt": self.started_at or finished,
                    "finishedAt": finished,
                }
                if cs["name"] in cids:
                    term["containerID"] = cids[cs["name"]]
                statuses.append(dict(cs, state={"terminated": term}, ready=False, started=False))
            st["containerStatuses"] = statuses

        self._mutate(terminal)

    def _crash_loop(self, containers: list[dict[str, Any]], restarts: int, backoff: float) -> None:
        finished = self.ctrl.clock.rfc3339()
        cids = getattr(self, "_container_ids", {})

        def crash(p: dict[str, Any]) -> None:
            st = p.setdefault("status", {})
            statuses = []
            for cs in st.get("containerStatuses") or []:
                prev = (cs.get("state") or {}).get("running") or {}
                statuses.append(
                    dict(
                        cs,
                        ready=False,
                        started=False,
                        restartCount=restarts,
                        state={
                            "waiting": {
                                "reason": "CrashLoopBackOff",
                                "message": (
                                    f"back-off {int(backoff)}s restarting failed "
                                    f"container={cs['name']} "
                                    f"pod={self.name}_{self.ns}({self.uid})"
                                ),
                            }
                        },
                        lastState={
                            "terminated": {
                                "exitCode": 0,
                                "reason": "Completed",
                                "startedAt": prev.get("startedAt", finished),
                                "finishedAt": finished,
                                "containerID": cids.get(cs["name"], ""),
                            }
                        },
                    )
                )
            st["containerStatuses"] = statuses
            t = self.ctrl.clock.rfc3339()
            conds = st.get("conditions") or []
            _set_condition(
                conds,
                _cond("Ready", False, t, "ContainersNotReady", "containers with unready status"),
            )
            _set_condition(
                conds,
                _cond(
                    "ContainersReady",
                    False,
                    t,
                    "ContainersNotReady",
                    "containers with unready status",
                ),
            )
            st["conditions"] = _order_conditions(conds)

        self._mutate(crash)

    def _finish_without_start(self) -> None:
        """Deleted before the containers ever ran."""
        if self.gone.is_set():
            return
        self._await_deletion()

    def _await_deletion(self) -> None:
        """A finished pod stays until someone deletes it; a deleted one is removed now."""
        if self.term.is_set() and not self.gone.is_set():
            self._remove()

    def _remove(self) -> None:
        """The kubelet's final grace-0 delete once the containers have stopped."""
        with contextlib.suppress(StatusError):
            self.ctrl.store.delete(
                "pods", self.ns, self.name, grace_period_seconds=0, preconditions={"uid": self.uid}
            )


def _configmap_file(store: Store, ns: str, src: dict[str, Any], rel: str) -> str | None:
    cm = store.try_get("configmaps", ns, src.get("name", ""))
    if cm is None:
        return None
    data = cm.get("data") or {}
    items = src.get("items")
    if items:
        for item in items:
            if item.get("path", "").strip("/") == rel:
                return data.get(item.get("key", ""))
        return None
    return data.get(rel)


def _secret_file(store: Store, ns: str, src: dict[str, Any], rel: str) -> str | None:
    import base64

    secret = store.try_get("secrets", ns, src.get("secretName", ""))
    if secret is None:
        return None
    data = {
        k: base64.b64decode(v).decode("utf-8", "replace")
        for k, v in (secret.get("data") or {}).items()
    }
    for item in src.get("items") or []:
        if item.get("path", "").strip("/") == rel:
            return data.get(item.get("key", ""))
    return None if src.get("items") else data.get(rel)


def _order_conditions(conds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
    return sorted(conds, key=lambda c: order.index(c["type"]) if c["type"] in order else 99)


def _image_ref(image: str) -> str:
    last = image.rsplit("/", 1)[-1]
    full = image if ":" in last or "@" in last else image + ":latest"
    if "/" not in full.split(":")[0]:
        full = "docker.io/library/" + full
    elif "." not in full.split("/")[0]:
        full = "docker.io/" + full
    return full


def _image_id(image: str) -> str:
    import hashlib

    base = _image_ref(image).rsplit(":", 1)[0]
    return f"{base}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def _float(value: str | None, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        return default


def _sleep_seconds(argv: list[str]) -> float:
    """Honour ``sleep N`` (directly or via ``sh -c``); anything else runs the default time."""
    words = argv
    if len(argv) >= 3 and argv[0].rsplit("/", 1)[-1] in ("sh", "bash") and argv[1] == "-c":
        words = argv[2].split()
    if len(words) >= 2 and words[0].rsplit("/", 1)[-1] == "sleep":
        try:
            return float(words[1])
        except ValueError:
            pass
    return DEFAULT_RUN


class Kubelet:
    def __init__(self, ctrl: Controllers) -> None:
        self.ctrl = ctrl
        self._lock = threading.Lock()
        self._workers: dict[str, PodWorker] = {}
        self._next_ip = 2
        self._sim_checked = False
        self._sim_runner: Callable[[Any], Any] | None = None

    def allocate_ip(self) -> str:
        with self._lock:
            n = self._next_ip
            self._next_ip += 1
        return f"10.244.{n // 250}.{n % 250 + 2}"

    def driver_runner(self) -> Callable[[Any], Any] | None:
        """``nextflow_sim.run_driver`` once it exists; None runs drivers as generic pods."""
        try:
            module = importlib.import_module(SIM_MODULE)
        except ModuleNotFoundError as exc:
            if exc.name == SIM_MODULE:
                return None
            raise
        return getattr(module, "run_driver", None)

    def forget(self, uid: str) -> None:
        with self._lock:
            self._workers.pop(uid, None)

    def on_pod_event(self, ev: WatchEvent) -> None:
        pod = ev.obj
        uid = pod["metadata"]["uid"]
        with self._lock:
            worker = self._workers.get(uid)
        if ev.type == "DELETED":
            if worker is not None:
                worker.removed()
            self.ctrl.logs.drop_pod(uid)
            return
        if worker is None:
            if (
                ev.type == "ADDED"
                and not _is_terminal(pod)
                and not pod["metadata"].get("deletionTimestamp")
                and _default_scheduled(pod)
            ):
                worker = PodWorker(self, copy_json(pod))
                with self._lock:
                    self._workers[uid] = worker
                worker.start()
            elif pod["metadata"].get("deletionTimestamp") and not pod["metadata"].get("finalizers"):
                # Nothing runs this pod any more (finished or never started): finish the delete.
                with contextlib.suppress(StatusError):
                    self.ctrl.store.delete(
                        "pods",
                        pod["metadata"]["namespace"],
                        pod["metadata"]["name"],
                        grace_period_seconds=0,
                        preconditions={"uid": uid},
                    )
            return
        worker.pod = copy_json(pod) if worker.pod is None else worker.pod
        meta = pod["metadata"]
        if meta.get("deletionTimestamp") and not worker.term.is_set():
            grace = int(meta.get("deletionGracePeriodSeconds") or 0)
            worker.request_termination(grace)
        elif (
            meta.get("deletionTimestamp") and int(meta.get("deletionGracePeriodSeconds") or 0) == 0
        ):
            worker.request_termination(0)

    def stop(self) -> None:
        with self._lock:
            workers = list(self._workers.values())
        for w in workers:
            w.removed()
        for w in workers:
            w.join(timeout=1)


# ---------------------------------------------------------------------------- Job controller


class JobController:
    def __init__(self, ctrl: Controllers) -> None:
        self.ctrl = ctrl
        self._counted: dict[str, set[str]] = {}  # job uid -> pod uids already counted
        self._next_create: dict[str, float] = {}  # job uid -> monotonic time
        self._timers: dict[tuple[str, str], float] = {}  # (ns, name) -> monotonic due

    def due(self) -> list[tuple[str, str]]:
        now = time.monotonic()
        keys = [k for k, t in self._timers.items() if t <= now]
        for k in keys:
            del self._timers[k]
        return keys

    def _schedule(self, ns: str, name: str, real_delay: float) -> None:
        due = time.monotonic() + max(real_delay, 0.0)
        key = (ns, name)
        if key not in self._timers or self._timers[key] > due:
            self._timers[key] = due

    def sync(self, ns: str, name: str) -> None:
        ctrl = self.ctrl
        store = ctrl.store
        job = store.try_get("jobs", ns, name)
        if job is None:
            return
        uid = job["metadata"]["uid"]
        spec = job["spec"]
        status = copy_json(job.get("status") or {})
        conds: list[dict[str, Any]] = status.get("conditions") or []
        finished = any(c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in conds)
        selector = selector_from_match_labels(
            (spec.get("selector") or {}).get("matchLabels"),
            (spec.get("selector") or {}).get("matchExpressions"),
        )
        pods = [
            p
            for p in store.snapshot("pods", ns)
            if _controller_uid(p) == uid and selector.matches(p["metadata"].get("labels"))
        ]
        counted = self._counted.setdefault(uid, set())
        succeeded = int(status.get("succeeded") or 0)
        failed = int(status.get("failed") or 0)
        for p in pods:
            puid = p["metadata"]["uid"]
            if _counts_as_finished(p, spec) and puid not in counted:
                counted.add(puid)
                if _phase(p) == "Succeeded":
                    succeeded += 1
                else:
                    failed += 1
        for p in pods:
            if p["metadata"]["uid"] in counted and JOB_TRACKING_FINALIZER in (
                p["metadata"].get("finalizers") or []
            ):
                self._drop_tracking_finalizer(p)
        active = [
            p for p in pods if not _is_terminal(p) and not p["metadata"].get("deletionTimestamp")
        ]
        terminating = [
            p for p in pods if not _is_terminal(p) and p["metadata"].get("deletionTimestamp")
        ]
        ready = sum(1 for p in active if _has_condition(p, "Ready"))
        now_s = ctrl.clock.now()
        now = rfc3339(now_s)
        if not status.get("startTime") and not spec.get("suspend"):
            status["startTime"] = now
        status["active"] = len(active)
        status["ready"] = ready
        status["terminating"] = len(terminating)
        status["uncountedTerminatedPods"] = {}
        if succeeded:
            status["succeeded"] = succeeded
        if failed:
            status["failed"] = failed

        if not finished and not job["metadata"].get("deletionTimestamp"):
            target = next(
                (
                    c
                    for c in conds
                    if c["type"] in ("FailureTarget", "SuccessCriteriaMet")
                    and c["status"] == "True"
                ),
                None,
            )
            backoff_limit = int(spec.get("backoffLimit", 6))
            completions = spec.get("completions")
            ads = spec.get("activeDeadlineSeconds")
            if target is None:
                if failed > backoff_limit:
                    target = _cond(
                        "FailureTarget",
                        True,
                        now,
                        "BackoffLimitExceeded",
                        "Job has reached the specified backoff limit",
                    )
                elif (
                    ads is not None
                    and status.get("startTime")
                    and now_s >= parse_time(status["startTime"]) + ads
                ):
                    target = _cond(
                        "FailureTarget",
                        True,
                        now,
                        "DeadlineExceeded",
                        "Job was active longer than specified deadline",
                    )
                elif (completions is not None and succeeded >= int(completions)) or (
                    completions is None and succeeded > 0 and not active
                ):
                    target = _cond(
                        "SuccessCriteriaMet",
                        True,
                        now,
                        "CompletionsReached",
                        "Reached expected number of succeeded pods",
                    )
                if target is not None:
                    target.pop("lastProbeTime", None)
                    target["lastProbeTime"] = now
                    conds.append(target)
                    if target["type"] == "FailureTarget":
                        ctrl.events.emit(
                            job, "Warning", target["reason"], target["message"], "job-controller"
                        )
            if target is not None:
                for p in active:
                    self._delete_pod(job, p)
                if not active and not terminating:
                    if target["type"] == "FailureTarget":
                        conds.append(
                            _cond(
                                "Failed",
                                True,
                                now,
                                target.get("reason", ""),
                                target.get("message", ""),
                            )
                        )
                        conds[-1]["lastProbeTime"] = now
                    else:
                        conds.append(
                            _cond(
                                "Complete",
                                True,
                                now,
                                "CompletionsReached",
                                "Reached expected number of succeeded pods",
                            )
                        )
                        conds[-1]["lastProbeTime"] = now
                        status["completionTime"] = now
                        ctrl.events.emit(
                            job, "Normal", "Completed", "Job completed", "job-controller"
                        )
                    status["active"] = 0
                    status["ready"] = 0
                    status["terminating"] = 0
                else:
                    self._schedule(ns, name, 0.05)
            elif spec.get("suspend"):
                if not _has_condition({"status": {"conditions": conds}}, "Suspended"):
                    _set_condition(
                        conds, _cond("Suspended", True, now, "JobSuspended", "Job suspended")
                    )
                    ctrl.events.emit(job, "Normal", "Suspended", "Job suspended", "job-controller")
                for p in active:
                    self._delete_pod(job, p)
            else:
                if _has_condition({"status": {"conditions": conds}}, "Suspended"):
                    _set_condition(
                        conds, _cond("Suspended", False, now, "JobResumed", "Job resumed")
                    )
                    ctrl.events.emit(job, "Normal", "Resumed", "Job resumed", "job-controller")
                parallelism = int(spec.get("parallelism", 1))
                want = parallelism
                if completions is not None:
                    want = min(parallelism, int(completions) - succeeded)
                missing = want - len(active)
                if spec.get("podReplacementPolicy") == "Failed":
                    missing -= len(terminating)
                if missing > 0:
                    due = self._next_create.get(uid, 0.0)
                    if time.monotonic() >= due:
                        for _ in range(missing):
                            self._create_pod(job)
                    else:
                        self._schedule(ns, name, due - time.monotonic())
                if ads is not None and status.get("startTime"):
                    # Deadlines run on the server clock, unscaled; re-checking often lets a
                    # test jump the clock (clock_offset) past a deadline.
                    left = parse_time(status["startTime"]) + ads - now_s
                    self._schedule(ns, name, min(max(left, 0.0), 0.1))
            status["conditions"] = conds
            if not conds:
                status.pop("conditions")
        if failed and uid in self._counted and not finished:
            # Retries back off exponentially (10s, 20s, ... capped at 6 minutes).
            new_failures = failed - int((job.get("status") or {}).get("failed") or 0)
            if new_failures > 0:
                delay = min(10.0 * 2 ** (failed - 1), 360.0) / ctrl.speed
                self._next_create[uid] = time.monotonic() + delay
                self._schedule(ns, name, delay)
        self._write_status(job, status)
        if (
            finished
            or _has_condition({"status": status}, "Complete")
            or _has_condition({"status": status}, "Failed")
        ):
            ttl = spec.get("ttlSecondsAfterFinished")
            if ttl is not None:
                done = next(
                    (
                        c
                        for c in status.get("conditions") or []
                        if c["type"] in ("Complete", "Failed")
                    ),
                    None,
                )
                if done is not None:
                    left = parse_time(done["lastTransitionTime"]) + ttl - now_s
                    if left <= 0:
                        with contextlib.suppress(StatusError):
                            store.delete(
                                "jobs",
                                ns,
                                name,
                                propagation_policy="Background",
                                preconditions={"uid": uid},
                            )
                    else:
                        self._schedule(ns, name, min(left, 0.1))

    def _write_status(self, job: dict[str, Any], status: dict[str, Any]) -> None:
        def fn(j: dict[str, Any]) -> None:
            j["status"] = status

        self.ctrl.store.mutate(
            "jobs",
            job["metadata"]["namespace"],
            job["metadata"]["name"],
            fn,
            expect_uid=job["metadata"]["uid"],
        )

    def _drop_tracking_finalizer(self, pod: dict[str, Any]) -> None:
        def fn(p: dict[str, Any]) -> None:
            fins = [f for f in p["metadata"].get("finalizers") or [] if f != JOB_TRACKING_FINALIZER]
            if fins:
                p["metadata"]["finalizers"] = fins
            else:
                p["metadata"].pop("finalizers", None)

        self.ctrl.store.mutate(
            "pods",
            pod["metadata"]["namespace"],
            pod["metadata"]["name"],
            fn,
            expect_uid=pod["metadata"]["uid"],
        )

    def release_orphan(self, pod: dict[str, Any]) -> None:
        """Pods whose Job is gone (or never counted them) must not keep the finalizer."""
        if JOB_TRACKING_FINALIZER not in (pod["metadata"].get("finalizers") or []):
            return
        owner = _controller_uid(pod)
        if owner is not None and self.ctrl.store.find_by_uid(owner) is not None:
            return
        if _is_terminal(pod) or pod["metadata"].get("deletionTimestamp"):
            self._drop_tracking_finalizer(pod)

    def _delete_pod(self, job: dict[str, Any], pod: dict[str, Any]) -> None:
        with contextlib.suppress(StatusError):
            self.ctrl.store.delete(
                "pods",
                pod["metadata"]["namespace"],
                pod["metadata"]["name"],
                preconditions={"uid": pod["metadata"]["uid"]},
            )
            self.ctrl.events.emit(
                job,
                "Normal",
                "SuccessfulDelete",
                f"Deleted pod: {pod['metadata']['name']}",
                "job-controller",
            )

    def _create_pod(self, job: dict[str, Any]) -> None:
        meta = job["metadata"]
        template = copy_json(job["spec"].get("template") or {})
        tmeta = template.get("metadata") or {}
        labels = dict(tmeta.get("labels") or {})
        labels.setdefault(CONTROLLER_UID_LABEL, meta["uid"])
        labels.setdefault(JOB_NAME_LABEL, meta["name"])
        labels.setdefault(LEGACY_CONTROLLER_UID_LABEL, meta["uid"])
        labels.setdefault(LEGACY_JOB_NAME_LABEL, meta["name"])
        base = meta["name"][:57]
        pod = {
            "metadata": {
                "name": f"{base}-{pod_suffix(5)}",
                "labels": labels,
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
                "finalizers": [JOB_TRACKING_FINALIZER],
            },
            "spec": template.get("spec") or {},
        }
        if tmeta.get("annotations"):
            pod["metadata"]["annotations"] = dict(tmeta["annotations"])
        pod["metadata"]["generateName"] = f"{base}-"
        try:
            created = self.ctrl.store.create("pods", meta["namespace"], pod)
        except StatusError as err:
            self.ctrl.events.emit(
                job, "Warning", "FailedCreate", f"Error creating: {err.message}", "job-controller"
            )
            delay = 10.0 / self.ctrl.speed
            self._next_create[meta["uid"]] = time.monotonic() + delay
            self._schedule(meta["namespace"], meta["name"], delay)
            return
        self.ctrl.events.emit(
            job,
            "Normal",
            "SuccessfulCreate",
            f"Created pod: {created['metadata']['name']}",
            "job-controller",
        )

    def forget(self, uid: str) -> None:
        self._counted.pop(uid, None)
        self._next_create.pop(uid, None)


# ---------------------------------------------------------------------------- garbage collector


class GarbageCollector:
    def __init__(self, ctrl: Controllers) -> None:
        self.ctrl = ctrl
        self._foreground: set[tuple[str, str, str, str]] = set()  # (resource, ns, name, uid)
        self._namespaces: set[str] = set()

    def on_event(self, ev: WatchEvent) -> None:
        obj = ev.obj
        meta = obj["metadata"]
        if ev.type == "DELETED":
            self._collect_dependents(meta["uid"])
            return
        if ev.type == "ADDED" and meta.get("ownerReferences"):
            self._check_owners(ev.resource, obj)
        if meta.get("deletionTimestamp") and ORPHAN_FINALIZER in (meta.get("finalizers") or []):
            self._finish_orphaning(ev.resource, obj)
        if meta.get("deletionTimestamp") and FOREGROUND_FINALIZER in (meta.get("finalizers") or []):
            key = (ev.resource, meta.get("namespace", ""), meta["name"], meta["uid"])
            if key not in self._foreground:
                self._foreground.add(key)
                self._delete_dependents_foreground(meta["uid"])
            self.tick()
        if ev.resource == "namespaces" and meta.get("deletionTimestamp"):
            self._namespaces.add(meta["name"])

    def _finish_orphaning(self, resource: str, obj: dict[str, Any]) -> None:
        """Orphan propagation: drop the owner's references from its dependents, then the
        ``orphan`` finalizer (the object goes once no other finalizer holds it)."""
        meta = obj["metadata"]
        self.ctrl.store.orphan_dependents(meta["uid"])

        def release(o: dict[str, Any]) -> None:
            rest = [f for f in o["metadata"].get("finalizers") or [] if f != ORPHAN_FINALIZER]
            if rest:
                o["metadata"]["finalizers"] = rest
            else:
                o["metadata"].pop("finalizers", None)

        self.ctrl.store.mutate(
            resource, meta.get("namespace", ""), meta["name"], release, expect_uid=meta["uid"]
        )

    def _check_owners(self, resource: str, obj: dict[str, Any]) -> None:
        store = self.ctrl.store
        refs = obj["metadata"].get("ownerReferences") or []
        if refs and not any(store.uid_exists(r.get("uid", "")) for r in refs):
            self._delete(resource, obj, "Background")

    def _delete(self, resource: str, obj: dict[str, Any], policy: str) -> None:
        meta = obj["metadata"]
        with contextlib.suppress(StatusError):
            self.ctrl.store.delete(
                resource,
                meta.get("namespace", ""),
                meta["name"],
                propagation_policy=policy,
                preconditions={"uid": meta["uid"]},
            )

    def _collect_dependents(self, owner_uid: str) -> None:
        store = self.ctrl.store
        for resource, dep in store.dependents(owner_uid):
            refs = dep["metadata"].get("ownerReferences") or []
            alive = [
                r for r in refs if r.get("uid") != owner_uid and store.uid_exists(r.get("uid", ""))
            ]
            if alive:

                def drop(o: dict[str, Any], owner_uid: str = owner_uid) -> None:
                    o["metadata"]["ownerReferences"] = [
                        r
                        for r in o["metadata"].get("ownerReferences") or []
                        if r.get("uid") != owner_uid
                    ]

                store.mutate(
                    resource, dep["metadata"].get("namespace", ""), dep["metadata"]["name"], drop
                )
            elif not dep["metadata"].get("deletionTimestamp"):
                self._delete(resource, dep, "Background")

    def _delete_dependents_foreground(self, owner_uid: str) -> None:
        for resource, dep in self.ctrl.store.dependents(owner_uid):
            if not dep["metadata"].get("deletionTimestamp"):
                self._delete(resource, dep, "Foreground")

    def tick(self) -> None:
        store = self.ctrl.store
        for key in list(self._foreground):
            resource, ns, name, uid = key
            blocking = [
                d
                for _, d in store.dependents(uid)
                if any(
                    r.get("uid") == uid and r.get("blockOwnerDeletion")
                    for r in d["metadata"].get("ownerReferences") or []
                )
            ]
            if blocking:
                for _, d in store.dependents(uid):
                    if not d["metadata"].get("deletionTimestamp"):
                        self._delete(_resource_of(d), d, "Foreground")
                continue
            self._foreground.discard(key)

            def release(o: dict[str, Any]) -> None:
                o["metadata"]["finalizers"] = [
                    f for f in o["metadata"].get("finalizers") or [] if f != FOREGROUND_FINALIZER
                ]
                if not o["metadata"]["finalizers"]:
                    del o["metadata"]["finalizers"]

            store.mutate(resource, ns, name, release, expect_uid=uid)
        for ns in list(self._namespaces):
            self._drain_namespace(ns)

    def _drain_namespace(self, ns: str) -> None:
        store = self.ctrl.store
        remaining = 0
        for resource, rt in RESOURCES.items():
            if not rt.namespaced:
                continue
            for obj in store.snapshot(resource, ns):
                remaining += 1
                if not obj["metadata"].get("deletionTimestamp"):
                    self._delete(resource, obj, "Background")
        if remaining == 0:
            self._namespaces.discard(ns)
            store.force_remove("namespaces", "", ns)


def _default_scheduled(pod: dict[str, Any]) -> bool:
    """Whether the (one) scheduler takes this pod: pods naming another scheduler stay Pending
    with no node, as on a cluster where that scheduler does not run."""
    spec = pod.get("spec") or {}
    return bool(spec.get("nodeName")) or spec.get("schedulerName") in (
        None,
        "",
        "default-scheduler",
    )


def _resource_of(obj: dict[str, Any]) -> str:
    for r in RESOURCES.values():
        if r.kind == obj.get("kind") and r.api_version == obj.get("apiVersion"):
            return r.name
    return "pods"


# ---------------------------------------------------------------------------- manager


class Controllers:
    """Runs the controller loop thread and owns the kubelet's pod workers."""

    def __init__(self, store: Store, logs: LogStore, clock: Clock, *, speed: float = 20.0) -> None:
        self.store = store
        self.logs = logs
        self.clock = clock
        self.speed = speed
        self.stopped = threading.Event()
        self.events = EventRecorder(store, clock)
        self.jobs = JobController(self)
        self.kubelet = Kubelet(self)
        self.gc = GarbageCollector(self)
        self._watcher = store.subscribe(RESOURCES.keys())
        self._thread = threading.Thread(target=self._loop, daemon=True, name="fakekube-controllers")
        self.tick_interval = 0.05

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self._watcher.close()
        self._thread.join(timeout=5)
        self.kubelet.stop()

    def _loop(self) -> None:
        next_tick = time.monotonic()
        while not self.stopped.is_set():
            ev = self._watcher.get(timeout=self.tick_interval)
            dirty_jobs: set[tuple[str, str]] = set()
            batch = 0
            while ev is not None and batch < 500:
                try:
                    self._handle(ev, dirty_jobs)
                except Exception:
                    traceback.print_exc()
                batch += 1
                ev = self._watcher.get(timeout=0)
            if self.stopped.is_set():
                return
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + self.tick_interval
                dirty_jobs.update(self.jobs.due())
                try:
                    self.gc.tick()
                except Exception:
                    traceback.print_exc()
            for ns, name in sorted(dirty_jobs):
                try:
                    self.jobs.sync(ns, name)
                except Exception:
                    traceback.print_exc()

    def _handle(self, ev: WatchEvent, dirty_jobs: set[tuple[str, str]]) -> None:
        obj = ev.obj
        meta = obj["metadata"]
        if ev.resource == "jobs":
            if ev.type == "DELETED":
                self.jobs.forget(meta["uid"])
            else:
                dirty_jobs.add((meta["namespace"], meta["name"]))
        elif ev.resource == "pods":
            self.kubelet.on_pod_event(ev)
            owner = _controller_uid(obj)
            if owner is not None:
                for ref in meta.get("ownerReferences") or ():
                    if ref.get("uid") == owner and ref.get("kind") == "Job":
                        dirty_jobs.add((meta["namespace"], ref["name"]))
            if ev.type != "DELETED":
                self.jobs.release_orphan(obj)
        elif ev.resource == "persistentvolumeclaims" and ev.type == "ADDED":
            self._bind_pvc(obj)
        if ev.resource != "events":
            self.gc.on_event(ev)

    def _bind_pvc(self, pvc: dict[str, Any]) -> None:
        def bind(p: dict[str, Any]) -> None:
            spec = p.setdefault("spec", {})
            spec.setdefault("volumeName", f"pvc-{p['metadata']['uid']}")
            ann = p["metadata"].setdefault("annotations", {})
            ann.setdefault("pv.kubernetes.io/bind-completed", "yes")
            ann.setdefault("pv.kubernetes.io/bound-by-controller", "yes")
            storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
            p["status"] = {
                "phase": "Bound",
                "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
                "capacity": {"storage": storage},
            }

        self.store.mutate(
            "persistentvolumeclaims",
            pvc["metadata"]["namespace"],
            pvc["metadata"]["name"],
            bind,
            expect_uid=pvc["metadata"]["uid"],
        )
