"""`nfk8s history`: server-side filters, pagination, newest first, lazy reconciliation."""

from __future__ import annotations

import json

import pytest

from nfk8s import admin
from nfk8s.models import ProcessCounts, RunStatus
from tests.admin.helpers import (
    BASE_TIME,
    LOCK,
    connect,
    job_finished,
    seed_history,
    seed_record,
    stored_status,
    submit,
)
from tests.support import snapshot

pytestmark = pytest.mark.backends


def config_map_lists(fk):
    return fk.requests.filter(verb="list", resource="configmaps")


# status cycles succeeded/failed/cancelled, pipeline rnaseq/sarek: i % 6 == 1.
FAILED_SAREK = [f"h{i:05d}" for i in range(999, -1, -1) if i % 6 == 1]


def test_history_of_1000_records_lists_them_newest_first_and_filters(cluster, invoke):
    seed_history(cluster, 1000)
    before = snapshot(cluster)

    everything = invoke("history", "-o", "json")

    assert everything.exit_code == 0, everything.stderr
    items = json.loads(everything.stdout)["items"]
    assert len(items) == 1000
    assert items[0]["runId"] == "h00999"  # newest first
    assert items[-1]["runId"] == "h00000"

    failed = invoke("history", "--status", "failed", "--pipeline", "nf-core/sarek", "-o", "json")

    assert failed.exit_code == 0, failed.stderr
    assert [item["runId"] for item in json.loads(failed.stdout)["items"]] == FAILED_SAREK
    # Only final records: nothing needed reconciling, so nothing was written.
    assert snapshot(cluster) == before


@pytest.mark.fake_only("counts list pages and their queries in the fake's request log")
def test_history_of_1000_records_is_paginated_and_filtered_by_the_server(cluster, invoke):
    seed_history(cluster, 1000)

    everything = invoke("history", "-o", "json")

    assert everything.exit_code == 0, everything.stderr
    pages = config_map_lists(cluster)
    assert [p.query.get("limit") for p in pages] == ["500", "500"]
    assert "continue" not in pages[0].query
    assert pages[1].query["continue"]
    assert all(p.query["labelSelector"] == "app.kubernetes.io/managed-by=nfk8s" for p in pages)

    cluster.requests.clear()
    failed = invoke("history", "--status", "failed", "--pipeline", "nf-core/sarek", "-o", "json")

    assert failed.exit_code == 0, failed.stderr
    assert len(json.loads(failed.stdout)["items"]) == len(FAILED_SAREK)
    (page,) = config_map_lists(cluster)  # 167 matches: one page, filtered by the server
    assert page.query["labelSelector"] == (
        "app.kubernetes.io/managed-by=nfk8s,nfk8s.io/status=failed,nfk8s.io/pipeline=nf-core_sarek"
    )
    # Only final records: nothing needed reconciling, so nothing else was asked.
    assert cluster.requests.count(resource="jobs") == 0
    assert cluster.requests.writes() == []


def test_history_table_shows_what_happened(cluster, invoke):
    seed_record(
        cluster,
        "older",
        pipeline="nf-core/rnaseq",
        status=RunStatus.FAILED,
        submitted_at=BASE_TIME,
        processes={"FASTQC": ProcessCounts(succeeded=8, failed=2), "MULTIQC": ProcessCounts()},
    )
    newer = seed_record(
        cluster, "newer", pipeline="nf-core/sarek", submitted_at=BASE_TIME.replace(hour=1)
    )

    result = invoke("history")

    assert result.exit_code == 0, result.stderr
    header, first, second = result.stdout.splitlines()
    assert header.split() == [
        "RUN",
        "STATUS",
        "PIPELINE",
        "REVISION",
        "BY",
        "SUBMITTED",
        "DURATION",
        "TASKS",
    ]
    assert first.split()[:3] == ["newer", "succeeded", "nf-core/sarek"]
    assert "2026-01-01T01:00Z" in first
    assert "5m00s" in first
    assert second.split()[:3] == ["older", "failed", "nf-core/rnaseq"]
    assert "8/10 (2 failed)" in second
    assert newer.submitted_by in first


def test_limit_keeps_the_newest(cluster, invoke):
    seed_history(cluster, 12)

    result = invoke("history", "--limit", "3", "-o", "name")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == ["h00011", "h00010", "h00009"]


def test_a_record_that_missed_its_end_is_corrected_as_it_is_read(cluster, invoke):
    run_id = submit(cluster, "sim/hello", params={"sim_task_seconds": 1})
    cluster.wait_for(lambda: job_finished(cluster, run_id), timeout=20)
    assert stored_status(cluster, run_id) in {"pending", "running"}

    running = invoke("history", "--status", "running", "-o", "name")
    shown = invoke("history", "-o", "json")

    assert running.exit_code == 0, running.stderr
    assert running.stdout == ""  # it said running, but its Job had ended
    assert json.loads(shown.stdout)["items"][0]["status"] == "succeeded"
    assert stored_status(cluster, run_id) == "succeeded"


def test_a_starting_run_without_a_job_is_left_alone(cluster):
    # The lock holder's Job does not exist yet: that is a submission in progress.
    from nfk8s import lock

    kube = connect(cluster)
    lock.acquire(kube, name=LOCK, run_id="starting", grace_seconds=120, annotations={})
    seed_record(cluster, "starting", status=RunStatus.PENDING)
    seed_record(cluster, "abandoned", status=RunStatus.RUNNING)

    found = admin.history(kube, lock_name=LOCK)

    statuses = {r.run_id: r.status for r in found.records}
    assert statuses == {"starting": RunStatus.PENDING, "abandoned": RunStatus.UNKNOWN}
    assert found.reconciled == ("abandoned",)


def test_no_runs(cluster, invoke):
    result = invoke("history")

    assert result.exit_code == 0
    assert result.stdout == ""
    assert f"No runs found in namespace {cluster.namespace}." in result.stderr


@pytest.mark.fake_only("asserts that no request at all reached the API server (request log)")
def test_bad_filters_exit_2_before_asking_the_cluster(cluster, invoke):
    for args, message in (
        (("--limit", "0"), "--limit must be at least 1"),
        (("--status", "done"), "unknown status 'done'"),
        (("--pipeline", " "), "--pipeline is empty"),
    ):
        result = invoke("history", *args)
        assert result.exit_code == 2, args
        assert message in result.stderr
    assert cluster.requests.all() == []
