"""Preflight checks (``nfk8s doctor``) and the least-privilege RBAC nfk8s needs (``nfk8s rbac``).

The permission tables are the single source for both: ``doctor`` asks the API server
about each entry, ``rbac`` turns the same entries into Roles, so the two cannot drift.

Checking the runner's permissions: a SelfSubjectAccessReview only answers for the caller,
so the runner ServiceAccount is checked with a LocalSubjectAccessReview - a namespaced
review that any user granted ``create localsubjectaccessreviews`` in the namespace may
send (the built-in ``admin`` ClusterRole grants it, and so does the Role ``nfk8s rbac``
prints). A cluster-scoped SubjectAccessReview would need a ClusterRole, and reading
RoleBindings would mean re-implementing RBAC evaluation (aggregated ClusterRoles, groups)
on the client, so neither is used. When the review is refused, that check is reported as
not verified, with the ``kubectl auth can-i --as`` command that verifies it by hand.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from nfk8s import admin, lock, manifests, podchecks
from nfk8s.errors import ClusterError, Forbidden, NotFound, Unauthorized, Unreachable
from nfk8s.kube import (
    CONFIGMAPS,
    EVENTS,
    JOBS,
    LEASES,
    NAMESPACES,
    PODS,
    PVCS,
    SECRETS,
    SERVICEACCOUNTS,
    Kube,
    Resource,
)
from nfk8s.models import RunSpec

if TYPE_CHECKING:
    from nfk8s.settings import Settings

LOCAL_SUBJECT_ACCESS_REVIEWS = Resource(
    "authorization.k8s.io", "v1", "localsubjectaccessreviews", "LocalSubjectAccessReview"
)
RESOURCE_QUOTAS = Resource("", "v1", "resourcequotas", "ResourceQuota")
LIMIT_RANGES = Resource("", "v1", "limitranges", "LimitRange")
REVIEW_THREADS = 8


def apply_hint(namespace: str) -> str:
    # The manifests name their namespace: `rbac` without -n would print the kubeconfig's.
    return f"as a namespace admin: `nfk8s rbac -n {namespace} | kubectl apply -f -`"


def pvc_template(name: str) -> dict[str, Any]:
    """A work volume claim to start from: ReadWriteMany, on the cluster's default class."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "resources": {"requests": {"storage": "100Gi"}},
        },
    }


@dataclass(frozen=True)
class Permission:
    """One verb on one resource (or subresource) in the namespace, and why it is needed."""

    verb: str
    resource: Resource
    why: str
    subresource: str | None = None

    @property
    def rbac_resource(self) -> str:
        """How a Role rule names it: ``pods`` or ``pods/log``."""
        return (
            f"{self.resource.plural}/{self.subresource}"
            if self.subresource
            else (self.resource.plural)
        )

    @property
    def display(self) -> str:
        """How kubectl and error messages name it: ``leases.coordination.k8s.io``."""
        base = self.resource.display
        return f"{base}/{self.subresource}" if self.subresource else base


def _perms(resource: Resource, verbs: str, why: str, sub: str | None = None) -> list[Permission]:
    return [Permission(verb, resource, why, sub) for verb in verbs.split()]


# What the nfk8s commands do in the namespace, command by command.
USER_PERMISSIONS: tuple[Permission, ...] = (
    *_perms(LEASES, "get create update patch watch", "the one-run-at-a-time lock"),
    *_perms(CONFIGMAPS, "get list create update patch delete", "run records and history"),
    # get: a create whose answer was lost is checked by reading the object back; delete:
    # OwnerReferencesPermissionEnforcement lets only a user who may delete an object set its
    # ownerReferences (the record owns the Secret, so pruning the record removes it).
    *_perms(SECRETS, "create get delete", "the params and -c files of a run"),
    *_perms(JOBS, "get list watch create delete", "the Nextflow driver Job"),
    *_perms(PODS, "get list watch delete", "following and cancelling runs"),
    *_perms(PODS, "get", "driver and task logs", "log"),
    *_perms(EVENTS, "list watch", "why a driver has not started"),
    *_perms(PVCS, "get", "`nfk8s doctor` checks the work volume"),
    *_perms(SERVICEACCOUNTS, "get", "`nfk8s doctor` checks the runner account"),
    *_perms(LOCAL_SUBJECT_ACCESS_REVIEWS, "create", "`nfk8s doctor` checks the runner's access"),
    # A Role may grant `get` on its own namespace object: the namespace's name is the
    # request's namespace. Its labels hold the Pod Security level.
    *_perms(NAMESPACES, "get", "`nfk8s doctor` checks the namespace's Pod Security level"),
    *_perms(RESOURCE_QUOTAS, "list", "`nfk8s doctor` checks quota headroom for the driver"),
    *_perms(LIMIT_RANGES, "list", "`nfk8s doctor` checks the driver against LimitRanges"),
)

