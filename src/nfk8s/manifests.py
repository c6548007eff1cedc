"""Pure builders for every object nfk8s writes, and every name, label and annotation key.

Builders return plain JSON dicts (what ``kube.py`` sends and ``--dry-run`` prints). Each
one is deterministic in its inputs, so golden tests pin them down.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nfk8s import podpatch, podshape
from nfk8s.errors import BadInput
from nfk8s.limits import MAX_RECORD_BYTES, pipeline_too_large, stored_size
from nfk8s.models import (
    RunRecord,
    RunSpec,
    format_micro_time,
    redact_params,
)
from nfk8s.nextflow import (
    assets_dir,
    driver_argv,
    launch_dir,
    pipeline_key,
    plugins_dir,
    render_config,
    staged_pipeline_dir,
    work_dir,
)

if TYPE_CHECKING:
    from nfk8s.settings import Settings

# -- label and annotation keys ----------------------------------------------------------

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "nfk8s"
RUN_ID_LABEL = "nfk8s.io/run-id"
STATUS_LABEL = "nfk8s.io/status"
PIPELINE_LABEL = "nfk8s.io/pipeline"

# Labels Nextflow's k8s executor puts on every task pod (and task Job).
NF_APP_LABEL = "nextflow.io/app"
NF_RUN_NAME_LABEL = "nextflow.io/runName"
NF_PROCESS_LABEL = "nextflow.io/processName"
NF_TASK_LABEL = "nextflow.io/taskName"
NF_SESSION_LABEL = "nextflow.io/sessionId"

# The label holds a sanitised name; this keeps the pipeline as the user wrote it.
PIPELINE_ANNOTATION = "nfk8s.io/pipeline"
SUBMITTED_BY_ANNOTATION = "nfk8s.io/submitted-by"
# On the Lease: which Job keeps the lock alive once it exists.
JOB_NAME_ANNOTATION = "nfk8s.io/job-name"
JOB_UID_ANNOTATION = "nfk8s.io/job-uid"
START_TIMEOUT_ANNOTATION = "nfk8s.io/start-timeout-seconds"
# On the record: which `cancel` marked it cancelled (tells concurrent cancels apart).
CANCEL_REQUEST_ANNOTATION = "nfk8s.io/cancel-request"

# -- names and paths --------------------------------------------------------------------

JOB_PREFIX = "nfk8s-"
RECORD_PREFIX = "nfk8s-run-"
SECRET_SUFFIX = "-params"
CONTAINER_NAME = "nextflow"
CONFIG_MOUNT = "/etc/nfk8s"
# Not nested under CONFIG_MOUNT: a mount point inside a ConfigMap volume lives in a
# directory the kubelet rewrites whenever the ConfigMap changes, and run.json changes.
SECRET_MOUNT = "/etc/nfk8s-secret"

RUN_JSON = "run.json"
NEXTFLOW_CONFIG = "nextflow.config"
PARAMS_JSON = "params.json"
PIPELINE_INDEX = "pipeline.json"

MAX_LABEL_LENGTH = 63
# Job names end up in a pod label, so they are DNS labels: ``nfk8s-run-<id>`` is the longest.
MAX_RUN_ID_LENGTH = MAX_LABEL_LENGTH - len(RECORD_PREFIX)

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def job_name(run_id: str) -> str:
    return f"{JOB_PREFIX}{run_id}"


def record_name(run_id: str) -> str:
    return f"{RECORD_PREFIX}{run_id}"


def secret_name(run_id: str) -> str:
    return f"{RECORD_PREFIX}{run_id}{SECRET_SUFFIX}"


def run_id_from_record_name(name: str) -> str | None:
    return name[len(RECORD_PREFIX) :] if name.startswith(RECORD_PREFIX) else None


def new_run_id(now: datetime, rng: random.Random | None = None) -> str:
    """``r20261126-0153-k7f2q``: UTC minute (sorts by time) plus five random characters.

    The leading letter is for Nextflow, whose ``-name`` must start with one.
    """
    rng = rng or random.SystemRandom()
    stamp = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(UTC)
    suffix = "".join(rng.choice(_ID_ALPHABET) for _ in range(5))
    return f"r{stamp:%Y%m%d-%H%M}-{suffix}"


def validate_run_name(name: str) -> str:
    """Check a ``--name``: a DNS label that Nextflow also accepts as ``-name``."""
    hint = (
        f"use lowercase letters, digits and single dashes, at most {MAX_RUN_ID_LENGTH} "
        "characters, starting with a letter and ending with a letter or digit "
        "(e.g. rnaseq-batch-7)"
    )
    if not name:
        raise BadInput("invalid run name: it is empty", hint=hint)
    if len(name) > MAX_RUN_ID_LENGTH:
        raise BadInput(
            f"invalid run name {name!r}: {len(name)} characters, at most {MAX_RUN_ID_LENGTH}",
            hint=hint,
        )
    if not _DNS_LABEL.fullmatch(name):
        raise BadInput(f"invalid run name {name!r}: not a DNS label", hint=hint)
    if not name[0].isalpha():
        raise BadInput(
            f"invalid run name {name!r}: Nextflow needs it to start with a letter", hint=hint
        )
    if "--" in name:
        # Nextflow's -name pattern wants every dash followed by a letter or digit.
        raise BadInput(f"invalid run name {name!r}: Nextflow refuses '--'", hint=hint)
    if name == "last":
        raise BadInput("invalid run name 'last': Nextflow reserves it", hint=hint)
    return name


def sanitize_label_value(value: str) -> str:
    """A valid label value that stands for ``value``: ``nf-core/rnaseq`` → ``nf-core_rnaseq``.

    Characters a label value cannot hold become ``_``; ends are trimmed to alphanumerics;
    values over 63 characters keep a prefix and gain a hash of the whole value, so distinct
    long values stay distinct.
    """
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", value)
    text = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", text)
    if len(text) <= MAX_LABEL_LENGTH:
        return text
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:8]
    head = re.sub(r"[^A-Za-z0-9]+$", "", text[: MAX_LABEL_LENGTH - len(digest) - 1])
    return f"{head}-{digest}"


def pipeline_label(pipeline: str) -> str:
    """The ``nfk8s.io/pipeline`` value: URL spellings of one project share it."""
    return sanitize_label_value(pipeline_key(pipeline))


def selector(labels: Mapping[str, str]) -> str:
    """A label selector matching all of ``labels``."""
    return ",".join(f"{key}={value}" for key, value in labels.items())


def managed_selector() -> str:
    return selector({MANAGED_BY: MANAGED_BY_VALUE})


def run_selector(run_id: str) -> str:
    """The objects nfk8s wrote for one run."""
    return selector({MANAGED_BY: MANAGED_BY_VALUE, RUN_ID_LABEL: run_id})


def task_selector(run_id: str) -> str:
    """The pods and Jobs Nextflow created for one run's tasks."""
    return selector({NF_RUN_NAME_LABEL: run_id})


