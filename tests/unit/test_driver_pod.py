"""Settings that shape the driver pod: their text forms, validation, and the Job they make."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nfk8s.errors import BadInput
from nfk8s.manifests import build_job
from nfk8s.settings import driver_pod_overrides, explain_settings, load_settings
from tests.unit.helpers import golden_json, validate_k8s
from tests.unit.test_manifests import UID, local_spec, representative_spec
from tests.unit.test_settings import home, write_config

__all__ = ["home"]  # the fixture, used by name

RESTRICTED_POD = {
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "runAsGroup": 1000,
    "fsGroup": 1000,
    "seccompProfile": {"type": "RuntimeDefault"},
}
RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def pod_of(job: dict[str, Any]) -> dict[str, Any]:
    return dict(job["spec"]["template"]["spec"])


# -- settings -------------------------------------------------------------------------


def test_env_text_forms_parse_to_pod_fields_and_show_canonically(home: dict[str, str]) -> None:
    env = {
        **home,
        "NFK8S_NODE_SELECTOR": " disk=ssd , zone=a ",
        "NFK8S_TOLERATIONS": "dedicated=nextflow:NoSchedule,gpu,spot:NoExecute",
        "NFK8S_IMAGE_PULL_SECRETS": "regcred, mirror,regcred",
        "NFK8S_PRIORITY_CLASS": "pipelines-high",
        "NFK8S_POD_LABELS": "team=genomics",
        "NFK8S_POD_ANNOTATIONS": '{"sidecar.istio.io/inject": "false", "note": "a,b"}',
        "NFK8S_SECURITY_CONTEXT": "Restricted",
        "NFK8S_RUN_AS_USER": "2000",
    }
    settings = load_settings({}, environ=env)
    assert settings.node_selector == "disk=ssd,zone=a"
    assert settings.node_selector_map == {"disk": "ssd", "zone": "a"}
    assert settings.toleration_list == [
        {"key": "dedicated", "operator": "Equal", "value": "nextflow", "effect": "NoSchedule"},
        {"key": "gpu", "operator": "Exists"},
        {"key": "spot", "operator": "Exists", "effect": "NoExecute"},
    ]
    assert settings.tolerations == "dedicated=nextflow:NoSchedule,gpu,spot:NoExecute"
    assert settings.pull_secret_names == ["regcred", "mirror"]
    assert settings.image_pull_secrets == "regcred,mirror"
    assert settings.priority_class == "pipelines-high"
    assert settings.pod_label_map == {"team": "genomics"}
    # A comma in a value keeps the JSON form, which reads back the same.
    assert settings.pod_annotation_map == {"sidecar.istio.io/inject": "false", "note": "a,b"}
    assert settings.pod_annotations.startswith("{")
    assert settings.restricted and settings.run_as_user == 2000
    rows = {row.name: row for row in explain_settings({}, environ=env)}
    assert rows["node_selector"].value == "disk=ssd,zone=a"
    assert rows["node_selector"].source == "env NFK8S_NODE_SELECTOR"
    assert rows["run_as_group"].source == "default"


def test_config_file_takes_tables_and_arrays(home: dict[str, str]) -> None:
    path = write_config(
        home,
        'node_selector = { "node.kubernetes.io/pool" = "pipelines" }\n'
        'tolerations = [{ key = "dedicated", operator = "Exists", effect = "NoSchedule",'
        " tolerationSeconds = 60 }]\n"
        'image_pull_secrets = ["regcred"]\n'
        'pod_annotations = { "sidecar.istio.io/inject" = "false" }\n'
        "run_as_group = 3000\n",
    )
    settings = load_settings({}, environ=home)
    assert settings.node_selector_map == {"node.kubernetes.io/pool": "pipelines"}
    # tolerationSeconds has no short form: the setting keeps JSON.
    assert settings.toleration_list == [
        {"key": "dedicated", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 60}
    ]
    assert settings.pull_secret_names == ["regcred"]
    assert settings.run_as_group == 3000
    rows = {row.name: row for row in explain_settings({}, environ=home)}
    assert rows["tolerations"].source == f"file {path}"


def test_flags_replace_env_and_join_repeats(home: dict[str, str], tmp_path: Path) -> None:
    patch = tmp_path / "patch.yaml"
    patch.write_text("spec:\n  hostAliases: [{ip: 10.0.0.1, hostnames: [mirror]}]\n")
    env = {**home, "NFK8S_NODE_SELECTOR": "disk=hdd", "NFK8S_SECURITY_CONTEXT": "none"}
    flags = driver_pod_overrides(
        node_selector=["disk=ssd", "zone=b"],
        tolerations=["a=b:NoSchedule", "c"],
        priority_class="high",
        restricted=True,
        driver_pod_patch=str(patch),
    )
    settings = load_settings(flags, environ=env)
    assert settings.node_selector_map == {"disk": "ssd", "zone": "b"}
    assert [t["key"] for t in settings.toleration_list] == ["a", "c"]
    assert settings.priority_class == "high" and settings.restricted
    assert settings.pod_patch == {
        "spec": {"hostAliases": [{"ip": "10.0.0.1", "hostnames": ["mirror"]}]}
    }
    assert driver_pod_overrides() == {}


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("NFK8S_NODE_SELECTOR", "disk", "'disk' in the node selector is not KEY=VALUE"),
        ("NFK8S_NODE_SELECTOR", "disk=s sd", "'s sd' is not a valid node selector value"),
        ("NFK8S_NODE_SELECTOR", "-bad=x", "'-bad' is not a valid node selector key"),
        ("NFK8S_NODE_SELECTOR", '{"a": ', "is not valid JSON"),
        ("NFK8S_TOLERATIONS", "x=y:Sometimes", "has the effect 'Sometimes'"),
        ("NFK8S_TOLERATIONS", "=y:NoSchedule", "has no key"),
        ("NFK8S_TOLERATIONS", '[{"key": "a", "operator": "Maybe"}]', "is not Equal or Exists"),
        ("NFK8S_TOLERATIONS", '[{"key": "a", "colour": "red"}]', "unknown fields ['colour']"),
        ("NFK8S_IMAGE_PULL_SECRETS", "Reg_Cred", "'Reg_Cred' is not a valid image pull secret"),
        ("NFK8S_PRIORITY_CLASS", "High!", "'High!' is not a valid PriorityClass name"),
        ("NFK8S_POD_LABELS", "nfk8s.io/run-id=x", "belongs to nfk8s or Nextflow"),
        ("NFK8S_POD_LABELS", "nextflow.io/app=x", "belongs to nfk8s or Nextflow"),
        ("NFK8S_SECURITY_CONTEXT", "baseline", "'baseline' is not a security context"),
        ("NFK8S_RUN_AS_USER", "0", "'0' is not a user or group id"),
        ("NFK8S_RUN_AS_GROUP", "-5", "'-5' is not a user or group id"),
        ("NFK8S_DRIVER_POD_PATCH", "/nonexistent/patch.yaml", "does not exist"),
    ],
)
def test_bad_values_are_bad_input_naming_setting_source_and_fix(
    home: dict[str, str], variable: str, value: str, problem: str
) -> None:
    with pytest.raises(BadInput) as caught:
        load_settings({}, environ={**home, variable: value})
    name = variable.removeprefix("NFK8S_").lower()
    assert caught.value.message.startswith(f"invalid setting {name} (from env {variable}): ")
    assert problem in caught.value.message
    assert caught.value.hint and f"fix or unset {variable}" in caught.value.hint
    assert caught.value.exit_code == 2


def test_a_config_file_refuses_a_table_for_a_plain_setting(home: dict[str, str]) -> None:
    write_config(home, 'priority_class = { a = "b" }\n')
    with pytest.raises(BadInput, match="must be a single value"):
        load_settings({}, environ=home)


# -- the Job --------------------------------------------------------------------------


def test_default_settings_add_nothing_to_the_pod() -> None:
    pod = pod_of(build_job(representative_spec(), load_settings({}, environ={}), record_uid=UID))
    for field in ("nodeSelector", "tolerations", "imagePullSecrets", "priorityClassName"):
        assert field not in pod
    assert "securityContext" not in pod
    assert "securityContext" not in pod["containers"][0]
    assert {e["name"] for e in pod["containers"][0]["env"]}.isdisjoint({"HOME", "NXF_HOME"})


def test_shaped_job_golden(tmp_path: Path) -> None:
    patch = tmp_path / "patch.yaml"
    patch.write_text(
        "metadata:\n  labels: {cost-centre: lab-7}\n"
        "spec:\n"
        "  containers:\n"
        "  - name: nextflow\n"
        "    env: [{name: JAVA_TOOL_OPTIONS, value: -Djava.net.preferIPv4Stack=true}]\n"
        "  dnsConfig: {options: [{name: ndots, value: '2'}]}\n"
    )
    settings = load_settings(
        {
            "node_selector": "disk=ssd",
            "tolerations": "dedicated=nextflow:NoSchedule",
            "image_pull_secrets": "regcred",
            "priority_class": "pipelines-high",
            "pod_labels": "team=genomics",
            "pod_annotations": "sidecar.istio.io/inject=false",
            "security_context": "restricted",
            "driver_pod_patch": str(patch),
        },
        environ={},
    )
    job = build_job(representative_spec(), settings, record_uid=UID, namespace="pipelines")
    validate_k8s(job)
    golden_json("job-shaped.json", job)
    template = job["spec"]["template"]
    pod = template["spec"]
    assert pod["nodeSelector"] == {"disk": "ssd"}
    assert pod["tolerations"][0]["effect"] == "NoSchedule"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["priorityClassName"] == "pipelines-high"
    assert pod["securityContext"] == RESTRICTED_POD
    assert pod["containers"][0]["securityContext"] == RESTRICTED_CONTAINER
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["HOME"] == "/workspace/.nfk8s/home"
    assert env["NXF_HOME"] == "/workspace/.nfk8s/home/.nextflow"
    assert env["JAVA_TOOL_OPTIONS"] == "-Djava.net.preferIPv4Stack=true"
    assert env["NXF_ANSI_LOG"] == "false"  # the patch merged into env, it did not replace it
    assert pod["dnsConfig"] == {"options": [{"name": "ndots", "value": "2"}]}
    labels = template["metadata"]["labels"]
    assert labels["team"] == "genomics" and labels["cost-centre"] == "lab-7"
    assert labels["nfk8s.io/run-id"] == representative_spec().run_id
    assert template["metadata"]["annotations"] == {"sidecar.istio.io/inject": "false"}


def test_restricted_covers_the_staging_init_containers() -> None:
    settings = load_settings({"security_context": "restricted", "run_as_user": 4242}, environ={})
    pod = pod_of(build_job(local_spec(), settings, record_uid=UID))
    assert [c["name"] for c in pod["initContainers"]] == ["pipeline-dir", "pipeline-copy"]
    for container in [*pod["initContainers"], *pod["containers"]]:
        assert container["securityContext"] == RESTRICTED_CONTAINER
    assert pod["securityContext"]["runAsUser"] == 4242
    assert pod["securityContext"]["fsGroup"] == 1000
