"""Shared plumbing for the benchmarks: figures, Markdown tables, a fake cluster, child processes.

Every benchmark module exposes ``bench(runs=..., quick=False) -> list[Section]`` for
``run_all`` and keeps a ``main()`` so it also runs alone.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakekube import FakeKube
from tests.support import nfk8s_binary, nfk8s_env, provision

NS = "default"


@dataclass
class Section:
    """One benchmark's result: a titled Markdown table and the notes that explain it."""

    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[object]]
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        parts = [f"### {self.title}", "", table(self.header, self.rows)]
        if self.notes:
            parts += ["", *self.notes]
        return "\n".join(parts)


def print_sections(sections: Sequence[Section]) -> None:
    print(f"Machine: {machine()}\n")
    print("\n\n".join(s.markdown() for s in sections))


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


def tool(name: str) -> str:
    """An executable of this virtualenv (``nfk8s``, ``kubectl``)."""
    return str(Path(sys.executable).parent / name)


def timed(argv: Sequence[str], env: dict[str, str] | None = None) -> float:
    """Wall seconds of one run, output discarded; fails if the command does."""
    start = time.perf_counter()
    subprocess.run(
        list(argv), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
    )
    return time.perf_counter() - start


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}×" if base else "-"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def bench_env(kubeconfig: Path, pycache: Path) -> dict[str, str]:
    """A child environment: the fake's kubeconfig, no user settings, bytecode cached.

    Bytecode goes to its own cache (as for an installed package), so no run pays for
    compiling and none is helped by a cache another run left behind.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NFK8S_", "KUBE")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(
        KUBECONFIG=str(kubeconfig),
        NFK8S_CONFIG=os.devnull,
        NO_COLOR="1",
        PYTHONPYCACHEPREFIX=str(pycache),
    )
    return env


def cluster(speed: float, kubeconfig: Path | None = None) -> FakeKube:
    fk = FakeKube(speed=speed, kubeconfig=kubeconfig)
    provision(fk)
    return fk


def submit(fk: FakeKube, pipeline: str, *params: str, name: str | None = None) -> str:
    args = [nfk8s_binary(), "run", pipeline, "--detach"]
    if name:
        args += ["--name", name]
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
