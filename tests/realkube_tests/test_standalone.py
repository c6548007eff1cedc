"""`python -m tests.realkube` as a person uses it: start, point kubectl and nfk8s at it, stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.backends import in_ci
from tests.realkube import binaries_available, build
from tests.support import nfk8s_binary

pytestmark = pytest.mark.skipif(
    not build.is_built() and not in_ci(),
    reason=binaries_available()[1]
    or "the real control plane is not built: uv run python -m tests.realkube.build",
)


def _start(kubeconfig: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.realkube", "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(180)  # a cold build is done before this test; start-up itself takes seconds
    if not first or not first[0].startswith("ready "):
        proc.kill()
        _out, err = proc.communicate(timeout=30)
        pytest.fail(f"no ready line; stderr:\n{err[-3000:]}")
    return proc, first[0].split()[1]


def test_standalone_server_serves_kubectl_and_nfk8s_as_a_restricted_user(tmp_path):
    kubeconfig = tmp_path / "rk.kubeconfig"
    proc, url = _start(kubeconfig)
    try:
        assert url.startswith("https://127.0.0.1:")
        env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "NFK8S_CONFIG": os.devnull,
            "NO_COLOR": "1",
        }
        for key in ("CI", "GITHUB_ACTIONS", "GITLAB_CI"):
            env.pop(key, None)
        kubectl = str(build.bin_dir() / "kubectl")
        version = subprocess.run(
            [kubectl, "version", "-o", "json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        assert json.loads(version.stdout)["serverVersion"]["gitVersion"].startswith("v1.37.")
        # The kubeconfig is a restricted user's: cluster-wide reads are refused.
        nodes = subprocess.run(
            [kubectl, "get", "nodes"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert nodes.returncode != 0
        assert 'User "nfk8s-user" cannot list resource "nodes"' in nodes.stderr

        def nfk8s(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [nfk8s_binary(), *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )

        doctor = nfk8s("doctor")
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        assert "runner nfk8s-runner: jobs.batch/status: get" in doctor.stdout

        run = nfk8s("run", "sim/hello")
        assert run.returncode == 0, run.stderr
        assert "Submitted process > sayHello" in run.stdout
        history = nfk8s("history", "-o", "json")
        (record,) = json.loads(history.stdout)["items"]
        assert record["status"] == "succeeded"
        lock = nfk8s("lock", "show")
        assert lock.returncode == 0
        assert "free" in lock.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
