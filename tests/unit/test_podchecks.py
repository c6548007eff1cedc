"""Doctor's judgements of the driver pod: Pod Security levels, quota headroom, LimitRanges."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from nfk8s import podchecks
from nfk8s.doctor import DoctorTarget
from nfk8s.settings import load_settings


def driver_pod(**settings: Any) -> dict[str, Any]:
    pod = DoctorTarget.from_settings(load_settings(settings, environ={})).driver_pod
    assert pod is not None
    return dict(pod)


def namespace(level: str | None) -> dict[str, Any]:
    labels = {podchecks.ENFORCE_LABEL: level} if level else {}
    return {"metadata": {"name": "ns", "labels": labels}}


def test_the_default_driver_passes_baseline_but_not_restricted() -> None:
    pod = driver_pod()
    assert podchecks.enforce_level(namespace(None)) == "privileged"
    assert podchecks.pod_security_violations(pod, "privileged") == []
    assert podchecks.pod_security_violations(pod, "baseline") == []
    problems = podchecks.pod_security_violations(pod, "restricted")
    assert "container 'nextflow' does not set allowPrivilegeEscalation: false" in problems
    assert "container 'nextflow' does not set runAsNonRoot: true" in problems
    assert "container 'nextflow' has no RuntimeDefault seccompProfile" in problems
    assert "container 'nextflow' does not drop ALL capabilities" in problems


def test_the_restricted_setting_makes_a_pod_restricted_admits() -> None:
    pod = driver_pod(security_context="restricted")
    assert podchecks.pod_security_violations(pod, "restricted") == []


@pytest.mark.parametrize(
    ("change", "level", "problem"),
    [
        ({"hostNetwork": True}, "baseline", "hostNetwork=true"),
        (
            {"volumes": [{"name": "h", "hostPath": {"path": "/"}}]},
            "baseline",
            "hostPath volume 'h'",
        ),
        (
            {"containers": [{"name": "c", "securityContext": {"privileged": True}}]},
            "baseline",
            "privileged container 'c'",
        ),
        (
            {
                "containers": [
                    {"name": "c", "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}
                ]
            },
            "baseline",
            "container 'c' adds capabilities ['SYS_ADMIN']",
        ),
        ({"securityContext": {"runAsUser": 0}}, "restricted", "runAsUser 0"),
        (
            {"volumes": [{"name": "n", "nfs": {"server": "x"}}]},
            "restricted",
            "volume 'n' of type ['nfs']",
        ),
    ],
)
def test_rules_name_what_breaks_the_level(change: dict[str, Any], level: str, problem: str) -> None:
    pod = {**driver_pod(security_context="restricted"), **change}
    assert problem in podchecks.pod_security_violations(pod, level)


def test_an_unknown_level_is_judged_as_the_strictest() -> None:
    assert podchecks.enforce_level(namespace("paranoid")) == "restricted"


def test_quota_demand_counts_the_larger_of_init_and_main_containers() -> None:
    pod = {
        "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "3", "memory": "1Gi"}}}],
        "containers": [
            {
                "name": "a",
                "resources": {
                    "requests": {"cpu": "1", "memory": "2Gi"},
                    "limits": {"memory": "2Gi"},
                },
            },
            {"name": "b", "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}}},
        ],
    }
    demand = podchecks.quota_demand(pod)
    assert demand["requests.cpu"] == Decimal(3)
    assert demand["requests.memory"] == Decimal(2 * 2**30 + 512 * 2**20)
    assert demand["limits.memory"] == Decimal(2 * 2**30)
    assert demand["pods"] == demand["count/jobs.batch"] == 1
    assert "secrets" not in demand and podchecks.quota_demand(pod, secret=True)["secrets"] == 1


def test_quota_shortfalls_use_hard_minus_used() -> None:
    demand = podchecks.quota_demand(driver_pod(head_memory="2Gi", head_cpus="1"))
    quota = {
        "spec": {"hard": {"requests.memory": "4Gi", "requests.cpu": "4", "pods": "10"}},
        "status": {"used": {"requests.memory": "3Gi", "requests.cpu": "1500m", "pods": "10"}},
    }
    assert podchecks.quota_shortfalls(quota, demand) == [
        "requests.memory: 2Gi needed, 1Gi left of 4Gi",
        "pods: 1 needed, 0 left of 10",
    ]
    roomy = {"spec": {"hard": {"limits.cpu": "8"}}, "status": {"used": {}}}
    assert podchecks.quota_shortfalls(roomy, demand) == []


def test_limit_range_bounds_per_container_and_per_pod() -> None:
    pod = driver_pod(head_memory="2Gi", head_cpus="100m")
    limit_range = {
        "spec": {
            "limits": [
                {"type": "Container", "min": {"cpu": "250m"}, "max": {"memory": "1Gi"}},
                {"type": "Pod", "max": {"cpu": "4"}},
                {"type": "PersistentVolumeClaim", "max": {"storage": "1Gi"}},
            ]
        }
    }
    assert podchecks.limit_range_violations(limit_range, pod) == [
        "container 'nextflow': cpu request 100m is below the minimum 250m",
        "container 'nextflow': memory limit 2Gi is above the maximum 1Gi",
    ]
    fits = driver_pod(head_memory="1Gi", head_cpus="1")
    assert podchecks.limit_range_violations(limit_range, fits) == []
