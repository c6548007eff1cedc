"""The Nextflow simulator on its own, against an in-memory cluster with a simulated clock."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

from tests.fakekube import nextflow_sim as sim
from tests.fakekube.api import EXIT_CODE, REASON, RUN_SECONDS, DriverKilled, StatusError
from tests.fakekube.sim_config import (
    ConfigError,
    UsageError,
    parse_argv,
    parse_config,
    parse_duration,
    parse_memory_mib,
    resolve_profiles,
)
from tests.sim_tests.fakes import (
    K8S_CONFIG,
    LABEL_VALUE,
    NOTE_LINE,
    TASK_LINE,
    Ctx,
    RealClock,
    Store,
    kinds,
    make_ctx,
    parse_transcript,
)

SAMPLE_LOGS = Path(__file__).resolve().parents[3] / "shared" / "nextflow-logs"
JOB_CONFIG = K8S_CONFIG + "k8s.computeResourceType = 'Job'\n"


def run(store: Store, pipeline: str, *extra: str, **kwargs: object) -> tuple[int, Ctx]:
    ctx = make_ctx(store, pipeline, *extra, **kwargs)  # type: ignore[arg-type]
    return sim.run_driver(ctx), ctx


def result(name: str = "run-1", namespace: str = "default") -> sim.SimResult:
    res = sim.get_result(namespace, name)
    assert res is not None
    return res


def task_names(lines: list[str], verb: str = "Submitted") -> list[str]:
    out = []
    for line in lines:
        m = TASK_LINE.match(line)
        if m and m.group(1) == verb:
            out.append(m.group(2))
    return out


# --------------------------------------------------------------------------- scenarios


def test_hello_runs_four_pods_and_cleans_them_up(store: Store) -> None:
    rc, ctx = run(store, "sim/hello")
    assert rc == 0
    parsed = parse_transcript(ctx.lines)
    assert [k for k, _ in parsed[:4]] == ["banner", "pull", "pulled", "launch"]
    assert ctx.lines[0] == "N E X T F L O W  ~  version 25.10.0"
    assert re.match(
        r"^Launching `https://github.com/sim/hello` \[run-1\] DSL2 - revision: [0-9a-f]{10} "
        r"\[master\]$",
        ctx.lines[3],
    )
    assert sorted(task_names(ctx.lines)) == [f"sayHello ({i})" for i in range(1, 5)]
    pods = store.created_of("pods")
    assert len(pods) == 4
    assert store.names("pods") == set()  # k8s.cleanup defaults to true
    res = result()
    assert res.exit_code == 0 and res.status == "succeeded"
    assert res.processes["sayHello"] == sim.ProcessCounts(submitted=4, succeeded=4)
    assert res.task_pods == [p["metadata"]["name"] for p in pods]
    assert res.lines == ctx.lines
    assert res.resource == "pods"


def test_task_pod_looks_like_nextflows(store: Store) -> None:
    rc, _ = run(store, "nf-core/rnaseq", params=json.dumps({"input": "samplesheet.csv"}))
    assert rc == 0
    pod = next(
        p
        for p in store.created_of("pods")
        if p["metadata"]["labels"]["nextflow.io/processName"] == "NFCORE_RNASEQ_RNASEQ_FASTQC"
    )
    meta, spec = pod["metadata"], pod["spec"]
    assert re.fullmatch(r"nf-[0-9a-f]{32}-[0-9a-f]{5}", meta["name"])
    labels = meta["labels"]
    res = result()
    assert labels == {
        "nextflow.io/app": "nextflow",
        "nextflow.io/runName": "run-1",
        "nextflow.io/taskName": labels["nextflow.io/taskName"],
        "nextflow.io/processName": "NFCORE_RNASEQ_RNASEQ_FASTQC",
        "nextflow.io/sessionId": f"uuid-{res.session_id}",
    }
    assert re.fullmatch(r"NFCORE_RNASEQ_RNASEQ_FASTQC_SAMPLE\d", labels["nextflow.io/taskName"])
    assert spec["restartPolicy"] == "Never"
    assert spec["serviceAccountName"] == "nfk8s-runner"
    (container,) = spec["containers"]
    assert container["name"] == meta["name"]
    task_hash = meta["name"][3:35]
    work = f"/workspace/launch/hello/work/{task_hash[:2]}/{task_hash[2:]}"
    assert container["args"] == ["/bin/bash", "-ue", f"{work}/.command.run"]
    assert "command" not in container
    assert container["resources"] == {
        "requests": {"cpu": 2, "memory": "4096Mi"},
        "limits": {"memory": "4096Mi"},
    }
    (mount,) = container["volumeMounts"]
    (vol,) = spec["volumes"]
    assert mount == {"name": vol["name"], "mountPath": "/workspace"}
    assert vol["persistentVolumeClaim"] == {"claimName": "nfk8s-work"}
    ann = meta["annotations"]
    assert ann[EXIT_CODE] == "0" and float(ann[RUN_SECONDS]) > 0


def test_labels_are_valid_and_nested_names_sanitised_like_nextflow(store: Store) -> None:
    rc, _ = run(store, "nf-core/rnaseq")
    assert rc == 0
    seen = set()
    for pod in store.created_of("pods"):
        for value in pod["metadata"]["labels"].values():
            assert len(value) <= 63 and LABEL_VALUE.match(value), value
        seen.add(pod["metadata"]["labels"]["nextflow.io/processName"])
    trim = (
        "NFCORE_RNASEQ:RNASEQ:FASTQ_QC_TRIM_FILTER_SETSTRANDEDNESS:"
        "FASTQ_FASTQC_UMITOOLS_TRIMGALORE:TRIMGALORE"
    )
    assert sim.sanitize_label_value(trim) == (
        "NFCORE_RNASEQ_RNASEQ_FASTQ_QC_TRIM_FILTER_SETSTRANDEDNESS_FASTQ"
    )
    assert sim.sanitize_label_value(trim) in seen
    assert "NFCORE_RNASEQ_RNASEQ_MULTIQC" in seen
    assert sim.sanitize_label_value("SAY:hello (a b)") == "SAY_hello_a_b"
    assert sim.sanitize_label_value("__x__") == "x"
    res = result()
    assert trim in res.processes and res.processes[trim].succeeded == 3


def test_generic_run_for_local_and_git_pipelines(store: Store) -> None:
    rc, ctx = run(store, "/etc/nfk8s/pipeline")
    assert rc == 0
    assert ctx.lines[1].startswith("Launching `/etc/nfk8s/pipeline/main.nf` [run-1] DSL2")
    assert "PIPELINE:FASTQC (SAMPLE1)" in task_names(ctx.lines)
    assert not kinds(ctx.lines, "complete")  # only nf-core pipelines print onComplete lines
    rc, ctx = run(store, "https://gitlab.com/acme/demo-flow.git", name="run-2")
    assert rc == 0
    assert ctx.lines[1] == "Pulling acme/demo-flow ..."
    assert "Launching `https://gitlab.com/acme/demo-flow`" in ctx.lines[3]
    assert "DEMO_FLOW:MULTIQC" in task_names(ctx.lines)


def test_nfcore_header_and_oncomplete(store: Store) -> None:
    params = json.dumps({"input": "s3://bucket/samples.csv", "outdir": "results", "sim_tasks": 2})
    rc, ctx = run(store, "nf-core/rnaseq", "-r", "3.14.0", "-profile", "test", params=params)
    assert rc == 0
    (header,) = kinds(ctx.lines, "header")
    assert "  nf-core/rnaseq 3.14.0" in header
    assert "  input                     : s3://bucket/samples.csv" in header
    assert "sim_tasks" not in header
    assert "  runName                   : run-1" in header
    assert ctx.lines[-1] == "-[nf-core/rnaseq] Pipeline completed successfully-"
    assert "[3.14.0]" in ctx.lines[3]


def test_fail_prints_error_block_and_kills_the_rest(store: Store) -> None:
    rc, ctx = run(store, "sim/fail")
    assert rc == 1
    parsed = parse_transcript(ctx.lines)
    kinds_ = [k for k, _ in parsed]
    start = kinds_.index("error")
    assert ctx.lines[start] == "ERROR ~ Error executing process > 'SIM_FAIL:ALIGN (sample2)'"
    block = ctx.lines[start:]
    for heading in (
        "Caused by:",
        "Command executed:",
        "Command exit status:",
        "Command output:",
        "Command error:",
        "Work dir:",
        "Container:",
    ):
        assert heading in block
    caused = block.index("Caused by:")
    assert block[caused + 1] == (
        "  Process `SIM_FAIL:ALIGN (sample2)` terminated with an error exit status (1)"
    )
    assert block[block.index("Command exit status:") + 1] == "  1"
    assert any(line.startswith("Tip: ") for line in block)
    assert ctx.lines[-1] == "WARN: Killing running tasks (3)"
    # The failed task's pod stays for debugging; the killed ones are deleted.
    failed = [p for p in store.created_of("pods") if p["metadata"]["annotations"][EXIT_CODE] == "1"]
    assert store.names("pods") == {failed[0]["metadata"]["name"]}
    res = result()
    assert res.status == "failed" and res.exit_code == 1
    assert res.processes["SIM_FAIL:ALIGN"].failed == 1
    assert res.processes["SIM_FAIL:ALIGN"].killed == 3
    assert res.processes["SIM_FAIL:PREPARE"].succeeded == 4


def test_oom_retries_once_then_fails(store: Store) -> None:
    rc, ctx = run(store, "sim/oom")
    assert rc == 1
    notes = kinds(ctx.lines, "note")
    assert len(notes) == 1
    m = NOTE_LINE.match(notes[0])
    assert m and m.group(1) == "SIM_OOM:ASSEMBLE (sample1)" and m.group(2) == "137"
    assert m.group(3) == "1"
    note_hash = notes[0][:11]
    resub = [line for line in ctx.lines if "Re-submitted process > SIM_OOM:ASSEMBLE" in line]
    assert len(resub) == 1 and resub[0][:11] != note_hash
    first = next(
        line
        for line in ctx.lines
        if line.endswith("Submitted process > SIM_OOM:ASSEMBLE (sample1)")
    )
    assert first[:11] == note_hash  # the NOTE reuses the failed attempt's hash
    assert "  Process `SIM_OOM:ASSEMBLE (sample1)` terminated with an error exit status (137)" in (
        ctx.lines
    )
    attempts = [
        p
        for p in store.created_of("pods")
        if p["metadata"]["labels"]["nextflow.io/taskName"] == "SIM_OOM_ASSEMBLE_sample1"
    ]
    assert [p["metadata"]["annotations"][REASON] for p in attempts] == ["OOMKilled"] * 2
    mems = [p["spec"]["containers"][0]["resources"]["limits"]["memory"] for p in attempts]
    assert mems == ["2048Mi", "4096Mi"]
    # Both failed attempts keep their pods.
    assert {p["metadata"]["name"] for p in attempts} <= store.names("pods")
    counts = result().processes["SIM_OOM:ASSEMBLE"]
    assert (counts.submitted, counts.failed, counts.retried, counts.killed) == (4, 2, 1, 2)


def test_retry_succeeds_on_second_attempt(store: Store) -> None:
    rc, ctx = run(store, "sim/retry")
    assert rc == 0
    parse_transcript(ctx.lines)
    assert len(task_names(ctx.lines, "Re-submitted")) == 1
    counts = result().processes["SIM_RETRY:ASSEMBLE"]
    assert (counts.submitted, counts.succeeded, counts.failed, counts.retried) == (4, 3, 1, 1)
    assert len(store.names("pods")) == 1  # the OOMKilled attempt


def test_ignore_keeps_going_and_skips_downstream(store: Store) -> None:
    rc, ctx = run(store, "sim/ignore")
    assert rc == 0
    (note,) = kinds(ctx.lines, "note")
    assert note.endswith(
        "NOTE: Process `SIM_IGNORE:VALIDATE (sample2)` terminated with an error exit status (1)"
        " -- Error is ignored"
    )
    assert "SIM_IGNORE:REPORT (sample2)" not in task_names(ctx.lines)
    res = result()
    assert res.processes["SIM_IGNORE:VALIDATE"].ignored == 1
    assert res.processes["SIM_IGNORE:REPORT"].succeeded == 2
    assert not kinds(ctx.lines, "error")


def test_many_scales_and_honours_max_forks(store: Store) -> None:
    params = json.dumps({"sim_processes": 4, "sim_tasks": 12, "sim_max_forks": 5})
    rc, ctx = run(store, "sim/many", params=params)
    assert rc == 0
    names = task_names(ctx.lines)
    assert len(names) == 48
    assert "NFCORE_DEMO:DEMO:STEP_04 (chunk_012)" in names
    assert store.max_live_pods <= 5
    totals = result().totals()
    assert totals.submitted == totals.succeeded == 48


def test_crash_dies_before_any_task(store: Store) -> None:
    rc, ctx = run(store, "sim/crash")
    assert rc == 1
    parsed = parse_transcript(ctx.lines)
    assert ("error", "ERROR ~ Unable to parse config file: '/etc/nfk8s/nextflow.config'") in parsed
    assert not kinds(ctx.lines, "launch")
    assert store.created == []
    assert result().status == "error"


def test_every_scenario_speaks_plain_nextflow(store: Store) -> None:
    for i, p in enumerate(
        ["sim/hello", "sim/fail", "sim/oom", "sim/retry", "sim/ignore", "sim/crash", "nf-core/x"]
    ):
        rc, ctx = run(store, p, name=f"r{i}")
        parse_transcript(ctx.lines)
        assert not any(line.startswith("executor >") or "%]" in line for line in ctx.lines)
        assert rc == result(f"r{i}").exit_code


# --------------------------------------------------------------------------- jobs & cleanup


@pytest.mark.parametrize(
    "config",
    [
        JOB_CONFIG,
        K8S_CONFIG.replace("k8s {", "k8s {\n    computeResourceType = 'Job' // tasks as Jobs"),
    ],
)
def test_compute_resource_type_job(store: Store, config: str) -> None:
    rc, _ = run(store, "sim/hello", config=config)
    assert rc == 0
    jobs = store.created_of("jobs")
    assert len(jobs) == 4
    job = jobs[0]
    assert job["spec"]["backoffLimit"] == 0
    tmpl = job["spec"]["template"]
    assert tmpl["spec"]["restartPolicy"] == "Never"
    assert tmpl["metadata"]["labels"] == job["metadata"]["labels"]
    assert job["metadata"]["labels"]["nextflow.io/processName"] == "sayHello"
    # Pods come from the Job controller; Nextflow deletes them, then the Job.
    assert len(store.created_of("pods")) == 4
    assert store.names("jobs") == set() and store.names("pods") == set()
    assert [r for r, _, _ in store.deleted].count("jobs") == 4
    assert all(p == "Background" for r, _, p in store.deleted if r == "jobs")
    res = result()
    assert res.resource == "jobs" and res.task_pods == [j["metadata"]["name"] for j in jobs]


def test_failed_job_is_kept(store: Store) -> None:
    rc, _ = run(store, "sim/fail", config=JOB_CONFIG)
    assert rc == 1
    assert len(store.names("jobs")) == 1


def test_cleanup_false_keeps_everything(store: Store) -> None:
    rc, _ = run(store, "sim/hello", config=K8S_CONFIG + "k8s.cleanup = false\n")
    assert rc == 0
    assert len(store.names("pods")) == 4


# --------------------------------------------------------------------------- stopping


def test_sigterm_kills_tasks_and_exits_like_nextflow(store: Store) -> None:
    ctx = make_ctx(store, "sim/slow", terminate_at=60.0)
    rc = sim.run_driver(ctx)
    assert rc == sim.TERMINATED_EXIT_CODE == 1
    assert ctx.lines[-1] == "WARN: Killing running tasks (3)"
    assert not any("Killing pending" in line for line in ctx.lines)
    parse_transcript(ctx.lines)
    assert store.names("pods") == set()
    res = result()
    assert res.status == "terminated" and res.processes["SIM_SLOW:SLEEP"].killed == 3


def test_sigterm_deletes_task_jobs(store: Store) -> None:
    ctx = make_ctx(store, "nf-core/sarek", config=JOB_CONFIG, terminate_at=5.0)
    assert sim.run_driver(ctx) == 1
    assert store.names("jobs") == set() and store.names("pods") == set()
    assert ctx.lines[-2].startswith("WARN: Killing running tasks (")
    assert ctx.lines[-1] == "-[nf-core/sarek] Pipeline completed with errors-"


def test_sigkill_propagates_and_orphans_pods(store: Store) -> None:
    ctx = make_ctx(store, "sim/slow", kill_at=30.0)
    with pytest.raises(DriverKilled):
        sim.run_driver(ctx)
    assert len(store.names("pods")) == 3
    assert not any(line.startswith("WARN") for line in ctx.lines)
    assert result().status == "killed"


def test_forbidden_pod_create(store: Store) -> None:
    store.deny.add("pods")
    rc, ctx = run(store, "sim/hello")
    assert rc == 1
    parse_transcript(ctx.lines)
    assert not task_names(ctx.lines)
    start = ctx.lines.index("Caused by:")
    assert ctx.lines[start + 1] == (
        "  Request POST /api/v1/namespaces/default/pods returned an error code=403"
    )
    body = json.loads("\n".join(line[2:] for line in ctx.lines[start + 2 : -2]))
    assert body["reason"] == "Forbidden" and body["code"] == 403
    assert "cannot create resource" in body["message"]


def test_transient_api_errors_are_retried(store: Store) -> None:
    store.failures.append(StatusError(503, "ServiceUnavailable", "try again"))
    rc, _ = run(store, "sim/hello")
    assert rc == 0
    assert len(store.created_of("pods")) == 4


def test_refused_status_request_fails_the_run(store: Store) -> None:
    store.get_failures.append(StatusError(403, "Forbidden", "pods is forbidden: get"))
    rc, ctx = run(store, "sim/hello")
    assert rc == 1
    parse_transcript(ctx.lines)
    cause = ctx.lines[ctx.lines.index("Caused by:") + 1]
    assert re.fullmatch(
        r"  Request GET /api/v1/namespaces/default/pods/nf-\w+-\w+/status returned an error "
        r"code=403",
        cause,
    )
    assert ctx.lines[-1] == "WARN: Killing running tasks (3)"
    assert store.names("pods") == set()
    assert result().processes["sayHello"].failed == 1


def test_deleted_task_pod_is_resubmitted(store: Store) -> None:
    ctx = make_ctx(store, "sim/slow", params=json.dumps({"sim_tasks": 1, "sim_task_seconds": 20}))

    def sweep() -> None:
        for name in store.names("pods"):
            store.delete("pods", "default", name)

    ctx.hooks.append((5.0, sweep))
    assert sim.run_driver(ctx) == 0
    (note,) = kinds(ctx.lines, "note")
    assert "The pod may be evicted by a node shutdown event -- Execution is retried" in note
    assert len(task_names(ctx.lines, "Re-submitted")) == 1


# --------------------------------------------------------------------------- resume & history


def test_resume_reports_cached_tasks_and_reuses_the_session(store: Store) -> None:
    assert run(store, "sim/hello")[0] == 0
    first = result()
    rc, ctx = run(store, "sim/hello", "-resume", name="run-2")
    assert rc == 0
    cached = [line for line in ctx.lines if "Cached process >" in line]
    assert len(cached) == 2
    second = result("run-2")
    assert second.session_id == first.session_id
    assert second.processes["sayHello"] == sim.ProcessCounts(submitted=2, succeeded=2, cached=2)
    assert len(store.created_of("pods")) == 6
    # Same session, same task: same hash as in the first run, but a fresh pod name.
    old = {line[:11] for line in first.lines if "Submitted process" in line}
    assert {line[:11] for line in cached} <= old
    rc, ctx = run(store, "nf-core/rnaseq", "-resume", name="run-3")
    assert rc == 0
    names = task_names(ctx.lines, "Cached")
    assert len(names) == 1 + 3 + 1


def test_resume_with_explicit_session(store: Store) -> None:
    session = "2b0c6a43-1c5e-4f38-9a3e-5b8f0f2f1f11"
    rc, _ = run(store, "sim/hello", "-resume", session)
    assert rc == 0
    assert result().session_id == session


def test_reused_or_invalid_run_names_are_refused(store: Store) -> None:
    assert run(store, "sim/hello")[0] == 0
    rc, ctx = run(store, "sim/hello")
    assert rc == 1
    assert ctx.lines[0] == (
        "ERROR ~ Run name `run-1` has been already used -- Specify a different one"
    )
    assert result().status == "succeeded"  # the first run's truth is untouched
    rc, ctx = run(store, "sim/hello", name="20261126-0153-k7f2q")
    assert rc == 1
    assert ctx.lines[0].startswith("ERROR ~ Not a valid run name: `20261126-0153-k7f2q`")
    assert store.created_of("pods") == store.created_of("pods")[:4]


def test_generated_run_name_without_name_option(store: Store) -> None:
    ctx = Ctx(["nextflow", "run", "sim/hello", "-c", "/c"], store, files={"/c": K8S_CONFIG})
    assert sim.run_driver(ctx) == 0
    m = re.search(r"\[([a-z]+_[a-z]+)\] DSL2", ctx.lines[3])
    assert m and sim.get_result("default", m.group(1)) is not None


# --------------------------------------------------------------------------- config & argv


def test_bad_argv_is_refused() -> None:
    store = Store(RealClock(1.0))
    for argv, first in [
        (["nextflow", "run"], "ERROR ~ No project name was specified"),
        (["nextflow", "run", "x", "-bogus"], "Unknown option: -bogus -- Check the available"),
        (["nextflow", "run", "x", "-name"], "Expected a value after parameter -name"),
        (["nextflow", "launch", "x"], "Unknown command: launch"),
    ]:
        ctx = Ctx(argv, store)
        assert sim.run_driver(ctx) == 1
        assert ctx.lines[0].startswith(first), ctx.lines


def test_missing_config_and_params_files(store: Store) -> None:
    ctx = Ctx(["nextflow", "run", "sim/hello", "-name", "a", "-c", "/nope"], store)
    assert sim.run_driver(ctx) == 1
    assert ctx.lines[-3].startswith(
        "ERROR ~ The specified configuration file does not exist: /nope"
    )
    ctx = Ctx(["nextflow", "run", "sim/hello", "-name", "b", "-params-file", "/p.yml"], store)
    assert sim.run_driver(ctx) == 1
    assert "Specified params file does not exist: /p.yml" in ctx.lines[-3]


def test_parse_argv_forms() -> None:
    opts = parse_argv(
        [
            "nextflow",
            "-log",
            "/tmp/x.log",
            "-c",
            "/global.config",
            "run",
            "nf-core/rnaseq",
            "-name",
            "run-1",
            "-c",
            "/a.config",
            "-config",
            "/b.config",
            "-params-file",
            "/p.json",
            "-r",
            "3.14.0",
            "-profile",
            "test,docker",
            "-resume",
            "-with-report",
            "-with-trace",
            "trace.txt",
            "-with-tower",
            "--outdir",
            "results",
            "--skip_qc",
            "--sim_tasks=5",
            "--ratio",
            "0.5",
        ]
    )
    assert opts.pipeline == "nf-core/rnaseq"
    assert opts.config_files == ["/global.config", "/a.config", "/b.config"]
    assert (opts.revision, opts.profile, opts.resume) == ("3.14.0", "test,docker", "last")
    assert opts.cli_params == {"outdir": "results", "skip_qc": True, "sim_tasks": 5, "ratio": 0.5}
    with pytest.raises(UsageError, match="Not a valid run name"):
        parse_argv(["nextflow", "run", "x", "-name", "bad name"])
    assert parse_argv(["/usr/local/bin/nextflow", "run", "./main.nf"]).pipeline == "./main.nf"


def test_groovy_config_reader() -> None:
    text = r"""
    // a comment with k8s.namespace = 'nope'
    /* block comment
       k8s.cleanup = true */
    process.executor = "k8s"
    process {
        container = 'quay.io/x:1.0'
        withName: 'FOO|BAR' { memory = '8.GB' }
        withLabel: big { cpus = 16 }
        errorStrategy = { task.exitStatus in [137, 143] ? 'retry' : 'terminate' }
    }
    k8s {
        namespace = 'it\'s'
        serviceAccount = "runner \"one\""
        storageClaimName = '''multi
line'''
        storageMountPath = '/work\\space'
        cleanup = false
        pod = [[label: 'team', value: 'x']]
    }
    executor.queueSize = 25
    executor { pollInterval = '2 sec' }
    params { input = 'a.csv'; sim_tasks = 7 }
    workDir = "${launchDir}/work"
    profiles {
        jobs { k8s.computeResourceType = 'Job' }
        other { k8s.namespace = 'elsewhere' }
    }
    includeConfig 'extra.config'
    """
    files = {"extra.config": "k8s.userName = 'alice'\n"}
    flat = parse_config(text, read_file=files.get)
    assert flat["process.executor"] == "k8s"
    assert flat["process.container"] == "quay.io/x:1.0"
    assert flat["process.withName:FOO|BAR.memory"] == "8.GB"
    assert flat["process.withLabel:big.cpus"] == 16
    assert "task.exitStatus" in flat["process.errorStrategy"]  # kept as text, never run
    assert flat["k8s.namespace"] == "it's"
    assert flat["k8s.serviceAccount"] == 'runner "one"'
    assert flat["k8s.storageClaimName"] == "multi\nline"
    assert flat["k8s.storageMountPath"] == "/work\\space"
    assert flat["k8s.cleanup"] is False
    assert "cleanup" not in str(flat.get("k8s.cleanup.x", ""))
    assert flat["executor.queueSize"] == 25
    assert flat["executor.pollInterval"] == "2 sec"
    assert flat["params.input"] == "a.csv" and flat["params.sim_tasks"] == 7
    assert flat["workDir"] == "${launchDir}/work"
    assert flat["k8s.userName"] == "alice"
    resolved = resolve_profiles(flat, "jobs")
    assert resolved["k8s.computeResourceType"] == "Job"
    assert resolved["k8s.namespace"] == "it's"
    assert not any(k.startswith("profiles.") for k in resolved)
    with pytest.raises(ConfigError):
        parse_config("k8s { namespace = 'x'\n")
    with pytest.raises(ConfigError):
        parse_config("k8s.namespace = 'unterminated\n")


def test_groovy_escapes_decode_exactly() -> None:
    flat = parse_config(r"k8s.namespace = 'a\u00e9\ud83d\ude00\n\t\\\'b$x'")
    assert flat["k8s.namespace"] == "a\u00e9\U0001f600\n\t\\'b$x"


def test_reads_back_what_nfk8s_writes() -> None:
    nextflow = pytest.importorskip("nfk8s.nextflow")
    quote = getattr(nextflow, "groovy_string", None)
    if quote is None:
        pytest.skip("nfk8s.nextflow.groovy_string is not there")
    for value in ["plain", "it's", "back\\slash", "${x} $y '''", "line\nbreak\t", "é😀\x00"]:
        flat = parse_config(f"k8s.serviceAccount = {quote(value)}\n")
        assert flat["k8s.serviceAccount"] == value


def test_units() -> None:
    assert parse_duration("5 sec", 1) == 5
    assert parse_duration("1m 30s", 1) == 90
    assert parse_duration("500ms", 1) == 0.5
    assert parse_duration(2000, 1) == 2
    assert parse_duration("soon", 1) == 1
    assert parse_memory_mib("6.GB") == 6144
    assert parse_memory_mib("512 MB") == 512
    assert parse_memory_mib("lots") is None


def test_config_selects_namespace_workdir_and_params(store: Store) -> None:
    config = K8S_CONFIG.replace("namespace = 'default'", "namespace = 'tasks'") + (
        "workDir = '/workspace/scratch'\nparams.sim_tasks = 2\n"
    )
    rc, _ = run(store, "sim/hello", "--sim_tasks", "3", config=config, params="sim_tasks: 9\n")
    assert rc == 0
    pods = store.created_of("pods")
    assert len(pods) == 3  # CLI beats the params file, which beats the config
    assert {p["metadata"]["namespace"] for p in pods} == {"tasks"}
    assert pods[0]["spec"]["containers"][0]["args"][2].startswith("/workspace/scratch/")
    assert result().task_namespace == "tasks"


def test_workdir_outside_the_shared_volume_fails_like_nextflow(store: Store) -> None:
    rc, ctx = run(store, "sim/hello", "-w", "/tmp/work")
    assert rc == 1
    assert any(".command.run: No such file or directory" in line for line in ctx.lines)
    assert "  127" in ctx.lines


def test_without_k8s_executor_tasks_run_in_the_driver(store: Store) -> None:
    rc, ctx = run(store, "sim/hello", config="// no executor\n")
    assert rc == 0
    assert len(task_names(ctx.lines)) == 4
    assert store.created == []
    assert result().resource == "local"
    rc, _ = run(store, "sim/hello", name="run-2", config="", env={"NXF_EXECUTOR": "k8s"})
    assert rc == 0 and len(store.created_of("pods")) == 4


def test_entrypoint_override_uses_command(store: Store) -> None:
    env = {"NXF_CONTAINER_ENTRYPOINT_OVERRIDE": "true"}
    assert run(store, "sim/hello", env=env)[0] == 0
    container = store.created_of("pods")[0]["spec"]["containers"][0]
    assert container["command"][:2] == ["/bin/bash", "-ue"] and "args" not in container


# --------------------------------------------------------------------------- chatter & threads


def test_chatty_rate_and_duration(store: Store) -> None:
    params = json.dumps({"sim_lines_per_second": 100, "sim_duration": 12})
    rc, ctx = run(store, "sim/chatty", params=params)
    assert rc == 0
    chatter = kinds(ctx.lines, "chatter")
    assert len(chatter) == 1200
    assert [int(line.split()[1]) for line in chatter] == list(range(1, 1201))
    assert 12 <= store.clock.now() <= 14


def test_two_hundred_thousand_lines_are_cheap(store: Store) -> None:
    params = json.dumps({"sim_log_lines": 200_000})
    cpu = time.process_time()
    rc, ctx = run(store, "sim/chatty", params=params)
    used = time.process_time() - cpu
    assert rc == 0
    assert sum(1 for line in ctx.lines if line.startswith("chatter ")) == 200_000
    assert ctx.lines[-1].startswith("chatter 0200000 ") or "chatter 0200000" in ctx.lines[-2]
    assert used < 3.0, f"{used:.2f}s of CPU for 200,000 lines"


def test_log_lines_knob_on_other_scenarios(store: Store) -> None:
    rc, ctx = run(store, "sim/hello", params=json.dumps({"sim_log_lines": 5000}))
    assert rc == 0
    assert len(kinds(ctx.lines, "chatter")) == 5000


def test_several_drivers_at_once() -> None:
    store = Store(RealClock(500.0))
    ctxs = [
        make_ctx(store, "sim/hello", name=f"para-{i}", namespace=f"ns{i % 2}", real_time=True)
        for i in range(4)
    ]
    codes: dict[int, int] = {}

    def go(i: int) -> None:
        codes[i] = sim.run_driver(ctxs[i])

    threads = [threading.Thread(target=go, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert codes == {0: 0, 1: 0, 2: 0, 3: 0}
    for i, ctx in enumerate(ctxs):
        res = result(f"para-{i}", f"ns{i % 2}")
        assert res.lines == ctx.lines and res.processes["sayHello"].succeeded == 4
    assert len(store.created_of("pods")) == 16


# --------------------------------------------------------------------------- real transcripts


@pytest.mark.skipif(not SAMPLE_LOGS.is_dir(), reason="reference transcripts not available")
def test_task_line_forms_match_real_nextflow_output() -> None:
    """The parser's task and NOTE forms accept every such line in the reference logs."""
    checked = 0
    for path in sorted(SAMPLE_LOGS.glob("*.log")):
        for line in path.read_text().splitlines():
            if re.match(r"^\[[0-9a-f]{2}/[0-9a-f]{6}\] (Submitted|Re-submitted|Cached) ", line):
                assert TASK_LINE.match(line), (path.name, line)
                checked += 1
            elif re.match(r"^\[[0-9a-f]{2}/[0-9a-f]{6}\] NOTE: Process ", line):
                assert NOTE_LINE.match(line), (path.name, line)
                checked += 1
    assert checked > 20


def test_parse_argv_takes_every_option_nfk8s_passes_after_the_double_dash() -> None:
    from nfk8s.inputs import NEXTFLOW_OPTIONS

    for name, option in NEXTFLOW_OPTIONS.items():
        value = {"-cache": "false", "-qs": "2", "-queue-size": "2"}.get(name, "X")
        words = [name, value] if option.value == "required" else [name]
        opts = parse_argv(["nextflow", "run", "sim/hello", *words, "-resume"])
        assert (opts.pipeline, opts.resume) == ("sim/hello", "last"), name
    opts = parse_argv(["nextflow", "run", "sim/hello", "-dump-hashes", "json", "-with-trace"])
    assert opts.ignored == ["-dump-hashes", "json", "-with-trace"]
    with pytest.raises(UsageError, match="Unknown option: -with-nothing-such"):
        parse_argv(["nextflow", "run", "sim/hello", "-with-nothing-such"])