# What Nextflow's k8s executor does with the runner ServiceAccount's token. Task Jobs are
# the default compute resource in recent Nextflow releases (``k8s.computeResourceType``).
RUNNER_PERMISSIONS: tuple[Permission, ...] = (
    *_perms(PODS, "create get list watch delete", "task pods"),
    *_perms(PODS, "get", "task status", "status"),
    *_perms(PODS, "get", "task logs", "log"),
    *_perms(JOBS, "create get list watch delete", "task Jobs (k8s.computeResourceType)"),
    *_perms(JOBS, "get", "task Job status", "status"),
    *_perms(PVCS, "get", "mounting the work volume"),
)


# -- checks ---------------------------------------------------------------------------


class CheckStatus(StrEnum):
    OK = "ok"
    WARN = "warn"  # could not be verified; not a failure
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    name: str
    status: CheckStatus
    detail: str
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "detail": self.detail,
            "fix": self.fix,
        }


@dataclass
class DoctorReport:
    namespace: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status is not CheckStatus.FAIL for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status is CheckStatus.FAIL]

    def to_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "ok": self.ok,
            "checks": [c.to_json() for c in self.checks],
        }


@dataclass(frozen=True)
class DoctorTarget:
    """What to check: the settings that name the runner account, the PVC and the lock,
    and the driver pod the settings make (None: not checked)."""

    runner_service_account: str
    work_pvc: str
    lock_name: str
    driver_pod: Mapping[str, Any] | None = None
    pull_secrets: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> DoctorTarget:
        """The target for ``settings``; a bad driver pod patch is ``BadInput`` here."""
        spec = RunSpec(
            run_id="doctor",
            pipeline="doctor",
            head_cpus=settings.head_cpus,
            head_memory=settings.head_memory,
        )
        job = manifests.build_job(spec, settings, record_uid="")
        return cls(
            runner_service_account=settings.runner_service_account,
            work_pvc=settings.work_pvc,
            lock_name=settings.lock_name,
            driver_pod=job["spec"]["template"]["spec"],
            pull_secrets=tuple(settings.pull_secret_names),
        )


def diagnose(
    kube: Kube, target: DoctorTarget, *, on_check: Callable[[Check], None] | None = None
) -> DoctorReport:
    """Run every check; stops early only when the API server cannot be used at all."""
    report = DoctorReport(kube.namespace)

    def add(check: Check) -> None:
        report.checks.append(check)
        if on_check is not None:
            on_check(check)

    reachable = check_server(kube)
    add(reachable)
    if reachable.status is CheckStatus.FAIL:
        return report
    for check in check_user_access(kube):
        add(check)
    sa = check_service_account(kube, target.runner_service_account)
    add(sa)
    if sa.status is not CheckStatus.FAIL:
        for check in check_runner_access(kube, target.runner_service_account):
            add(check)
    add(check_pvc(kube, target.work_pvc))
    add(check_lock(kube, target.lock_name))
    if target.driver_pod is not None:
        for check in check_driver_pod(kube, target.driver_pod):
            add(check)
    for name in target.pull_secrets:
        add(check_pull_secret(kube, name))
    return report


