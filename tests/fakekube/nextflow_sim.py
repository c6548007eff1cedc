"""A Nextflow driver simulator: what the fake kubelet runs in place of ``nextflow run``.

``run_driver(ctx)`` plays one run of Nextflow 25.10 with ``NXF_ANSI_LOG=false``: it parses
the driver argv, reads the mounted config and params, prints a plain-mode transcript through
``ctx.log`` and runs the tasks the way Nextflow's k8s executor does -- one pod (or one Job
with ``backoffLimit: 0``) per task, created, polled and deleted through ``ctx.api``. The
task pods carry ``fakekube.io/*`` annotations so the fake kubelet plays each task's
duration, exit code, termination reason and log. It returns the container exit code.

Scenarios, chosen by the pipeline name
======================================

``sim/hello``   one process ``sayHello`` x 4 tasks, success (exit 0).
``sim/fail``    ``SIM_FAIL:PREPARE`` then ``SIM_FAIL:ALIGN``; ``ALIGN (sample2)`` exits 1 while
                its siblings still run: the ``ERROR ~ Error executing process`` block, then
                ``WARN: Killing running tasks (3)``, exit 1.
``sim/slow``    ``SIM_SLOW:SLEEP`` x 3 tasks of a simulated day: runs until cancelled or
                interrupted, however slow the machine (cancel/interrupt tests).
``sim/chatty``  a driver that prints many extra lines (see the chatter knobs), exit 0.
``sim/oom``     ``SIM_OOM:ASSEMBLE (sample1)`` is OOMKilled (137) on both attempts
                (``errorStrategy 'retry'``, ``maxRetries 1``, memory doubles per attempt):
                NOTE ``-- Execution is retried (1)``, ``Re-submitted process``, then the
                ERROR block, exit 1.
``sim/retry``   the same OOM on the first attempt only, then success, exit 0.
``sim/ignore``  ``SIM_IGNORE:VALIDATE (sample2)`` exits 1 under ``errorStrategy 'ignore'``:
                NOTE ``-- Error is ignored``; its downstream ``SIM_IGNORE:REPORT`` task never
                runs; exit 0.
``sim/many``    ``NFCORE_DEMO:DEMO:STEP_01`` .. ``STEP_NN`` chained, each with ``sim_tasks``
                tasks (defaults 12 processes x 10 tasks).
``sim/crash``   the driver dies while reading its config, before submitting anything:
                ``ERROR ~ Unable to parse config file: ...``, exit 1.
anything else   (``nf-core/rnaseq``, ``/etc/nfk8s/pipeline``, a git URL) a generic
                successful run: ``PREPARE_GENOME:GUNZIP_GTF``, ``FASTQC``, a deeply nested
                ``...:TRIMGALORE`` (name longer than 63 characters), ``SALMON_QUANT`` per
                sample and a final ``MULTIQC``, nested under ``NFCORE_<NAME>:<NAME>:`` for
                nf-core pipelines (``NFCORE_RNASEQ:RNASEQ:FASTQC``) and ``<NAME>:`` otherwise.
                nf-core pipelines also print a parameter header and an onComplete line.

With ``-resume``, ``sim/hello`` reports the first half of its tasks and the generic run its
first two processes plus half of ``TRIMGALORE`` as ``[hash] Cached process > ...`` (no pod).
The session id is the last one used for the same pipeline in the same namespace of the same
fake cluster (``.nextflow/history`` in the launch directory), else a new one; ``-resume
<uuid>`` uses that id and ``NXF_UUID`` in the driver env fixes a new run's id. A project is
"pulled" (``Pulling ... / downloaded from ...``) on its first run in a namespace only.

Truth for tests
===============

``RESULTS[(driver namespace, run name)]`` is a ``SimResult``, updated while the run goes
and final when ``run_driver`` returns: per-process ``ProcessCounts``, session id, status,
exit code, created pod/Job names and every printed line. ``get_result`` reads it under the
lock, ``SimResult.snapshot()`` copies it consistently, ``reset()`` forgets everything.

Knobs (pipeline params, from ``-params-file``, ``--name value`` or ``params`` in a config)
===========================================================================================

``sim_processes``         processes in ``sim/many`` (default 12)
``sim_tasks``             tasks per process (default: hello 4, generic 3 samples, many 10,
                          slow 3, fail 4, oom/retry/ignore 3)
``sim_task_seconds``      simulated run time of a task (scenario default otherwise)
``sim_pending_seconds``   simulated time a task pod stays Pending (default 0.5)
``sim_max_forks``         tasks running at once, executor-wide (default 10; Nextflow's own
                          k8s ``executor.queueSize`` default of 100 still applies on top)
``sim_poll_seconds``      task status poll interval (default 1; ``executor.pollInterval``
                          from the config wins when set)
``sim_lines_per_second``  extra driver lines per simulated second (default 0; 50 for chatty)
``sim_duration``          seconds of chatter for ``sim/chatty`` (default 30)
``sim_log_lines``         exact number of extra lines; without a rate they are emitted at
                          10,000 lines per simulated second, in batches

Extra lines look like ``chatter 0000042 ...`` so a test can check none is lost or repeated.

What matches Nextflow (checked in its source)
=============================================

- Task resources are named ``nf-<32 hex task hash>-<5 hex>`` (the suffix exists since 24.04
  so a resumed run never collides with an old pod). Labels: ``nextflow.io/app=nextflow``,
  ``nextflow.io/runName``, ``nextflow.io/taskName``, ``nextflow.io/processName``,
  ``nextflow.io/sessionId=uuid-<session>``, every value sanitised by ``PodSpecBuilder``:
  cut to 63 characters, runs of characters outside ``[A-Za-z0-9._-]`` become ``_``, then
  non-alphanumeric ends are stripped (``NFCORE_RNASEQ:RNASEQ:FASTQC`` ->
  ``NFCORE_RNASEQ_RNASEQ_FASTQC``).
- The launcher goes in the container ``args`` (``command`` only with
  ``NXF_CONTAINER_ENTRYPOINT_OVERRIDE=true``): ``/bin/bash -ue <workdir>/.command.run``.
- ``k8s.computeResourceType = 'Job'`` submits Jobs (``backoffLimit: 0``, the pod as
  template); Nextflow then finds the task pod by ``job-name=<job>`` and, when deleting,
  deletes the Job's pods first and then the Job.
- ``k8s.cleanup`` (default true) deletes a task's pod/Job when the task *succeeds*; failed
  tasks (including retried and ignored attempts) keep theirs. On shutdown every running
  task is killed, i.e. its pod/Job deleted -- unless cleanup is false.
- A graceful stop (SIGTERM) prints ``WARN: Killing running tasks (N)`` and exits 1 -- Nextflow
  handles the signal, aborts the session and ``AbortRunException`` maps to exit status 1.
  25.10 no longer prints ``Killing pending tasks``; queued tasks are dropped silently.
- Run names must match ``^[a-z](?:[a-z\\d]|[-_](?=[a-z\\d])){0,79}$`` (case-insensitive) and
  must not be reused in the same launch directory's history.
- ``k8s.workDir`` only reaches a run through ``nextflow kuberun``; with ``nextflow run`` the
  work dir is ``-w``, then ``workDir``, then ``NXF_WORK``, then ``<launch dir>/work``.
- Without ``process.executor = 'k8s'`` (or ``NXF_EXECUTOR=k8s``) tasks run inside the driver
  and no pod is created.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import re
import threading
import uuid
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.fakekube.api import (
    EXIT_CODE,
    LOG,
    PENDING_SECONDS,
    REASON,
    RUN_SECONDS,
    ClusterAPI,
    DriverKilled,
    SimContext,
    StatusError,
)
from tests.fakekube.sim_config import (
    ConfigError,
    RunOptions,
    UsageError,
    as_bool,
    load_params,
    parse_argv,
    parse_config,
    parse_duration,
    parse_memory_mib,
    resolve_profiles,
)

NEXTFLOW_VERSION = "25.10.0"
# Nextflow catches SIGTERM, aborts the session and exits through AbortRunException.
TERMINATED_EXIT_CODE = 1
CHECK_LOG_LINE = " -- Check '.nextflow.log' file for details"
TIP_LINE = (
    "Tip: when you have fixed the problem you can continue the execution adding the option "
    "`-resume` to the run command line"
)
DEFAULT_IMAGE = "quay.io/nextflow/bash"
_RETRYABLE_HTTP = frozenset({429, 500, 502, 503, 504})
_API_ATTEMPTS = 4
_NODE_RETRIES = 3


# --------------------------------------------------------------------------- truth for tests


@dataclass
class ProcessCounts:
    """Per-process task counts.

    ``submitted`` counts attempts that got a pod (re-submissions included); ``failed``
    counts every attempt that ended in error, of which ``retried`` were re-submitted and
    ``ignored`` were ignored; ``killed`` were running when the run stopped.
    """

    submitted: int = 0
    succeeded: int = 0
    failed: int = 0
    cached: int = 0
    retried: int = 0
    ignored: int = 0
    killed: int = 0


@dataclass
class SimResult:
    """What one driver did, kept live while it runs and final once it returns.

    ``namespace`` is the driver pod's, ``task_namespace`` where its tasks went;
    ``processes`` is keyed by the Nextflow process name (``NFCORE_RNASEQ:RNASEQ:FASTQC``);
    ``task_pods`` lists the pods (or Jobs) it created, in order; ``lines`` everything it
    printed; ``exit_code`` is None while running or when killed.
    """

    namespace: str
    run_name: str
    pipeline: str = ""
    task_namespace: str = ""
    session_id: str = ""
    resource: str = "pods"  # "pods", "jobs" or "local"
    status: str = "starting"  # running, succeeded, failed, terminated, killed, error
    exit_code: int | None = None
    processes: dict[str, ProcessCounts] = field(default_factory=dict)
    task_pods: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    resumed: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, process: str, what: str, n: int = 1) -> None:
        with self._lock:
            c = self.processes.setdefault(process, ProcessCounts())
            setattr(c, what, getattr(c, what) + n)

    def add_lines(self, lines: list[str]) -> None:
        with self._lock:
            self.lines.extend(lines)

    def add_pod(self, name: str) -> None:
        with self._lock:
            self.task_pods.append(name)

    def finish(self, status: str, exit_code: int | None) -> None:
        with self._lock:
            self.status = status
            self.exit_code = exit_code

    def snapshot(self) -> dict[str, Any]:
        """A consistent plain copy, safe to read while the driver still runs."""
        with self._lock:
            return {
                "namespace": self.namespace,
                "run_name": self.run_name,
                "pipeline": self.pipeline,
                "task_namespace": self.task_namespace,
                "session_id": self.session_id,
                "resource": self.resource,
                "status": self.status,
                "exit_code": self.exit_code,
                "processes": {k: dict(vars(v)) for k, v in self.processes.items()},
                "task_pods": list(self.task_pods),
                "lines": list(self.lines),
                "resumed": self.resumed,
            }

    def totals(self) -> ProcessCounts:
        with self._lock:
            t = ProcessCounts()
            for c in self.processes.values():
                for f in vars(t):
                    setattr(t, f, getattr(t, f) + getattr(c, f))
            return t


RESULTS: dict[tuple[str, str], SimResult] = {}
_RESULTS_LOCK = threading.Lock()


def get_result(namespace: str, run_name: str) -> SimResult | None:
    with _RESULTS_LOCK:
        return RESULTS.get((namespace, run_name))


def reset() -> None:
    """Forget every run and every simulated launch-directory history."""
    with _RESULTS_LOCK:
        RESULTS.clear()
        _CLUSTERS_BY_ID.clear()
        for k in list(_CLUSTERS.keys()):
            del _CLUSTERS[k]


# --------------------------------------------------------------------------- per-cluster memory


@dataclass
class _LaunchHistory:
    """What ``<launchDir>/.nextflow`` and the projects dir on the work PVC remember."""

    run_names: set[str] = field(default_factory=set)
    last_session: str | None = None


@dataclass
class _ClusterState:
    launches: dict[tuple[str, str], _LaunchHistory] = field(default_factory=dict)
    pulled: set[tuple[str, str]] = field(default_factory=set)


_CLUSTERS: weakref.WeakKeyDictionary[Any, _ClusterState] = weakref.WeakKeyDictionary()
_CLUSTERS_BY_ID: dict[int, _ClusterState] = {}


def _cluster_state(api: ClusterAPI) -> _ClusterState:
    # Each driver may get its own API object over one shared store; the store is the cluster.
    owner: Any = api
    for attr in ("store", "_store"):
        inner = getattr(api, attr, None)
        if inner is not None:
            owner = inner
            break
    with _RESULTS_LOCK:
        try:
            st = _CLUSTERS.get(owner)
            if st is None:
                st = _CLUSTERS[owner] = _ClusterState()
        except TypeError:
            st = _CLUSTERS_BY_ID.setdefault(id(owner), _ClusterState())
        return st


# --------------------------------------------------------------------------- labels & names


def sanitize_label_value(value: object) -> str:
    """``PodSpecBuilder.sanitizeValue`` for a label value: cut, replace, trim."""
    s = str(value)[:63]
    s = re.sub(r"[^a-zA-Z0-9._-]+", "_", s)
    s = re.sub(r"^[^a-zA-Z0-9]+", "", s)
    return re.sub(r"[^a-zA-Z0-9]+$", "", s)


_ADJECTIVES = (
    "amber",
    "brave",
    "calm",
    "dreamy",
    "eager",
    "fluffy",
    "gentle",
    "happy",
    "jolly",
    "lucid",
    "mellow",
    "nimble",
    "placid",
    "quirky",
    "rustic",
    "sleepy",
    "tender",
    "vivid",
    "witty",
    "zesty",
)
_NAMES = (
    "babbage",
    "curie",
    "darwin",
    "euler",
    "franklin",
    "goodall",
    "hopper",
    "johnson",
    "kepler",
    "lovelace",
    "mendel",
    "noether",
    "pasteur",
    "ramanujan",
    "sanger",
    "turing",
    "volta",
    "watson",
    "yalow",
    "zuse",
)


def _generate_run_name(rng: random.Random, taken: set[str]) -> str:
    while True:
        name = f"{rng.choice(_ADJECTIVES)}_{rng.choice(_NAMES)}"
        if name not in taken:
            return name


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


# --------------------------------------------------------------------------- scenarios


@dataclass
class Attempt:
    """How one attempt of a task ends; attempts past a task's list succeed."""

    exit_code: int = 0
    reason: str | None = None
    stderr: tuple[str, ...] = ()


