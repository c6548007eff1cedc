"""Shared plumbing for the benchmarks: a provisioned fake cluster and child-process figures."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Any

from tests.fakekube import FakeKube
from tests.support import nfk8s_binary, nfk8s_env, provision

NS = "default"


@dataclass
class Measured:
    seconds: float
    cpu_seconds: float
    max_rss_mib: float
    returncode: int


# A small launcher reports the child's own figures: a child forked straight from this
# (large) process would report this process's memory as its peak.
_LAUNCH = (
    "import os,sys,time;t=time.perf_counter();p=os.fork()\n"
    "if p==0: os.execvp(sys.argv[1],sys.argv[1:])\n"
    "_,s,u=os.wait4(p,0);e=time.perf_counter()-t\n"
    "c=os.waitstatus_to_exitcode(s)\n"
    "sys.stderr.write(f'@@ {e} {u.ru_utime+u.ru_stime} {u.ru_maxrss} {c}\\n')"
)


def measure(argv: list[str], env: dict[str, str], **kw: Any) -> Measured:
    """Run a command to completion; wall time, CPU time and peak RSS of that process alone."""
    kw.pop("stderr", None)
    proc = subprocess.run(
        ["python3", "-c", _LAUNCH, *argv],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
        **kw,
    )
    line = next(x for x in proc.stderr.splitlines() if x.startswith("@@ "))
    elapsed, cpu, rss, code = line.split()[1:]
    return Measured(float(elapsed), float(cpu), int(rss) / 1024, int(code))


def cluster(speed: float) -> FakeKube:
    fk = FakeKube(speed=speed)
    provision(fk)
    return fk


def submit(fk: FakeKube, pipeline: str, *params: str) -> str:
    args = [nfk8s_binary(), "run", pipeline, "--detach"]
    for param in params:
        args += ["-p", param]
    result = subprocess.run(args, env=nfk8s_env(fk), capture_output=True, text=True, check=True)
    return result.stdout.strip()


def wait_done(fk: FakeKube, run_id: str, timeout: float = 600) -> None:
    def done() -> bool:
        truth = fk.sim_truth(NS, run_id)
        return truth is not None and truth.exit_code is not None

    fk.wait_for(done, timeout=timeout, interval=0.2)


def driver_pod(fk: FakeKube, run_id: str) -> str:
    pods = fk.api.list("pods", NS, label_selector=f"job-name=nfk8s-{run_id}")
    return pods[0]["metadata"]["name"]


def kubectl_binary(fk: FakeKube) -> list[str]:
    from tests.fakekube import _kubectl_binary

    return [_kubectl_binary(), f"--kubeconfig={fk.kubeconfig}"]


def table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)