def _run_labels(run_id: str) -> dict[str, str]:
    return {MANAGED_BY: MANAGED_BY_VALUE, RUN_ID_LABEL: run_id}


def _metadata(
    name: str,
    namespace: str | None,
    *,
    labels: Mapping[str, str],
    annotations: Mapping[str, str] | None = None,
    owner: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    if owner:
        metadata["ownerReferences"] = [dict(owner)]
    return metadata


# -- the Lease --------------------------------------------------------------------------


def build_lease(
    name: str,
    holder: str | None,
    *,
    now: datetime,
    duration_seconds: int,
    transitions: int,
    resource_version: str | None = None,
    annotations: Mapping[str, str] | None = None,
    acquire_time: datetime | None = None,
) -> dict[str, Any]:
    """The lock object; ``resource_version`` makes a replace a compare-and-swap.

    ``holder`` is the run id, or ``""`` to release. ``acquire_time`` defaults to ``now``
    and should stay the original acquisition time when only the annotations change.
    """
    labels = {MANAGED_BY: MANAGED_BY_VALUE}
    if holder:
        labels[RUN_ID_LABEL] = holder
    metadata: dict[str, Any] = {"name": name, "labels": labels}
    if annotations:
        metadata["annotations"] = dict(annotations)
    if resource_version is not None:
        metadata["resourceVersion"] = resource_version
    spec: dict[str, Any] = {}
    if holder is not None:
        spec["holderIdentity"] = holder
    spec["leaseDurationSeconds"] = duration_seconds
    spec["acquireTime"] = format_micro_time(acquire_time or now)
    spec["renewTime"] = format_micro_time(now)
    spec["leaseTransitions"] = transitions
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": spec,
    }


# -- the record ConfigMap ---------------------------------------------------------------


def render_run_json(record: RunRecord) -> str:
    """``run.json`` as stored: pretty, stable key order, secret-looking params redacted."""
    data = record.to_json()
    data["params"] = redact_params(record.params)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render_params_json(spec: RunSpec) -> str:
    return json.dumps(spec.params, indent=2, ensure_ascii=False) + "\n"


