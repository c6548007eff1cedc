"""Run status, task counts, the run record's JSON schema, redaction and time formats."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from nfk8s.models import (
    REDACTED,
    ProcessCounts,
    RunRecord,
    RunSpec,
    RunStatus,
    format_micro_time,
    format_time,
    has_secret_params,
    looks_secret,
    parse_time,
    redact_params,
)

T0 = datetime(2026, 11, 26, 1, 53, 0, tzinfo=UTC)


def test_status_final() -> None:
    assert not RunStatus.PENDING.final
    assert not RunStatus.RUNNING.final
    for status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.UNKNOWN):
        assert status.final
    assert RunStatus("failed") is RunStatus.FAILED
    assert str(RunStatus.RUNNING) == "running"


def test_status_coerce() -> None:
    assert RunStatus.coerce("Succeeded") is RunStatus.SUCCEEDED
    assert RunStatus.coerce("exploded") is RunStatus.UNKNOWN
    assert RunStatus.coerce(None) is RunStatus.UNKNOWN


def test_process_counts() -> None:
    counts = ProcessCounts(pending=1, running=2, succeeded=3, failed=4, cached=5, retried=6)
    assert counts.total == 15
    assert counts.done == 12
    assert ProcessCounts.from_json(counts.to_json()) == counts
    assert counts + ProcessCounts(pending=1) == ProcessCounts(2, 2, 3, 4, 0, 5, 6)
    assert ProcessCounts.from_json({"running": "3", "failed": -1, "x": 1}) == ProcessCounts(
        running=3
    )
    assert ProcessCounts.from_json(None) == ProcessCounts()


def test_run_spec_defaults() -> None:
    spec = RunSpec(run_id="r", pipeline="a/b")
    assert spec.params == {} and spec.config_files == []
    assert not spec.is_local
    assert RunSpec(run_id="r", pipeline="/p", local_pipeline={}).is_local
    with pytest.raises(AttributeError):
        spec.run_id = "x"  # type: ignore[misc]


def full_record() -> RunRecord:
    return RunRecord(
        run_id="20261126-0153-k7f2q",
        pipeline="nf-core/rnaseq",
        revision="3.14.0",
        profile="test",
        params={"outdir": "results"},
        resume=True,
        namespace="pipelines",
        submitted_by="alice",
        ci_actor="github:bob",
        submitted_at=T0,
        started_at=T0 + timedelta(seconds=20),
        finished_at=T0 + timedelta(minutes=5),
        status=RunStatus.FAILED,
        exit_code=1,
        reason="FASTQC (s1) failed",
        job_name="nfk8s-20261126-0153-k7f2q",
        job_uid="uid-1",
        session_id="0b7f1c2e",
        processes={"FASTQC": ProcessCounts(succeeded=2, failed=1)},
        timeout_seconds=3600,
        nfk8s_version="0.1.0",
    )


def test_record_json_schema() -> None:
    data = full_record().to_json()
    assert list(data) == [
        "schemaVersion",
        "runId",
        "pipeline",
        "revision",
        "latest",
        "profile",
        "params",
        "resume",
        "resumeSession",
        "namespace",
        "submittedBy",
        "ciActor",
        "submittedAt",
        "startedAt",
        "finishedAt",
        "status",
        "exitCode",
        "reason",
        "job",
        "sessionId",
        "processes",
        "timeoutSeconds",
        "nfk8sVersion",
        "configFiles",
        "nextflowOptions",
        "progress",
    ]
    assert data["schemaVersion"] == 1
    assert data["submittedAt"] == "2026-11-26T01:53:00Z"
    assert data["finishedAt"] == "2026-11-26T01:58:00Z"
    assert data["status"] == "failed"
    assert data["job"] == {"name": "nfk8s-20261126-0153-k7f2q", "uid": "uid-1"}
    assert data["processes"]["FASTQC"]["failed"] == 1
    json.dumps(data)  # serialisable as is


def test_record_round_trip() -> None:
    record = full_record()
    assert RunRecord.from_json(json.loads(json.dumps(record.to_json()))) == record


def test_record_from_json_tolerates_missing_and_unknown_keys() -> None:
    record = RunRecord.from_json({"runId": "r1", "futureField": {"a": 1}, "status": "weird"})
    assert record.run_id == "r1"
    assert record.status is RunStatus.UNKNOWN
    assert record.processes == {} and record.params == {}
    assert record.submitted_at is None
    # Unknown keys survive a rewrite by this version.
    assert record.to_json()["futureField"] == {"a": 1}


def test_record_from_json_tolerates_wrong_types() -> None:
    record = RunRecord.from_json(
        {
            "runId": 7,
            "params": ["not", "a", "map"],
            "job": "nope",
            "processes": {"A": "bad", "B": {"running": 2}},
            "exitCode": "137",
            "timeoutSeconds": True,
            "submittedAt": "yesterday",
            "resume": "yes",
        }
    )
    assert record.run_id == "7"
    assert record.params == {}
    assert record.job_name is None
    assert record.processes == {"A": ProcessCounts(), "B": ProcessCounts(running=2)}
    assert record.exit_code == 137
    assert record.timeout_seconds is None
    assert record.submitted_at is None
    assert record.resume is False


def test_record_without_status_is_unknown() -> None:
    assert RunRecord.from_json({"runId": "r"}).status is RunStatus.UNKNOWN


def test_duration_and_elapsed() -> None:
    record = full_record()
    assert record.duration == timedelta(minutes=4, seconds=40)
    running = RunRecord(run_id="r", started_at=T0)
    assert running.duration is None
    assert running.elapsed(T0 + timedelta(seconds=30)) == timedelta(seconds=30)
    assert RunRecord(run_id="r").elapsed(T0) is None
    skewed = RunRecord(run_id="r", started_at=T0, finished_at=T0 - timedelta(seconds=1))
    assert skewed.duration == timedelta(0)


def test_totals() -> None:
    record = full_record()
    record.processes["B"] = ProcessCounts(running=1, cached=2)
    assert record.totals() == ProcessCounts(running=1, succeeded=2, failed=1, cached=2)


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "db_password",
        "PASSWD",
        "client_secret",
        "github_token",
        "apiKey",
        "api_key",
        "API-KEY",
        "aws_access_key",
        "AccessKeyId",
        "private_key",
        "privateKey",
        "credential",
        "gcp_credentials",
        "auth",
        "basic_auth_header",
        "authorization",
        "oauth",
        "authHeader",
        "proxy-authentication",
        "AUTH_TOKEN",
    ],
)
def test_looks_secret(key: str) -> None:
    assert looks_secret(key)


@pytest.mark.parametrize(
    "key",
    [
        "input",
        "outdir",
        "genome",
        "max_memory",
        "keys",
        "api",
        "author",
        "authors",
        "tokenizer",
        "max_tokens",
        "passage",
        "compass",
    ],
)
def test_does_not_look_secret(key: str) -> None:
    assert not looks_secret(key)


def test_redact_params_nested() -> None:
    params = {
        "input": "s.csv",
        "password": "hunter2",
        "db": {"host": "h", "Token": "t", "opts": [{"secret": "s", "x": 1}]},
        "auth": {"user": "u"},
    }
    redacted = redact_params(params)
    assert redacted == {
        "input": "s.csv",
        "password": REDACTED,
        "db": {"host": "h", "Token": REDACTED, "opts": [{"secret": REDACTED, "x": 1}]},
        "auth": REDACTED,
    }
    assert params["password"] == "hunter2"  # the input is not modified
    assert redact_params(redacted) == redacted
    assert has_secret_params(params)
    assert has_secret_params({"a": [{"api_key": "x"}]})
    assert has_secret_params({"token": REDACTED})
    assert not has_secret_params({"a": 1, "b": {"c": [1, 2]}})


def test_time_formats() -> None:
    assert format_time(None) is None
    assert format_time(T0) == "2026-11-26T01:53:00Z"
    assert format_time(datetime(2026, 11, 26, 3, 53, tzinfo=timezone(timedelta(hours=2)))) == (
        "2026-11-26T01:53:00Z"
    )
    assert format_time(datetime(2026, 11, 26, 1, 53)) == "2026-11-26T01:53:00Z"
    assert format_micro_time(T0.replace(microsecond=7)) == "2026-11-26T01:53:00.000007Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-26T01:53:00Z", T0),
        ("2026-11-26T01:53:00z", T0),
        ("2026-11-26T03:53:00+02:00", T0),
        ("2026-11-26T01:53:00.000000Z", T0),
        ("2026-11-26T01:53:00.123456789Z", T0.replace(microsecond=123456)),
        ("2026-11-26T01:53:00", T0),
        ("", None),
        ("not a time", None),
        (None, None),
        (12, None),
    ],
)
def test_parse_time(text: object, expected: datetime | None) -> None:
    assert parse_time(text) == expected