def check_server(kube: Kube) -> Check:
    where = f"{kube.server}" + (f" (context {kube.context})" if kube.context else "")
    try:
        version = kube.server_version()
    except Unauthorized as exc:
        return Check("API server", CheckStatus.FAIL, f"{where}: {exc.message}", exc.hint)
    except Unreachable as exc:
        return Check("API server", CheckStatus.FAIL, exc.message, exc.hint)
    except ClusterError as exc:
        return Check("API server", CheckStatus.FAIL, f"{where}: {exc.message}", exc.hint)
    return Check("API server", CheckStatus.OK, f"{version} at {where}")


def _review(kube: Kube, permission: Permission) -> tuple[bool, str]:
    return kube.can_i(permission.verb, permission.resource, subresource=permission.subresource)


def _by_resource(permissions: Iterable[Permission]) -> dict[str, list[Permission]]:
    grouped: dict[str, list[Permission]] = {}
    for p in permissions:
        grouped.setdefault(p.display, []).append(p)
    return grouped


def check_user_access(kube: Kube) -> list[Check]:
    """One SelfSubjectAccessReview per permission; one check line per resource."""
    try:
        with ThreadPoolExecutor(REVIEW_THREADS) as pool:
            answers = dict(
                zip(
                    USER_PERMISSIONS,
                    pool.map(lambda p: _review(kube, p), USER_PERMISSIONS),
                    strict=True,
                )
            )
    except Forbidden as exc:
        return [
            Check(
                "access review",
                CheckStatus.FAIL,
                f"cannot ask the API server what you may do: {exc.message}",
                "ask your cluster admin to bind the built-in ClusterRole system:basic-user",
            )
        ]
    checks = []
    for display, perms in _by_resource(USER_PERMISSIONS).items():
        denied = [p for p in perms if not answers[p][0]]
        verbs = " ".join(p.verb for p in perms)
        if not denied:
            checks.append(Check(f"you: {display}", CheckStatus.OK, verbs))
            continue
        missing = " ".join(p.verb for p in denied)
        checks.append(
            Check(
                f"you: {display}",
                CheckStatus.FAIL,
                f"denied: {missing} in namespace {kube.namespace} (needed for {denied[0].why})",
                f"grant {missing} on {perms[0].rbac_resource} to your user, "
                f"{apply_hint(kube.namespace)}",
            )
        )
    return checks


def runner_user(namespace: str, service_account: str) -> str:
    return f"system:serviceaccount:{namespace}:{service_account}"


def local_review(namespace: str, service_account: str, permission: Permission) -> dict[str, Any]:
    """A LocalSubjectAccessReview asking whether the runner account may do ``permission``."""
    attrs: dict[str, Any] = {
        "namespace": namespace,
        "verb": permission.verb,
        "group": permission.resource.group,
        "resource": permission.resource.plural,
    }
    if permission.subresource:
        attrs["subresource"] = permission.subresource
    return {
        "apiVersion": LOCAL_SUBJECT_ACCESS_REVIEWS.api_version,
        "kind": LOCAL_SUBJECT_ACCESS_REVIEWS.kind,
        "metadata": {"namespace": namespace},
        "spec": {
            "resourceAttributes": attrs,
            "user": runner_user(namespace, service_account),
            # The groups every ServiceAccount token carries: RoleBindings often name them.
            "groups": [
                "system:serviceaccounts",
                f"system:serviceaccounts:{namespace}",
                "system:authenticated",
            ],
        },
    }


def _runner_review(kube: Kube, service_account: str, permission: Permission) -> bool:
    answer = kube.request(
        "POST",
        LOCAL_SUBJECT_ACCESS_REVIEWS.path(kube.namespace),
        body=local_review(kube.namespace, service_account, permission),
        action=f"create {LOCAL_SUBJECT_ACCESS_REVIEWS.display} in namespace {kube.namespace!r}",
        retry=True,  # a review writes nothing
    )
    return bool(((answer or {}).get("status") or {}).get("allowed"))