def user_config_key(index: int) -> str:
    """ConfigMap key of the ``index``-th (1-based) ``-c`` file."""
    return f"user-{index}.config"


def _pipeline_entries(spec: RunSpec) -> list[tuple[str, str]]:
    """(ConfigMap key, relative path) of each local pipeline file, in a stable order."""
    if spec.local_pipeline is None:
        return []
    return [(f"pipeline-{i}", path) for i, path in enumerate(sorted(spec.local_pipeline))]


def _check_relative_path(path: str) -> None:
    parts = path.split("/")
    if not path or path.startswith("/") or any(part in {"", ".", ".."} for part in parts):
        raise BadInput(
            f"local pipeline file {path!r} has a path a volume cannot hold",
            hint="rename it to a plain relative path",
        )


def build_record(
    spec: RunSpec,
    settings: Settings,
    record: RunRecord,
    files: Mapping[str, str] | None = None,
    *,
    namespace: str | None = None,
) -> dict[str, Any]:
    """The run's ConfigMap: history (``run.json``), ``nextflow.config`` and an uploaded pipeline.

    Params and ``-c`` files are never here: they go in the run's Secret
    (``build_params_secret``), as either may hold credentials whatever their names.

    ``namespace`` (default ``record.namespace``) is where Nextflow creates task pods;
    ``files`` adds (or replaces) data entries by key. Raises ``BadInput`` when the result
    would not fit in a ConfigMap.
    """
    namespace = namespace or record.namespace
    if not namespace:
        raise ValueError("the namespace the run goes to is needed for nextflow.config")
    mount = settings.work_mount_path
    data: dict[str, str] = {RUN_JSON: render_run_json(record)}
    data[NEXTFLOW_CONFIG] = render_config(
        namespace=namespace,
        service_account=settings.runner_service_account,
        claim_name=settings.work_pvc,
        mount_path=mount,
        launch_dir=launch_dir(mount, spec.pipeline),
        work_dir=work_dir(mount),
        run_id=spec.run_id,
    )
    binary: dict[str, str] = {}
    entries = _pipeline_entries(spec)
    if spec.local_pipeline is not None:
        for key, path in entries:
            _check_relative_path(path)
            content = spec.local_pipeline[path]
            try:
                data[key] = content.decode("utf-8")
            except UnicodeDecodeError:
                binary[key] = base64.b64encode(content).decode("ascii")
        data[PIPELINE_INDEX] = json.dumps(dict(entries), indent=2, ensure_ascii=False) + "\n"
    for key, text in (files or {}).items():
        if not re.fullmatch(r"[-._a-zA-Z0-9]+", key) or key in binary:
            raise ValueError(f"invalid ConfigMap key {key!r}")
        data[key] = text
    configmap: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(
            record_name(spec.run_id),
            namespace,
            labels={
                **_run_labels(spec.run_id),
                STATUS_LABEL: record.status.value,
                PIPELINE_LABEL: pipeline_label(spec.pipeline),
            },
            annotations={PIPELINE_ANNOTATION: spec.pipeline},
        ),
        "data": data,
    }
    if binary:
        configmap["binaryData"] = binary
    check_record_size(configmap, local_pipeline=spec.local_pipeline)
    return configmap


def record_size(configmap: Mapping[str, Any]) -> int:
    """Bytes the ConfigMap's payload takes (keys plus values, binary as base64)."""
    size = 0
    for section in ("data", "binaryData"):
        for key, value in (configmap.get(section) or {}).items():
            size += len(key.encode("utf-8")) + len(str(value).encode("utf-8"))
    return size


def check_record_size(
    configmap: Mapping[str, Any], *, local_pipeline: Mapping[str, bytes] | None = None
) -> None:
    size = record_size(configmap)
    if size <= MAX_RECORD_BYTES:
        return
    if local_pipeline:
        own = sum(stored_size(content) for content in local_pipeline.values())
        if own > MAX_RECORD_BYTES:
            raise pipeline_too_large(own)
        raise pipeline_too_large(size, what="local pipeline with its config files and params")
    raise BadInput(
        f"the run's config files and params are {math.ceil(size / 1024)} KiB; a ConfigMap "
        f"holds at most ~{MAX_RECORD_BYTES // 1024} KiB",
        hint="move large values into files the pipeline reads (e.g. on the work volume)",
    )


# -- the params Secret ------------------------------------------------------------------


def needs_secret(spec: RunSpec) -> bool:
    """Whether the run has params or ``-c`` files, which travel in its Secret."""
    return bool(spec.params) or bool(spec.config_files)


