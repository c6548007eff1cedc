"""Run every benchmark and print one Markdown document (the README's Performance section).

    uv run python -m tests.benchmarks.run_all [--runs N] [--quick] [--only NAME ...]

Each figure is the median of ``--runs`` runs (default 5; ``--quick`` takes 3 and shorter
runs, for a look rather than a result). Everything runs against the fake API server in
this process and, when its binaries are built, the real control plane of ``tests/realkube``;
nothing needs a cluster. Progress goes to stderr, the document to stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from tests.benchmarks import (
    bench_follow_cost,
    bench_history,
    bench_live,
    bench_logs,
    bench_run,
    bench_startup,
)
from tests.benchmarks.common import Section, machine

BENCHMARKS: dict[str, Callable[..., list[Section]]] = {
    "startup": bench_startup.bench,
    "submit": bench_run.bench,
    "reads": bench_history.bench,
    "logs": bench_logs.bench,
    "api-cost": bench_follow_cost.bench,
    "live": bench_live.bench,
}
# Start-up is cheap and noisy: more runs for the same confidence.
EXTRA_RUNS = {"startup": 2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=None, help="runs per figure (default 5)")
    parser.add_argument("--quick", action="store_true", help="3 runs, shorter workloads")
    parser.add_argument("--only", nargs="*", choices=list(BENCHMARKS), default=None)
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 5)
    chosen = args.only or list(BENCHMARKS)

    started = time.perf_counter()
    sections: list[Section] = []
    for name in chosen:
        t = time.perf_counter()
        sys.stderr.write(f"running {name} ...\n")
        sections += BENCHMARKS[name](runs=runs * EXTRA_RUNS.get(name, 1), quick=args.quick)
        sys.stderr.write(f"  {name}: {time.perf_counter() - t:.0f} s\n")
    total = time.perf_counter() - started

    print(
        f"Measured on {machine()}, against the fake API server (`tests/fakekube`) and, where "
        "a table has a real column, kube-apiserver v1.37.2 (`tests/realkube`) in the same run."
    )
    print(
        f"Medians of {runs} runs{' (quick mode)' if args.quick else ''}; "
        f"{total / 60:.1f} minutes in all. "
        "Reproduce with `uv run python -m tests.benchmarks.run_all`.\n"
    )
    print("\n\n".join(section.markdown() for section in sections))


if __name__ == "__main__":
    main()
