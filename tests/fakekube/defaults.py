"""The defaults and admission mutations a real apiserver applies on create."""

from __future__ import annotations

from typing import Any

from tests.fakekube.util import name_suffix

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
SA_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def _image_pull_policy(image: str) -> str:
    # A digest or a non-latest tag means the image is pinned; kube pulls only if missing.
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "Always"
    return "Always" if last.rsplit(":", 1)[1] == "latest" else "IfNotPresent"


def _container_defaults(c: dict[str, Any]) -> None:
    if c.get("image") and not c.get("imagePullPolicy"):
        c["imagePullPolicy"] = _image_pull_policy(c["image"])
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for p in c.get("ports") or []:
        p.setdefault("protocol", "TCP")
    for env in c.get("env") or []:
        ref = (env.get("valueFrom") or {}).get("fieldRef")
        if ref is not None:
            ref.setdefault("apiVersion", "v1")


def pod_spec_defaults(spec: dict[str, Any], *, default_restart: str = "Always") -> None:
    """Defaults from the pod spec's SetDefaults_* functions (also used for templates)."""
    spec.setdefault("restartPolicy", default_restart)
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for c in spec.get("containers") or []:
        _container_defaults(c)
    for c in spec.get("initContainers") or []:
        _container_defaults(c)
    for v in spec.get("volumes") or []:
        if "configMap" in v:
            v["configMap"].setdefault("defaultMode", 420)
        if "secret" in v:
            v["secret"].setdefault("defaultMode", 420)
        if "emptyDir" in v and v["emptyDir"] is None:
            v["emptyDir"] = {}


def _qos_class(spec: dict[str, Any]) -> str:
    requests_seen = False
    guaranteed = True
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        res = c.get("resources") or {}
        req = res.get("requests") or {}
        lim = res.get("limits") or {}
        if req or lim:
            requests_seen = True
        for r in ("cpu", "memory"):
            if r not in lim or (r in req and req[r] != lim[r]):
                guaranteed = False
    if not requests_seen:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def pod_defaults(pod: dict[str, Any]) -> None:
    """Defaults plus what admission adds (ServiceAccount token volume, tolerations, priority)."""
    spec = pod.setdefault("spec", {})
    for c in spec.get("containers") or []:
        # Limits without requests default the requests, which changes the QoS class.
        res = c.get("resources") or {}
        if res.get("limits"):
            req = res.setdefault("requests", {})
            for k, v in res["limits"].items():
                req.setdefault(k, v)
    pod_spec_defaults(spec)
    spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.setdefault("tolerations", [])
    keys = {t.get("key") for t in tolerations}
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if key not in keys:
            tolerations.append(
                {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            )
    if spec.get("automountServiceAccountToken", True):
        vol_name = f"kube-api-access-{name_suffix(5)}"
        volumes = spec.setdefault("volumes", [])
        if not any(v.get("name", "").startswith("kube-api-access-") for v in volumes):
            volumes.append(
                {
                    "name": vol_name,
                    "projected": {
                        "defaultMode": 420,
                        "sources": [
                            {
                                "serviceAccountToken": {
                                    "expirationSeconds": 3607,
                                    "path": "token",
                                }
                            },
                            {
                                "configMap": {
                                    "name": "kube-root-ca.crt",
                                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                }
                            },
                            {
                                "downwardAPI": {
                                    "items": [
                                        {
                                            "path": "namespace",
                                            "fieldRef": {
                                                "apiVersion": "v1",
                                                "fieldPath": "metadata.namespace",
                                            },
                                        }
                                    ]
                                }
                            },
                        ],
                    },
                }
            )
            for c in spec.get("containers") or []:
                c.setdefault("volumeMounts", []).append(
                    {"name": vol_name, "readOnly": True, "mountPath": SA_TOKEN_PATH}
                )
    pod["status"] = {"phase": "Pending", "qosClass": _qos_class(spec)}


def job_defaults(job: dict[str, Any]) -> None:
    spec = job.setdefault("spec", {})
    uid = job["metadata"]["uid"]
    name = job["metadata"].get("name", "")
    spec.setdefault("parallelism", 1)
    spec.setdefault("completions", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    spec.setdefault("manualSelector", False)
    template = spec.setdefault("template", {})
    tmeta = template.setdefault("metadata", {})
    labels = tmeta.setdefault("labels", {})
    if not spec.get("manualSelector"):
        spec["selector"] = {"matchLabels": {CONTROLLER_UID_LABEL: uid}}
        labels[CONTROLLER_UID_LABEL] = uid
        labels[JOB_NAME_LABEL] = name
        labels[LEGACY_CONTROLLER_UID_LABEL] = uid
        labels[LEGACY_JOB_NAME_LABEL] = name
    tspec = template.setdefault("spec", {})
    pod_spec_defaults(tspec, default_restart="")
    if tspec.get("restartPolicy") == "":
        # Leave the missing policy missing so validation reports it as required.
        del tspec["restartPolicy"]
    job["status"] = {}


def namespace_defaults(ns: dict[str, Any]) -> None:
    name = ns["metadata"].get("name", "")
    ns["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    ns.setdefault("spec", {"finalizers": ["kubernetes"]})
    ns["status"] = {"phase": "Active"}


def pvc_defaults(pvc: dict[str, Any]) -> None:
    spec = pvc.setdefault("spec", {})
    spec.setdefault("volumeMode", "Filesystem")
    spec.setdefault("storageClassName", "standard")
    pvc["status"] = {"phase": "Pending"}


def event_defaults(ev: dict[str, Any]) -> None:
    ev.setdefault("reportingComponent", "")
    ev.setdefault("reportingInstance", "")


def secret_defaults(secret: dict[str, Any]) -> None:
    secret.setdefault("type", "Opaque")
    # stringData is write-only: the server merges it into data, base64-encoded.
    string_data = secret.pop("stringData", None) or {}
    if string_data:
        import base64

        data = secret.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def apply_create_defaults(resource: str, obj: dict[str, Any]) -> None:
    if resource == "secrets":
        secret_defaults(obj)
    elif resource == "pods":
        pod_defaults(obj)
    elif resource == "jobs":
        job_defaults(obj)
    elif resource == "namespaces":
        namespace_defaults(obj)
    elif resource == "persistentvolumeclaims":
        pvc_defaults(obj)
    elif resource == "events":
        event_defaults(obj)
