"""Many `nfk8s run` processes racing for one Lease: exactly one wins each round."""

from __future__ import annotations

import subprocess

from tests.support import nfk8s_binary, nfk8s_env

RACERS = 20
ROUNDS = 3


def free_the_lock(fk) -> None:
    """End the round: the winner's Job goes away and the Lease is released by hand."""
    for job in fk.api.list("jobs", "default", label_selector="app.kubernetes.io/managed-by=nfk8s"):
        fk.api.delete("jobs", "default", job["metadata"]["name"], propagation_policy="Background")
    lease = fk.api.get("leases", "default", "nfk8s-lock")
    lease["spec"].pop("holderIdentity", None)
    fk.api.replace("leases", "default", lease)


def test_twenty_concurrent_runs_create_exactly_one_job_per_round(cluster):
    cluster.speed = 1  # the winner's run must outlive the round
    env = nfk8s_env(cluster)
    for round_no in range(ROUNDS):
        procs = [
            subprocess.Popen(
                [nfk8s_binary(), "run", "sim/slow", "--detach"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(RACERS)
        ]
        results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
        codes = sorted(code for code, _, _ in results)
        assert codes == [0] + [3] * (RACERS - 1), (round_no, results)
        (winner,) = [out.strip() for code, out, _ in results if code == 0]
        jobs = cluster.api.list(
            "jobs", "default", label_selector="app.kubernetes.io/managed-by=nfk8s"
        )
        assert [j["metadata"]["name"] for j in jobs] == [f"nfk8s-{winner}"]
        for code, _, err in results:
            if code == 3:
                assert f"run {winner}" in err
                assert "holds the lock" in err
        records = cluster.api.list("configmaps", "default", label_selector="nfk8s.io/run-id")
        assert len(records) == round_no + 1  # losers wrote nothing
        free_the_lock(cluster)
