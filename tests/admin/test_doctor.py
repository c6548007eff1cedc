"""`nfk8s doctor` against the fake's RBAC rules, and the RBAC that `nfk8s rbac` prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from nfk8s import doctor
from nfk8s.doctor import USER_PERMISSIONS, CheckStatus, DoctorTarget
from tests.admin.helpers import NS, connect, job_finished, running_task_pods, submit
from tests.fakekube import write_kubeconfig
from tests.support import RUNNER_SA, WORK_PVC

TARGET = DoctorTarget(runner_service_account=RUNNER_SA, work_pvc=WORK_PVC, lock_name="nfk8s-lock")


def deny_form(p: doctor.Permission) -> tuple[str, str]:
    return p.verb, p.rbac_resource


def test_doctor_passes_when_everything_is_allowed(cluster, invoke):
    result = invoke("doctor")

    assert result.exit_code == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].startswith("✓ API server: v1.37.0-fakekube at http://127.0.0.1:")
    assert "✓ you: pods/log: get" in lines
    assert "✓ you: leases.coordination.k8s.io: get create update patch watch" in lines
    assert f"✓ runner ServiceAccount {RUNNER_SA}: exists" in lines
    assert f"✓ work PVC {WORK_PVC}: Bound, ReadWriteMany" in lines
    assert "✓ lock nfk8s-lock: free" in lines
    assert not any(line.startswith("✗") for line in lines)
    # Every review was a SelfSubjectAccessReview: doctor itself writes nothing.
    writes = cluster.requests.writes()
    assert {w.resource for w in writes} <= {"selfsubjectaccessreviews", "localsubjectaccessreviews"}
    assert len([w for w in writes if w.resource == "selfsubjectaccessreviews"]) == len(
        USER_PERMISSIONS
    )


def test_doctor_reports_every_denied_permission_with_its_fix(cluster, invoke):
    denied = [p for p in USER_PERMISSIONS if p.verb in {"delete", "watch"}]
    denied.append(next(p for p in USER_PERMISSIONS if p.subresource == "log"))
    for p in denied:
        cluster.rbac.deny(*deny_form(p))

    result = invoke("--no-color", "doctor")

    assert result.exit_code == 6
    out = result.stdout
    for p in denied:
        line = next(line for line in out.splitlines() if line.startswith(f"✗ you: {p.display}:"))
        assert p.verb in line.split("denied:")[1], line
    assert "✗ you: pods: denied: watch delete in namespace default" in out
    assert "    fix: grant watch delete on pods to your user" in out
    assert "nfk8s rbac | kubectl apply -f -" in out
    assert "✓ you: persistentvolumeclaims: get" in out
    assert out.splitlines()[-1] == "6 check(s) failed in namespace default"


@pytest.mark.parametrize("permission", USER_PERMISSIONS, ids=lambda p: f"{p.verb}-{p.display}")
def test_each_permission_nfk8s_needs_is_checked(cluster, permission):
    cluster.rbac.deny(*deny_form(permission))

    report = doctor.diagnose(connect(cluster), TARGET)

    assert not report.ok
    # Exactly one access line fails, naming the verb; a check that needed it may fail too.
    (failure,) = [c for c in report.failures if c.name.startswith("you: ")]
    assert failure.name == f"you: {permission.display}"
    assert failure.detail.startswith(f"denied: {permission.verb} in namespace {NS}")


def test_doctor_finds_a_missing_runner_and_a_volume_that_cannot_be_shared(fakekube, invoke):
    fakekube.api.create(
        "persistentvolumeclaims",
        NS,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": WORK_PVC},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )

    result = invoke("doctor", "-o", "json")

    assert result.exit_code == 6
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ok"] is False
    sa = checks[f"runner ServiceAccount {RUNNER_SA}"]
    assert sa["status"] == "fail"
    assert "does not exist" in sa["detail"]
    assert "NFK8S_RUNNER_SERVICE_ACCOUNT" in sa["fix"]
    pvc = checks[f"work PVC {WORK_PVC}"]
    assert pvc["status"] == "fail"
    assert "ReadWriteOnce, not ReadWriteMany" in pvc["detail"]


def test_doctor_finds_a_missing_volume(fakekube):
    report = doctor.diagnose(connect(fakekube), TARGET)

    pvc = next(c for c in report.checks if c.name == f"work PVC {WORK_PVC}")
    assert pvc.status is CheckStatus.FAIL
    assert "does not exist in namespace default" in pvc.detail
    assert "NFK8S_WORK_PVC" in (pvc.fix or "")


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


def test_runner_check_is_reported_unverified_when_the_server_cannot_answer(cluster):
    # The fake serves SelfSubjectAccessReview only, as some managed clusters restrict reviews.
    checks = doctor.check_runner_access(connect(cluster), RUNNER_SA)

    (check,) = checks
    assert check.status is CheckStatus.WARN
    assert check.detail.startswith("not verified")
    assert f"kubectl auth can-i --list --as=system:serviceaccount:{NS}:{RUNNER_SA} -n {NS}" in (
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


def test_everything_nfk8s_does_is_in_the_role_it_prints(cluster, invoke, tmp_path):
    """Run, follow, cancel, read history, prune, show the lock: every request is granted."""
    config = Path(tmp_path / "jobs.config")
    config.write_text("k8s.computeResourceType = 'Job'\n")
    assert invoke("run", "sim/hello", "-p", "sim_task_seconds=1").exit_code == 0
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
        assert invoke(*args).exit_code == 0, args

    role = doctor.rbac_manifests(NS, runner_service_account=RUNNER_SA)[1]
    used = {
        (r.verb, r.group, f"{r.resource}/{r.subresource}" if r.subresource else r.resource)
        for r in cluster.requests.all()
        if r.resource and r.verb and r.resource != "selfsubjectaccessreviews"
    }
    missing = [u for u in sorted(used) if not allowed_by(role, *u)]
    assert missing == []