@dataclass
class ProcessSpec:
    name: str
    tags: list[str | None]
    seconds: float
    script: str
    upstream: str | None = None
    gather: bool = False  # waits for every upstream task (a collect), else task j for task j
    container: str = DEFAULT_IMAGE
    cpus: int = 1
    memory_mib: int | None = None
    memory_per_attempt: bool = False
    error_strategy: str = "terminate"  # terminate, retry, ignore
    max_retries: int = 1
    attempts: dict[int, list[Attempt]] = field(default_factory=dict)
    seconds_by_task: dict[int, float] = field(default_factory=dict)
    stdout: Callable[[int, str | None], list[str]] | None = None
    cached_on_resume: int = 0  # how many of its first tasks a resumed run finds cached


@dataclass
class Scenario:
    key: str
    processes: list[ProcessSpec]
    crash: bool = False
    chatter_rate: float = 0.0
    chatter_total: int = 0


def _num(params: dict[str, Any], key: str, default: float) -> float:
    v = params.get(key)
    if v is None or isinstance(v, bool):
        return default
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


def _int(params: dict[str, Any], key: str, default: int) -> int:
    return max(0, int(_num(params, key, default)))


def _samples(n: int, fmt: str = "SAMPLE{}") -> list[str | None]:
    return [fmt.format(i + 1) for i in range(n)]


