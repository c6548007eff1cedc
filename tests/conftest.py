"""Shared fixtures: ``fakekube`` gives each test a fresh fake API server; ``cluster`` a set-up
namespace on the fake or, for tests marked ``backends``, on each selected backend (see
``tests/backends.py``)."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import pytest

from tests import backends
from tests.fakekube import FakeKube


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=["fake", "real", "both"],
        default=None,
        help=f"API server for tests marked 'backends' (default: ${backends.ENV_VAR} or both)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "backends: runs once per selected backend (fake, real) through `cluster`"
    )
    config.addinivalue_line(
        "markers", "fake_only(reason): in a `backends` module, a test that needs the fake's knobs"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "cluster" not in metafunc.fixturenames:
        return
    node = metafunc.definition
    if node.get_closest_marker("backends") is None or node.get_closest_marker("fake_only"):
        return
    chosen = backends.selected(metafunc.config.getoption("--backend"))
    metafunc.parametrize("backend", chosen, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "fake"))


@pytest.fixture(scope="session")
def realkube_session() -> Iterator[Any]:
    """One real control plane for the whole session; each test gets its own namespace."""
    from tests.realkube import RealKube, binaries_available, build

    if not build.is_built():
        if backends.in_ci():
            build.build()  # CI never skips the real backend: a failed build fails the run
        else:
            ok, reason = binaries_available()
            pytest.skip(
                reason
                if not ok
                else "the real control plane is not built: uv run python -m tests.realkube.build"
            )
    rk = RealKube(speed=20.0, setup_namespace=False)
    try:
        yield rk
    finally:
        rk.stop()


@pytest.fixture
def fakekube() -> Iterator[FakeKube]:
    """A fresh fake kube-apiserver (speed 20; set ``fakekube.speed`` to change it)."""
    fk = FakeKube(speed=20.0)
    try:
        yield fk
    finally:
        fk.stop()


@pytest.fixture
def cluster(request: pytest.FixtureRequest, backend: str) -> Iterator[Any]:
    """A namespace set up the way nfk8s's README asks an admin to (RBAC, runner SA, work PVC).

    On the fake: the fresh ``fakekube`` server itself. On the real control plane: a new
    namespace with nfk8s's RBAC bound to a restricted user, whose kubeconfig nfk8s uses.
    """
    if backend == "fake":
        from tests.support import provision

        fk = request.getfixturevalue("fakekube")
        provision(fk)
        yield fk
        return
    rk = request.getfixturevalue("realkube_session")
    ns = rk.namespace_for_test()
    try:
        yield backends.RealCluster(rk, ns)
    finally:
        rk.speed = 20.0
        rk.delete_namespace(ns.name)


_TESTS = str(Path(__file__).resolve().parent)
_HERE = str(Path(__file__).resolve())


def _from_test_machinery() -> bool:
    """Whether the calling thread runs code of this test tree (the fake's server, its
    controllers, the node agent, a test's helper thread) rather than the command's own."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(_TESTS) and name != _HERE:
            return True
        frame = frame.f_back
    return False


class _CommandStream:
    """A stream captured for one in-process command that takes only that command's writes.

    The fake's server and controller threads share the process: a traceback they print
    while a command runs would otherwise land in that command's captured output. Those
    writes go to the test's own stream instead.
    """

    def __init__(self, captured: TextIO, elsewhere: TextIO) -> None:
        self._captured = captured
        self._elsewhere = elsewhere
        self._invoker = threading.get_ident()

    def _target(self) -> TextIO:
        if threading.get_ident() != self._invoker and _from_test_machinery():
            return self._elsewhere
        return self._captured

    def write(self, text: str) -> int:
        return self._target().write(text)

    def writelines(self, lines: Iterable[str]) -> None:
        self._target().writelines(lines)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._captured, name)


def _command_runner() -> Any:
    from typer.testing import CliRunner

    class CommandRunner(CliRunner):
        @contextlib.contextmanager
        def isolation(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
            outer_out, outer_err = sys.stdout, sys.stderr
            with super().isolation(*args, **kwargs) as streams:
                sys.stdout = _CommandStream(sys.stdout, outer_out)  # type: ignore[assignment]
                sys.stderr = _CommandStream(sys.stderr, outer_err)  # type: ignore[assignment]
                yield streams

    return CommandRunner()


@pytest.fixture
def invoke(request, monkeypatch, tmp_path):
    """Run ``nfk8s ARGS`` in-process (``CliRunner``) with the fake's kubeconfig.

    The environment is cleaned of ``NFK8S_*``, CI and kubeconfig variables; keyword
    arguments add environment variables. Fast: the client is imported once per session.
    What the fake's own threads print meanwhile stays out of the result's streams.
    """
    from nfk8s.cli import app, normalise_argv
    from tests.support import nfk8s_env

    target = request.getfixturevalue("cluster" if "cluster" in request.fixturenames else "fakekube")
    env = nfk8s_env(target)
    for key in list(os.environ):
        if key.startswith(("NFK8S_", "GITHUB_", "GITLAB_")) or key in {"CI", "KUBECONFIG"}:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    runner = _command_runner()

    def run(*args: str, **extra_env: str):
        return runner.invoke(
            app, normalise_argv(list(args)), env={**env, **extra_env}, catch_exceptions=False
        )

    return run
