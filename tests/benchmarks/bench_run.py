"""`nfk8s run --detach` vs `kubectl create -f`: API requests, and wall time on both servers.

Both write the same three objects (Lease, record ConfigMap, Job) to the same server; the
kubectl side gets them from `nfk8s run --dry-run -o yaml`. Medians of several runs.

    uv run python -m tests.benchmarks.bench_run [--runs N]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.benchmarks.common import Section, median_ms, print_sections, timed, tool
from tests.fakekube import FakeKube
from tests.support import nfk8s_env, provision

RUNS = 7


def free_lock(api: Any, namespace: str = "default") -> None:
    """Remove every run's objects, so the next submission finds the lock free."""
    from tests.fakekube.api import StatusError

    def delete(resource: str, name: str, **kw: Any) -> None:
        try:
            api.delete(resource, namespace, name, **kw)
        except StatusError as e:
            if e.code != 404:  # the garbage collector may have been first
                raise

    for job in api.list("jobs", namespace):
        delete("jobs", job["metadata"]["name"], propagation_policy="Background")
    for cm in api.list("configmaps", namespace, label_selector="nfk8s.io/run-id"):
        delete("configmaps", cm["metadata"]["name"])
    for lease in api.list("leases", namespace):
        delete("leases", lease["metadata"]["name"])


def _submissions(
    api: Any, env: dict[str, str], tmp: Path, runs: int, prefix: str, fk: FakeKube | None
) -> tuple[list[float], list[float], list[dict[tuple[str, str], int]]]:
    """Wall seconds of `nfk8s run --detach` and of `kubectl create -f` of the same objects;
    with the fake, the request summaries of both."""
    nfk8s_s: list[float] = []
    kubectl_s: list[float] = []
    summaries: list[dict[tuple[str, str], int]] = [{}, {}]
    for i in range(runs + 1):
        name = f"{prefix}{i}"
        free_lock(api)
        if fk is not None:
            fk.requests.clear()
        elapsed = timed([tool("nfk8s"), "run", "sim/hello", "--detach", "--name", name], env=env)
        summary = fk.requests.summary() if fk is not None else {}
        free_lock(api)
        manifest = tmp / f"{name}.yaml"
        manifest.write_text(
            subprocess.run(
                [tool("nfk8s"), "run", "sim/hello", "--dry-run", "--name", f"k{name}"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        if fk is not None:
            fk.requests.clear()
        k_elapsed = timed(
            [
                tool("kubectl"),
                "--cache-dir",
                str(tmp / "kubectl-cache"),
                "create",
                "-f",
                str(manifest),
            ],
            env=env,
        )
        k_summary = fk.requests.summary() if fk is not None else {}
        if i == 0:
            continue  # warm-up: page cache, kubectl's discovery cache
        nfk8s_s.append(elapsed)
        kubectl_s.append(k_elapsed)
        summaries = [summary, k_summary]
    free_lock(api)
    return nfk8s_s, kubectl_s, summaries


def bench(runs: int = RUNS, quick: bool = False) -> list[Section]:
    from tests.realkube import RealKube, build

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "fake").mkdir()
        with FakeKube(speed=50) as fk:
            provision(fk)
            nfk8s_s, kubectl_s, summaries = _submissions(
                fk.api, nfk8s_env(fk), tmp / "fake", runs, "bench", fk
            )
        real: tuple[list[float], list[float]] | None = None
        if build.is_built():
            (tmp / "real").mkdir()
            with RealKube(speed=50, kubeconfig=tmp / "real" / "kubeconfig") as rk:
                env = {**nfk8s_env(fk), "KUBECONFIG": str(rk.kubeconfig)}
                real_n, real_k, _ = _submissions(rk.admin, env, tmp / "real", runs, "bench", None)
                real = (real_n, real_k)
    nfk8s_requests, kubectl_requests = summaries[0], summaries[1]
    n_total, k_total = sum(nfk8s_requests.values()), sum(kubectl_requests.values())
    n_med, k_med = median_ms(nfk8s_s), median_ms(kubectl_s)
    header = ["command", "API requests", "fake: median wall ms"]
    rows = [
        ["`nfk8s run --detach`", f"{n_total:g}", f"{n_med:.0f}"],
        ["`kubectl create -f` (the same 3 objects)", f"{k_total:g}", f"{k_med:.0f}"],
        ["ratio nfk8s / kubectl", f"{n_total / k_total:.2f}×", f"{n_med / k_med:.2f}×"],
    ]
    if real is not None:
        header.append("real: median wall ms")
        rn, rk_ms = median_ms(real[0]), median_ms(real[1])
        rows[0].append(f"{rn:.0f}")
        rows[1].append(f"{rk_ms:.0f}")
        rows[2].append(f"{rn / rk_ms:.2f}×")
    notes = [
        "nfk8s: "
        + ", ".join(f"{n}× {v} {r}" for (v, r), n in sorted(nfk8s_requests.items()))
        + ". kubectl: "
        + ", ".join(f"{n}× {v} {r}" for (v, r), n in sorted(kubectl_requests.items()))
        + " (counted on the fake)."
    ]
    if real is not None:
        notes.append(
            "real: kube-apiserver v1.37.2 with etcd (`tests/realkube`), over TLS as the "
            "restricted user, in the same run."
        )
    return [
        Section(
            f"Submission (median of {runs} runs)",
            header,
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
