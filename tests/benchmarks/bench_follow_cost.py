"""API cost of a whole run: ``nfk8s run`` (watches) vs a 2-second polling design.

    uv run python -m tests.benchmarks.bench_follow_cost [--runs N] [--minutes M]

The run lasts M simulated minutes (default 10; 10 chained processes x 4 tasks) on a fake
cluster at speed 40; requests come from the fake server's request log, by verb and
resource. ``nfk8s run`` is the whole thing: lock, record, Job, following (driver log
stream, watches on the Job and the pods) and settling the record.

The polling design is what the old service did: the same submission (counted from
``nfk8s run --detach``), then every 2 simulated seconds one read of the Job and one read
of the driver log since the last line seen (a pod list until the driver pod is known).
Both sides run at once, each on its own fake cluster.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import threading
from collections import Counter

from tests.benchmarks.common import (
    Section,
    cluster,
    print_sections,
    ratio,
    submit,
    wait_done,
)
from tests.fakekube import FakeKube
from tests.support import nfk8s_binary, nfk8s_env

RUNS = 5
SPEED = 40.0
POLL_SECONDS = 2.0
MINUTES = 10.0


def run_params(minutes: float) -> list[str]:
    # sim/many: 10 chained processes x 4 tasks, each step a tenth of the run.
    step = minutes * 60 / 10
    return ["sim_processes=10", "sim_tasks=4", f"sim_task_seconds={step:g}"]


def by_route(fk: FakeKube) -> Counter[str]:
    return Counter(
        f"{r.verb} {r.resource}{'/' + r.subresource if r.subresource else ''}"
        for r in fk.requests.all()
    )


def nfk8s_run(minutes: float) -> Counter[str]:
    fk = cluster(SPEED)
    try:
        args = [nfk8s_binary(), "run", "sim/many", "--plain", "--name", "whole"]
        for param in run_params(minutes):
            args += ["-p", param]
        fk.requests.clear()
        done = subprocess.run(args, env=nfk8s_env(fk), capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        return by_route(fk)
    finally:
        fk.stop()


def polling_run(minutes: float) -> Counter[str]:
    from nfk8s.follow import split_stamp
    from nfk8s.kube import JOBS, PODS, Kube, KubeTarget
    from nfk8s.models import parse_time

    fk = cluster(SPEED)
    try:
        fk.requests.clear()
        run_id = submit(fk, "sim/many", *run_params(minutes), name="polled")
        kube = Kube.connect(KubeTarget(kubeconfig=str(fk.kubeconfig)))
        tick = threading.Event()
        since = None
        pod = None
        while True:
            job = kube.get(JOBS, f"nfk8s-{run_id}")
            if pod is None:
                pods = kube.list(PODS, label_selector=f"job-name=nfk8s-{run_id}").items
                pod = pods[0]["metadata"]["name"] if pods else None
            if pod is not None:
                try:
                    lines = list(
                        kube.pod_log(pod, container="nextflow", timestamps=True, since_time=since)
                    )
                except Exception:  # waiting to start: try again next tick
                    lines = []
                if lines:
                    since = parse_time(split_stamp(lines[-1])[0][:19] + "Z")
            conditions = ((job or {}).get("status") or {}).get("conditions") or []
            if any(c["type"] in {"Complete", "Failed"} for c in conditions):
                break
            tick.wait(POLL_SECONDS / SPEED)
        wait_done(fk, run_id)
        return by_route(fk)
    finally:
        fk.stop()


def bench(runs: int = RUNS, quick: bool = False, minutes: float = MINUTES) -> list[Section]:
    if quick:
        minutes = min(minutes, 5.0)
    watched: list[Counter[str]] = []
    polled: list[Counter[str]] = []
    for _ in range(runs):
        results: dict[str, Counter[str]] = {}

        def side(name: str, fn, results: dict[str, Counter[str]] = results) -> None:
            results[name] = fn(minutes)

        threads = [
            threading.Thread(target=side, args=("nfk8s", nfk8s_run)),
            threading.Thread(target=side, args=("polling", polling_run)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        watched.append(results["nfk8s"])
        polled.append(results["polling"])
    keys = sorted(set().union(*watched, *polled))

    def med(samples: list[Counter[str]], key: str) -> float:
        return statistics.median(s.get(key, 0) for s in samples)

    rows = [[f"`{k}`", f"{med(watched, k):g}", f"{med(polled, k):g}"] for k in keys]
    w_total = statistics.median(sum(s.values()) for s in watched)
    p_total = statistics.median(sum(s.values()) for s in polled)
    rows.append(["**total**", f"**{w_total:g}**", f"**{p_total:g}**"])
    rows.append(["polling / nfk8s", "", f"**{ratio(p_total, w_total)}**"])
    return [
        Section(
            f"API requests of a whole {minutes:g}-minute run (median of {runs} runs)",
            ["request", "`nfk8s run` (watches)", f"{POLL_SECONDS:g} s polling"],
            rows,
            [
                "A watch or a followed log is one request however long it stays open; "
                "the polling count grows with the run's length "
                f"(about {2 * 60 / POLL_SECONDS:g} requests a minute)."
            ],
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--minutes", type=float, default=MINUTES)
    args = parser.parse_args()
    print_sections(bench(args.runs, minutes=args.minutes))


if __name__ == "__main__":
    main()