def check_runner_access(kube: Kube, service_account: str) -> list[Check]:
    """What Nextflow needs, asked about the runner account (LocalSubjectAccessReview)."""
    who = runner_user(kube.namespace, service_account)
    try:
        with ThreadPoolExecutor(REVIEW_THREADS) as pool:
            answers = dict(
                zip(
                    RUNNER_PERMISSIONS,
                    pool.map(
                        lambda p: _runner_review(kube, service_account, p), RUNNER_PERMISSIONS
                    ),
                    strict=True,
                )
            )
    except (Forbidden, NotFound) as exc:
        why = (
            "you may not create localsubjectaccessreviews"
            if isinstance(exc, Forbidden)
            else "the API server does not serve localsubjectaccessreviews"
        )
        return [
            Check(
                f"runner {service_account}: access",
                CheckStatus.WARN,
                f"not verified: {why}",
                f"check by hand: `kubectl auth can-i --list --as={who} -n {kube.namespace}`",
            )
        ]
    checks = []
    for display, perms in _by_resource(RUNNER_PERMISSIONS).items():
        denied = [p for p in perms if not answers[p]]
        verbs = " ".join(p.verb for p in perms)
        name = f"runner {service_account}: {display}"
        if not denied:
            checks.append(Check(name, CheckStatus.OK, verbs))
            continue
        missing = " ".join(p.verb for p in denied)
        checks.append(
            Check(
                name,
                CheckStatus.FAIL,
                f"denied: {missing} (Nextflow needs it for {denied[0].why})",
                f"grant {missing} on {perms[0].rbac_resource} to ServiceAccount "
                f"{service_account}, {apply_hint(kube.namespace)}",
            )
        )
    return checks


def check_service_account(kube: Kube, name: str) -> Check:
    title = f"runner ServiceAccount {name}"
    try:
        sa = kube.get(SERVICEACCOUNTS, name)
    except Forbidden:
        return Check(title, CheckStatus.WARN, "not verified: you may not read ServiceAccounts")
    if sa is None:
        return Check(
            title,
            CheckStatus.FAIL,
            f"does not exist in namespace {kube.namespace}: the driver pod cannot be created",
            f"create it, {apply_hint(kube.namespace)}; "
            "or set NFK8S_RUNNER_SERVICE_ACCOUNT to an existing one",
        )
    return Check(title, CheckStatus.OK, "exists")


def pvc_problem(pvc: dict[str, Any], events: Iterable[dict[str, Any]] = ()) -> str | None:
    """Why a PVC cannot be the work volume, or None when it can."""
    spec = pvc.get("spec") or {}
    status = pvc.get("status") or {}
    modes = set(status.get("accessModes") or spec.get("accessModes") or [])
    if "ReadWriteMany" not in modes:
        shown = ", ".join(sorted(modes)) or "none"
        return (
            f"access modes are {shown}, not ReadWriteMany: task pods on other nodes cannot mount it"
        )
    phase = status.get("phase") or "Pending"
    if phase == "Bound":
        return None
    if phase == "Pending" and any(e.get("reason") == "WaitForFirstConsumer" for e in events):
        return None
    return f"is {phase}, not Bound"


def check_pvc(kube: Kube, name: str) -> Check:
    title = f"work PVC {name}"
    try:
        pvc = kube.get(PVCS, name)
    except Forbidden:
        return Check(title, CheckStatus.WARN, "not verified: you may not read PVCs")
    if pvc is None:
        template = json.dumps(pvc_template(name), separators=(",", ":"))
        return Check(
            title,
            CheckStatus.FAIL,
            f"does not exist in namespace {kube.namespace}",
            f"create a ReadWriteMany claim (add a storageClassName that offers it, e.g. NFS, "
            f"CephFS, EFS, Filestore): `echo '{template}' | kubectl apply -n {kube.namespace} "
            "-f -`; or set NFK8S_WORK_PVC to an existing one",
        )
    events: list[dict[str, Any]] = []
    if ((pvc.get("status") or {}).get("phase") or "Pending") == "Pending":
        try:
            events = kube.list(
                EVENTS,
                field_selector=f"involvedObject.kind=PersistentVolumeClaim,involvedObject.name={name}",
            ).items
        except ClusterError:
            events = []
    problem = pvc_problem(pvc, events)
    if problem is None:
        phase = (pvc.get("status") or {}).get("phase") or "Pending"
        detail = (
            "Bound, ReadWriteMany"
            if phase == "Bound"
            else ("ReadWriteMany, binds when the first pod uses it (WaitForFirstConsumer)")
        )
        return Check(title, CheckStatus.OK, detail)
    return Check(
        title,
        CheckStatus.FAIL,
        problem,
        f"see `kubectl describe pvc {name} -n {kube.namespace}`; the work volume must be a "
        "Bound ReadWriteMany claim (e.g. NFS, CephFS, EFS, Filestore)",
    )