def _workflow_name(pipeline: str) -> str:
    base = pipeline.rstrip("/").rsplit("/", 1)[-1]
    base = re.sub(r"\.(git|nf)$", "", base)
    name = re.sub(r"[^A-Za-z0-9]+", "_", base).strip("_").upper()
    return name or "MAIN"


def is_nfcore(pipeline: str) -> bool:
    return pipeline.startswith(("nf-core/", "https://github.com/nf-core/"))


def _greetings(i: int, _tag: str | None) -> list[str]:
    words = ("Hello", "Ciao", "Hola", "Bonjour", "Hallo", "Hej", "Ola", "Salut")
    return [f"{words[i % len(words)]} world!"]


def build_scenario(pipeline: str, params: dict[str, Any]) -> Scenario:
    """The tasks, timings and failures a pipeline name stands for."""
    rate = _num(params, "sim_lines_per_second", 0.0)
    total = _int(params, "sim_log_lines", 0)
    if total and not rate:
        rate = 10_000.0

    def t(default: float) -> float:
        return _num(params, "sim_task_seconds", default)

    key = pipeline
    if pipeline == "sim/hello":
        n = _int(params, "sim_tasks", 4)
        procs = [
            ProcessSpec(
                "sayHello",
                [str(i + 1) for i in range(n)],
                t(2.0),
                "echo '{greeting}'",
                stdout=_greetings,
                cached_on_resume=n // 2,
            )
        ]
    elif pipeline == "sim/fail":
        n = max(2, _int(params, "sim_tasks", 4))
        procs = [
            ProcessSpec("SIM_FAIL:PREPARE", _samples(n, "sample{}"), t(2.0), "prepare.sh {tag}"),
            ProcessSpec(
                "SIM_FAIL:ALIGN",
                _samples(n, "sample{}"),
                t(30.0),
                "align.sh --threads 2 {tag}.fq.gz > {tag}.bam",
                upstream="SIM_FAIL:PREPARE",
                cpus=2,
                attempts={
                    1: [Attempt(1, "Error", ("align.sh: error: reference index is corrupt",))]
                },
                seconds_by_task={1: 3.0},
            ),
        ]
    elif pipeline == "sim/slow":
        n = _int(params, "sim_tasks", 3)
        procs = [ProcessSpec("SIM_SLOW:SLEEP", _samples(n, "{}"), t(86400.0), "sleep {secs}")]
    elif pipeline == "sim/chatty":
        rate = _num(params, "sim_lines_per_second", 0.0) or (10_000.0 if total else 50.0)
        if not total:
            total = int(rate * _num(params, "sim_duration", 30.0))
        procs = [
            ProcessSpec(
                "SIM_CHATTY:TALK", [None], t(min(total / rate, 5.0) if rate else 1.0), "talk.sh"
            )
        ]
    elif pipeline in ("sim/oom", "sim/retry"):
        n = _int(params, "sim_tasks", 3)
        oom = Attempt(137, "OOMKilled", ())
        fails = [oom, oom] if pipeline == "sim/oom" else [oom]
        name = "SIM_OOM:ASSEMBLE" if pipeline == "sim/oom" else "SIM_RETRY:ASSEMBLE"
        procs = [
            ProcessSpec(
                name,
                _samples(n, "sample{}"),
                t(20.0),
                "assemble.py --memory {memory} {tag}.fq.gz",
                cpus=2,
                memory_mib=2048,
                memory_per_attempt=True,
                error_strategy="retry",
                max_retries=1,
                attempts={0: fails},
                seconds_by_task={0: 5.0},
            )
        ]
    elif pipeline == "sim/ignore":
        n = max(2, _int(params, "sim_tasks", 3))
        procs = [
            ProcessSpec(
                "SIM_IGNORE:VALIDATE",
                _samples(n, "sample{}"),
                t(3.0),
                "validate.py {tag}.csv",
                error_strategy="ignore",
                attempts={1: [Attempt(1, "Error", ("validate.py: column 'id' is missing",))]},
            ),
            ProcessSpec(
                "SIM_IGNORE:REPORT",
                _samples(n, "sample{}"),
                t(2.0),
                "report.py {tag}",
                upstream="SIM_IGNORE:VALIDATE",
            ),
        ]
    elif pipeline == "sim/many":
        p = max(1, _int(params, "sim_processes", 12))
        n = _int(params, "sim_tasks", 10)
        procs = []
        for i in range(p):
            procs.append(
                ProcessSpec(
                    f"NFCORE_DEMO:DEMO:STEP_{i + 1:02d}",
                    _samples(n, "chunk_{:03d}"),
                    t(3.0),
                    f"step_{i + 1:02d}.sh {{tag}}",
                    upstream=procs[-1].name if procs else None,
                )
            )
    elif pipeline == "sim/crash":
        return Scenario("sim/crash", [], crash=True)
    else:
        key = "generic"
        procs = _generic_processes(pipeline, params, t)
    return Scenario(key, procs, chatter_rate=rate, chatter_total=total)


