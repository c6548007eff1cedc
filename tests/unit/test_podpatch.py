"""The driver pod patch: strategic-merge rules, shape checks and what it may not change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nfk8s import podpatch
from nfk8s.errors import BadInput
from nfk8s.manifests import build_job
from nfk8s.settings import load_settings
from tests.unit.test_manifests import UID, local_spec, representative_spec


def template() -> dict[str, Any]:
    job = build_job(representative_spec(), load_settings({}, environ={}), record_uid=UID)
    return dict(job["spec"]["template"])


def patched(patch: dict[str, Any]) -> dict[str, Any]:
    return podpatch.apply(template(), podpatch.check_shape(patch))


def driver(tpl: dict[str, Any]) -> dict[str, Any]:
    return dict(tpl["spec"]["containers"][0])


def test_maps_merge_recursively_and_null_removes_a_key() -> None:
    out = patched(
        {
            "spec": {
                "containers": [
                    {"name": "nextflow", "resources": {"limits": {"ephemeral-storage": "1Gi"}}}
                ],
                "automountServiceAccountToken": None,
            }
        }
    )
    limits = driver(out)["resources"]["limits"]
    assert limits == {"cpu": "2", "memory": "4Gi", "ephemeral-storage": "1Gi"}
    assert "automountServiceAccountToken" not in out["spec"]


def test_lists_merge_by_name_or_mount_path_and_others_are_replaced() -> None:
    base = template()
    out = patched(
        {
            "spec": {
                "containers": [
                    {
                        "name": "nextflow",
                        "env": [
                            {"name": "NXF_OPTS", "value": "-Xmx3g"},
                            {"name": "EXTRA", "value": "1"},
                        ],
                        "volumeMounts": [{"name": "refs", "mountPath": "/refs"}],
                    },
                    {"name": "helper", "image": "busybox:1.36", "command": ["sleep", "1"]},
                ],
                "volumes": [{"name": "refs", "emptyDir": {}}],
                "tolerations": [{"key": "b", "operator": "Exists"}],
            }
        }
    )
    env = [(e["name"], e["value"]) for e in driver(out)["env"]]
    base_env = [(e["name"], e["value"]) for e in driver(base)["env"]]
    assert env[: len(base_env)] == [(n, "-Xmx3g" if n == "NXF_OPTS" else v) for n, v in base_env]
    assert env[-1] == ("EXTRA", "1")
    mounts = [m["mountPath"] for m in driver(out)["volumeMounts"]]
    assert mounts == [*(m["mountPath"] for m in driver(base)["volumeMounts"]), "/refs"]
    assert [c["name"] for c in out["spec"]["containers"]] == ["nextflow", "helper"]
    assert [v["name"] for v in out["spec"]["volumes"]][-1] == "refs"
    assert out["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]
    # Nothing of the base changed in place.
    assert template() == base


def test_patch_delete_removes_a_list_item() -> None:
    out = patched(
        {
            "spec": {
                "containers": [
                    {"name": "nextflow", "env": [{"name": "NXF_OPTS", "$patch": "delete"}]}
                ]
            }
        }
    )
    assert "NXF_OPTS" not in {e["name"] for e in driver(out)["env"]}
    assert "$patch" not in str(out)


def test_a_list_that_replaces_another_is_replaced_whole() -> None:
    base = {"spec": {"tolerations": [{"key": "a", "operator": "Exists"}]}}
    out = podpatch.merge(base, {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}})
    assert out == {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}}


@pytest.mark.parametrize(
    ("patch", "problem"),
    [
        ({"spec": {"containers": [{"name": "nextflow", "command": ["sh"]}]}}, "changes command"),
        ({"spec": {"containers": [{"name": "nextflow", "args": ["-x"]}]}}, "changes args"),
        ({"spec": {"containers": [{"name": "nextflow", "workingDir": "/"}]}}, "changes workingDir"),
        ({"spec": {"containers": [{"name": "nextflow", "$patch": "delete"}]}}, "deletes nfk8s's"),
        ({"spec": {"containers": [{"name": "sidecar", "env": []}]}}, "does not have"),
        ({"spec": {"volumes": [{"name": "work", "$patch": "delete"}]}}, "the volume 'work'"),
        ({"spec": {"volumes": [{"name": "record", "emptyDir": {}}]}}, "the volume 'record'"),
        (
            {
                "spec": {
                    "containers": [
                        {
                            "name": "nextflow",
                            "volumeMounts": [
                                {"name": "x", "mountPath": "/workspace", "$patch": "delete"}
                            ],
                        }
                    ]
                }
            },
            "the mount '/workspace'",
        ),
        (
            {
                "spec": {
                    "containers": [
                        {
                            "name": "nextflow",
                            "volumeMounts": [{"name": "work", "mountPath": "/elsewhere"}],
                        }
                    ]
                }
            },
            "the mount '/elsewhere'",
        ),
        ({"spec": {"restartPolicy": "OnFailure"}}, "spec.restartPolicy"),
        ({"spec": {"serviceAccountName": "default"}}, "spec.serviceAccountName"),
        ({"spec": {"containers": {"name": "nextflow"}}}, "must be a list"),
        ({"spec": {"containers": [{"name": "nextflow", "env": {"A": "b"}}]}}, "must be a list"),
        ({"spec": {"containers": [{"name": "nextflow", "image": {"a": 1}}]}}, "must not be a map"),
        ({"spec": {"containers": [{"name": "nextflow", "resources": "big"}]}}, "must be a map"),
    ],
)
def test_refusals(patch: dict[str, Any], problem: str) -> None:
    with pytest.raises(BadInput) as caught:
        patched(patch)
    assert problem in caught.value.message
    assert caught.value.hint


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([1, 2], "holds a list, not a pod template"),
        ({"kind": "Pod"}, "unknown top-level fields ['kind']"),
        ({"spec": {"nodeSelectr": {"a": "b"}}}, "spec has unknown fields ['nodeSelectr']"),
        ({"spec": {"containers": [{"name": "nextflow", "imagePullPolcy": "x"}]}}, "imagePullPolcy"),
        ({"spec": {"containers": [{"image": "x"}]}}, "every item needs a name"),
        ({"metadata": {"name": "x"}}, "metadata may hold labels and annotations"),
        ({"metadata": {"labels": {"nfk8s.io/run-id": "x"}}}, "belongs to nfk8s"),
        ({"metadata": {"annotations": {"a": 1}}}, "must be text"),
        ({"spec": {"volumes": [{"name": "v", "$patch": "replace"}]}}, "may only be 'delete'"),
    ],
)
def test_shape_checks(data: Any, problem: str) -> None:
    with pytest.raises(BadInput) as caught:
        podpatch.check_shape(data)
    assert problem in caught.value.message


def test_load_patch_reads_yaml_and_json(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text('{"spec": {"hostname": "driver"}}')
    (tmp_path / "p.yaml").write_text("spec:\n  hostname: driver\n")
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "bad.yaml").write_text("spec: [1\n")
    assert podpatch.load_patch(str(tmp_path / "p.json")) == {"spec": {"hostname": "driver"}}
    assert podpatch.load_patch(str(tmp_path / "p.yaml")) == {"spec": {"hostname": "driver"}}
    assert podpatch.load_patch(str(tmp_path / "empty.yaml")) == {}
    with pytest.raises(BadInput, match="is not valid YAML at line 2"):
        podpatch.load_patch(str(tmp_path / "bad.yaml"))


def test_a_patch_of_the_staging_containers_applies_to_a_local_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "spec:\n  initContainers:\n  - name: pipeline-copy\n    resources: {limits: {cpu: 100m}}\n"
    )
    settings = load_settings({"driver_pod_patch": str(path)}, environ={})
    pod = build_job(local_spec(), settings, record_uid=UID)["spec"]["template"]["spec"]
    assert pod["initContainers"][1]["resources"]["limits"]["cpu"] == "100m"
    # A remote pipeline has no staging containers to patch: the same patch is refused.
    with pytest.raises(BadInput, match="'pipeline-copy', which the driver pod does not have"):
        build_job(representative_spec(), settings, record_uid=UID)
