"""`nfk8s prune` and the retention applied after each run."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from nfk8s import lock, manifests
from nfk8s.models import RunStatus
from tests.admin.helpers import (
    BASE_TIME,
    LOCK,
    connect,
    job_finished,
    run_jobs,
    run_pods,
    seed_history,
    seed_record,
    submit,
)
from tests.support import nfk8s_env, run_nfk8s, snapshot

pytestmark = pytest.mark.backends


def record_ids(cluster) -> list[str]:
    cms = cluster.api.list(
        "configmaps", cluster.namespace, label_selector="app.kubernetes.io/managed-by=nfk8s"
    )
    return sorted(manifests.run_id_from_record_name(cm["metadata"]["name"]) for cm in cms)


def test_prune_keeps_the_newest_and_never_the_active_or_unfinished(cluster, invoke):
    seed_history(cluster, 6)  # h00000 (oldest) .. h00005
    seed_record(cluster, "going", status=RunStatus.RUNNING, submitted_at=BASE_TIME)
    # The lock's holder is never pruned, even when its record says it has finished.
    lock.acquire(connect(cluster), name=LOCK, run_id="h00001", grace_seconds=120, annotations={})

    result = invoke("prune", "--keep", "2")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[2] for line in lines[:-1]] == ["h00003", "h00002", "h00000"]
    assert lines[-1] == (
        "deleted 3 run(s); 3 finished run(s) kept; active run h00001 is never pruned"
    )
    assert record_ids(cluster) == ["going", "h00001", "h00004", "h00005"]


def test_prune_older_than_uses_the_finish_time(cluster, invoke):
    seed_history(cluster, 4)  # finished on 2026-01-01, a minute apart
    now = connect(cluster).server_now()
    # Submitted three days ago but finished an hour ago: young by the time it ended.
    recent = seed_record(
        cluster,
        "recent",
        submitted_at=now - timedelta(days=3),
        duration=timedelta(days=3) - timedelta(hours=1),
    )
    before = snapshot(cluster)

    dry = invoke("prune", "--keep", "0", "--older-than", "1d", "--dry-run", "-o", "json")
    assert dry.exit_code == 0, dry.stderr
    assert json.loads(dry.stdout)["deleted"] == ["h00003", "h00002", "h00001", "h00000"]
    assert snapshot(cluster) == before

    done = invoke("prune", "--keep", "0", "--older-than", "1d", "-o", "name")
    assert done.stdout.split() == ["h00003", "h00002", "h00001", "h00000"]
    assert record_ids(cluster) == [recent.run_id]


@pytest.mark.fake_only("sets the server's clock apart from this machine's (clock_offset)")
@pytest.mark.parametrize("days", [-30, 30])
def test_prune_older_than_measures_age_on_the_server_clock(cluster, invoke, days):
    # Thirty days between the clocks: by this machine's, both runs would be a month old
    # (or not yet finished); by the server's, one ended two days ago and one an hour ago.
    cluster.clock_offset = timedelta(days=days).total_seconds()
    now = connect(cluster).server_now()
    seed_record(cluster, "old", submitted_at=now - timedelta(days=2, minutes=5))
    seed_record(cluster, "young", submitted_at=now - timedelta(hours=1, minutes=5))

    result = invoke("prune", "--keep", "0", "--older-than", "1d", "-o", "name")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == ["old"]
    assert record_ids(cluster) == ["young"]


def test_pruning_a_record_removes_its_job_and_pods(cluster, invoke):
    run_id = submit(cluster, "sim/hello", params={"sim_task_seconds": 1})
    cluster.wait_for(lambda: job_finished(cluster, run_id), timeout=20)
    invoke("history")  # settles the record, so it counts as finished
    assert run_jobs(cluster, run_id) == [manifests.job_name(run_id)]

    result = invoke("prune", "--keep", "0")

    assert result.exit_code == 0, result.stderr
    assert f"deleted run {run_id} (sim/hello, succeeded" in result.stdout
    # The Job is owned by the record: the garbage collector takes it and its pod.
    cluster.wait_for(lambda: not run_jobs(cluster, run_id) and not run_pods(cluster, run_id))


@pytest.mark.fake_only("asserts that no request at all reached the API server (request log)")
def test_bad_prune_input_exits_2_and_deletes_nothing(cluster, invoke):
    seed_history(cluster, 2)
    for args, message in (
        (("--keep", "-1"), "--keep must be 0 or more"),
        (("--older-than", "soon"), "invalid --older-than 'soon'"),
    ):
        result = invoke("prune", *args)
        assert result.exit_code == 2, args
        assert message in result.stderr
    assert cluster.requests.all() == []
    assert len(record_ids(cluster)) == 2


def test_after_each_run_only_the_newest_finished_records_stay(cluster):
    seed_history(cluster, 3)

    result = run_nfk8s(cluster, "run", "sim/hello", env=nfk8s_env(cluster, NFK8S_HISTORY_LIMIT="2"))

    assert result.returncode == 0, result.stderr
    ids = record_ids(cluster)
    assert len(ids) == 2
    assert "h00002" in ids  # the newest seeded record, and the run that just ended