def _generic_processes(
    pipeline: str, params: dict[str, Any], t: Callable[[float], float]
) -> list[ProcessSpec]:
    w = _workflow_name(pipeline)
    pre = f"NFCORE_{w}:{w}:" if is_nfcore(pipeline) else f"{w}:"
    n = _int(params, "sim_tasks", 3)
    samples = _samples(n)
    trim = f"{pre}FASTQ_QC_TRIM_FILTER_SETSTRANDEDNESS:FASTQ_FASTQC_UMITOOLS_TRIMGALORE:TRIMGALORE"
    return [
        ProcessSpec(
            f"{pre}PREPARE_GENOME:GUNZIP_GTF",
            ["genes.gtf.gz"],
            t(2.0),
            "gunzip -c genes.gtf.gz > genes.gtf",
            container="quay.io/biocontainers/gnu-wget:1.18--h36e9172_9",
            cached_on_resume=1,
        ),
        ProcessSpec(
            f"{pre}FASTQC",
            samples,
            t(8.0),
            "fastqc --quiet --threads 2 {tag}_1.fastq.gz {tag}_2.fastq.gz",
            container="quay.io/biocontainers/fastqc:0.12.1--hdfd78af_0",
            cpus=2,
            memory_mib=4096,
            cached_on_resume=n,
        ),
        ProcessSpec(
            trim,
            samples,
            t(12.0),
            "trim_galore --cores 4 --paired --gzip {tag}_1.fastq.gz {tag}_2.fastq.gz",
            upstream=f"{pre}FASTQC",
            container="quay.io/biocontainers/trim-galore:0.6.7--hdfd78af_0",
            cpus=4,
            memory_mib=8192,
            cached_on_resume=n // 2,
        ),
        ProcessSpec(
            f"{pre}QUANTIFY_PSEUDO_ALIGNMENT:SALMON_QUANT",
            samples,
            t(15.0),
            "salmon quant --libType A --threads 6 -i salmon -1 {tag}_1.fq.gz -2 {tag}_2.fq.gz",
            upstream=trim,
            container="quay.io/biocontainers/salmon:1.10.1--h7e5ed60_0",
            cpus=6,
            memory_mib=12288,
        ),
        ProcessSpec(
            f"{pre}MULTIQC",
            [None],
            t(6.0),
            "multiqc --force --config multiqc_config.yml .",
            upstream=f"{pre}QUANTIFY_PSEUDO_ALIGNMENT:SALMON_QUANT",
            gather=True,
            container="quay.io/biocontainers/multiqc:1.21--pyhdfd78af_0",
            memory_mib=2048,
        ),
    ]


# --------------------------------------------------------------------------- task states


@dataclass
class _State:
    kind: str  # pending, running, done, error, gone
    exit_code: int | None = None
    reason: str | None = None
    message: str = ""


_PENDING = _State("pending")
_RUNNING = _State("running")


def pod_task_state(pod: dict[str, Any]) -> _State:
    """``K8sClient.podState`` reduced to what decides a task's fate."""
    name = (pod.get("metadata") or {}).get("name", "")
    status = pod.get("status") or {}
    phase = status.get("phase")
    statuses = status.get("containerStatuses") or []
    if statuses:
        state = statuses[0].get("state") or {}
        term = state.get("terminated")
        if term is not None:
            code = term.get("exitCode")
            return _State("done", int(code) if code is not None else None, term.get("reason"))
        if state.get("running") is not None:
            return _RUNNING
        waiting = state.get("waiting") or {}
        reason = str(waiting.get("reason") or "")
        suffix = f" -- {waiting['message']}" if waiting.get("message") else ""
        if reason in ("ErrImagePull", "ImagePullBackOff"):
            return _State("error", message=f"K8s pod image cannot be pulled{suffix}")
        if reason == "CreateContainerConfigError":
            return _State("error", message=f"K8s pod configuration failed{suffix}")
        if reason.endswith("Error") and len(reason) > len("Error"):
            return _State("error", message=f"K8s pod waiting on unknown error state{suffix}")
        if phase == "Failed":
            return _State("error", message="K8s pod in Failed state")
        return _PENDING
    if phase == "Failed":
        msg = f"K8s pod '{name}' execution failed"
        if status.get("reason"):
            msg += f" - reason: {status['reason']}"
        if status.get("message"):
            msg += f" - message: {status['message']}"
        return _State("error", message=msg)
    if phase == "Running":
        return _RUNNING
    if phase == "Succeeded":
        # Nextflow would call this undetermined; a fake kubelet that skips
        # containerStatuses should not fail every task for it.
        return _State("done", 0, "Completed")
    return _PENDING


# --------------------------------------------------------------------------- the run


@dataclass
class _Task:
    proc: ProcessSpec
    index: int
    tag: str | None
    attempt: int = 1
    hash: str = ""
    resource: str | None = None  # pod or Job name
    started: float = 0.0  # sim time of submission (local executor)
    node_retries: int = 0

    @property
    def name(self) -> str:
        return f"{self.proc.name} ({self.tag})" if self.tag is not None else self.proc.name

    @property
    def hash_log(self) -> str:
        return f"{self.hash[:2]}/{self.hash[2:8]}"

    def outcome(self) -> Attempt:
        plan = self.proc.attempts.get(self.index, [])
        return plan[self.attempt - 1] if self.attempt <= len(plan) else Attempt()

    def seconds(self) -> float:
        return self.proc.seconds_by_task.get(self.index, self.proc.seconds)


