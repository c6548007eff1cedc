"""An in-memory cluster and driver context for exercising the Nextflow simulator alone.

Time is simulated: ``ctx.sleep`` advances a clock the store reads, so a 600-second task
finishes instantly in wall time. The store plays just enough of the apiserver, the Job
controller and the kubelet for the simulator: pods go Pending -> Running -> terminated as
their ``fakekube.io/*`` annotations say, Jobs get one pod labelled ``job-name``.
"""

from __future__ import annotations

import copy
import itertools
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.fakekube.api import (
    EXIT_CODE,
    PENDING_SECONDS,
    REASON,
    RUN_SECONDS,
    DriverKilled,
    StatusError,
)

LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


class ManualClock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t


class RealClock:
    """Simulated seconds that pass ``speed`` times faster than wall time."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.t0 = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self.t0) * self.speed


class Store:
    """A dict-backed ``ClusterAPI`` with a Job controller and an annotation-driven kubelet."""

    def __init__(self, clock: ManualClock | RealClock) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.objs: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.born: dict[tuple[str, str, str], float] = {}
        self.created: list[tuple[str, dict[str, Any]]] = []
        self.deleted: list[tuple[str, str, str | None]] = []
        self.deny: set[str] = set()
        self.failures: list[StatusError] = []
        self.get_failures: list[StatusError] = []
        self.max_live_pods = 0
        self.seq = itertools.count(1)

    # -- kubelet & controller -------------------------------------------------

    def _pod_status(self, key: tuple[str, str, str], pod: dict[str, Any]) -> dict[str, Any]:
        ann = pod["metadata"].get("annotations") or {}
        age = self.clock.now() - self.born[key]
        pending = float(ann.get(PENDING_SECONDS, 0.2))
        run = float(ann.get(RUN_SECONDS, 0.5))
        name = pod["spec"]["containers"][0]["name"]
        if age < pending:
            return {"phase": "Pending"}
        if age < pending + run:
            state: dict[str, Any] = {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
            return {"phase": "Running", "containerStatuses": [{"name": name, "state": state}]}
        code = int(ann.get(EXIT_CODE, 0))
        reason = ann.get(REASON) or ("Completed" if code == 0 else "Error")
        term = {"exitCode": code, "reason": reason}
        phase = "Succeeded" if code == 0 else "Failed"
        return {
            "phase": phase,
            "containerStatuses": [{"name": name, "state": {"terminated": term}}],
        }

    def _live_pods(self) -> int:
        n = 0
        for key, obj in self.objs.items():
            if key[0] == "pods" and self._pod_status(key, obj)["phase"] in ("Pending", "Running"):
                n += 1
        return n

    def _job_status(self, ns: str, name: str) -> dict[str, Any]:
        pods = self.list("pods", ns, label_selector=f"job-name={name}")
        job = self.objs[("jobs", ns, name)]
        if not pods:
            return job.get("status") or {}
        phase = pods[0]["status"]["phase"]
        if phase == "Succeeded":
            cond = {"type": "Complete", "status": "True"}
            return {"succeeded": 1, "conditions": [cond]}
        if phase == "Failed":
            msg = "Job has reached the specified backoff limit"
            cond = {"type": "Failed", "status": "True", "message": msg}
            return {"failed": 1, "conditions": [cond]}
        return {"active": 1}

    # -- ClusterAPI -----------------------------------------------------------

    def create(self, resource: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if self.failures:
                raise self.failures.pop(0)
            if resource in self.deny:
                msg = (
                    f'{resource} is forbidden: User "system:serviceaccount:{namespace}:runner" '
                    f'cannot create resource "{resource}" in API group "" in the namespace '
                    f'"{namespace}"'
                )
                raise StatusError(403, "Forbidden", msg, details={"kind": resource})
            obj = copy.deepcopy(obj)
            meta = obj.setdefault("metadata", {})
            for k, v in (meta.get("labels") or {}).items():
                if len(v) > 63 or not LABEL_VALUE.match(v):
                    raise StatusError(422, "Invalid", f"invalid label {k}={v!r}")
            key = (resource, namespace, meta["name"])
            if key in self.objs:
                raise StatusError(409, "AlreadyExists", f'{resource} "{meta["name"]}" exists')
            meta["namespace"] = namespace
            meta["uid"] = f"uid-{next(self.seq)}"
            now = self.clock.now()
            stamp = datetime.fromtimestamp(1_700_000_000 + int(now), UTC)
            meta["creationTimestamp"] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
            self.objs[key] = obj
            self.born[key] = now
            self.created.append((resource, copy.deepcopy(obj)))
            if resource == "jobs":
                self._spawn_job_pod(namespace, obj)
            self.max_live_pods = max(self.max_live_pods, self._live_pods())
            return copy.deepcopy(obj)

    def _spawn_job_pod(self, namespace: str, job: dict[str, Any]) -> None:
        tmpl = job["spec"]["template"]
        name = job["metadata"]["name"]
        labels = dict(tmpl["metadata"].get("labels") or {})
        labels.update({"job-name": name, "batch.kubernetes.io/job-name": name})
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{name}-{next(self.seq):05d}"[-63:],
                "labels": labels,
                "annotations": dict(tmpl["metadata"].get("annotations") or {}),
            },
            "spec": copy.deepcopy(tmpl["spec"]),
        }
        self.create("pods", namespace, pod)

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        with self.lock:
            if self.get_failures:
                raise self.get_failures.pop(0)
            key = (resource, namespace, name)
            if key not in self.objs:
                raise StatusError(404, "NotFound", f'{resource} "{name}" not found')
            obj = copy.deepcopy(self.objs[key])
            if resource == "pods":
                obj["status"] = self._pod_status(key, obj)
            elif resource == "jobs":
                obj["status"] = self._job_status(namespace, name)
            return obj

    def get_status(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        return self.get(resource, namespace, name)

    def list(
        self, resource: str, namespace: str, *, label_selector: str = ""
    ) -> list[dict[str, Any]]:
        with self.lock:
            want = dict(p.split("=", 1) for p in label_selector.split(",") if p)
            out = []
            for (res, ns, name), obj in self.objs.items():
                labels = obj["metadata"].get("labels") or {}
                match = all(labels.get(k) == v for k, v in want.items())
                if res == resource and ns == namespace and match:
                    out.append(self.get(res, ns, name))
            return out

    def replace(self, resource: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def delete(
        self,
        resource: str,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            key = (resource, namespace, name)
            if key not in self.objs:
                raise StatusError(404, "NotFound", f'{resource} "{name}" not found')
            if resource == "jobs":
                self.objs[key]["status"] = self._job_status(namespace, name)
                if propagation_policy in ("Background", "Foreground"):
                    for pod in self.list("pods", namespace, label_selector=f"job-name={name}"):
                        self.delete("pods", namespace, pod["metadata"]["name"])
            obj = self.objs.pop(key)
            self.deleted.append((resource, name, propagation_policy))
            return obj

    # -- helpers for assertions -----------------------------------------------

    def created_of(self, resource: str) -> list[dict[str, Any]]:
        return [o for r, o in self.created if r == resource]

    def names(self, resource: str) -> set[str]:
        return {n for (r, _, n) in self.objs if r == resource}


class Ctx:
    """A ``SimContext`` whose ``sleep`` moves a simulated clock."""

    def __init__(
        self,
        argv: list[str],
        store: Store,
        *,
        files: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
        namespace: str = "default",
        terminate_at: float | None = None,
        kill_at: float | None = None,
        real_time: bool = False,
    ) -> None:
        self.argv = argv
        self.env = {"NXF_ANSI_LOG": "false", **(env or {})}
        self.namespace = namespace
        self.pod_name = "nfk8s-driver-abcde"
        self.speed = getattr(store.clock, "speed", 1.0)
        self.api = store
        self.files = files or {}
        self.lines: list[str] = []
        self.terminate_at = terminate_at
        self.kill_at = kill_at
        self.real_time = real_time
        self._terminating = False
        self.hooks: list[tuple[float, Callable[[], None]]] = []

    def read_file(self, path: str) -> str | None:
        return self.files.get(path)

    def log(self, line: str) -> None:
        assert "\n" not in line
        self.lines.append(line)

    def sleep(self, seconds: float) -> None:
        clock = self.api.clock
        if self.real_time:
            time.sleep(seconds / self.speed)
            return
        assert isinstance(clock, ManualClock)
        target = clock.t + seconds
        for at, hook in list(self.hooks):
            if target >= at:
                self.hooks.remove((at, hook))
                hook()
        if self.kill_at is not None and target >= self.kill_at:
            clock.t = self.kill_at
            raise DriverKilled
        if self.terminate_at is not None and target >= self.terminate_at:
            clock.t = max(clock.t, self.terminate_at)
            self._terminating = True
            return
        clock.t = target

    @property
    def terminating(self) -> bool:
        return self._terminating


K8S_CONFIG = """\
process.executor = 'k8s'
k8s {
    namespace = 'default'
    serviceAccount = 'nfk8s-runner'
    storageClaimName = 'nfk8s-work'
    storageMountPath = '/workspace'
    launchDir = '/workspace/launch/hello'
    workDir = '/workspace/launch/hello/work'
}
"""


def driver_argv(
    pipeline: str, name: str = "run-1", *extra: str, config: str = "/etc/nfk8s/nextflow.config"
) -> list[str]:
    return [
        "nextflow",
        "run",
        pipeline,
        "-name",
        name,
        "-c",
        config,
        "-params-file",
        "/etc/nfk8s/params.json",
        *extra,
    ]


def make_ctx(
    store: Store,
    pipeline: str,
    *extra: str,
    name: str = "run-1",
    config: str = K8S_CONFIG,
    params: str = "{}",
    **kwargs: Any,
) -> Ctx:
    files = {"/etc/nfk8s/nextflow.config": config, "/etc/nfk8s/params.json": params}
    files.update(kwargs.pop("files", {}))
    return Ctx(driver_argv(pipeline, name, *extra), store, files=files, **kwargs)


# --------------------------------------------------------------------------- transcripts

HASH = r"\[[0-9a-f]{2}/[0-9a-f]{6}\]"
TASK_LINE = re.compile(rf"^{HASH} (Submitted|Re-submitted|Cached) process > (.+)$")
NOTE_LINE = re.compile(
    rf"^{HASH} NOTE: (?:Process `(.+)` terminated with an error exit status \((\d+)\) -- "
    r"(?:Execution is retried \((\d+)\)|Error is ignored)|.+ -- Execution is retried)$"
)
SIMPLE_FORMS: dict[str, re.Pattern[str]] = {
    "banner": re.compile(r"^N E X T F L O W  ~  version \d+\.\d+\.\d+(?:-edge)?$"),
    "pull": re.compile(r"^Pulling \S+ \.\.\.$"),
    "pulled": re.compile(r"^ (?:downloaded from \S+|Already-up-to-date)$"),
    "launch": re.compile(
        r"^Launching `[^`]+` \[[^\]]+\] DSL2 - revision: [0-9a-f]{10}(?: \[[^\]]+\])?$"
    ),
    "task": TASK_LINE,
    "note": NOTE_LINE,
    "warn": re.compile(r"^WARN: \S.*$"),
    "chatter": re.compile(r"^chatter \d{7} \S.*$"),
    "complete": re.compile(r"^-\[[^\]]+\] Pipeline completed (?:successfully|with errors)-$"),
    "usage": re.compile(r"^Unknown option: -\S+ -- Check the available commands .+$"),
}
ERROR_HEADINGS = {
    "Caused by:",
    "Command executed:",
    "Command exit status:",
    "Command output:",
    "Command error:",
    "Command wrapper:",
    "Work dir:",
    "Container:",
}
CHECK_LINE = " -- Check '.nextflow.log' file for details"
BAR = "-" * 54


def parse_transcript(lines: list[str]) -> list[tuple[str, str]]:
    """Classify every line as one of Nextflow's plain-mode forms; fail on anything else."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("ERROR ~ "):
            out.append(("error", line))
            i += 1
            while i < len(lines) and lines[i] != CHECK_LINE:
                body = lines[i]
                ok = body == "" or body in ERROR_HEADINGS or body.startswith(("  ", "Tip: "))
                assert ok, f"unexpected line in an error block: {body!r}"
                out.append(("error-body", body))
                i += 1
            assert i < len(lines), "error block without its closing check line"
            out.append(("error-end", lines[i]))
            i += 1
            continue
        if line == BAR:
            # nf-core parameter header: bar, title, bar, groups..., bar.
            assert lines[i + 1].startswith("  nf-core/") and lines[i + 2] == BAR, lines[i : i + 3]
            j = i + 3
            while lines[j] != BAR:
                body = lines[j]
                assert body == "" or body.startswith(("  ", "!! ")) or body[0].isupper(), body
                j += 1
            out.append(("header", "\n".join(lines[i : j + 1])))
            i = j + 1
            continue
        for kind, rx in SIMPLE_FORMS.items():
            if rx.match(line):
                out.append((kind, line))
                break
        else:
            raise AssertionError(f"not a Nextflow plain-mode line: {line!r}")
        i += 1
    return out


def kinds(lines: list[str], kind: str) -> list[str]:
    return [text for k, text in parse_transcript(lines) if k == kind]
