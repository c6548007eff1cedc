"""Helpers for the fake server's own tests."""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client, config

from tests.fakekube import FakeKube


def api_client(fk: FakeKube) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(fk.kubeconfig))


def typed(model: str, obj: dict[str, Any]) -> Any:
    """Deserialise ``obj`` with the official client's pydantic model (raises if invalid)."""
    cls = getattr(client, model)
    return cls.from_dict(obj)


def error_body(exc: client.ApiException) -> dict[str, Any]:
    return json.loads(exc.body)


def job_manifest(
    name: str,
    *,
    annotations: dict[str, str] | None = None,
    backoff_limit: int = 0,
    deadline: int | None = None,
    command: list[str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "backoffLimit": backoff_limit,
        "template": {
            "metadata": {"annotations": annotations or {}},
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {"name": "main", "image": "busybox:1.36", "command": command or ["true"]}
                ],
            },
        },
    }
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": spec}


def pod_manifest(
    name: str,
    *,
    annotations: dict[str, str] | None = None,
    containers: list[dict[str, Any]] | None = None,
    restart_policy: str = "Never",
    labels: dict[str, str] | None = None,
    grace: int | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "restartPolicy": restart_policy,
        "containers": containers or [{"name": "main", "image": "busybox:1.36"}],
    }
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations or {}, "labels": labels or {}},
        "spec": spec,
    }


def condition_types(obj: dict[str, Any]) -> list[str]:
    return [
        c["type"]
        for c in (obj.get("status") or {}).get("conditions") or []
        if c["status"] == "True"
    ]