class _Fault(Exception):
    """A task error that ends the run (errorStrategy 'terminate')."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__(lines[0] if lines else "")
        self.lines = lines


def _status_error_text(e: StatusError) -> list[str]:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": e.message,
        "reason": e.reason,
        "details": e.details,
        "code": e.code,
    }
    return json.dumps(body, indent=4).splitlines()


class _Driver:
    def __init__(self, ctx: SimContext, opts: RunOptions, result: SimResult) -> None:
        self.ctx = ctx
        self.api = ctx.api
        self.opts = opts
        self.result = result
        self.now = 0.0
        self.config: dict[str, Any] = {}
        self.params: dict[str, Any] = {}
        self.tasks: list[_Task] = []
        self.ready: list[_Task] = []
        self.running: list[_Task] = []
        self.finished: dict[str, set[int]] = {}
        self.skipped: dict[str, set[int]] = {}
        self.vol_counter = 0
        self.lines_emitted = 0
        self.pod_counter = 0

    # ---------------------------------------------------------------- output

    def out(self, *lines: str) -> None:
        for line in lines:
            self.ctx.log(line)
        self.result.add_lines(list(lines))

    def out_many(self, lines: Iterable[str]) -> None:
        batch = list(lines)
        log = self.ctx.log
        for line in batch:
            log(line)
        self.result.add_lines(batch)

    def sleep(self, seconds: float) -> None:
        self.ctx.sleep(seconds)
        self.now += seconds

    # ---------------------------------------------------------------- config

    def k8s(self, key: str, default: Any = None) -> Any:
        v = self.config.get(f"k8s.{key}")
        return default if v is None else v

    def setup(self, history: _LaunchHistory) -> Scenario:
        if not self.opts.quiet:
            self.out(f"N E X T F L O W  ~  version {NEXTFLOW_VERSION}")
        self.pull_project()
        flat: dict[str, Any] = {}
        files = self.opts.config_files
        for path in files:
            text = self.ctx.read_file(path)
            if text is None:
                raise UsageError(
                    f"The specified configuration file does not exist: {path} -- "
                    "check the name or choose another file"
                )
            try:
                flat.update(parse_config(text, source=path, read_file=self.ctx.read_file))
            except ConfigError as e:
                raise UsageError(f"Unable to parse config file: '{path}'\n\n  {e}") from e
        self.config = resolve_profiles(flat, self.opts.profile)
        params = {k[7:]: v for k, v in self.config.items() if k.startswith("params.")}
        if self.opts.params_file:
            text = self.ctx.read_file(self.opts.params_file)
            if text is None:
                raise UsageError(f"Specified params file does not exist: {self.opts.params_file}")
            params.update(load_params(text, self.opts.params_file))
        params.update(self.opts.cli_params)
        self.params = params
        scenario = build_scenario(self.opts.pipeline, params)
        if scenario.crash:
            cfg = files[0] if files else "nextflow.config"
            raise UsageError(
                f"Unable to parse config file: '{cfg}'\n\n"
                "  Cannot compile config: unexpected token 'sim_crash' @ line 1, column 1.\n"
                "  sim_crash {\n  ^"
            )
        self.setup_session(history)
        with _RESULTS_LOCK:
            history.run_names.add(str(self.opts.run_name))
        return scenario

    def setup_session(self, history: _LaunchHistory) -> None:
        resume = self.opts.resume
        if resume and resume != "last":
            session = resume
        elif resume == "last" and history.last_session:
            session = history.last_session
        else:
            session = self.ctx.env.get("NXF_UUID") or str(uuid.uuid4())
        with _RESULTS_LOCK:
            history.last_session = session
        self.session = session
        self.result.session_id = session
        self.result.resumed = bool(resume)

        self.task_ns = str(self.k8s("namespace") or self.ctx.namespace)
        self.result.task_namespace = self.task_ns
        executor = self.config.get("process.executor") or self.ctx.env.get("NXF_EXECUTOR")
        if executor == "k8s":
            job = str(self.k8s("computeResourceType", "")) == "Job"
            self.result.resource = "jobs" if job else "pods"
        else:
            self.result.resource = "local"
        self.cleanup = as_bool(self.k8s("cleanup"), True)
        self.mount_path = str(self.k8s("storageMountPath") or "/workspace")
        self.claim = self.k8s("storageClaimName")
        user = str(self.k8s("userName") or self.ctx.env.get("USER") or "root")
        self.launch_dir = str(self.k8s("launchDir") or f"{self.mount_path}/{user}")
        self.work_dir = str(
            self.opts.work_dir
            or self.config.get("workDir")
            or self.ctx.env.get("NXF_WORK")
            or f"{self.launch_dir}/work"
        ).rstrip("/")
        queue = self.opts.queue_size or int(_num(self.config, "executor.queueSize", 100))
        self.max_forks = max(1, min(_int(self.params, "sim_max_forks", 10), queue))
        interval = self.config.get("executor.pollInterval")
        default_poll = _num(self.params, "sim_poll_seconds", 1.0)
        self.poll = max(0.05, parse_duration(interval, default_poll))
        self.pending_secs = _num(self.params, "sim_pending_seconds", 0.5)

    def pull_project(self) -> None:
        repo, url = self.repository()
        if repo is None:
            return
        st = _cluster_state(self.api)
        key = (self.ctx.namespace, repo)
        with _RESULTS_LOCK:
            first = key not in st.pulled
            st.pulled.add(key)
        if first:
            self.out(f"Pulling {repo} ...", f" downloaded from {url}.git")
        elif self.opts.latest:
            self.out(f"Pulling {repo} ...", " Already-up-to-date")

    def repository(self) -> tuple[str | None, str | None]:
        """The project name and its URL, or ``(None, None)`` for a local script."""
        p = self.opts.pipeline
        if p.startswith(("/", "./", "../")) or p.endswith(".nf"):
            return None, None
        m = re.match(r"^(?:https?://|git@)([^/:]+)[/:]([^/]+)/([^/]+?)(?:\.git)?/?$", p)
        if m:
            repo = f"{m.group(2)}/{m.group(3)}"
            return repo, f"https://{m.group(1)}/{repo}"
        return p, f"https://github.com/{p}"

    # ---------------------------------------------------------------- preamble

    def preamble(self) -> None:
        repo, url = self.repository()
        run = self.opts.run_name
        if url is not None:
            commit = _md5(f"{repo}@{self.opts.revision or 'master'}")[:10]
            rev = self.opts.revision or "master"
            self.out(f"Launching `{url}` [{run}] DSL2 - revision: {commit} [{rev}]")
        else:
            p = self.opts.pipeline.rstrip("/")
            script = p if p.endswith(".nf") else f"{p}/main.nf"
            self.out(f"Launching `{script}` [{run}] DSL2 - revision: {_md5(script)[:10]}")
        if is_nfcore(self.opts.pipeline):
            self.out(*self.nfcore_header(repo or self.opts.pipeline))

    def nfcore_header(self, repo: str) -> list[str]:
        bar = "-" * 54
        version = self.opts.revision or "dev"
        lines = [bar, f"  {repo} {version}", bar]
        shown = {k: v for k, v in self.params.items() if not k.startswith("sim_")}
        if shown:
            lines.append("Input/output options")
            lines += [f"  {k:<26}: {v}" for k, v in shown.items()]
            lines.append("")
        core: dict[str, str] = {}
        if self.opts.revision:
            core["revision"] = self.opts.revision
        core["runName"] = str(self.opts.run_name)
        core["launchDir"] = self.launch_dir
        core["workDir"] = self.work_dir
        assets = self.ctx.env.get("NXF_ASSETS", "/root/.nextflow/assets")
        core["projectDir"] = f"{assets}/{repo}"
        core["userName"] = self.ctx.env.get("USER", "root")
        if self.opts.profile:
            core["profile"] = self.opts.profile
        core["configFiles"] = ", ".join(self.opts.config_files)
        lines.append("Core Nextflow options")
        lines += [f"  {k:<26}: {v}" for k, v in core.items()]
        lines += ["", "!! Only displaying parameters that differ from the pipeline defaults !!"]
        lines.append(bar)
        return lines

    def on_complete(self, success: bool) -> None:
        if not is_nfcore(self.opts.pipeline):
            return
        repo = self.repository()[0] or self.opts.pipeline
        word = "successfully" if success else "with errors"
        self.out(f"-[{repo}] Pipeline completed {word}-")

    # ---------------------------------------------------------------- tasks

    def build_tasks(self, scenario: Scenario) -> None:
        for proc in scenario.processes:
            self.result.count(proc.name, "submitted", 0)
            self.finished[proc.name] = set()
            self.skipped[proc.name] = set()
            for i, tag in enumerate(proc.tags):
                task = _Task(proc, i, tag)
                task.hash = self.task_hash(task)
                self.tasks.append(task)
        self.procs = {p.name: p for p in scenario.processes}
        self.waiting = list(self.tasks)

    def task_hash(self, task: _Task) -> str:
        return _md5(f"{self.session}|{task.proc.name}|{task.index}|{task.attempt}")

    def release_ready(self) -> None:
        """Move tasks whose inputs exist to the submit queue (cached ones finish at once)."""
        progressed = True
        while progressed:
            progressed = False
            still: list[_Task] = []
            for task in self.waiting:
                verdict = self.inputs_ready(task)
                if verdict is None:
                    still.append(task)
                elif verdict is False:
                    self.skipped[task.proc.name].add(task.index)
                    progressed = True
                elif self.result.resumed and task.index < task.proc.cached_on_resume:
                    self.out(f"[{task.hash_log}] Cached process > {task.name}")
                    self.result.count(task.proc.name, "cached")
                    self.finished[task.proc.name].add(task.index)
                    progressed = True
                else:
                    self.ready.append(task)
            self.waiting = still

    def inputs_ready(self, task: _Task) -> bool | None:
        """True when runnable, None when still waiting, False when an input will never come."""
        up = task.proc.upstream
        if up is None:
            return True
        upstream = self.procs[up]
        done = self.finished[up]
        skipped = self.skipped[up]
        if task.proc.gather:
            if len(done) + len(skipped) < len(upstream.tags):
                return None
            return True
        if not upstream.tags:
            return False
        j = task.index % len(upstream.tags)
        if j in done:
            return True
        if j in skipped:
            return False
        return None

    def all_done(self) -> bool:
        return not (self.waiting or self.ready or self.running)

    # ---------------------------------------------------------------- kubernetes

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Nextflow's k8s client retries transient API failures before giving up."""
        delay = 0.25
        for attempt in range(1, _API_ATTEMPTS + 1):
            try:
                return fn(*args, **kwargs)
            except StatusError as e:
                if e.code not in _RETRYABLE_HTTP or attempt == _API_ATTEMPTS:
                    raise
            self.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def labels(self, task: _Task) -> dict[str, str]:
        raw = {
            "nextflow.io/app": "nextflow",
            "nextflow.io/runName": str(self.opts.run_name),
            "nextflow.io/taskName": task.name,
            "nextflow.io/processName": task.proc.name,
            "nextflow.io/sessionId": f"uuid-{self.session}",
        }
        return {k: sanitize_label_value(v) for k, v in raw.items()}

    def task_dir(self, task: _Task) -> str:
        return f"{self.work_dir}/{task.hash[:2]}/{task.hash[2:]}"

    def memory_mib(self, task: _Task) -> int | None:
        mem = parse_memory_mib(self.config.get("process.memory")) or task.proc.memory_mib
        if mem is not None and task.proc.memory_per_attempt:
            mem *= task.attempt
        return mem

    def command(self, task: _Task) -> list[str]:
        mem = self.memory_mib(task)
        text = task.proc.script.format(
            tag=task.tag or "",
            greeting=_greetings(task.index, task.tag)[0],
            secs=int(task.seconds()),
            memory=f"{mem // 1024}G" if mem else "1G",
        )
        return text.splitlines()

    def outcome(self, task: _Task) -> Attempt:
        # A work dir outside the shared volume cannot be seen by the task pod.
        if (
            self.claim
            and self.result.resource != "local"
            and not (self.work_dir + "/").startswith(self.mount_path.rstrip("/") + "/")
        ):
            msg = f"/bin/bash: {self.task_dir(task)}/.command.run: No such file or directory"
            return Attempt(127, "Error", (msg,))
        return task.outcome()

    def manifest(self, task: _Task) -> dict[str, Any]:
        name = task.resource or ""
        outcome = self.outcome(task)
        stdout = task.proc.stdout(task.index, task.tag) if task.proc.stdout else []
        annotations = {
            PENDING_SECONDS: f"{self.pending_secs:g}",
            RUN_SECONDS: f"{task.seconds():g}",
            EXIT_CODE: str(outcome.exit_code),
            LOG: "\n".join([*stdout, *outcome.stderr]),
        }
        if outcome.reason:
            annotations[REASON] = outcome.reason
        image = str(self.config.get("process.container") or task.proc.container)
        launcher = ["/bin/bash", "-ue", f"{self.task_dir(task)}/.command.run"]
        container: dict[str, Any] = {"name": name, "image": image}
        if as_bool(self.ctx.env.get("NXF_CONTAINER_ENTRYPOINT_OVERRIDE"), False):
            container["command"] = launcher
        else:
            container["args"] = launcher
        cpus = int(_num(self.config, "process.cpus", task.proc.cpus))
        resources: dict[str, Any] = {"requests": {"cpu": cpus}}
        mem = self.memory_mib(task)
        if mem:
            resources["requests"]["memory"] = f"{mem}Mi"
            resources["limits"] = {"memory": f"{mem}Mi"}
        container["resources"] = resources
        spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [container]}
        sa = self.k8s("serviceAccount")
        if sa:
            spec["serviceAccountName"] = str(sa)
        if self.claim:
            # PodSpecBuilder numbers volumes from a JVM-wide counter.
            self.vol_counter += 1
            vol = f"vol-{self.vol_counter}"
            mount: dict[str, Any] = {"name": vol, "mountPath": self.mount_path}
            if self.k8s("storageSubPath"):
                mount["subPath"] = str(self.k8s("storageSubPath"))
            container["volumeMounts"] = [mount]
            spec["volumes"] = [{"name": vol, "persistentVolumeClaim": {"claimName": self.claim}}]
        metadata = {
            "name": name,
            "namespace": self.task_ns,
            "labels": self.labels(task),
            "annotations": annotations,
        }
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
        if self.result.resource != "jobs":
            return pod
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": json.loads(json.dumps(metadata)),
            "spec": {"backoffLimit": 0, "template": {"metadata": metadata, "spec": spec}},
        }

    def submit(self, task: _Task) -> None:
        self.pod_counter += 1
        suffix = _md5(f"{self.opts.run_name}|{task.hash}|{self.pod_counter}")[-5:]
        task.resource = f"nf-{task.hash}-{suffix}"
        task.started = self.now
        if self.result.resource != "local":
            kind = self.result.resource
            try:
                self.call(self.api.create, kind, self.task_ns, self.manifest(task))
            except StatusError as e:
                path = (
                    f"/apis/batch/v1/namespaces/{self.task_ns}/jobs"
                    if kind == "jobs"
                    else f"/api/v1/namespaces/{self.task_ns}/pods"
                )
                cause = [f"Request POST {path} returned an error code={e.code}"]
                cause += _status_error_text(e)
                self.result.count(task.proc.name, "failed")
                raise _Fault(self.fault_lines(task, cause)) from e
            self.result.add_pod(task.resource)
        self.result.count(task.proc.name, "submitted")
        verb = "Re-submitted" if task.attempt > 1 else "Submitted"
        self.out(f"[{task.hash_log}] {verb} process > {task.name}")
        self.running.append(task)

    def state(self, task: _Task) -> _State:
        kind = self.result.resource
        name = task.resource or ""
        if kind == "local":
            if self.now - task.started < task.seconds():
                return _RUNNING
            o = self.outcome(task)
            return _State("done", o.exit_code, o.reason)
        if kind == "pods":
            try:
                pod = self.call(self.api.get_status, "pods", self.task_ns, name)
            except StatusError as e:
                if e.code == 404:
                    return _State(
                        "gone",
                        message=f"Unable to find pod {name} - "
                        "The pod may be evicted by a node shutdown event",
                    )
                raise
            return pod_task_state(pod)
        pods = self.call(self.api.list, "pods", self.task_ns, label_selector=f"job-name={name}")
        if pods:
            latest = max(
                pods, key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp", ""))
            )
            return pod_task_state(latest)
        try:
            job = self.call(self.api.get_status, "jobs", self.task_ns, name)
        except StatusError as e:
            if e.code == 404:
                return _State("gone", message=f"Unable to find job {name}")
            raise
        status = job.get("status") or {}
        conds = status.get("conditions") or []
        if status.get("succeeded") and any(
            c.get("type") == "Complete" and c.get("status") == "True" for c in conds
        ):
            return _State("done", 0, "Completed")
        if status.get("failed"):
            msg = next((c.get("message") for c in conds if c.get("type") == "Failed"), "unknown")
            return _State("error", message=f"K8s Job {name} execution failed: {msg}")
        return _PENDING

    def poll_task(self, task: _Task) -> _State:
        """A failed status request kills the task and fails the run, as in Nextflow."""
        try:
            return self.state(task)
        except StatusError as e:
            self.running.remove(task)
            self.result.count(task.proc.name, "failed")
            if self.cleanup:
                self.delete(task)
            name = task.resource or ""
            path = (
                f"/api/v1/namespaces/{self.task_ns}/pods/{name}/status"
                if self.result.resource == "pods"
                else f"/api/v1/namespaces/{self.task_ns}/pods?labelSelector=job-name={name}"
            )
            cause = [f"Request GET {path} returned an error code={e.code}"]
            raise _Fault(self.fault_lines(task, cause + _status_error_text(e))) from e

    def delete(self, task: _Task) -> None:
        kind = self.result.resource
        name = task.resource or ""
        if kind == "local":
            return
        try:
            if kind == "jobs":
                for pod in self.api.list("pods", self.task_ns, label_selector=f"job-name={name}"):
                    pname = (pod.get("metadata") or {}).get("name", "")
                    with contextlib.suppress(StatusError):
                        self.api.delete("pods", self.task_ns, pname)
                self.api.delete("jobs", self.task_ns, name, propagation_policy="Background")
            else:
                self.api.delete("pods", self.task_ns, name)
        except StatusError:
            what = "job" if kind == "jobs" else "pod"
            self.out(f"WARN: Unable to delete {what}: {name} -- see the log file for details")

    # ---------------------------------------------------------------- lifecycle

    def fault_lines(
        self, task: _Task, cause: list[str], *, exit_code: int | str | None = None
    ) -> list[str]:
        out = [f"ERROR ~ Error executing process > '{task.name}'", "", "Caused by:"]
        out += [f"  {c}" if c else "" for c in cause]
        out.append("")
        if exit_code is not None:
            outcome = self.outcome(task)
            stdout = task.proc.stdout(task.index, task.tag) if task.proc.stdout else []
            out += ["Command executed:", ""]
            out += [f"  {c}" for c in self.command(task)]
            out += ["", "Command exit status:", f"  {exit_code}", "", "Command output:"]
            out += [f"  {s}" for s in stdout] or ["  (empty)"]
            if outcome.stderr:
                out += ["", "Command error:"]
                out += [f"  {s}" for s in outcome.stderr]
            out += ["", "Work dir:", f"  {self.task_dir(task)}", ""]
            image = str(self.config.get("process.container") or task.proc.container)
            out += ["Container:", f"  {image}", "", TIP_LINE, ""]
        out.append(CHECK_LOG_LINE)
        return out

    def complete(self, task: _Task, st: _State) -> None:
        self.running.remove(task)
        proc = task.proc
        if st.kind == "gone":
            # The pod vanished under Nextflow: a node failure as far as it can tell.
            self.result.count(proc.name, "failed")
            if task.node_retries < _NODE_RETRIES:
                task.node_retries += 1
                self.result.count(proc.name, "retried")
                self.out(f"[{task.hash_log}] NOTE: {st.message} -- Execution is retried")
                self.resubmit(task)
                return
            raise _Fault(self.fault_lines(task, [st.message]))
        if st.kind == "error":
            self.result.count(proc.name, "failed")
            raise _Fault(self.fault_lines(task, [st.message]))
        if st.exit_code is None:
            # No exit code from the container nor an .exitcode file.
            self.result.count(proc.name, "failed")
            why = (
                f"Process `{task.name}` terminated for an unknown reason -- "
                "Likely it has been terminated by the external system"
            )
            raise _Fault(self.fault_lines(task, [why], exit_code="-"))
        code = st.exit_code
        if code == 0:
            self.result.count(proc.name, "succeeded")
            self.finished[proc.name].add(task.index)
            if self.cleanup:
                self.delete(task)
            return
        self.result.count(proc.name, "failed")
        why = f"Process `{task.name}` terminated with an error exit status ({code})"
        if proc.error_strategy == "retry" and task.attempt <= proc.max_retries:
            self.result.count(proc.name, "retried")
            self.out(f"[{task.hash_log}] NOTE: {why} -- Execution is retried ({task.attempt})")
            self.resubmit(task)
            return
        if proc.error_strategy == "ignore":
            self.result.count(proc.name, "ignored")
            self.out(f"[{task.hash_log}] NOTE: {why} -- Error is ignored")
            self.skipped[proc.name].add(task.index)
            return
        raise _Fault(self.fault_lines(task, [why], exit_code=code))

    def resubmit(self, task: _Task) -> None:
        task.attempt += 1
        task.hash = self.task_hash(task)
        task.resource = None
        self.ready.append(task)

    def kill_running(self) -> None:
        if not self.running:
            return
        if self.opts.disable_jobs_cancellation:
            return
        self.out(f"WARN: Killing running tasks ({len(self.running)})")
        for task in list(self.running):
            self.result.count(task.proc.name, "killed")
            if self.cleanup:
                self.delete(task)
        self.running.clear()

    def chatter(self, final: bool = False) -> None:
        sc = self.scenario
        if not sc.chatter_rate and not sc.chatter_total:
            return
        due = int(sc.chatter_rate * self.now) if sc.chatter_rate else 0
        if sc.chatter_total:
            due = sc.chatter_total if final else min(due, sc.chatter_total)
        if due <= self.lines_emitted:
            return
        start = self.lines_emitted
        self.out_many(
            f"chatter {i:07d} processed batch {i} of the input stream: reads=1000 ok"
            for i in range(start + 1, due + 1)
        )
        self.lines_emitted = due

    def chatter_done(self) -> bool:
        sc = self.scenario
        return not sc.chatter_total or self.lines_emitted >= sc.chatter_total

    def run(self, history: _LaunchHistory) -> int:
        self.scenario = self.setup(history)
        self.preamble()
        self.build_tasks(self.scenario)
        self.result.finish("running", None)
        try:
            while True:
                if self.ctx.terminating:
                    return self.terminate()
                self.release_ready()
                while self.ready and len(self.running) < self.max_forks:
                    self.submit(self.ready.pop(0))
                self.chatter()
                if self.all_done() and self.chatter_done():
                    break
                self.sleep(self.poll)
                if self.ctx.terminating:
                    return self.terminate()
                for task in list(self.running):
                    st = self.poll_task(task)
                    if st.kind not in ("pending", "running"):
                        self.complete(task, st)
        except _Fault as f:
            self.out(*f.lines)
            self.kill_running()
            self.on_complete(False)
            self.result.finish("failed", 1)
            return 1
        self.chatter(final=True)
        self.on_complete(True)
        self.result.finish("succeeded", 0)
        return 0

    def terminate(self) -> int:
        self.kill_running()
        self.on_complete(False)
        self.result.finish("terminated", TERMINATED_EXIT_CODE)
        return TERMINATED_EXIT_CODE