def namespace_missing(kube: Kube) -> bool | None:
    """Whether the namespace is known not to exist; None when you may not read it."""
    try:
        return kube.get(NAMESPACES, kube.namespace) is None
    except ClusterError:
        return None


def check_lock(kube: Kube, lock_name: str) -> Check:
    title = f"lock {lock_name}"
    ns = kube.namespace
    create_it = f"create it (`kubectl create namespace {ns}`), or pass -n with an existing one"
    missing = namespace_missing(kube)
    if missing:
        # Reads in a namespace that does not exist find nothing: "free" would mislead.
        return Check(title, CheckStatus.FAIL, f"namespace {ns} does not exist", create_it)
    try:
        view = admin.lock_show(kube, lock_name=lock_name)
    except Forbidden as exc:
        if missing is False:
            return Check(title, CheckStatus.FAIL, exc.message, exc.hint)
        # You may not read namespaces, and a namespace that does not exist denies you
        # everything too: name both fixes.
        return Check(
            title,
            CheckStatus.FAIL,
            exc.message,
            f"{apply_hint(ns)}; if namespace {ns} does not exist, {create_it}",
        )
    except ClusterError as exc:
        return Check(title, CheckStatus.FAIL, exc.message, exc.hint)
    holder = view.state.holder
    if holder is None:
        return Check(title, CheckStatus.OK, "free")
    reason = view.state.decision.reason
    if view.verdict is lock.Verdict.HELD:
        return Check(title, CheckStatus.OK, f"held by run {holder}: {reason}")
    return Check(
        title,
        CheckStatus.OK,
        f"stale (run {holder}: {reason}); the next run takes it over",
    )


# -- the driver pod against the namespace -----------------------------------------------

RESTRICTED_FIX = (
    "set security_context = restricted (`run --restricted`, NFK8S_SECURITY_CONTEXT=restricted)"
)


def check_driver_pod(kube: Kube, pod: Mapping[str, Any]) -> list[Check]:
    """Pod Security, ResourceQuota and LimitRange against the driver pod nfk8s would submit."""
    return [
        check_pod_security(kube, pod),
        check_quotas(kube, pod),
        check_limit_ranges(kube, pod),
    ]


def check_pod_security(kube: Kube, pod: Mapping[str, Any]) -> Check:
    title = "driver pod: Pod Security"
    ns = kube.namespace
    try:
        namespace = kube.get(NAMESPACES, ns)
    except ClusterError:
        return Check(
            title,
            CheckStatus.WARN,
            f"not verified: you may not read namespace {ns}",
            f"see its level with `kubectl get namespace {ns} --show-labels` "
            f"({podchecks.ENFORCE_LABEL}); {apply_hint(ns)} lets doctor read it",
        )
    if namespace is None:
        return Check(title, CheckStatus.WARN, f"not verified: namespace {ns} does not exist")
    level = podchecks.enforce_level(namespace)
    problems = podchecks.pod_security_violations(pod, level)
    if not problems:
        labels = (namespace.get("metadata") or {}).get("labels") or {}
        if podchecks.ENFORCE_LABEL not in labels:
            return Check(title, CheckStatus.OK, f"namespace {ns} enforces no level")
        return Check(title, CheckStatus.OK, f"enforce={level} admits it")
    hardened = bool(pod.get("securityContext", {}).get("runAsNonRoot"))
    return Check(
        title,
        CheckStatus.FAIL,
        f"enforce={level} refuses the driver pod: " + "; ".join(problems),
        "fix the driver_pod_patch, which loosens what Pod Security checks"
        if hardened
        else RESTRICTED_FIX,
    )