def build_params_secret(
    spec: RunSpec, *, record_uid: str | None = None, namespace: str | None = None
) -> dict[str, Any] | None:
    """The run's Secret: ``params.json`` and the ``-c`` files, all that the user supplied.

    Every param goes here, not only the secret-looking ones: a name list always misses one,
    and the driver then reads all params from one place. The record keeps a redacted copy
    of the params and the config files' names and sizes. With ``record_uid`` the Secret is
    owned by the record, so pruning the record removes it.
    """
    if not needs_secret(spec):
        return None
    metadata = _metadata(secret_name(spec.run_id), namespace, labels=_run_labels(spec.run_id))
    if record_uid:
        metadata["ownerReferences"] = [_owner_reference(spec.run_id, record_uid)]
    files: dict[str, str] = {}
    if spec.params:
        files[PARAMS_JSON] = render_params_json(spec)
    for index, (_name, text) in enumerate(spec.config_files, start=1):
        files[user_config_key(index)] = text
    size = sum(len(k.encode("utf-8")) + len(v.encode("utf-8")) for k, v in files.items())
    if size > MAX_RECORD_BYTES:
        raise BadInput(
            f"the run's config files and params are {math.ceil(size / 1024)} KiB; a Secret "
            f"holds at most ~{MAX_RECORD_BYTES // 1024} KiB",
            hint="move large values into files the pipeline reads (e.g. on the work volume)",
        )
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "Opaque",
        "immutable": True,
        "data": {
            key: base64.b64encode(text.encode("utf-8")).decode("ascii")
            for key, text in files.items()
        },
    }


def secret_items(spec: RunSpec) -> list[dict[str, str]]:
    """The Secret's keys the driver sees under SECRET_MOUNT."""
    keys = [PARAMS_JSON] if spec.params else []
    keys += [user_config_key(i) for i in range(1, len(spec.config_files) + 1)]
    return [{"key": key, "path": key} for key in keys]


def _owner_reference(run_id: str, record_uid: str) -> dict[str, Any]:
    # No blockOwnerDeletion: nfk8s deletes records in the background, so it would buy
    # nothing, and OwnerReferencesPermissionEnforcement (on by default in OpenShift) would
    # demand `update configmaps/finalizers` from every user for setting it.
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": record_name(run_id),
        "uid": record_uid,
    }


# -- the driver Job ---------------------------------------------------------------------

_EXECUTABLE = 0o755


def _record_items(spec: RunSpec) -> list[dict[str, Any]]:
    """What of the record the driver sees under CONFIG_MOUNT (never run.json)."""
    items: list[dict[str, Any]] = [{"key": NEXTFLOW_CONFIG, "path": NEXTFLOW_CONFIG}]
    for key, path in _pipeline_entries(spec):
        item: dict[str, Any] = {"key": key, "path": f"pipeline/{path}"}
        if path.startswith("bin/"):
            # Nextflow puts the project's bin/ on the task PATH; a ConfigMap loses modes.
            item["mode"] = _EXECUTABLE
        items.append(item)
    return items


def driver_paths(spec: RunSpec, settings: Settings) -> dict[str, Any]:
    """Where the driver finds its inputs: the arguments ``driver_argv`` needs."""
    config_paths = [f"{CONFIG_MOUNT}/{NEXTFLOW_CONFIG}"]
    config_paths += [
        f"{SECRET_MOUNT}/{user_config_key(i)}" for i in range(1, len(spec.config_files) + 1)
    ]
    params_path = f"{SECRET_MOUNT}/{PARAMS_JSON}" if spec.params else None
    pipeline_path = None
    if spec.local_pipeline is not None:
        pipeline_path = staged_pipeline_dir(settings.work_mount_path, spec.local_pipeline)
    return {
        "config_paths": config_paths,
        "params_path": params_path,
        "pipeline_path": pipeline_path,
    }


