"""Log throughput: ``nfk8s logs RUN > /dev/null`` against ``kubectl logs`` of the same pod.

Run: ``uv run python -m tests.benchmarks.bench_logs [LINES ...]`` (default 200000 and
50000, to show that memory does not grow with the log). Prints a Markdown table.

"lines/s" is end to end, start-up included (a 10-line log measures each command's start-up).
The "in-process" row times nfk8s's own streaming path (``runs.copy_driver_log``) without
the interpreter's start-up and imports.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from tests.benchmarks.common import (
    cluster,
    driver_pod,
    kubectl_binary,
    measure,
    submit,
    table,
    wait_done,
)
from tests.support import nfk8s_binary, nfk8s_env

REPEATS = 3


def baseline() -> dict[str, float]:
    """Each command's wall time for a tiny log: its start-up and connection cost."""
    fk = cluster(speed=50)
    try:
        run_id = submit(fk, "sim/chatty", "sim_log_lines=5")
        wait_done(fk, run_id)
        pod = driver_pod(fk, run_id)
        env = nfk8s_env(fk)
        out = {}
        for name, argv in {
            "nfk8s logs": [nfk8s_binary(), "logs", run_id],
            "kubectl logs": [*kubectl_binary(fk), "logs", pod, "-c", "nextflow"],
        }.items():
            out[name] = statistics.median(
                measure(argv, env, stdout=subprocess.DEVNULL).seconds for _ in range(REPEATS)
            )
        return out
    finally:
        fk.stop()


def in_process(fk, run_id: str, total: int) -> list[str]:
    from nfk8s import runs
    from nfk8s.kube import Kube, KubeTarget

    kube = Kube.connect(KubeTarget(kubeconfig=str(fk.kubeconfig)))
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        runs.copy_driver_log(kube, run_id, lambda data: None)
        times.append(time.perf_counter() - start)
    wall = statistics.median(times)
    return ["nfk8s, in-process", f"{total:,}", f"{wall:.2f}", f"{total / wall:,.0f}", "", ""]


def main(sizes: list[int]) -> None:
    rows = []
    start_up = baseline()
    for lines in sizes:
        fk = cluster(speed=50)
        try:
            run_id = submit(fk, "sim/chatty", f"sim_log_lines={lines}")
            wait_done(fk, run_id)
            pod = driver_pod(fk, run_id)
            total = len(fk.pod_logs("default", pod))
            env = nfk8s_env(fk)
            commands = {
                "nfk8s logs": [nfk8s_binary(), "logs", run_id],
                "kubectl logs": [*kubectl_binary(fk), "logs", pod, "-c", "nextflow"],
            }
            for name, argv in commands.items():
                runs = [
                    measure(argv, env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    for _ in range(REPEATS)
                ]
                assert all(r.returncode == 0 for r in runs), name
                wall = statistics.median(r.seconds for r in runs)
                cpu = statistics.median(r.cpu_seconds for r in runs)
                rss = max(r.max_rss_mib for r in runs)
                rows.append(
                    [
                        name,
                        f"{total:,}",
                        f"{wall:.2f}",
                        f"{total / wall:,.0f}",
                        f"{cpu:.2f}",
                        f"{rss:.0f}",
                    ]
                )
            rows.append(in_process(fk, run_id, total))
        finally:
            fk.stop()
    header = [
        "command",
        "lines",
        "wall s (median of 3)",
        "lines/s",
        "CPU s",
        "peak RSS MiB",
    ]
    print("start-up (10-line log): " + ", ".join(f"{k} {v:.2f}s" for k, v in start_up.items()))
    print(table(header, rows))


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [200_000, 50_000])
