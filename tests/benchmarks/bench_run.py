"""`nfk8s run --detach` against the fake: API requests and wall time vs `kubectl create -f`.

Both write the same three objects (Lease, record ConfigMap, Job) to the same server; the
kubectl side gets them from `nfk8s run --dry-run -o yaml`. Medians of several runs.

    uv run python -m tests.benchmarks.bench_run [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
from pathlib import Path

from tests.benchmarks.common import Section, median_ms, print_sections, timed, tool
from tests.fakekube import FakeKube
from tests.support import nfk8s_env, provision

RUNS = 7


def free_lock(fk: FakeKube) -> None:
    for job in fk.api.list("jobs", "default"):
        fk.api.delete("jobs", "default", job["metadata"]["name"], propagation_policy="Background")
    for cm in fk.api.list("configmaps", "default", label_selector="nfk8s.io/run-id"):
        fk.api.delete("configmaps", "default", cm["metadata"]["name"])
    for lease in fk.api.list("leases", "default"):
        fk.api.delete("leases", "default", lease["metadata"]["name"])


def bench(runs: int = RUNS, quick: bool = False) -> list[Section]:
    with FakeKube(speed=50) as fk, tempfile.TemporaryDirectory() as tmp:
        provision(fk)
        env = nfk8s_env(fk)
        nfk8s_s: list[float] = []
        kubectl_s: list[float] = []
        nfk8s_counts: list[int] = []
        kubectl_counts: list[int] = []
        nfk8s_requests: dict[tuple[str, str], int] = {}
        kubectl_requests: dict[tuple[str, str], int] = {}
        for i in range(runs + 1):
            name = f"bench{i}"
            free_lock(fk)
            fk.requests.clear()
            elapsed = timed(
                [tool("nfk8s"), "run", "sim/hello", "--detach", "--name", name], env=env
            )
            summary = fk.requests.summary()
            free_lock(fk)
            manifest = Path(tmp) / f"{name}.yaml"
            manifest.write_text(
                subprocess.run(
                    [tool("nfk8s"), "run", "sim/hello", "--dry-run", "--name", f"k{name}"],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            fk.requests.clear()
            k_elapsed = timed([tool("kubectl"), "create", "-f", str(manifest)], env=env)
            k_summary = fk.requests.summary()
            if i == 0:
                continue  # warm-up: page cache, kubectl's discovery cache
            nfk8s_s.append(elapsed)
            kubectl_s.append(k_elapsed)
            nfk8s_counts.append(sum(summary.values()))
            kubectl_counts.append(sum(k_summary.values()))
            nfk8s_requests, kubectl_requests = summary, k_summary
    n_total, k_total = statistics.median(nfk8s_counts), statistics.median(kubectl_counts)
    n_med, k_med = median_ms(nfk8s_s), median_ms(kubectl_s)
    rows = [
        ["`nfk8s run --detach`", f"{n_total:g}", f"{n_med:.0f}"],
        ["`kubectl create -f` (the same 3 objects)", f"{k_total:g}", f"{k_med:.0f}"],
        ["ratio nfk8s / kubectl", f"{n_total / k_total:.2f}×", f"{n_med / k_med:.2f}×"],
    ]
    notes = [
        "nfk8s: "
        + ", ".join(f"{n}× {v} {r}" for (v, r), n in sorted(nfk8s_requests.items()))
        + ". kubectl: "
        + ", ".join(f"{n}× {v} {r}" for (v, r), n in sorted(kubectl_requests.items()))
        + "."
    ]
    return [
        Section(
            f"Submission (median of {runs} runs)",
            ["command", "API requests", "median wall ms"],
            rows,
            notes,
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    print_sections(bench(args.runs))


if __name__ == "__main__":
    main()
