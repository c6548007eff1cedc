"""Names, labels and the Lease, ConfigMap, Secret and Job builders."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from nfk8s import manifests
from nfk8s.errors import BadInput
from nfk8s.manifests import (
    MAX_RECORD_BYTES,
    build_job,
    build_lease,
    build_params_secret,
    build_record,
    job_name,
    new_run_id,
    pipeline_label,
    record_name,
    sanitize_label_value,
    secret_name,
    validate_run_name,
)
from nfk8s.models import RunRecord, RunSpec, RunStatus
from nfk8s.settings import Settings
from tests.unit.helpers import (
    DNS_LABEL,
    LABEL_VALUE,
    golden_json,
    read_groovy_config,
    validate_k8s,
)

NOW = datetime(2026, 11, 26, 3, 11, 17, 123456, tzinfo=UTC)
RUN_ID = "r20261126-0153-k7f2q"
UID = "5f0c8a52-1d7e-4c1b-9a57-3c2f6d2b8e11"


def settings(**changes: object) -> Settings:
    return Settings(**changes)  # type: ignore[arg-type]


def representative_spec(**changes: object) -> RunSpec:
    values: dict[str, object] = {
        "run_id": RUN_ID,
        "pipeline": "nf-core/rnaseq",
        "revision": "3.14.0",
        "profile": "test,docker",
        "params": {
            "input": "s3://bucket/samplesheet.csv",
            "outdir": "results",
            "max_cpus": 4,
            "skip_qc": False,
            "genomes": {"GRCh38": {"fasta": "/refs/GRCh38.fa"}},
        },
        "config_files": [("local.config", "process.cpus = 2\n")],
        "resume": True,
        "timeout_seconds": 7200,
        "head_cpus": "2",
        "head_memory": "4Gi",
        "submitted_by": "alice",
        "ci_actor": "github:bob",
    }
    values.update(changes)
    return RunSpec(**values)  # type: ignore[arg-type]


def record_for(spec: RunSpec, **changes: object) -> RunRecord:
    values: dict[str, object] = {
        "run_id": spec.run_id,
        "pipeline": spec.pipeline,
        "revision": spec.revision,
        "profile": spec.profile,
        "params": dict(spec.params),
        "resume": spec.resume,
        "namespace": "pipelines",
        "submitted_by": spec.submitted_by,
        "ci_actor": spec.ci_actor,
        "submitted_at": NOW,
        "job_name": job_name(spec.run_id),
        "timeout_seconds": spec.timeout_seconds,
        "nfk8s_version": "0.0.0-test",
    }
    values.update(changes)
    return RunRecord(**values)  # type: ignore[arg-type]


LOCAL_FILES = {
    "main.nf": b"workflow { FOO() }\n",
    "nextflow.config": b"params.greeting = 'hi'\n",
    "bin/tool.py": b"#!/usr/bin/env python3\nprint('x')\n",
    "modules/local/foo/main.nf": b"process FOO { script: 'tool.py' }\n",
    "assets/logo.png": bytes(range(256)),
}


def local_spec() -> RunSpec:
    return representative_spec(
        pipeline="/home/alice/my-pipeline",
        revision=None,
        params={"outdir": "results", "db": {"api_key": "s3cr3t", "host": "db"}},
        config_files=[("a.config", "a = 1\n"), ("b.config", "b = 2\n")],
        resume=False,
        timeout_seconds=None,
        local_pipeline=dict(LOCAL_FILES),
    )


# -- names ------------------------------------------------------------------------------


def test_object_names() -> None:
    assert job_name(RUN_ID) == "nfk8s-r20261126-0153-k7f2q"
    assert record_name(RUN_ID) == "nfk8s-run-r20261126-0153-k7f2q"
    assert secret_name(RUN_ID) == "nfk8s-run-r20261126-0153-k7f2q-params"
    assert manifests.run_id_from_record_name(record_name(RUN_ID)) == RUN_ID
    assert manifests.run_id_from_record_name("other") is None


def test_new_run_id_shape_and_order() -> None:
    rng = random.Random(7)
    first = new_run_id(datetime(2026, 11, 26, 1, 53, tzinfo=UTC), rng)
    assert first[:15] == "r20261126-0153-"
    assert len(first) == 20
    assert DNS_LABEL.fullmatch(first)
    validate_run_name(first)
    later = new_run_id(datetime(2026, 11, 26, 1, 54, tzinfo=UTC), rng)
    assert sorted([later, first]) == [first, later]
    # Local time is converted to UTC, naive time is taken as UTC.
    tz = timezone(timedelta(hours=2))
    assert new_run_id(datetime(2026, 11, 26, 3, 53, tzinfo=tz), random.Random(1))[:14] == (
        "r20261126-0153"
    )
    assert new_run_id(datetime(2026, 11, 26, 1, 53), random.Random(1))[:14] == "r20261126-0153"


def test_new_run_id_is_deterministic_with_a_seeded_rng() -> None:
    assert new_run_id(NOW, random.Random(3)) == new_run_id(NOW, random.Random(3))
    ids = {new_run_id(NOW) for _ in range(50)}
    assert len(ids) == 50


@pytest.mark.parametrize("name", ["a", "my-run", "rnaseq-batch-7", "x" * 53])
def test_valid_run_names(name: str) -> None:
    assert validate_run_name(name) == name
    assert len(record_name(name)) <= 63


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "empty"),
        ("x" * 54, "at most 53"),
        ("My-Run", "DNS label"),
        ("-run", "DNS label"),
        ("run-", "DNS label"),
        ("run_1", "DNS label"),
        ("run.1", "DNS label"),
        ("a--b", "'--'"),
        ("last", "reserves"),
        ("0abc", "start with a letter"),
    ],
)
def test_invalid_run_names(name: str, problem: str) -> None:
    with pytest.raises(BadInput, match=problem) as info:
        validate_run_name(name)
    assert "\n" not in info.value.message
    assert info.value.hint


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("nf-core/rnaseq", "nf-core_rnaseq"),
        ("simple", "simple"),
        ("", ""),
        ("///", ""),
        ("-leading.and.trailing-", "leading.and.trailing"),
        ("a b  c", "a_b_c"),
        ("ünïcode/ok", "n_code_ok"),
    ],
)
def test_sanitize_label_value(value: str, expected: str) -> None:
    assert sanitize_label_value(value) == expected


def test_sanitize_label_value_truncates_with_hash() -> None:
    long_a = "https://example.org/" + "a" * 100
    long_b = "https://example.org/" + "a" * 99 + "b"
    a, b = sanitize_label_value(long_a), sanitize_label_value(long_b)
    assert len(a) <= 63 and LABEL_VALUE.fullmatch(a)
    assert a != b
    assert a == sanitize_label_value(long_a)
    assert sanitize_label_value("x" * 63) == "x" * 63


@pytest.mark.parametrize(
    "value",
    ["-" * 100, "a" + "." * 100 + "b", "é" * 80, "a/" * 40, "x" * 54 + "." * 20 + "y"],
)
def test_sanitize_label_value_is_always_valid(value: str) -> None:
    result = sanitize_label_value(value)
    assert len(result) <= 63 and LABEL_VALUE.fullmatch(result), result


def test_pipeline_label_ignores_url_spelling() -> None:
    assert pipeline_label("nf-core/rnaseq") == "nf-core_rnaseq"
    assert pipeline_label("https://github.com/nf-core/rnaseq.git") == "nf-core_rnaseq"
    assert pipeline_label("/home/me/pipe") == "home_me_pipe"


def test_selectors() -> None:
    assert manifests.run_selector("r1") == "app.kubernetes.io/managed-by=nfk8s,nfk8s.io/run-id=r1"
    assert manifests.task_selector("r1") == "nextflow.io/runName=r1"
    assert manifests.managed_selector() == "app.kubernetes.io/managed-by=nfk8s"


# -- Lease ------------------------------------------------------------------------------


def test_lease_golden() -> None:
    lease = build_lease(
        "nfk8s-lock",
        RUN_ID,
        now=NOW,
        duration_seconds=120,
        transitions=3,
        resource_version="4711",
        annotations={
            manifests.JOB_NAME_ANNOTATION: job_name(RUN_ID),
            manifests.JOB_UID_ANNOTATION: UID,
        },
    )
    validate_k8s(lease)
    golden_json("lease.json", lease)


def test_lease_times_and_release() -> None:
    acquired = NOW - timedelta(minutes=5)
    lease = build_lease(
        "l", "r1", now=NOW, duration_seconds=10, transitions=0, acquire_time=acquired
    )
    assert lease["spec"]["acquireTime"] == "2026-11-26T03:06:17.123456Z"
    assert lease["spec"]["renewTime"] == "2026-11-26T03:11:17.123456Z"
    assert "resourceVersion" not in lease["metadata"]
    released = build_lease("l", "", now=NOW, duration_seconds=10, transitions=1)
    validate_k8s(released)
    assert released["spec"]["holderIdentity"] == ""
    assert manifests.RUN_ID_LABEL not in released["metadata"]["labels"]
    # A naive "now" is UTC; other zones are converted.
    naive = build_lease(
        "l", "r", now=datetime(2026, 1, 2, 3, 4, 5), duration_seconds=1, transitions=0
    )
    assert naive["spec"]["renewTime"] == "2026-01-02T03:04:05.000000Z"


# -- record ConfigMap -------------------------------------------------------------------


def test_record_golden() -> None:
    spec = representative_spec()
    cm = build_record(spec, settings(), record_for(spec), namespace="pipelines")
    validate_k8s(cm)
    golden_json("configmap.json", cm)


def test_record_contents() -> None:
    spec = representative_spec()
    cm = build_record(spec, settings(), record_for(spec))
    data = cm["data"]
    # Params and -c files travel in the run's Secret: the record holds neither.
    assert set(data) == {"run.json", "nextflow.config"}
    run = json.loads(data["run.json"])
    assert run["params"] == spec.params  # nothing secret in the representative params
    assert "process.cpus" not in data["run.json"]
    assert run["schemaVersion"] == 1
    assert run["runId"] == RUN_ID
    assert run["status"] == "pending"
    assert run["submittedAt"] == "2026-11-26T03:11:17Z"
    labels = cm["metadata"]["labels"]
    assert labels == {
        "app.kubernetes.io/managed-by": "nfk8s",
        "nfk8s.io/run-id": RUN_ID,
        "nfk8s.io/status": "pending",
        "nfk8s.io/pipeline": "nf-core_rnaseq",
    }
    config = read_groovy_config(data["nextflow.config"])
    assert config["k8s.namespace"] == "pipelines"
    assert config["k8s.serviceAccount"] == "nfk8s-runner"
    assert config["k8s.storageClaimName"] == "nfk8s-work"
    assert config["k8s.storageMountPath"] == "/workspace"
    assert config["workDir"] == "/workspace/work"
    assert cm["metadata"]["namespace"] == "pipelines"


def test_record_namespace_comes_from_argument_or_record() -> None:
    spec = representative_spec()
    cm = build_record(spec, settings(), record_for(spec, namespace="a"), namespace="b")
    assert cm["metadata"]["namespace"] == "b"
    assert read_groovy_config(cm["data"]["nextflow.config"])["k8s.namespace"] == "b"
    with pytest.raises(ValueError, match="namespace"):
        build_record(spec, settings(), record_for(spec, namespace=""))


def test_record_with_local_pipeline_and_secret_params() -> None:
    spec = local_spec()
    cm = build_record(spec, settings(), record_for(spec))
    validate_k8s(cm)
    golden_json("configmap-local.json", cm)
    data, binary = cm["data"], cm["binaryData"]
    assert "params.json" not in data
    run = json.loads(data["run.json"])
    assert run["params"] == {"outdir": "results", "db": {"api_key": "***", "host": "db"}}
    index = json.loads(data["pipeline.json"])
    assert sorted(index.values()) == sorted(LOCAL_FILES)
    for key, path in index.items():
        if key in binary:
            assert base64.b64decode(binary[key]) == LOCAL_FILES[path]
        else:
            assert data[key].encode() == LOCAL_FILES[path]
    assert not {"user-1.config", "user-2.config"} & set(data)


def test_record_redacts_params_even_if_the_record_did_not() -> None:
    spec = representative_spec(params={"token": "abc"})
    cm = build_record(spec, settings(), record_for(spec))
    assert json.loads(cm["data"]["run.json"])["params"] == {"token": "***"}


def test_record_extra_files() -> None:
    spec = representative_spec()
    cm = build_record(spec, settings(), record_for(spec), {"notes.txt": "hello"})
    assert cm["data"]["notes.txt"] == "hello"
    with pytest.raises(ValueError, match="key"):
        build_record(spec, settings(), record_for(spec), {"bad/key": "x"})


def test_record_too_large_for_a_local_pipeline() -> None:
    spec = local_spec()
    big = RunSpec(**{**spec.__dict__, "local_pipeline": {"main.nf": b"x" * (MAX_RECORD_BYTES + 1)}})
    with pytest.raises(BadInput) as info:
        build_record(big, settings(), record_for(big))
    assert info.value.message.startswith("local pipeline is 901 KiB; a ConfigMap holds at most")
    assert info.value.hint == "push it to git and run it by URL"


def test_secret_too_large_for_its_config_files_and_params() -> None:
    spec = representative_spec(config_files=[("huge.config", "x" * MAX_RECORD_BYTES)])
    with pytest.raises(BadInput, match="config files and params are 901 KiB; a Secret holds"):
        build_params_secret(spec)


def test_record_too_large_with_a_large_redacted_params_copy_and_a_pipeline() -> None:
    spec = representative_spec(
        params={"notes": "x" * (MAX_RECORD_BYTES - 100)},
        local_pipeline={"main.nf": b"x" * 1000},
    )
    with pytest.raises(BadInput, match=r"^local pipeline with its config files and params is"):
        build_record(spec, settings(), record_for(spec))


def test_record_rejects_paths_a_volume_cannot_hold() -> None:
    spec = representative_spec(local_pipeline={"../escape.nf": b"x", "main.nf": b""})
    with pytest.raises(BadInput, match="escape"):
        build_record(spec, settings(), record_for(spec))


# -- Secret -----------------------------------------------------------------------------


def test_no_secret_without_params_or_config_files() -> None:
    assert build_params_secret(representative_spec(params={}, config_files=[])) is None


def test_every_param_and_config_file_goes_in_the_secret() -> None:
    spec = representative_spec()  # no secret-looking key among its params
    secret = build_params_secret(spec)
    assert secret is not None
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert json.loads(data["params.json"]) == spec.params
    assert data["user-1.config"] == "process.cpus = 2\n"


def test_params_secret() -> None:
    spec = local_spec()
    secret = build_params_secret(spec, record_uid=UID, namespace="pipelines")
    assert secret is not None
    validate_k8s(secret)
    golden_json("secret.json", secret)
    decoded = json.loads(base64.b64decode(secret["data"]["params.json"]))
    assert decoded == spec.params
    assert secret["metadata"]["ownerReferences"][0]["uid"] == UID
    assert "ownerReferences" not in (build_params_secret(spec) or {})["metadata"]


# -- Job --------------------------------------------------------------------------------


def test_job_golden() -> None:
    spec = representative_spec()
    job = build_job(spec, settings(), record_uid=UID, namespace="pipelines")
    validate_k8s(job)
    golden_json("job.json", job)


def test_job_local_golden() -> None:
    spec = local_spec()
    job = build_job(spec, settings(), record_uid=UID)
    validate_k8s(job)
    golden_json("job-local.json", job)


def test_job_essentials() -> None:
    spec = representative_spec()
    job = build_job(spec, settings(cancel_grace_seconds=300), record_uid=UID)
    assert job["metadata"]["name"] == job_name(RUN_ID)
    assert job["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": record_name(RUN_ID),
            "uid": UID,
        }
    ]
    js = job["spec"]
    assert js["backoffLimit"] == 0
    assert js["activeDeadlineSeconds"] == 7200
    template = js["template"]
    assert template["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "nfk8s",
        "nfk8s.io/run-id": RUN_ID,
    }
    pod = template["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == "nfk8s-runner"
    assert pod["terminationGracePeriodSeconds"] == 300
    assert "initContainers" not in pod
    (container,) = pod["containers"]
    assert container["name"] == "nextflow"
    assert container["image"] == Settings().image
    assert container["command"][:5] == ["nextflow", "run", "nf-core/rnaseq", "-name", RUN_ID]
    assert "args" not in container
    assert container["workingDir"].startswith("/workspace/launch/nf-core_rnaseq-")
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["NXF_ANSI_LOG"] == "false"
    assert env["NXF_ASSETS"].startswith("/workspace/")
    assert env["NXF_PLUGINS_DIR"].startswith("/workspace/")
    assert container["resources"] == {
        "requests": {"cpu": "2", "memory": "4Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert set(mounts) == {"/workspace", "/etc/nfk8s", "/etc/nfk8s-secret"}
    assert mounts["/etc/nfk8s"]["readOnly"] is True
    assert mounts["/etc/nfk8s-secret"]["readOnly"] is True
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["work"]["persistentVolumeClaim"] == {"claimName": "nfk8s-work"}
    items = volumes["record"]["configMap"]["items"]
    assert [i["key"] for i in items] == ["nextflow.config"]
    secret_items = volumes["params"]["secret"]["items"]
    assert [i["key"] for i in secret_items] == ["params.json", "user-1.config"]


def test_job_argv_matches_mounted_files() -> None:
    """Every path the driver is given is a file some volume provides."""
    for spec in (representative_spec(), local_spec()):
        job = build_job(spec, settings(), record_uid=UID)
        pod = job["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        provided = set()
        for mount in container["volumeMounts"]:
            volume = volumes[mount["name"]]
            source = volume.get("configMap") or volume.get("secret") or {}
            provided |= {f"{mount['mountPath']}/{i['path']}" for i in source.get("items", [])}
        argv = container["command"]
        for flag in ("-c", "-params-file"):
            for i, arg in enumerate(argv):
                if arg == flag:
                    assert argv[i + 1] in provided, argv[i + 1]


def test_job_keys_match_record_keys() -> None:
    for spec in (representative_spec(), local_spec()):
        cm = build_record(spec, settings(), record_for(spec))
        keys = set(cm["data"]) | set(cm.get("binaryData", {}))
        job = build_job(spec, settings(), record_uid=UID)
        volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
        for item in volumes["record"]["configMap"]["items"]:
            assert item["key"] in keys


def test_job_local_pipeline_is_staged_on_the_work_volume() -> None:
    spec = local_spec()
    job = build_job(spec, settings(), record_uid=UID)
    pod = job["spec"]["template"]["spec"]
    mkdir, copy = pod["initContainers"]
    target = mkdir["command"][-1]
    assert target.startswith("/workspace/.nfk8s/pipelines/")
    assert mkdir["command"] == ["mkdir", "-p", target]
    assert copy["command"] == ["cp", "-R", "-L", "/etc/nfk8s/pipeline/.", target]
    (container,) = pod["containers"]
    assert container["command"][2] == target
    assert "-r" not in container["command"]
    assert "activeDeadlineSeconds" not in job["spec"]
    items = {i["path"]: i for i in pod["volumes"][1]["configMap"]["items"]}
    assert items["pipeline/bin/tool.py"]["mode"] == 0o755
    assert "mode" not in items["pipeline/main.nf"]
    assert {"pipeline/" + p for p in LOCAL_FILES} <= set(items)
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/etc/nfk8s-secret" in mounts
    assert "/etc/nfk8s-secret/params.json" in container["command"]


def test_job_with_custom_settings_validates() -> None:
    spec = representative_spec(head_cpus="500m", head_memory="1.5G", run_id="x" * 53)
    custom = settings(
        image="registry.example.org:5000/nextflow:26.04.3@sha256:" + "a" * 64,
        runner_service_account="runner.sa",
        work_pvc="pvc-1",
        work_mount_path="/mnt/data/",
        cancel_grace_seconds=0,
    )
    job = build_job(spec, custom, record_uid=UID)
    validate_k8s(job)
    assert job["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 0
    cm = build_record(spec, custom, record_for(spec))
    validate_k8s(cm)


def test_status_label_follows_record() -> None:
    spec = representative_spec()
    cm = build_record(spec, settings(), record_for(spec, status=RunStatus.RUNNING))
    assert cm["metadata"]["labels"]["nfk8s.io/status"] == "running"
