"""Helpers for the following tests: start runs, read what the simulator knows.

Each takes the test's ``cluster`` (either backend, see ``tests/backends.py``) and works in its
namespace."""

from __future__ import annotations

import json
from typing import Any

from nfk8s.models import ProcessCounts
from tests.support import run_nfk8s


def start(cluster: Any, pipeline: str, *params: str) -> str:
    """Submit a run detached; its id."""
    args = ["run", pipeline, "--detach"]
    for param in params:
        args += ["-p", param]
    result = run_nfk8s(cluster, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def record(cluster: Any, run_id: str) -> dict[str, Any]:
    cm = cluster.api.get("configmaps", cluster.namespace, f"nfk8s-run-{run_id}")
    return json.loads(cm["data"]["run.json"])


def driver_pod(cluster: Any, run_id: str) -> str:
    def find() -> str | None:
        pods = cluster.api.list(
            "pods", cluster.namespace, label_selector=f"job-name=nfk8s-{run_id}"
        )
        return pods[0]["metadata"]["name"] if pods else None

    return cluster.wait_for(find, timeout=20)


def truth_counts(cluster: Any, run_id: str) -> dict[str, ProcessCounts]:
    """What a follower should report, from the simulator's own tally.

    A failed attempt that Nextflow retried is a retry, not a failure; a task killed when
    the run stopped is killed, not failed.
    """
    result = cluster.sim_truth(cluster.namespace, run_id)
    assert result is not None
    snapshot = result.snapshot()
    assert snapshot["exit_code"] is not None, snapshot["status"]
    out = {}
    for name, c in snapshot["processes"].items():
        out[name] = ProcessCounts(
            succeeded=c["succeeded"],
            failed=c["failed"] - c["retried"],
            killed=c["killed"],
            cached=c["cached"],
            retried=c["retried"],
        )
    return out


def recorded_counts(cluster: Any, run_id: str) -> dict[str, ProcessCounts]:
    return {k: ProcessCounts.from_json(v) for k, v in record(cluster, run_id)["processes"].items()}