def _list_or_check(
    kube: Kube, resource: Resource, title: str
) -> tuple[list[dict[str, Any]] | None, Check | None]:
    try:
        return kube.list(resource).items, None
    except Forbidden:
        return None, Check(
            title, CheckStatus.WARN, f"not verified: you may not list {resource.plural}"
        )
    except NotFound:
        # A server without the API (or a namespace without objects): nothing to enforce.
        return [], None
    except ClusterError as exc:
        return None, Check(title, CheckStatus.WARN, f"not verified: {exc.message}")


def check_quotas(kube: Kube, pod: Mapping[str, Any]) -> Check:
    title = "driver pod: ResourceQuota"
    quotas, failed = _list_or_check(kube, RESOURCE_QUOTAS, title)
    if quotas is None:
        return failed or Check(title, CheckStatus.WARN, "not verified")
    if not quotas:
        return Check(title, CheckStatus.OK, "none")
    demand = podchecks.quota_demand(pod, secret=True)
    short = [
        f"{q['metadata']['name']}: {problem}"
        for q in quotas
        for problem in podchecks.quota_shortfalls(q, demand)
    ]
    if not short:
        names = ", ".join(q["metadata"]["name"] for q in quotas)
        return Check(title, CheckStatus.OK, f"room for the driver in {names}")
    return Check(
        title,
        CheckStatus.FAIL,
        "not enough left for the driver: " + "; ".join(short),
        "lower head_cpus/head_memory (`--head-cpus`, `--head-memory`), wait for other pods "
        f"to finish, or ask for a larger quota (`kubectl describe quota -n {kube.namespace}`)",
    )


def check_limit_ranges(kube: Kube, pod: Mapping[str, Any]) -> Check:
    title = "driver pod: LimitRange"
    ranges, failed = _list_or_check(kube, LIMIT_RANGES, title)
    if ranges is None:
        return failed or Check(title, CheckStatus.WARN, "not verified")
    if not ranges:
        return Check(title, CheckStatus.OK, "none")
    problems = [
        f"{r['metadata']['name']}: {problem}"
        for r in ranges
        for problem in podchecks.limit_range_violations(r, pod)
    ]
    if not problems:
        return Check(title, CheckStatus.OK, "the driver's requests and limits are within bounds")
    return Check(
        title,
        CheckStatus.FAIL,
        "; ".join(problems),
        "set head_cpus/head_memory (`--head-cpus`, `--head-memory`) within the bounds "
        f"(`kubectl describe limitrange -n {kube.namespace}`)",
    )


def check_pull_secret(kube: Kube, name: str) -> Check:
    title = f"pull secret {name}"
    try:
        secret = kube.get(SECRETS, name)
    except Forbidden:
        return Check(title, CheckStatus.WARN, "not verified: you may not read Secrets")
    if secret is None:
        return Check(
            title,
            CheckStatus.FAIL,
            f"does not exist in namespace {kube.namespace}: the driver image cannot be pulled "
            "with it",
            f"create it (`kubectl create secret docker-registry {name} -n {kube.namespace} "
            "--docker-server=... --docker-username=... --docker-password=...`), or drop it "
            "from image_pull_secrets",
        )
    kind = secret.get("type") or "Opaque"
    if kind not in ("kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg"):
        return Check(
            title,
            CheckStatus.FAIL,
            f"is of type {kind}, not kubernetes.io/dockerconfigjson: the kubelet ignores it",
            f"recreate it with `kubectl create secret docker-registry {name}`",
        )
    return Check(title, CheckStatus.OK, f"exists ({kind})")


# -- RBAC manifests -------------------------------------------------------------------

