"""Output contracts: -o json|yaml|name on every reporting command, data on stdout only,
no colour under NO_COLOR or --no-color, and the run record's JSON pinned by its schema."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from nfk8s.models import ConfigFileInfo, ProcessCounts, RunRecord, RunStatus
from tests.cli.schema import errors
from tests.support import nfk8s_binary, nfk8s_env, run_nfk8s

ROOT = Path(__file__).parents[2]
SCHEMA = json.loads((ROOT / "docs" / "run-record.schema.json").read_text(encoding="utf-8"))
GOLDEN = Path(__file__).parent / "golden" / "run-record.json"
NAME_LINE = re.compile(r"^[a-z0-9][a-z0-9._/-]*$")
ANSI = "\x1b["


def valid_record(data: dict) -> None:
    problems = errors(SCHEMA, data)
    assert not problems, "\n".join(problems)


def test_schema_names_exactly_the_fields_a_record_writes():
    written = set(RunRecord(run_id="r1").to_json())
    assert set(SCHEMA["properties"]) == written
    assert set(SCHEMA["required"]) == written
    assert SCHEMA["additionalProperties"] is True  # fields are only ever added
    for name, prop in SCHEMA["properties"].items():
        assert prop.get("description"), f"{name} is not described"


def test_run_record_json_is_pinned_by_a_golden_file():
    t = datetime(2026, 11, 26, 1, 53, 7, tzinfo=UTC)
    record = RunRecord(
        run_id="r20261126-0153-k7f2q",
        pipeline="nf-core/rnaseq",
        revision="3.14.0",
        profile="test,docker",
        params={"outdir": "/workspace/out", "apiToken": "***", "n": 3},
        resume=True,
        resume_session="9f1c2a4e-77b0-4f43-8d8f-3c2b1a0e9d88",
        namespace="pipelines",
        submitted_by="alice",
        ci_actor="octocat",
        submitted_at=t,
        started_at=t.replace(second=20),
        finished_at=t.replace(minute=58),
        status=RunStatus.FAILED,
        exit_code=1,
        reason="Process `ALIGN (sample2)` terminated with an error exit status (1)",
        job_name="nfk8s-r20261126-0153-k7f2q",
        job_uid="0b7c6f7e-5d1e-4c4b-9a57-2f1f3b8c9d10",
        session_id="9f1c2a4e-77b0-4f43-8d8f-3c2b1a0e9d88",
        processes={
            "FASTQC": ProcessCounts(succeeded=2),
            "ALIGN": ProcessCounts(succeeded=1, failed=1, retried=1),
        },
        timeout_seconds=21600,
        nfk8s_version="0.1.0",
        config_files=[ConfigFileInfo(name="aws.config", bytes=120)],
        nextflow_options=["-with-report", "report.html"],
    )
    data = record.to_json()
    valid_record(data)
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert data == golden, "the record's JSON changed: CI scripts parse it (update the schema)"
    assert list(data) == list(golden)  # key order too: it is what people read
    assert RunRecord.from_json(golden).to_json() == golden


def test_every_reporting_command_speaks_json_yaml_and_name(cluster):
    def ok(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        done = run_nfk8s(cluster, *args)
        assert done.returncode == code, (args, done.stderr)
        return done

    # run: the record on stdout, the driver log and messages on stderr.
    done = ok("run", "sim/hello", "-o", "json")
    record = json.loads(done.stdout)
    valid_record(record)
    assert record["status"] == "succeeded"
    assert "Submitted process" in done.stderr
    failed = json.loads(ok("run", "sim/fail", "-o", "json", code=1).stdout)
    valid_record(failed)
    assert failed["status"] == "failed" and failed["exitCode"] == 1 and failed["reason"]
    assert yaml.safe_load(ok("run", "sim/hello", "-o", "yaml").stdout)["status"] == "succeeded"
    named = ok("run", "sim/hello", "-o", "name").stdout
    assert NAME_LINE.match(named.strip()) and named.count("\n") == 1
    detached = json.loads(ok("run", "sim/hello", "--detach", "-o", "json").stdout)
    valid_record(detached)
    ok("logs", "-f", detached["runId"])

    reporting = [
        ["status"],
        ["status", failed["runId"]],
        ["history"],
        ["config"],
        ["doctor"],
        ["lock", "show"],
        ["lock"],
        ["rbac"],
        ["cancel", failed["runId"]],
        ["prune", "--dry-run", "--keep", "1"],
        ["run", "sim/hello", "--dry-run"],
    ]
    for args in reporting:
        as_json = json.loads(ok(*args, "-o", "json").stdout)
        as_yaml = list(yaml.safe_load_all(ok(*args, "-o", "yaml").stdout))
        if args[0] not in {"run", "rbac"}:  # documents of their own (a list of objects)
            assert as_yaml == [as_json], args
        names = ok(*args, "-o", "name")
        assert all(NAME_LINE.match(line) for line in names.stdout.splitlines()), (args, names)
    status = json.loads(ok("status", failed["runId"], "-o", "json").stdout)
    valid_record(status)
    assert status["job"]["state"] and "totals" in status
    history = json.loads(ok("history", "-o", "json").stdout)
    assert history["kind"] == "RunList" and len(history["items"]) == 5
    for item in history["items"]:
        valid_record(item)
    assert ok("history", "-o", "name").stdout.split() == [i["runId"] for i in history["items"]]
    assert ok("status", failed["runId"], "-o", "name").stdout == failed["runId"] + "\n"
    assert ok("doctor", "-o", "name").stdout == ""  # no failed checks
    assert "role.rbac.authorization.k8s.io/nfk8s" in ok("rbac", "-o", "name").stdout.split()


def test_messages_and_errors_never_reach_stdout(cluster):
    quiet = run_nfk8s(cluster, "history")
    assert quiet.returncode == 0 and quiet.stdout == "" and "No runs found" in quiet.stderr
    missing = run_nfk8s(cluster, "status", "r20990101-0000-nope0", "-o", "json")
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.startswith("error: no run")
    done = run_nfk8s(cluster, "run", "sim/slow", "--detach")
    run_id = done.stdout.strip()
    assert done.stdout == run_id + "\n" and "submitted run" in done.stderr
    cancel = run_nfk8s(cluster, "cancel", run_id)
    assert cancel.returncode == 0 and cancel.stdout == "" and "cancelled" in cancel.stderr


def on_a_terminal(argv: list[str], env: dict[str, str], timeout: float = 120) -> str:
    """Run with stdout and stderr on a pseudo-terminal; everything it drew."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        argv, env=env, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower
    )
    os.close(follower)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.parametrize(
    "argv",
    [["doctor"], ["run", "sim/fail"], ["status"], ["history"], ["status", "r20990101-0000-x0"]],
    ids=" ".join,
)
def test_no_color_and_NO_COLOR_mean_no_escape_sequences(cluster, argv):
    base = nfk8s_env(cluster, TERM="xterm-256color")
    base.pop("NO_COLOR")
    run_nfk8s(cluster, "run", "sim/hello")
    if argv == ["doctor"]:  # the check is able to see colour when there is some
        assert ANSI in on_a_terminal([nfk8s_binary(), *argv], base)
    for env, extra in (({**base, "NO_COLOR": "1"}, []), (base, ["--no-color"])):
        screen = on_a_terminal([nfk8s_binary(), *extra, *argv], env)
        assert screen.strip(), argv
        assert ANSI not in screen, (extra, screen[:2000])
