"""Shared fixtures: ``fakekube`` gives each test a fresh fake API server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.fakekube import FakeKube


@pytest.fixture
def fakekube() -> Iterator[FakeKube]:
    """A fresh fake kube-apiserver (speed 20; set ``fakekube.speed`` to change it)."""
    fk = FakeKube(speed=20.0)
    try:
        yield fk
    finally:
        fk.stop()


@pytest.fixture
def cluster(fakekube: FakeKube) -> FakeKube:
    """The fake server set up the way nfk8s's README asks an admin to (runner SA, work PVC)."""
    from tests.support import provision

    provision(fakekube)
    return fakekube


@pytest.fixture
def invoke(fakekube, monkeypatch, tmp_path):
    """Run ``nfk8s ARGS`` in-process (``CliRunner``) with the fake's kubeconfig.

    The environment is cleaned of ``NFK8S_*``, CI and kubeconfig variables; keyword
    arguments add environment variables. Fast: the client is imported once per session.
    """
    from typer.testing import CliRunner

    from nfk8s.cli import app, normalise_argv
    from tests.support import nfk8s_env

    env = nfk8s_env(fakekube)
    for key in list(os.environ):
        if key.startswith(("NFK8S_", "GITHUB_", "GITLAB_")) or key in {"CI", "KUBECONFIG"}:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: str, **extra_env: str):
        return runner.invoke(
            app, normalise_argv(list(args)), env={**env, **extra_env}, catch_exceptions=False
        )

    return run
