"""`nfk8s doctor` against each backend's RBAC, and the RBAC that `nfk8s rbac` prints.

On the fake, permissions are taken away with its RBAC knob; on the real control plane, the
way an admin would: by writing the Role `nfk8s rbac` prints without them."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
import yaml

from nfk8s import doctor
from nfk8s.doctor import USER_PERMISSIONS, USER_ROLE, CheckStatus, DoctorTarget
from tests.admin.helpers import connect, job_finished, running_task_pods, submit
from tests.fakekube import write_kubeconfig
from tests.fakekube.api import StatusError
from tests.support import RUNNER_SA, WORK_PVC, snapshot

pytestmark = pytest.mark.backends

TARGET = DoctorTarget(runner_service_account=RUNNER_SA, work_pvc=WORK_PVC, lock_name="nfk8s-lock")


def can_i(cluster, p: doctor.Permission) -> bool:
    """What the real API server answers the user nfk8s runs as (``kubectl auth can-i``)."""
    args = ["auth", "can-i", p.verb, p.resource.display, "-n", cluster.namespace]
    if p.subresource:
        args.append(f"--subresource={p.subresource}")
    return cluster.kubectl(*args).returncode == 0


def deny(cluster, *permissions: doctor.Permission) -> None:
    """Take ``permissions`` away from the user nfk8s runs as."""
    if cluster.backend == "fake":
        for p in permissions:
            cluster.rbac.deny(p.verb, p.rbac_resource)
        return
    role = cluster.api.get("roles", cluster.namespace, USER_ROLE)
    role["rules"] = doctor.role_rules([p for p in USER_PERMISSIONS if p not in permissions])
    cluster.api.replace("roles", cluster.namespace, role)
    # The authorizer reads Roles through an informer: wait until it has seen the new one.
    cluster.wait_for(
        lambda: not any(can_i(cluster, p) for p in permissions),
        message="the API server still grants what the Role no longer does",
    )


def test_doctor_passes_when_everything_is_allowed(cluster, invoke):
    before = snapshot(cluster)

    result = invoke("doctor")

    assert result.exit_code == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].startswith("✓ API server: v1.37.")
    assert f" at {cluster.url} " in lines[0]
    assert "✓ you: pods/log: get" in lines
    assert "✓ you: leases.coordination.k8s.io: get create update patch watch" in lines
    assert f"✓ runner ServiceAccount {RUNNER_SA}: exists" in lines
    assert f"✓ work PVC {WORK_PVC}: Bound, ReadWriteMany" in lines
    assert "✓ lock nfk8s-lock: free" in lines
    assert f"✓ driver pod: Pod Security: namespace {cluster.namespace} enforces no level" in lines
    assert "✓ driver pod: ResourceQuota: none" in lines
    assert "✓ driver pod: LimitRange: none" in lines
    assert not any(line.startswith("✗") for line in lines)
    assert snapshot(cluster) == before  # doctor only asks


@pytest.mark.fake_only("counts the access reviews in the fake's request log")
def test_doctor_asks_one_review_per_permission(cluster, invoke):
    assert invoke("doctor").exit_code == 0

    # Every write was an access review: doctor itself writes nothing.
    writes = cluster.requests.writes()
    assert {w.resource for w in writes} <= {"selfsubjectaccessreviews", "localsubjectaccessreviews"}
    assert len([w for w in writes if w.resource == "selfsubjectaccessreviews"]) == len(
        USER_PERMISSIONS
    )


def test_doctor_reports_every_denied_permission_with_its_fix(cluster, invoke):
    denied = [p for p in USER_PERMISSIONS if p.verb in {"delete", "watch"}]
    denied.append(next(p for p in USER_PERMISSIONS if p.subresource == "log"))
    deny(cluster, *denied)

    result = invoke("--no-color", "doctor")

    assert result.exit_code == 6
    out = result.stdout
    for p in denied:
        line = next(line for line in out.splitlines() if line.startswith(f"✗ you: {p.display}:"))
        assert p.verb in line.split("denied:")[1], line
    assert f"✗ you: pods: denied: watch delete in namespace {cluster.namespace}" in out
    assert "    fix: grant watch delete on pods to your user" in out
    assert f"nfk8s rbac -n {cluster.namespace} | kubectl apply -f -" in out
    assert "✓ you: persistentvolumeclaims: get" in out
    failed = len({p.display for p in denied})  # one check per resource, whatever its verbs
    assert failed >= 6
    assert out.splitlines()[-1] == f"{failed} check(s) failed in namespace {cluster.namespace}"


@pytest.mark.parametrize("permission", USER_PERMISSIONS, ids=lambda p: f"{p.verb}-{p.display}")
def test_each_permission_nfk8s_needs_is_checked(cluster, permission):
    deny(cluster, permission)

    report = doctor.diagnose(connect(cluster), TARGET)

    assert not report.ok
    # Exactly one access line fails, naming the verb; a check that needed it may fail too.
    (failure,) = [c for c in report.failures if c.name.startswith("you: ")]
    assert failure.name == f"you: {permission.display}"
    assert failure.detail.startswith(f"denied: {permission.verb} in namespace {cluster.namespace}")


def test_doctor_finds_a_missing_runner_and_a_volume_that_cannot_be_shared(cluster, invoke):
    # Settings that name a runner account nobody created and a volume one node at a time
    # can mount.
    cluster.api.create(
        "persistentvolumeclaims",
        cluster.namespace,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "single-node"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )

    result = invoke(
        "doctor",
        "-o",
        "json",
        NFK8S_RUNNER_SERVICE_ACCOUNT="absent",
        NFK8S_WORK_PVC="single-node",
    )

    assert result.exit_code == 6
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ok"] is False
    sa = checks["runner ServiceAccount absent"]
    assert sa["status"] == "fail"
    assert "does not exist" in sa["detail"]
    assert "NFK8S_RUNNER_SERVICE_ACCOUNT" in sa["fix"]
    assert f"`nfk8s rbac -n {cluster.namespace} | kubectl apply -f -`" in sa["fix"]
    pvc = checks["work PVC single-node"]
    assert pvc["status"] == "fail"
    assert "ReadWriteOnce, not ReadWriteMany" in pvc["detail"]


def test_doctor_finds_a_missing_volume(cluster):
    target = DoctorTarget(
        runner_service_account=RUNNER_SA, work_pvc="absent", lock_name="nfk8s-lock"
    )

    report = doctor.diagnose(connect(cluster), target)

    pvc = next(c for c in report.checks if c.name == "work PVC absent")
    assert pvc.status is CheckStatus.FAIL
    assert f"does not exist in namespace {cluster.namespace}" in pvc.detail
    assert "NFK8S_WORK_PVC" in (pvc.fix or "")


def test_the_claim_in_the_missing_volume_hint_is_a_shareable_claim_the_server_takes(
    cluster, invoke
):
    def pvc_check() -> dict:
        report = json.loads(invoke("doctor", "-o", "json", NFK8S_WORK_PVC="fresh").stdout)
        return next(c for c in report["checks"] if c["name"] == "work PVC fresh")

    missing = pvc_check()
    assert missing["status"] == "fail"
    assert f"| kubectl apply -n {cluster.namespace} -f -`" in missing["fix"]
    template = json.loads(missing["fix"].split("`echo '")[1].split("' |")[0])
    assert template["spec"]["accessModes"] == ["ReadWriteMany"]

    # The API server takes it as it is; only binding it is up to the cluster (the real
    # control plane here runs no volume provisioner, the fake binds at once).
    cluster.api.create("persistentvolumeclaims", cluster.namespace, template)

    created = pvc_check()
    assert (created["status"], created["detail"]) in {
        ("ok", "Bound, ReadWriteMany"),
        ("fail", "is Pending, not Bound"),
    }, created


def test_doctor_in_a_namespace_that_does_not_exist_says_so_instead_of_lock_free(cluster, invoke):
    result = invoke("--no-color", "-n", "nosuch", "doctor")

    assert result.exit_code == 6
    lines = result.stdout.splitlines()
    assert "✓ lock nfk8s-lock: free" not in lines
    create_it = "create it (`kubectl create namespace nosuch`), or pass -n with an existing one"
    if cluster.backend == "fake":  # you may read namespaces: it is known to be missing
        assert "✗ lock nfk8s-lock: namespace nosuch does not exist" in lines
        assert f"    fix: {create_it}" in lines
    else:  # a namespaced Role: you may not read namespaces, nor anything in nosuch
        lock_at = next(i for i, line in enumerate(lines) if line.startswith("✗ lock nfk8s-lock:"))
        assert lines[lock_at + 1] == (
            "    fix: as a namespace admin: `nfk8s rbac -n nosuch | kubectl apply -f -`; "
            f"if namespace nosuch does not exist, {create_it}"
        )


def test_pvc_waiting_for_its_first_consumer_is_fine():
    pvc = {"spec": {"accessModes": ["ReadWriteMany"]}, "status": {"phase": "Pending"}}
    waiting = [{"reason": "WaitForFirstConsumer"}]

    assert doctor.pvc_problem(pvc) == "is Pending, not Bound"
    assert doctor.pvc_problem(pvc, waiting) is None


def test_doctor_shows_the_lock_holder(cluster):
    run_id = submit(cluster)
    running_task_pods(cluster, run_id)

    check = doctor.check_lock(connect(cluster), "nfk8s-lock")

    assert check.status is CheckStatus.OK
    assert check.detail == f"held by run {run_id}: Job of run {run_id} is running"


def test_doctor_reports_a_stale_lock_without_failing(cluster):
    run_id = submit(cluster, "sim/hello", params={"sim_task_seconds": 1})
    cluster.wait_for(lambda: job_finished(cluster, run_id), timeout=20)

    check = doctor.check_lock(connect(cluster), "nfk8s-lock")

    assert check.status is CheckStatus.OK
    assert check.detail.startswith(f"stale (run {run_id}: Job of run {run_id} has finished")


def test_doctor_on_an_unreachable_server_fails_once_with_the_fix(tmp_path, invoke):
    dead = write_kubeconfig(tmp_path / "dead", "http://127.0.0.1:9")

    result = invoke("doctor", "--kubeconfig", str(dead))

    assert result.exit_code == 6
    first, *_ = result.stdout.splitlines()
    assert first.startswith("✗ API server: cannot reach the API server at http://127.0.0.1:9")
    assert "fix: check the cluster is up" in result.stdout
    assert result.stdout.splitlines()[-1] == "1 check(s) failed in namespace default"


def test_runner_access_is_checked_where_the_server_answers_reviews(cluster):
    ns = cluster.namespace
    checks = doctor.check_runner_access(connect(cluster), RUNNER_SA)

    if cluster.backend == "real":
        # A real API server answers LocalSubjectAccessReviews, which the user may send.
        assert [c.status for c in checks] == [CheckStatus.OK] * len(checks)
        assert {c.name for c in checks} >= {
            f"runner {RUNNER_SA}: pods",
            f"runner {RUNNER_SA}: pods/log",
        }
        return
    # The fake serves SelfSubjectAccessReview only, as some managed clusters restrict reviews.
    (check,) = checks
    assert check.status is CheckStatus.WARN
    assert check.detail.startswith("not verified")
    assert f"kubectl auth can-i --list --as=system:serviceaccount:{ns}:{RUNNER_SA} -n {ns}" in (
        check.fix or ""
    )


def test_runner_review_asks_about_the_service_account_and_its_groups():
    pods_log = next(p for p in doctor.RUNNER_PERMISSIONS if p.subresource == "log")

    review = doctor.local_review("team-a", "runner", pods_log)

    assert review["kind"] == "LocalSubjectAccessReview"
    assert review["metadata"] == {"namespace": "team-a"}
    assert review["spec"]["user"] == "system:serviceaccount:team-a:runner"
    assert "system:serviceaccounts:team-a" in review["spec"]["groups"]
    assert review["spec"]["resourceAttributes"] == {
        "namespace": "team-a",
        "verb": "get",
        "group": "",
        "resource": "pods",
        "subresource": "log",
    }


# -- nfk8s rbac -------------------------------------------------------------------------


def allowed_by(role: dict, verb: str, group: str, resource: str) -> bool:
    return any(
        group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
        for rule in role["rules"]
    )


def test_rbac_prints_roles_that_grant_exactly_what_is_checked(tmp_path, invoke):
    offline = write_kubeconfig(tmp_path / "offline", "http://127.0.0.1:9", namespace="team-a")

    result = invoke("rbac", "--kubeconfig", str(offline), "--runner-sa", "nf-runner")

    assert result.exit_code == 0, result.stderr
    docs = list(yaml.safe_load_all(result.stdout))
    kinds = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert kinds == [
        ("ServiceAccount", "nfk8s"),
        ("Role", "nfk8s"),
        ("RoleBinding", "nfk8s"),
        ("ServiceAccount", "nf-runner"),
        ("Role", "nf-runner"),
        ("RoleBinding", "nf-runner"),
    ]
    assert {d["metadata"]["namespace"] for d in docs} == {"team-a"}
    user_role, runner_role = docs[1], docs[4]
    granted_user = {
        (verb, group, res)
        for rule in user_role["rules"]
        for group in rule["apiGroups"]
        for res in rule["resources"]
        for verb in rule["verbs"]
    }
    needed_user = {(p.verb, p.resource.group, p.rbac_resource) for p in USER_PERMISSIONS}
    assert granted_user == needed_user  # nothing more: least privilege
    for p in doctor.RUNNER_PERMISSIONS:
        assert allowed_by(runner_role, p.verb, p.resource.group, p.rbac_resource)
    assert not allowed_by(runner_role, "create", "", "configmaps")
    binding = docs[5]
    assert binding["roleRef"]["name"] == "nf-runner"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "nf-runner", "namespace": "team-a"}
    ]
    assert result.stdout.startswith("---\n# nfk8s user:")


def test_rbac_binds_the_users_and_groups_named_on_the_command_line(tmp_path, invoke):
    offline = write_kubeconfig(tmp_path / "offline", "http://127.0.0.1:9", namespace="team-a")

    result = invoke(
        "rbac",
        "--kubeconfig",
        str(offline),
        "--user",
        "alice",
        "--user",
        "bob",
        "--group",
        "bioinfo",
        "-o",
        "json",
    )

    assert result.exit_code == 0, result.stderr
    items = json.loads(result.stdout)["items"]
    user_binding = next(
        i for i in items if i["kind"] == "RoleBinding" and i["metadata"]["name"] == "nfk8s"
    )
    group = "rbac.authorization.k8s.io"
    assert user_binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "nfk8s", "namespace": "team-a"},
        {"kind": "User", "name": "alice", "apiGroup": group},
        {"kind": "User", "name": "bob", "apiGroup": group},
        {"kind": "Group", "name": "bioinfo", "apiGroup": group},
    ]
    runner_binding = next(
        i for i in items if i["kind"] == "RoleBinding" and i["metadata"]["name"] != "nfk8s"
    )
    assert [s["kind"] for s in runner_binding["subjects"]] == ["ServiceAccount"]


def test_rbac_output_applies_with_kubectl(cluster, invoke):
    """`nfk8s rbac -n NS | kubectl apply -f -`, as the README asks a namespace admin to."""
    target = f"{cluster.namespace}-rbac"

    result = invoke("rbac", "-n", target)

    assert result.exit_code == 0, result.stderr
    docs = list(yaml.safe_load_all(result.stdout))
    assert {d["metadata"]["namespace"] for d in docs} == {target}
    assert [d["kind"] for d in docs] == ["ServiceAccount", "Role", "RoleBinding"] * 2
    if cluster.backend == "fake":
        return  # the fake serves no Roles: what it prints is checked above
    # A fresh namespace, so every object is the one kubectl apply created.
    cluster.api.create("namespaces", "", {"metadata": {"name": target}})
    try:
        applied = cluster.rk.kubectl("apply", "-f", "-", input=result.stdout, admin=True)
        assert applied.returncode == 0, applied.stderr
        resources = {
            "ServiceAccount": "serviceaccounts",
            "Role": "roles",
            "RoleBinding": "rolebindings",
        }
        for doc in docs:
            found = cluster.api.get(resources[doc["kind"]], target, doc["metadata"]["name"])
            for key in ("rules", "roleRef", "subjects"):
                assert found.get(key) == doc.get(key), (doc["kind"], key)
        again = cluster.rk.kubectl("apply", "-f", "-", input=result.stdout, admin=True)
        assert again.returncode == 0, again.stderr
        assert [line.split()[-1] for line in again.stdout.splitlines()] == ["unchanged"] * 6

        def can(account: str, *what: str) -> bool:
            who = f"--as=system:serviceaccount:{target}:{account}"
            return (
                cluster.rk.kubectl("auth", "can-i", *what, who, "-n", target, admin=True).returncode
                == 0
            )

        assert can(RUNNER_SA, "create", "pods")
        assert can(RUNNER_SA, "get", "pods", "--subresource=log")
        assert not can(RUNNER_SA, "create", "configmaps")
        assert can("nfk8s", "update", "leases.coordination.k8s.io")
        assert can("nfk8s", "create", "jobs.batch")
        assert not can("nfk8s", "create", "pods")  # least privilege: Jobs make the pods
    finally:
        with contextlib.suppress(StatusError):
            cluster.api.delete("namespaces", "", target)


def test_everything_nfk8s_does_is_in_the_role_it_prints(cluster, invoke, tmp_path):
    """Run, follow, cancel, read history, prune, show the lock: every request is granted.

    On the real control plane nfk8s runs as a user with exactly that Role, so every command
    succeeding is the proof; the fake logs each request, to hold it against the Role."""
    config = Path(tmp_path / "jobs.config")
    config.write_text("k8s.computeResourceType = 'Job'\n")
    ran = invoke("run", "sim/hello", "-p", "sim_task_seconds=1")
    assert ran.exit_code == 0, ran.stderr
    run_id = invoke("run", "sim/slow", "--detach", "-c", str(config)).stdout.strip()
    running_task_pods(cluster, run_id)
    for args in (
        ("status",),
        ("logs", run_id),
        ("lock", "show"),
        ("cancel", run_id, "--grace-period", "5"),
        ("history",),
        ("prune", "--keep", "0"),
    ):
        done = invoke(*args)
        assert done.exit_code == 0, (args, done.stderr)

    if cluster.backend == "fake":
        role = doctor.rbac_manifests(cluster.namespace, runner_service_account=RUNNER_SA)[1]
        used = {
            (r.verb, r.group, f"{r.resource}/{r.subresource}" if r.subresource else r.resource)
            for r in cluster.requests.all()
            if r.resource and r.verb and r.resource != "selfsubjectaccessreviews"
        }
        missing = [u for u in sorted(used) if not allowed_by(role, *u)]
        assert missing == []
