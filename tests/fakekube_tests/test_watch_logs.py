"""Watch streams and pod logs at the HTTP level: framing, options, expiry, shutdown."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from tests.fakekube import FakeKube
from tests.fakekube_tests.helpers import pod_manifest


def _conn(fk: FakeKube, timeout: float = 60) -> http.client.HTTPConnection:
    host, port = fk.url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=timeout)


def _get(fk: FakeKube, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = _conn(fk)
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, dict(resp.headers), body


def _events(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.decode().splitlines() if line]


def _running_pod(fk: FakeKube, name: str, **kw: Any) -> None:
    ann = {"fakekube.io/run-seconds": "600"}
    fk.api.create("pods", "default", pod_manifest(name, annotations=ann, **kw))
    fk.wait_for(lambda: fk.api.get("pods", "default", name)["status"]["phase"] == "Running")


def test_watch_is_chunked_json_lines_and_times_out(fakekube: FakeKube) -> None:
    fakekube.api.create("configmaps", "default", {"metadata": {"name": "a"}})
    started = time.monotonic()
    status, headers, body = _get(
        fakekube, "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1"
    )
    assert status == 200 and headers["Transfer-Encoding"] == "chunked"
    # It ended by itself, at its timeout at the earliest (a busy machine only adds to it).
    assert time.monotonic() - started > 0.9
    events = _events(body)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "a"),
        ("ADDED", "kube-root-ca.crt"),
    ]
    assert events[0]["object"]["kind"] == "ConfigMap"


def test_watch_all_namespaces_and_bookmarks(fakekube: FakeKube) -> None:
    fakekube.bookmark_interval = 0.2
    rv = fakekube.store.resource_version
    fakekube.api.create("configmaps", "kube-system", {"metadata": {"name": "sys"}})
    _, _, body = _get(
        fakekube,
        f"/api/v1/configmaps?watch=true&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=1",
    )
    events = _events(body)
    assert (
        events[0]["type"] == "ADDED"
        and events[0]["object"]["metadata"]["namespace"] == "kube-system"
    )
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks and int(bookmarks[-1]["object"]["metadata"]["resourceVersion"]) > rv


def test_watch_list_initial_events_end_with_a_bookmark(fakekube: FakeKube) -> None:
    _, _, body = _get(
        fakekube,
        "/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true"
        "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1",
    )
    events = _events(body)
    assert events[0]["type"] == "ADDED"
    marker = next(e for e in events if e["type"] == "BOOKMARK")
    annotations = marker["object"]["metadata"]["annotations"]
    assert annotations == {"k8s.io/initial-events-end": "true"}


def test_watch_too_old_sends_one_error_event(fakekube: FakeKube) -> None:
    fakekube.api.create("configmaps", "default", {"metadata": {"name": "a"}})
    fakekube.compact_watch_history()
    status, _, body = _get(
        fakekube, "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=5"
    )
    assert status == 200
    (event,) = _events(body)
    assert event["type"] == "ERROR"
    obj = event["object"]
    assert (obj["kind"], obj["code"], obj["reason"]) == ("Status", 410, "Expired")
    assert obj["message"].startswith("too old resource version: 5 (")


def test_watch_history_is_bounded() -> None:
    with FakeKube(history_size=5) as fk:
        rv = fk.store.resource_version
        for i in range(10):
            fk.api.create("configmaps", "default", {"metadata": {"name": f"c{i}"}})
        _, _, body = _get(fk, f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}")
        assert _events(body)[0]["object"]["code"] == 410


def test_watch_stream_cut_by_a_fault(fakekube: FakeKube) -> None:
    for i in range(5):
        fakekube.api.create("configmaps", "default", {"metadata": {"name": f"c{i}"}})
    fakekube.faults.add(verb="watch", resource="configmaps", cut_after=2, count=1)
    conn = _conn(fakekube)
    conn.request("GET", "/api/v1/namespaces/default/configmaps?watch=1")
    resp = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead) as exc:
        resp.read()
    assert len(_events(exc.value.partial)) == 2


def test_streams_end_promptly_when_the_server_stops() -> None:
    fk = FakeKube()
    conn = _conn(fk)
    conn.request("GET", "/api/v1/namespaces/default/pods?watch=1")
    resp = conn.getresponse()
    assert resp.status == 200
    started = time.monotonic()
    fk.stop()
    with pytest.raises((http.client.IncompleteRead, ConnectionError, OSError)):
        resp.read()
        raise ConnectionError("stream ended")
    # Left to itself the watch would run for DEFAULT_WATCH_TIMEOUT (half an hour).
    assert time.monotonic() - started < 60


def test_log_options(fakekube: FakeKube) -> None:
    _running_pod(fakekube, "logs")
    base = fakekube.clock.now()
    for i in range(10):
        fakekube.logs.buffer(
            fakekube.api.get("pods", "default", "logs")["metadata"]["uid"], "main"
        ).append(f"line {i}", int((base + i) * 1e9))
    path = "/api/v1/namespaces/default/pods/logs/log"
    status, headers, body = _get(fakekube, path)
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert body.decode().splitlines() == [f"line {i}" for i in range(10)]
    assert _get(fakekube, path + "?tailLines=2")[2] == b"line 8\nline 9\n"
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(base) + 8))
    assert _get(fakekube, f"{path}?sinceTime={since}")[2].decode().splitlines()[-1] == "line 9"
    assert _get(fakekube, path + "?limitBytes=9")[2] == b"line 0\nli"
    stamped = _get(fakekube, path + "?timestamps=true&tailLines=1")[2].decode()
    stamp, text = stamped.rstrip("\n").split(" ", 1)
    assert text == "line 9" and len(stamp) == 30 and stamp[19] == "." and stamp.endswith("Z")
    status, _, body = _get(fakekube, path + "?previous=true")
    assert status == 400
    assert (
        json.loads(body)["message"]
        == 'previous terminated container "main" in pod "logs" not found'
    )


def test_log_errors(fakekube: FakeKube) -> None:
    fakekube.api.create(
        "pods",
        "default",
        pod_manifest(
            "two",
            annotations={"fakekube.io/pending-seconds": "600"},
            containers=[{"name": "a", "image": "busybox"}, {"name": "b", "image": "busybox"}],
        ),
    )
    status, _, body = _get(fakekube, "/api/v1/namespaces/default/pods/two/log")
    assert status == 400
    assert json.loads(body)["message"].startswith("a container name must be specified for pod two")
    fakekube.wait_for(
        lambda: fakekube.api.get("pods", "default", "two")["status"].get("containerStatuses")
    )
    status, _, body = _get(fakekube, "/api/v1/namespaces/default/pods/two/log?container=a")
    assert status == 400
    assert (
        json.loads(body)["message"]
        == 'container "a" in pod "two" is waiting to start: ContainerCreating'
    )
    fakekube.api.delete("pods", "default", "two", grace_period_seconds=0)
    status, _, body = _get(fakekube, "/api/v1/namespaces/default/pods/two/log?container=a")
    assert status == 404


def test_logs_survive_until_the_pod_is_deleted(fakekube: FakeKube) -> None:
    fakekube.api.create(
        "pods", "default", pod_manifest("done", annotations={"fakekube.io/log": "a\nb"})
    )
    fakekube.wait_for(
        lambda: fakekube.api.get("pods", "default", "done")["status"]["phase"] == "Succeeded"
    )
    assert _get(fakekube, "/api/v1/namespaces/default/pods/done/log?follow=true")[2] == b"a\nb\n"
    fakekube.api.delete("pods", "default", "done")
    assert _get(fakekube, "/api/v1/namespaces/default/pods/done/log")[0] == 404


def test_log_stream_cut_by_a_fault(fakekube: FakeKube) -> None:
    _running_pod(fakekube, "cut")
    for i in range(5):
        fakekube.append_pod_log("default", "cut", f"l{i}")
    fakekube.faults.add(verb="get", resource="pods", subresource="log", cut_after=3)
    conn = _conn(fakekube)
    conn.request("GET", "/api/v1/namespaces/default/pods/cut/log?follow=true")
    resp = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead) as exc:
        resp.read()
    assert exc.value.partial == b"l0\nl1\nl2\n"


def test_a_200k_line_log_is_stored_compactly(fakekube: FakeKube) -> None:
    _running_pod(fakekube, "big")
    uid = fakekube.api.get("pods", "default", "big")["metadata"]["uid"]
    buf = fakekube.logs.buffer(uid, "main")
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    t_ns = time.time_ns()
    for i in range(200_000):
        buf.append(f"[{i:07d}] Submitted process > NFCORE_RNASEQ:RNASEQ:FASTQC (sample{i})", t_ns)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert used < 25 * 1024 * 1024  # ~80 bytes of text a line plus 16 bytes of index
    assert _get(fakekube, "/api/v1/namespaces/default/pods/big/log?tailLines=1")[2].startswith(
        b"[0199999]"
    )


def test_standalone_server_writes_kubeconfig_and_stops_on_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc.yaml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakekube", "--kubeconfig", str(kubeconfig), "--speed", "50"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("ready http://127.0.0.1:")
        url = line.split(" ", 1)[1]
        assert url in kubeconfig.read_text()
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        conn.request("GET", "/version")
        assert json.loads(conn.getresponse().read())["major"] == "1"
        conn.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
