"""Lock reliability: 50 rounds of 20 racing submissions, each a real HTTP client of its own."""

from __future__ import annotations

import threading

from nfk8s import runs
from nfk8s.errors import LockBusy
from nfk8s.kube import Kube, KubeTarget
from nfk8s.models import RunSpec
from nfk8s.settings import load_settings

ROUNDS = 50
RACERS = 20


def test_50_rounds_of_20_racing_runs_create_exactly_one_job_each(cluster, monkeypatch):
    monkeypatch.setenv("NFK8S_CONFIG", "/dev/null")
    cluster.speed = 1  # winners stay running through their round
    settings = load_settings({"kubeconfig": str(cluster.kubeconfig)})
    target = KubeTarget(kubeconfig=str(cluster.kubeconfig))
    clients = [Kube.connect(target) for _ in range(RACERS)]
    for round_no in range(ROUNDS):
        barrier = threading.Barrier(RACERS)
        outcomes: list[str] = [""] * RACERS

        def race(
            i: int,
            round_no: int = round_no,
            barrier: threading.Barrier = barrier,
            outcomes: list[str] = outcomes,
        ) -> None:
            spec = RunSpec(run_id=f"r{round_no}-{i}", pipeline="sim/slow", submitted_by="racer")
            barrier.wait()
            try:
                runs.submit(clients[i], spec, settings)
                outcomes[i] = "won"
            except LockBusy as exc:
                outcomes[i] = exc.message

        threads = [threading.Thread(target=race, args=(i,)) for i in range(RACERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        winners = [i for i, o in enumerate(outcomes) if o == "won"]
        assert len(winners) == 1, (round_no, outcomes)
        winner = f"r{round_no}-{winners[0]}"
        assert all(f"run {winner} " in o for o in outcomes if o != "won"), outcomes
        jobs = cluster.api.list("jobs", "default", label_selector="nfk8s.io/run-id")
        assert [j["metadata"]["name"] for j in jobs] == [f"nfk8s-{winner}"], round_no
        # End the round the way an operator would: the Job goes, the lease is released.
        cluster.api.delete("jobs", "default", f"nfk8s-{winner}", propagation_policy="Background")
        lease = cluster.api.get("leases", "default", "nfk8s-lock")
        lease["spec"].pop("holderIdentity", None)
        cluster.api.replace("leases", "default", lease)
    records = cluster.api.list("configmaps", "default", label_selector="nfk8s.io/run-id")
    assert len(records) == ROUNDS  # losers never wrote a record
    # The racers really collided: many lost a compare-and-swap on the Lease.
    lost = [r for r in cluster.requests.all() if r.resource == "leases" and r.status == 409]
    assert len(lost) >= ROUNDS
