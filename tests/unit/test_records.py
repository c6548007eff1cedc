"""The record ConfigMap codec and history retention."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from nfk8s import __version__
from nfk8s.manifests import build_record
from nfk8s.models import ProcessCounts, RunRecord, RunSpec, RunStatus
from nfk8s.records import (
    configmap_patch_for,
    configmap_with,
    new_record,
    record_from_configmap,
    select_prunable,
    sort_newest_first,
)
from nfk8s.settings import Settings

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def spec() -> RunSpec:
    return RunSpec(
        run_id="r20261126-0153-k7f2q",
        pipeline="nf-core/rnaseq",
        revision="3.14.0",
        params={"outdir": "r", "aws": {"secret_access_key": "x"}},
        submitted_by="alice",
        ci_actor="bob",
        timeout_seconds=60,
    )


def test_new_record() -> None:
    record = new_record(spec(), namespace="ns", submitted_at=NOW)
    assert record.status is RunStatus.PENDING
    assert record.params == {"outdir": "r", "aws": {"secret_access_key": "***"}}
    assert record.job_name == "nfk8s-r20261126-0153-k7f2q"
    assert record.nfk8s_version == __version__
    assert (record.namespace, record.submitted_by, record.ci_actor) == ("ns", "alice", "bob")
    assert record.timeout_seconds == 60


def test_configmap_round_trip() -> None:
    record = new_record(spec(), namespace="ns", submitted_at=NOW)
    cm = build_record(spec(), Settings(), record)
    assert record_from_configmap(cm) == record


def test_record_from_damaged_configmaps() -> None:
    meta = {
        "name": "nfk8s-run-r1",
        "namespace": "ns",
        "creationTimestamp": "2026-11-26T10:00:00Z",
        "labels": {"nfk8s.io/run-id": "r1"},
        "annotations": {"nfk8s.io/pipeline": "a/b"},
    }
    for data, reason in [
        (None, "no run.json"),
        ({}, "no run.json"),
        ({"run.json": "{not json"}, "not valid JSON"),
        ({"run.json": "[1, 2]"}, "holds a list"),
    ]:
        cm = {"metadata": meta, "data": data}
        record = record_from_configmap(cm)
        assert record.status is RunStatus.UNKNOWN
        assert record.reason is not None and reason in record.reason
        assert record.run_id == "r1"
        assert record.pipeline == "a/b"
        assert record.namespace == "ns"
        assert record.submitted_at == datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def test_record_from_configmap_without_labels_uses_the_name() -> None:
    record = record_from_configmap({"metadata": {"name": "nfk8s-run-r2"}})
    assert record.run_id == "r2"
    assert record_from_configmap({}).run_id == ""


def test_record_name_beats_a_hand_edited_run_id() -> None:
    cm = {
        "metadata": {"name": "nfk8s-run-r3", "labels": {"nfk8s.io/run-id": "r3"}},
        "data": {"run.json": json.dumps({"runId": "other", "status": "succeeded"})},
    }
    record = record_from_configmap(cm)
    assert record.run_id == "r3"
    assert record.status is RunStatus.SUCCEEDED


def test_patch_and_replace_bodies() -> None:
    record = new_record(spec(), namespace="ns", submitted_at=NOW)
    cm = build_record(spec(), Settings(), record)
    cm["metadata"]["resourceVersion"] = "42"
    record.status = RunStatus.SUCCEEDED
    record.processes = {"FASTQC": ProcessCounts(succeeded=3)}
    record.params = {"password": "leak"}  # defence in depth: still redacted when stored
    patch = configmap_patch_for(record)
    assert patch["metadata"] == {"labels": {"nfk8s.io/status": "succeeded"}}
    stored = json.loads(patch["data"]["run.json"])
    assert stored["status"] == "succeeded"
    assert stored["params"] == {"password": "***"}
    body = configmap_with(cm, record)
    assert body["metadata"]["resourceVersion"] == "42"
    assert body["metadata"]["labels"]["nfk8s.io/status"] == "succeeded"
    assert body["metadata"]["labels"]["nfk8s.io/run-id"] == record.run_id
    assert body["data"]["nextflow.config"] == cm["data"]["nextflow.config"]
    assert json.loads(body["data"]["run.json"])["processes"]["FASTQC"]["succeeded"] == 3
    # The input is left alone.
    assert cm["metadata"]["labels"]["nfk8s.io/status"] == "pending"
    assert record_from_configmap(body).status is RunStatus.SUCCEEDED


def rec(
    run_id: str, minutes_ago: int, status: RunStatus, finished_ago: int | None = None
) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        submitted_at=NOW - timedelta(minutes=minutes_ago),
        finished_at=None if finished_ago is None else NOW - timedelta(minutes=finished_ago),
        status=status,
    )


def test_sort_newest_first() -> None:
    a = rec("a", 30, RunStatus.SUCCEEDED)
    b = rec("b", 10, RunStatus.SUCCEEDED)
    c = RunRecord(run_id="c", status=RunStatus.UNKNOWN)  # no time: oldest
    d = rec("d", 10, RunStatus.FAILED)  # same time as b: run id breaks the tie
    assert [r.run_id for r in sort_newest_first([a, c, b, d])] == ["d", "b", "a", "c"]


def test_select_prunable_keeps_newest_finished() -> None:
    records = [rec(f"r{i}", 100 - i, RunStatus.SUCCEEDED, 99 - i) for i in range(6)]
    pruned = select_prunable(records, keep=2, older_than=None, now=NOW, active_run_id=None)
    assert [r.run_id for r in pruned] == ["r3", "r2", "r1", "r0"]
    assert select_prunable(records, keep=10, older_than=None, now=NOW, active_run_id=None) == []
    everything = select_prunable(records, keep=0, older_than=None, now=NOW, active_run_id=None)
    assert len(everything) == 6


def test_select_prunable_never_active_or_unfinished() -> None:
    records = [
        rec("old-running", 500, RunStatus.RUNNING),
        rec("old-pending", 400, RunStatus.PENDING),
        rec("active", 300, RunStatus.FAILED, 290),  # final status but still holds the lock
        rec("done", 200, RunStatus.CANCELLED, 190),
        rec("lost", 100, RunStatus.UNKNOWN),
    ]
    pruned = select_prunable(records, keep=0, older_than=None, now=NOW, active_run_id="active")
    assert [r.run_id for r in pruned] == ["lost", "done"]


def test_select_prunable_older_than() -> None:
    records = [
        rec("recent", 50, RunStatus.SUCCEEDED, 40),
        rec("old", 300, RunStatus.SUCCEEDED, 200),
        rec("older", 400, RunStatus.FAILED),  # no finish time: falls back to submission
        rec("newest", 5, RunStatus.SUCCEEDED, 1),
    ]
    pruned = select_prunable(
        records, keep=1, older_than=timedelta(hours=2), now=NOW, active_run_id=None
    )
    assert [r.run_id for r in pruned] == ["old", "older"]
    # keep wins over age: the newest finished run stays even when old.
    ancient = [rec("x", 1000, RunStatus.SUCCEEDED, 999)]
    assert (
        select_prunable(ancient, keep=1, older_than=timedelta(0), now=NOW, active_run_id=None) == []
    )
