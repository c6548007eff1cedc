"""What only a real API server can tell: `nfk8s rbac` applied by an admin is enough, doctor's
reviews of the runner are real, and owner references pass OwnerReferencesPermissionEnforcement."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.realkube import USER, RealKube, write_kubeconfig
from tests.support import nfk8s_binary


@pytest.fixture
def rk(realkube_session: RealKube) -> RealKube:
    return realkube_session


@pytest.fixture
def bare_namespace(rk: RealKube) -> Iterator[str]:
    """A namespace with nothing nfk8s-specific in it yet."""
    name = f"bare-{secrets.token_hex(3)}"
    rk.admin.create("namespaces", "", {"metadata": {"name": name}})
    try:
        yield name
    finally:
        rk.delete_namespace(name)


def nfk8s(rk: RealKube, namespace: str, *args: str, kubeconfig: Any = None) -> Any:
    import os

    env = rk.env({"NFK8S_CONFIG": os.devnull, "NO_COLOR": "1"})
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    for key in ("CI", "GITHUB_ACTIONS", "GITLAB_CI"):
        env.pop(key, None)
    return subprocess.run(
        [nfk8s_binary(), "-n", namespace, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_rbac_output_applied_by_an_admin_lets_a_restricted_user_run(rk, bare_namespace, tmp_path):
    ns = bare_namespace
    # The admin binds the user on the command line, as the printed comment says.
    printed = nfk8s(rk, ns, "rbac", "--user", USER)
    assert printed.returncode == 0, printed.stderr
    applied = rk.kubectl("apply", "-f", "-", input=printed.stdout, admin=True)
    assert applied.returncode == 0, applied.stderr
    assert "role.rbac.authorization.k8s.io/nfk8s-runner created" in applied.stdout
    rk.create_work_volume(ns)
    kubeconfig = write_kubeconfig(
        tmp_path / "user.kubeconfig", rk.url, rk.pki.ca, rk.user_token, USER, ns
    )

    doctor = nfk8s(rk, ns, "doctor", kubeconfig=kubeconfig)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "runner nfk8s-runner: jobs.batch/status: get" in doctor.stdout

    # A run with a secret-looking parameter writes a Secret owned by the record:
    # OwnerReferencesPermissionEnforcement admits it only because the user may delete it.
    run = nfk8s(rk, ns, "run", "sim/hello", "-p", "db_password=hunter2", kubeconfig=kubeconfig)
    assert run.returncode == 0, run.stderr
    (secret,) = rk.admin.list("secrets", ns, label_selector="app.kubernetes.io/managed-by=nfk8s")
    (owner,) = secret["metadata"]["ownerReferences"]
    assert owner["kind"] == "ConfigMap"


def test_doctor_asks_the_server_about_the_runner_and_names_what_it_lacks(rk):
    ns = rk.namespace_for_test()
    try:
        role = rk.admin.get("roles", ns.name, "nfk8s-runner")
        role["rules"] = [
            rule for rule in role["rules"] if "jobs/status" not in (rule.get("resources") or [])
        ]
        rk.admin.replace("roles", ns.name, role)

        doctor = nfk8s(rk, ns.name, "doctor", kubeconfig=ns.kubeconfig)

        assert doctor.returncode == 6, doctor.stdout + doctor.stderr
        line = next(
            x for x in doctor.stdout.splitlines() if "runner nfk8s-runner: jobs.batch/status" in x
        )
        assert line.startswith("✗"), line
        assert "denied: get" in line
        assert "runner nfk8s-runner: pods: create get list watch delete" in doctor.stdout
    finally:
        rk.delete_namespace(ns.name)


def test_a_user_without_the_role_gets_exit_6_naming_what_was_denied(rk, tmp_path):
    from tests.realkube import OTHER_USER

    ns = rk.namespace_for_test()
    try:
        kubeconfig = write_kubeconfig(
            tmp_path / "other.kubeconfig", rk.url, rk.pki.ca, rk.other_token, OTHER_USER, ns.name
        )
        run = nfk8s(rk, ns.name, "run", "sim/hello", kubeconfig=kubeconfig)
        assert run.returncode == 6, run.stderr
        assert "forbidden" in run.stderr.lower()
        assert "leases" in run.stderr
        assert not rk.admin.list("configmaps", ns.name, label_selector="nfk8s.io/run-id")
    finally:
        rk.delete_namespace(ns.name)