USER_ROLE = "nfk8s"
USER_SERVICE_ACCOUNT = "nfk8s"


def role_rules(permissions: Iterable[Permission]) -> list[dict[str, Any]]:
    """Role rules for ``permissions``: one rule per API group and set of verbs, sorted."""
    verbs_of: dict[tuple[str, str], set[str]] = {}
    for p in permissions:
        verbs_of.setdefault((p.resource.group, p.rbac_resource), set()).add(p.verb)
    rules: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for (group, resource), verbs in sorted(verbs_of.items()):
        rules.setdefault((group, tuple(sorted(verbs))), []).append(resource)
    ordered = sorted(rules.items(), key=lambda item: (item[0][0], sorted(item[1])))
    return [
        {"apiGroups": [group], "resources": sorted(resources), "verbs": list(verbs)}
        for (group, verbs), resources in ordered
    ]


def _object(kind: str, api_version: str, name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {manifests.MANAGED_BY: manifests.MANAGED_BY_VALUE},
        },
    }


def _role(name: str, namespace: str, permissions: Iterable[Permission]) -> dict[str, Any]:
    role = _object("Role", "rbac.authorization.k8s.io/v1", name, namespace)
    role["rules"] = role_rules(permissions)
    return role


def _binding(
    name: str,
    namespace: str,
    role: str,
    service_account: str,
    *,
    users: Iterable[str] = (),
    groups: Iterable[str] = (),
) -> dict[str, Any]:
    binding = _object("RoleBinding", "rbac.authorization.k8s.io/v1", name, namespace)
    binding["roleRef"] = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role}
    rbac_group = "rbac.authorization.k8s.io"
    binding["subjects"] = [
        {"kind": "ServiceAccount", "name": service_account, "namespace": namespace},
        *({"kind": "User", "name": u, "apiGroup": rbac_group} for u in users),
        *({"kind": "Group", "name": g, "apiGroup": rbac_group} for g in groups),
    ]
    return binding


def rbac_manifests(
    namespace: str,
    *,
    runner_service_account: str,
    users: Iterable[str] = (),
    groups: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """ServiceAccount, Role and RoleBinding for the nfk8s user and for the Nextflow runner.

    ``users`` and ``groups`` join the nfk8s RoleBinding's subjects: ``kubectl apply`` replaces
    the subject list, so people bound by hand would lose access at the next apply.
    """
    runner = runner_service_account
    return [
        _object("ServiceAccount", "v1", USER_SERVICE_ACCOUNT, namespace),
        _role(USER_ROLE, namespace, USER_PERMISSIONS),
        _binding(USER_ROLE, namespace, USER_ROLE, USER_SERVICE_ACCOUNT, users=users, groups=groups),
        _object("ServiceAccount", "v1", runner, namespace),
        _role(runner, namespace, RUNNER_PERMISSIONS),
        _binding(runner, namespace, runner, runner),
    ]


def render_rbac(
    namespace: str,
    *,
    runner_service_account: str,
    users: Iterable[str] = (),
    groups: Iterable[str] = (),
) -> str:
    """The manifests as one YAML stream for ``kubectl apply -f -``, with comments."""
    import yaml

    objects = rbac_manifests(
        namespace, runner_service_account=runner_service_account, users=users, groups=groups
    )
    comments = {
        0: [
            "nfk8s user: what the nfk8s commands need in this namespace.",
            f"CI jobs can use ServiceAccount {USER_SERVICE_ACCOUNT}; people are bound with",
            "`nfk8s rbac --user NAME --group NAME` (kubectl apply replaces the",
            f"subjects of RoleBinding {USER_ROLE}: keep them on the command line).",
        ],
        3: [
            f"Nextflow runner: the driver pod runs as {runner_service_account} and creates",
            "the task pods (or task Jobs) with its token.",
        ],
    }
    parts = []
    for index, obj in enumerate(objects):
        head = "".join(f"# {line}\n" for line in comments.get(index, []))
        body = yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)
        parts.append(head + body)
    return "---\n" + "---\n".join(parts)
