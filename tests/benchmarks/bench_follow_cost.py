"""API cost of following a 10-minute run: nfk8s's watches against a 2-second polling loop.

Run: ``uv run python -m tests.benchmarks.bench_follow_cost [SIM_MINUTES]``. The run lasts
SIM_MINUTES simulated minutes (default 10) on a fake cluster at speed 20; the requests
come from the fake server's request log. The polling loop is what a service that polls
does every 2 seconds: read the Job, list the run's task pods, read the new driver log.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter

from tests.benchmarks.common import cluster, driver_pod, submit, table, wait_done
from tests.support import nfk8s_binary, nfk8s_env

SPEED = 20.0
POLL_SECONDS = 2.0


def run_length_params(minutes: float) -> list[str]:
    # sim/many: 10 chained processes x 4 tasks; each step one tenth of the run.
    step = minutes * 60 / 10
    return ["sim_processes=10", "sim_tasks=4", f"sim_task_seconds={step:g}"]


def follow_cost(minutes: float) -> tuple[Counter[str], float]:
    fk = cluster(SPEED)
    try:
        run_id = submit(fk, "sim/many", *run_length_params(minutes))
        fk.requests.clear()
        result = subprocess.run(
            [nfk8s_binary(), "logs", "-f", run_id],
            env=nfk8s_env(fk),
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        truth = fk.sim_truth("default", run_id)
        return Counter(
            f"{r.verb} {r.resource}{'/' + r.subresource if r.subresource else ''}"
            for r in fk.requests.all()
        ), truth.lines and len(truth.lines)
    finally:
        fk.stop()


def polling_cost(minutes: float) -> Counter[str]:
    from nfk8s.kube import JOBS, PODS, Kube, KubeTarget

    fk = cluster(SPEED)
    try:
        run_id = submit(fk, "sim/many", *run_length_params(minutes))
        kube = Kube.connect(KubeTarget(kubeconfig=str(fk.kubeconfig)))
        fk.requests.clear()
        done = threading.Event()
        stamp = None
        while not done.is_set():
            job = kube.get(JOBS, f"nfk8s-{run_id}")
            kube.list(PODS, label_selector=f"nextflow.io/runName={run_id}")
            try:
                pod = driver_pod(fk, run_id)
                lines = list(
                    kube.pod_log(pod, container="nextflow", timestamps=True, since_time=stamp)
                )
                if lines:
                    from nfk8s.models import parse_time

                    stamp = parse_time(lines[-1].split(" ", 1)[0])
            except Exception:
                pass
            conditions = (job or {}).get("status", {}).get("conditions") or []
            if any(c["type"] in {"Complete", "Failed"} for c in conditions):
                break
            done.wait(POLL_SECONDS / SPEED)
        wait_done(fk, run_id)
        return Counter(
            f"{r.verb} {r.resource}{'/' + r.subresource if r.subresource else ''}"
            for r in fk.requests.all()
        )
    finally:
        fk.stop()


def main(minutes: float) -> None:
    following, _ = follow_cost(minutes)
    polling = polling_cost(minutes)
    keys = sorted(set(following) | set(polling))
    rows = [[k, str(following.get(k, 0)), str(polling.get(k, 0))] for k in keys]
    rows.append(["**total**", f"**{sum(following.values())}**", f"**{sum(polling.values())}**"])
    print(f"run of {minutes:g} simulated minutes (fake cluster at speed {SPEED:g})\n")
    print(table(["request", "nfk8s logs -f (watches)", f"{POLL_SECONDS:g}s polling loop"], rows))


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0)
