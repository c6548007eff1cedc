"""In-process CLI invocation against the fake server (fast: the client is imported once)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from nfk8s.cli import app, normalise_argv
from tests.support import nfk8s_env

Invoke = Callable[..., "object"]


@pytest.fixture
def invoke(fakekube, monkeypatch, tmp_path):
    """Run ``nfk8s ARGS`` in-process with the fake's kubeconfig and a clean environment."""
    env = nfk8s_env(fakekube)
    for key in list(__import__("os").environ):
        if key.startswith(("NFK8S_", "GITHUB_", "GITLAB_")) or key in {"CI", "KUBECONFIG"}:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: str, **extra_env: str):
        return runner.invoke(
            app, normalise_argv(list(args)), env={**env, **extra_env}, catch_exceptions=False
        )

    return run
