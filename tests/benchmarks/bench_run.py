"""`nfk8s run --detach` against the fake: API requests and wall time vs `kubectl create -f`.

Both write the same three objects (Lease, record ConfigMap, Job) to the same server; the
kubectl side gets them from `nfk8s run --dry-run -o yaml`. Medians of several runs.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from tests.benchmarks.common import machine, median_ms, table, timed, tool
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


def main() -> None:
    with FakeKube(speed=50) as fk, tempfile.TemporaryDirectory() as tmp:
        provision(fk)
        env = nfk8s_env(fk)
        nfk8s_ms, kubectl_ms = [], []
        nfk8s_requests: dict[tuple[str, str], int] = {}
        kubectl_requests: dict[tuple[str, str], int] = {}
        for i in range(RUNS + 1):
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
            nfk8s_ms.append(elapsed)
            kubectl_ms.append(k_elapsed)
            nfk8s_requests, kubectl_requests = summary, k_summary
        n_total = sum(nfk8s_requests.values())
        k_total = sum(kubectl_requests.values())
        n_med, k_med = median_ms(nfk8s_ms), median_ms(kubectl_ms)
        print(f"Submission, median of {RUNS} runs on the fake API server ({machine()})\n")
        print(
            table(
                ["", "API requests", "median wall ms"],
                [
                    ("nfk8s run --detach", n_total, f"{n_med:.0f}"),
                    ("kubectl create -f (same 3 objects)", k_total, f"{k_med:.0f}"),
                    ("ratio nfk8s / kubectl", f"{n_total / k_total:.2f}", f"{n_med / k_med:.2f}"),
                ],
            )
        )
        print(
            "\nnfk8s requests: "
            + ", ".join(
                f"{v} {r}" for (v, r), n in sorted(nfk8s_requests.items()) for _ in range(n)
            )
        )
        print(
            "kubectl requests: "
            + ", ".join(f"{n}× {v} {r}" for (v, r), n in sorted(kubectl_requests.items()))
        )


if __name__ == "__main__":
    main()