def build_job(
    spec: RunSpec, settings: Settings, *, record_uid: str, namespace: str | None = None
) -> dict[str, Any]:
    """The Job that runs the Nextflow driver, owned by the run's record ConfigMap."""
    mount = settings.work_mount_path
    paths = driver_paths(spec, settings)
    resources = {
        "requests": {"cpu": spec.head_cpus, "memory": spec.head_memory},
        # Limits equal to requests give the driver Guaranteed QoS: evicted last.
        "limits": {"cpu": spec.head_cpus, "memory": spec.head_memory},
    }
    mounts: list[dict[str, Any]] = [
        {"name": "work", "mountPath": mount},
        {"name": "record", "mountPath": CONFIG_MOUNT, "readOnly": True},
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "work", "persistentVolumeClaim": {"claimName": settings.work_pvc}},
        {
            "name": "record",
            "configMap": {"name": record_name(spec.run_id), "items": _record_items(spec)},
        },
    ]
    if needs_secret(spec):
        mounts.append({"name": "params", "mountPath": SECRET_MOUNT, "readOnly": True})
        volumes.append(
            {
                "name": "params",
                "secret": {
                    "secretName": secret_name(spec.run_id),
                    "items": secret_items(spec),
                },
            }
        )
    env = [
        {"name": "NXF_ANSI_LOG", "value": "false"},
        # Clones and plugins on the work volume: cached between runs, visible to tasks.
        {"name": "NXF_ASSETS", "value": assets_dir(mount)},
        {"name": "NXF_PLUGINS_DIR", "value": plugins_dir(mount)},
        # The JVM's default heap is a quarter of the limit, too little for large DAGs.
        {"name": "NXF_OPTS", "value": "-XX:MaxRAMPercentage=60"},
    ]
    if settings.restricted:
        env += podshape.home_env(mount)
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": settings.image,
        "command": driver_argv(spec, **paths),
        "workingDir": launch_dir(mount, spec.pipeline),
        "env": env,
        "resources": resources,
        "volumeMounts": mounts,
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": settings.runner_service_account,
        # Nextflow talks to the API server with this token to create task pods.
        "automountServiceAccountToken": True,
        "terminationGracePeriodSeconds": settings.cancel_grace_seconds,
    }
    if paths["pipeline_path"]:
        pod_spec["initContainers"] = _stage_pipeline(paths["pipeline_path"], settings, resources)
    pod_spec["containers"] = [container]
    pod_spec["volumes"] = volumes
    _shape_pod(pod_spec, settings)
    job_spec: dict[str, Any] = {"backoffLimit": 0}
    if spec.timeout_seconds:
        job_spec["activeDeadlineSeconds"] = spec.timeout_seconds
    template_meta: dict[str, Any] = {
        "labels": {**settings.pod_label_map, **_run_labels(spec.run_id)}
    }
    if settings.pod_annotations:
        template_meta["annotations"] = settings.pod_annotation_map
    # The patch goes last: it is the escape hatch for what no setting covers.
    job_spec["template"] = podpatch.apply(
        {"metadata": template_meta, "spec": pod_spec}, settings.pod_patch
    )
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata(
            job_name(spec.run_id),
            namespace,
            labels={**_run_labels(spec.run_id), PIPELINE_LABEL: pipeline_label(spec.pipeline)},
            annotations={
                PIPELINE_ANNOTATION: spec.pipeline,
                # The run's own limit: whoever judges the run later uses it, not theirs.
                START_TIMEOUT_ANNOTATION: str(settings.start_timeout),
            },
            owner=_owner_reference(spec.run_id, record_uid),
        ),
        "spec": job_spec,
    }


def _shape_pod(pod_spec: dict[str, Any], settings: Settings) -> None:
    """Add what the driver-pod settings ask for (README: Shaping the driver pod)."""
    if settings.node_selector:
        pod_spec["nodeSelector"] = settings.node_selector_map
    if settings.tolerations:
        pod_spec["tolerations"] = settings.toleration_list
    if settings.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": n} for n in settings.pull_secret_names]
    if settings.priority_class:
        pod_spec["priorityClassName"] = settings.priority_class
    if settings.restricted:
        pod_spec["securityContext"] = podshape.pod_security_context(
            settings.run_as_user, settings.run_as_group
        )
        for container in [*pod_spec.get("initContainers", []), *pod_spec["containers"]]:
            container["securityContext"] = podshape.container_security_context()


def _stage_pipeline(
    target: str, settings: Settings, resources: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Copy an uploaded pipeline onto the work volume, where task pods can read it.

    Two plain commands instead of one shell line: nothing user-supplied ever meets a shell.
    """
    mounts = [
        {"name": "work", "mountPath": settings.work_mount_path},
        {"name": "record", "mountPath": CONFIG_MOUNT, "readOnly": True},
    ]
    common = {"image": settings.image, "resources": dict(resources), "volumeMounts": mounts}
    return [
        {"name": "pipeline-dir", "command": ["mkdir", "-p", target], **common},
        {
            "name": "pipeline-copy",
            "command": ["cp", "-R", "-L", f"{CONFIG_MOUNT}/pipeline/.", target],
            **common,
        },
    ]
