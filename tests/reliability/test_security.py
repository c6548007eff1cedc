"""Security: secrets stay secret, config injection changes nothing, credentials never print."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.helpers import NS
from tests.support import nfk8s_binary
from tests.unit.helpers import read_groovy_config

# -- secret-looking params ---------------------------------------------------------------

SECRETS = {
    "password": "pw-5ecr3t-1",
    "apiToken": "tok-5ecr3t-2",
    "secretKey": "sk-5ecr3t-3",  # nested: db.secretKey
    "aws_access_key": "ak-5ecr3t-4",  # from the params file
    "token": "tk-5ecr3t-5",  # inside a list in the params file
}


def leaks(text: str) -> list[str]:
    return [value for value in SECRETS.values() if value in text]


def test_5_secret_values_reach_no_record_object_log_or_any_of_12_outputs(cluster, invoke, tmp_path):
    params_file = tmp_path / "params.yaml"
    params_file.write_text(
        f"aws_access_key: {SECRETS['aws_access_key']}\n"
        f"registries:\n  - host: quay.io\n    token: {SECRETS['token']}\n"
    )
    params = [
        *("-p", f"password={SECRETS['password']}"),
        *("-p", f"apiToken={SECRETS['apiToken']}"),
        *("-p", f"db.secretKey={SECRETS['secretKey']}"),
        *("-p", "outdir=/workspace/out"),
        *("--params-file", str(params_file)),
    ]
    outputs: dict[str, Any] = {}
    outputs["run"] = invoke("run", "sim/hello", "--name", "sec", "--plain", "-o", "json", *params)
    assert outputs["run"].exit_code == 0, outputs["run"].stderr
    outputs["run --detach"] = invoke(
        "run", "sim/hello", "--name", "sec2", "-d", "-o", "json", *params
    )
    assert outputs["run --detach"].exit_code == 0
    for dry in ("yaml", "json"):
        outputs[f"dry-run -o {dry}"] = invoke("run", "sim/hello", "--dry-run", "-o", dry, *params)
    for name, args in {
        "status": ["status", "sec"],
        "status -o json": ["status", "sec", "-o", "json"],
        "status -o yaml": ["status", "sec", "-o", "yaml"],
        "history": ["history"],
        "history -o json": ["history", "-o", "json"],
        "logs": ["logs", "sec"],
        "logs --timestamps": ["logs", "sec", "--timestamps"],
        "logs -f": ["logs", "-f", "sec2", "--plain"],
    }.items():
        outputs[name] = invoke(*args)
        assert outputs[name].exit_code == 0, (name, outputs[name].stderr)
    assert len(outputs) == 12
    for name, result in outputs.items():
        assert leaks(result.stdout + result.stderr) == [], name

    stored = json.loads(outputs["status -o json"].stdout)
    assert stored["params"]["password"] == "***"
    assert stored["params"]["db"]["secretKey"] == "***"
    assert stored["params"]["outdir"] == "/workspace/out"
    # Nothing the API server holds shows them, except the params Secret (for the driver).
    for resource in ("configmaps", "jobs", "pods", "leases", "events"):
        for obj in cluster.api.list(resource, NS):
            assert leaks(json.dumps(obj)) == [], (resource, obj["metadata"]["name"])
    for run_id in ("sec", "sec2"):
        for pod in cluster.api.list("pods", NS, label_selector=f"job-name=nfk8s-{run_id}"):
            assert leaks("\n".join(cluster.pod_logs(NS, pod["metadata"]["name"]))) == []
    secret = cluster.api.get("secrets", NS, "nfk8s-run-sec-params")
    passed = base64.b64decode(secret["data"]["params.json"]).decode()
    assert sorted(leaks(passed)) == sorted(SECRETS.values())


# -- config injection ----------------------------------------------------------------------

HOSTILE_MOUNT = "/data/it's ${HOME} '''x''' \\' + 1 + \\'"


def _attempts(tmp: Path) -> dict[str, tuple[list[str], dict[str, str], str]]:
    """(extra args, env, expectation): ``same`` config, ``mount`` literal, or ``refused``."""
    hostile_params = tmp / "hostile.json"
    hostile_params.write_text(json.dumps({"k8s": {"namespace": "evil"}, "x": "'''\n}"}))
    multiline = tmp / "multiline.toml"
    multiline.write_text("work_mount_path = '''/data\nprocess.executor = 'local''''\n")
    return {
        "param closing the quote": (["-p", "x=' ; process.executor = 'local' //"], {}, "same"),
        "param interpolation": (["-p", "y=${System.exit(1)}"], {}, "same"),
        "param triple quotes": (["-p", "z=''' + 1 + '''"], {}, "same"),
        "param newline": (["-p", "n=a\nprocess.executor = 'local'"], {}, "same"),
        "param named like config": (["-p", "process.executor=local"], {}, "same"),
        "params file with k8s scope": (["--params-file", str(hostile_params)], {}, "same"),
        "revision with a quote": (["-r", "v1'2"], {}, "same"),
        "revision with a newline": (["-r", "main\nprocess"], {}, "refused"),
        "profile closing the quote": (
            ["--profile", "test'; process.executor='local"],
            {},
            "refused",
        ),
        "profile with a brace": (["--profile", "test\n}"], {}, "refused"),
        "image with a quote": ([], {"NFK8S_IMAGE": "nextflow/nextflow:26';x"}, "same"),
        "mount path with quotes and ${}": ([], {"NFK8S_WORK_MOUNT_PATH": HOSTILE_MOUNT}, "mount"),
        "mount path with a newline": (
            [],
            {"NFK8S_WORK_MOUNT_PATH": "/data\nprocess.executor = 'local'"},
            "refused",
        ),
        "namespace with a quote": ([], {"NFK8S_NAMESPACE": "x'; y='z"}, "refused"),
        "service account with ${}": ([], {"NFK8S_RUNNER_SERVICE_ACCOUNT": "${evil}"}, "refused"),
        "volume claim with a brace": ([], {"NFK8S_WORK_PVC": "pvc' }"}, "refused"),
        "lock name with a quote": ([], {"NFK8S_LOCK_NAME": "lock'"}, "refused"),
        "settings file, multi-line value": ([], {"NFK8S_CONFIG": str(multiline)}, "refused"),
    }


def _dry_config(invoke, *args: str, **env: str) -> Any:
    result = invoke("run", "sim/hello", "--name", "inj", "--dry-run", "-o", "json", *args, **env)
    if result.exit_code != 0:
        return result
    (record,) = [i for i in json.loads(result.stdout)["items"] if i["kind"] == "ConfigMap"]
    return record["data"]["nextflow.config"]


def _attempt_names() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        return list(_attempts(Path(tmp)))


ATTEMPT_NAMES = _attempt_names()


def test_the_injection_table_has_the_count_its_test_name_promises():
    assert len(ATTEMPT_NAMES) == 18


@pytest.mark.parametrize("name", ATTEMPT_NAMES)
def test_each_of_18_config_injection_attempts_changes_nothing_but_a_literal(
    name, fakekube, invoke, tmp_path
):
    args, env, expect = _attempts(tmp_path)[name]
    baseline = _dry_config(invoke)
    assert isinstance(baseline, str)
    fakekube.requests.clear()
    got = _dry_config(invoke, *args, **env)
    assert fakekube.requests.writes() == []
    if expect == "refused":
        assert not isinstance(got, str), got
        assert got.exit_code == 2, got.stderr
        assert got.stderr.startswith("error: ")
        return
    assert isinstance(got, str), got.stderr
    if expect == "same":
        assert got == baseline
        return
    parsed, plain = read_groovy_config(got), read_groovy_config(baseline)
    assert parsed.keys() == plain.keys()  # no statement added, none removed
    assert parsed["k8s.storageMountPath"] == HOSTILE_MOUNT
    assert parsed["workDir"] == parsed["k8s.workDir"] == HOSTILE_MOUNT + "/work"
    assert parsed["k8s.launchDir"].startswith(HOSTILE_MOUNT + "/launch/")
    changed = {"k8s.storageMountPath", "workDir", "k8s.workDir", "k8s.launchDir"}
    assert {k: v for k, v in parsed.items() if k not in changed} == {
        k: v for k, v in plain.items() if k not in changed
    }


def test_a_run_with_hostile_params_and_revision_stores_the_plain_config(cluster, invoke):
    baseline = _dry_config(invoke)
    result = invoke(
        "run",
        "sim/hello",
        "--name",
        "inj",
        "-r",
        "v1'2",
        "-p",
        "x=' ; process.executor = 'local' //",
    )
    assert result.exit_code == 0, result.stderr
    record = cluster.api.get("configmaps", NS, "nfk8s-run-inj")
    assert record["data"]["nextflow.config"] == baseline
    (container,) = cluster.api.get("jobs", NS, "nfk8s-inj")["spec"]["template"]["spec"][
        "containers"
    ]
    argv = container["command"]
    assert argv[argv.index("-r") + 1] == "v1'2"  # one argument, never a shell line


# -- credentials ---------------------------------------------------------------------------

TOKEN = "tok-kubeconfig-5ecr3t"
KEY_PEM = "-----BEGIN PRIVATE KEY-----\nkey-5ecr3t-material\n-----END PRIVATE KEY-----\n"
CERT_PEM = "-----BEGIN CERTIFICATE-----\ncert-material\n-----END CERTIFICATE-----\n"


def credentials() -> list[str]:
    b64 = base64.b64encode
    return [
        TOKEN,
        "key-5ecr3t-material",
        b64(KEY_PEM.encode()).decode(),
        b64(CERT_PEM.encode()).decode(),
    ]


def kubeconfig(path: Path, server: str) -> Path:
    user = {
        "token": TOKEN,
        "client-certificate-data": base64.b64encode(CERT_PEM.encode()).decode(),
        "client-key-data": base64.b64encode(KEY_PEM.encode()).decode(),
    }
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


def _answering(body: bytes, content_type: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


@pytest.fixture
def odd_server(request) -> Iterator[str]:
    """A server that is not an API server: it answers everything with one fixed body."""
    body, content_type = request.param
    server = ThreadingHTTPServer(("127.0.0.1", 0), _answering(body, content_type))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


COMMANDS = [
    ["-v", "run", "sim/hello"],
    ["-v", "status"],
    ["-v", "history", "-o", "json"],
    ["-v", "doctor"],
]


def run_all(tmp_path: Path, server: str) -> list[subprocess.CompletedProcess[str]]:
    config = kubeconfig(tmp_path / "kubeconfig", server)
    env = {"PATH": "/usr/bin:/bin", "NFK8S_CONFIG": "/dev/null", "HOME": str(tmp_path)}
    return [
        subprocess.run(
            [nfk8s_binary(), "--kubeconfig", str(config), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        for args in COMMANDS
    ]


def assert_no_credentials(results: list[subprocess.CompletedProcess[str]]) -> None:
    for result in results:
        text = result.stdout + result.stderr
        assert [c for c in credentials() if c in text] == [], result.args


@pytest.mark.parametrize("odd_server", [(b"[1, 2, 3]", "application/json")], indirect=True)
def test_a_forced_traceback_shows_no_kubeconfig_credentials(odd_server, tmp_path):
    # JSON of a shape no code path expects: an unhandled error, with its traceback.
    results = run_all(tmp_path, odd_server)
    assert any("Traceback" in r.stderr for r in results)
    crashed = [r for r in results if "Traceback" in r.stderr]
    assert all(r.returncode == 70 for r in crashed)  # a bug, not "pipeline failed"
    assert all("internal error" in r.stderr for r in crashed)
    assert all(r.returncode != 0 for r in results)
    assert_no_credentials(results)


@pytest.mark.parametrize("odd_server", [(b"<html>sign in</html>", "text/html")], indirect=True)
def test_a_login_page_instead_of_an_api_server_is_a_cluster_error(odd_server, tmp_path):
    results = run_all(tmp_path, odd_server)
    for result in results:
        assert result.returncode == 6, result.stderr
        assert "Traceback" not in result.stderr
        assert "not JSON (Content-Type: text/html)" in result.stdout + result.stderr
    assert_no_credentials(results)


def test_refused_and_unreachable_servers_show_no_credentials(cluster, tmp_path):
    cluster.set_unauthorized(True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    unauthorized = run_all(tmp_path, cluster.url)
    unreachable = run_all(tmp_path, closed)
    assert all(r.returncode == 6 for r in unauthorized + unreachable)
    assert "unauthorized" in unauthorized[1].stderr
    assert "cannot reach the API server" in unreachable[1].stderr
    assert_no_credentials(unauthorized + unreachable)
    assert cluster.requests.writes() == []
