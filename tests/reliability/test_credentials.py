"""Kubeconfig credentials: tokens with whitespace, and client keys left on disk by a killed nfk8s.

The kubernetes client writes ``client-key-data`` to a file for OpenSSL, for an https server
only; the fake speaks plain HTTP, so these tests put a TLS proxy in front of it.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import ipaddress
import json
import os
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakekube import FakeKube
from tests.reliability.helpers import hold
from tests.support import nfk8s_binary, nfk8s_env, run_nfk8s

TOKEN = "VERYSECRETTOKEN-c0ffee-1234"


# -- a TLS front for the fake ----------------------------------------------------------------


def _certificates(tmp: Path) -> dict[str, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def make(name: str, issuer: Any, issuer_key: Any, *, ca: bool, san: bool) -> tuple[Any, Any]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(issuer or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        return builder.sign(issuer_key or key, hashes.SHA256()), key

    ca, ca_key = make("test-ca", None, None, ca=True, san=False)
    server, server_key = make("127.0.0.1", ca.subject, ca_key, ca=False, san=True)
    client, client_key = make("nfk8s-user", ca.subject, ca_key, ca=False, san=False)

    def pem(cert: Any) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(key: Any) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    (tmp / "server.crt").write_bytes(pem(server))
    (tmp / "server.key").write_bytes(key_pem(server_key))
    return {
        "ca": pem(ca),
        "server_cert": tmp / "server.crt",
        "server_key": tmp / "server.key",
        "client_cert": pem(client),
        "client_key": key_pem(client_key),
    }


class TLSProxy:
    """Terminates TLS on a local port and passes the bytes on to the fake's HTTP port."""

    def __init__(self, target: tuple[str, int], cert: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
            upstream = socket.create_connection(self.target)
        except OSError:
            conn.close()
            return
        threading.Thread(target=self._pump, args=(upstream, tls), daemon=True).start()
        self._pump(tls, upstream)

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.close()

    def close(self) -> None:
        self.closed = True
        self.listener.close()


def write_kubeconfig(path: Path, server: str, user: dict[str, str], ca: bytes | None) -> Path:
    cluster: dict[str, Any] = {"server": server}
    if ca is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


@pytest.fixture
def tls(fakekube: FakeKube, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A kubeconfig for the fake behind TLS, with a client key and a token; private dirs."""
    certs = _certificates(tmp_path)
    host, port = fakekube.url.removeprefix("http://").split(":")
    proxy = TLSProxy((host, int(port)), certs["server_cert"], certs["server_key"])
    fakekube.state.token = TOKEN
    user = {
        "token": TOKEN + "\n",
        "client-certificate-data": base64.b64encode(certs["client_cert"]).decode(),
        "client-key-data": base64.b64encode(certs["client_key"]).decode(),
    }
    config = write_kubeconfig(
        tmp_path / "tls.kubeconfig", f"https://127.0.0.1:{proxy.port}", user, certs["ca"]
    )
    dirs = {name: tmp_path / name for name in ("tmp", "run", "cache", "home")}
    for directory in dirs.values():
        directory.mkdir()
    env = nfk8s_env(
        fakekube,
        KUBECONFIG=str(config),
        TMPDIR=str(dirs["tmp"]),
        XDG_RUNTIME_DIR=str(dirs["run"]),
        XDG_CACHE_HOME=str(dirs["cache"]),
        HOME=str(dirs["home"]),
    )
    # The PEM body of the client key: what must never be found on disk after nfk8s is gone.
    marker = certs["client_key"].decode().splitlines()[1]
    try:
        yield {"env": env, "dirs": dirs, "marker": marker, "kubeconfig": config}
    finally:
        proxy.close()


def files_holding(marker: str, *roots: Path, depth: int = 20) -> list[str]:
    """Files under ``roots`` (at most ``depth`` levels down) whose text holds ``marker``."""
    found = []
    for root in roots:
        for current, dirs, files in os.walk(root):
            if len(Path(current).relative_to(root).parts) >= depth:
                dirs.clear()
            for name in files:
                path = Path(current) / name
                try:
                    if marker in path.read_text(errors="replace"):
                        found.append(str(path))
                except OSError:  # vanished, unreadable, a socket: not ours
                    continue
    return found


def system_temp_files_holding(marker: str) -> list[str]:
    """The client's default place for key files: the top of the system temp directory."""
    return files_holding(marker, Path(tempfile.gettempdir()), depth=1)


def test_a_token_with_a_trailing_newline_works_over_tls_with_a_client_key(fakekube, tls):
    result = run_nfk8s(fakekube, "history", "-o", "json", env=tls["env"])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["kind"] == "RunList"
    credentials = tls["dirs"]["run"] / "nfk8s" / "credentials"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o700
    # Gone with the process, and never in the temp dirs.
    assert files_holding(tls["marker"], *tls["dirs"].values()) == []


@pytest.mark.parametrize("where", ["token", "tokenFile"])
def test_a_token_with_surrounding_whitespace_is_stripped_as_client_go_does(
    fakekube, tmp_path, where
):
    fakekube.state.token = TOKEN
    if where == "token":
        user = {"token": f"  {TOKEN}\n"}
    else:
        token_file = tmp_path / "token"
        token_file.write_text(TOKEN + "\n")
        user = {"tokenFile": str(token_file)}
    config = write_kubeconfig(tmp_path / "kc", fakekube.url, user, None)
    for command in (["status"], ["history", "-o", "json"], ["-v", "lock", "show"]):
        result = run_nfk8s(fakekube, *command, env=nfk8s_env(fakekube, KUBECONFIG=str(config)))
        assert result.returncode in (0, 2), (command, result.stderr)  # 2: no runs yet
        assert "internal error" not in result.stderr
        assert TOKEN not in result.stdout + result.stderr


def test_a_token_with_a_line_break_inside_is_bad_input_and_never_printed(fakekube, tmp_path):
    config = write_kubeconfig(tmp_path / "kc", fakekube.url, {"token": "VERY\nSECRET"}, None)
    for verbose in ([], ["-v"]):
        result = run_nfk8s(
            fakekube, *verbose, "history", env=nfk8s_env(fakekube, KUBECONFIG=str(config))
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("error: the token of context 'x' has a line break")
        assert "VERY" not in result.stderr and "SECRET" not in result.stderr


def test_a_token_with_a_control_character_is_bad_input_and_not_printed_with_v(fakekube, tmp_path):
    # urllib3 would refuse it as a header value, quoting the whole header in its error.
    token = "SECRETPART1\x7fSECRETPART2"
    config = write_kubeconfig(tmp_path / "kc", fakekube.url, {"token": token}, None)
    result = run_nfk8s(fakekube, "-v", "status", env=nfk8s_env(fakekube, KUBECONFIG=str(config)))
    assert result.returncode == 2
    assert "SECRETPART" not in result.stdout + result.stderr


# -- killed during a hung request ---------------------------------------------------------------

# (command, the request held while it is killed)
HUNG = {
    "status": (["status"], {"verb": "get", "resource": "leases"}),
    "logs -f": (["logs", "-f", "bg", "--plain"], {"verb": "get", "resource": "configmaps"}),
    "run": (["run", "sim/hello", "--name", "killed"], {"verb": "create", "resource": "jobs"}),
}


def test_the_hung_request_table_has_the_count_its_test_name_promises():
    assert len(HUNG) * 2 == 6


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
@pytest.mark.parametrize("command", list(HUNG))
def test_each_of_6_kills_during_a_hung_request_leaves_no_client_key_on_disk(
    fakekube, tls, command, sig
):
    argv, request = HUNG[command]
    if command == "logs -f":
        started = run_nfk8s(fakekube, "run", "sim/slow", "--name", "bg", "-d", env=tls["env"])
        assert started.returncode == 0, started.stderr
    held = hold(fakekube, **request)
    proc = subprocess.Popen(
        [nfk8s_binary(), *argv],
        env=tls["env"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    credentials = tls["dirs"]["run"] / "nfk8s" / "credentials"
    try:
        fakekube.wait_for(
            lambda: held.matched > 0 or proc.poll() is not None,
            timeout=60,
            message=f"{command} {request}",
        )
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        # While it waits, the key is on disk, in its private directory only.
        assert files_holding(tls["marker"], credentials) != []
        assert stat.S_IMODE(credentials.stat().st_mode) == 0o700
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        fakekube.faults.clear()
    stderr = proc.stderr.read() if proc.stderr else ""
    assert TOKEN not in stderr
    roots = list(tls["dirs"].values())
    assert system_temp_files_holding(tls["marker"]) == []
    left = files_holding(tls["marker"], *roots)
    if sig == signal.SIGTERM:
        assert left == [], left
        return
    # SIGKILL cannot be caught: the key stays in the private directory, nowhere else,
    # until the next nfk8s sweeps the directories of dead processes.
    assert left and all(Path(p).is_relative_to(credentials) for p in left), left
    after = run_nfk8s(fakekube, "lock", "show", env=tls["env"])
    assert after.returncode == 0, after.stderr
    assert files_holding(tls["marker"], *roots) == []