# --------------------------------------------------------------------------- entry point


def _register(namespace: str, run_name: str, pipeline: str) -> SimResult:
    result = SimResult(namespace=namespace, run_name=run_name, pipeline=pipeline)
    with _RESULTS_LOCK:
        RESULTS[(namespace, run_name)] = result
    return result


def _error_lines(e: UsageError) -> list[str]:
    if e.bare:
        return [e.message]
    first, *rest = e.message.splitlines() or [""]
    return [f"ERROR ~ {first}", *rest, "", CHECK_LOG_LINE]


def run_driver(ctx: SimContext) -> int:
    """Play one ``nextflow run`` inside a driver pod; returns the container exit code.

    Argv and run-name errors are recorded in ``RESULTS`` only when they do not clash
    with an existing run's key: a reused run name leaves the earlier run's truth intact.
    """
    try:
        opts = parse_argv(ctx.argv)
        st = _cluster_state(ctx.api)
        with _RESULTS_LOCK:
            history = st.launches.setdefault((ctx.namespace, opts.pipeline), _LaunchHistory())
            taken = set(history.run_names)
        if opts.run_name is None:
            opts.run_name = _generate_run_name(random.Random(), taken)
        elif opts.run_name in taken:
            raise UsageError(
                f"Run name `{opts.run_name}` has been already used -- Specify a different one"
            )
    except UsageError as e:
        lines = _error_lines(e)
        for line in lines:
            ctx.log(line)
        with _RESULTS_LOCK:
            fresh = (ctx.namespace, ctx.pod_name) not in RESULTS
        if fresh:
            result = _register(ctx.namespace, ctx.pod_name, "")
            result.add_lines(lines)
            result.finish("error", 1)
        return 1
    result = _register(ctx.namespace, opts.run_name, opts.pipeline)
    driver = _Driver(ctx, opts, result)
    try:
        return driver.run(history)
    except UsageError as e:
        driver.out(*_error_lines(e))
        result.finish("error", 1)
        return 1
    except DriverKilled:
        result.finish("killed", None)
        raise
    except BaseException:
        result.finish("error", None)
        raise
