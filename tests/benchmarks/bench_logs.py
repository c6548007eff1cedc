"""Log throughput and memory: ``nfk8s logs RUN > /dev/null`` vs ``kubectl logs`` of the same pod.

    uv run python -m tests.benchmarks.bench_logs [--runs N] [LINES ...]

Default 200,000 lines (and 50,000, to show that memory does not grow with the log).
"lines/s" is end to end, start-up included; the start-up line (a 5-line log) shows how
much of it that is. The "in-process" row times nfk8s's own streaming path
(``runs.copy_driver_log``) without the interpreter's start-up and imports.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

from tests.benchmarks.common import (
    Section,
    cluster,
    driver_pod,
    kubectl_binary,
    measure,
    print_sections,
    ratio,
    submit,
    wait_done,
)
from tests.support import nfk8s_binary, nfk8s_env

RUNS = 5
SIZES = (200_000, 50_000)


def in_process(fk, run_id: str, runs: int) -> float:
    """Median seconds of the byte-copy path, in this process."""
    from nfk8s import runs as use_cases
    from nfk8s.kube import Kube, KubeTarget

    kube = Kube.connect(KubeTarget(kubeconfig=str(fk.kubeconfig)))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        use_cases.copy_driver_log(kube, run_id, lambda data: None)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_size(lines: int, runs: int) -> list[list[str]]:
    fk = cluster(speed=50)
    try:
        run_id = submit(fk, "sim/chatty", f"sim_log_lines={lines}")
        wait_done(fk, run_id)
        pod = driver_pod(fk, run_id)
        total = len(fk.pod_logs("default", pod))
        env = nfk8s_env(fk)
        commands = {
            "`nfk8s logs`": [nfk8s_binary(), "logs", run_id],
            "`kubectl logs`": [*kubectl_binary(fk), "logs", pod, "-c", "nextflow"],
        }
        figures: dict[str, tuple[float, float, float]] = {}
        for argv in commands.values():  # warm-up
            measure(argv, env, stdout=subprocess.DEVNULL)
        samples: dict[str, list] = {name: [] for name in commands}
        for _ in range(runs):
            for name, argv in commands.items():
                done = measure(argv, env, stdout=subprocess.DEVNULL)
                assert done.returncode == 0, name
                samples[name].append(done)
        for name, done in samples.items():
            figures[name] = (
                statistics.median(d.seconds for d in done),
                statistics.median(d.cpu_seconds for d in done),
                max(d.max_rss_mib for d in done),
            )
        kubectl = figures["`kubectl logs`"]
        rows = []
        for name, (wall, cpu, rss) in figures.items():
            rows.append(
                [
                    name,
                    f"{total:,}",
                    f"{wall:.2f}",
                    f"{total / wall:,.0f}",
                    ratio(wall, kubectl[0]),
                    f"{cpu:.2f}",
                    f"{rss:.0f}",
                    ratio(rss, kubectl[2]),
                ]
            )
        wall = in_process(fk, run_id, runs)
        rows.append(
            [
                "nfk8s, in-process copy",
                f"{total:,}",
                f"{wall:.2f}",
                f"{total / wall:,.0f}",
                ratio(wall, kubectl[0]),
                "",
                "",
                "",
            ]
        )
        return rows
    finally:
        fk.stop()


def bench(runs: int = RUNS, quick: bool = False, sizes: tuple[int, ...] = SIZES) -> list[Section]:
    if quick:
        sizes = sizes[:1]
    rows = []
    for lines in sizes:
        rows += measure_size(lines, runs)
    small = measure_size(5, runs)
    start_up = ", ".join(f"{row[0]} {row[2]} s" for row in small[:2])
    return [
        Section(
            f"Log throughput and memory (median of {runs} runs)",
            [
                "command",
                "lines",
                "wall s",
                "lines/s",
                "wall vs kubectl",
                "CPU s",
                "peak RSS MiB",
                "RSS vs kubectl",
            ],
            rows,
            [f"Start-up and connection alone (a 5-line log): {start_up}."],
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("sizes", type=int, nargs="*", default=list(SIZES))
    args = parser.parse_args()
    print_sections(bench(args.runs, sizes=tuple(args.sizes)))


if __name__ == "__main__":
    main()
