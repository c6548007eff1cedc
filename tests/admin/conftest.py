"""``invoke``: the nfk8s CLI in-process against the fake server (no interpreter start-up)."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from nfk8s.cli import app, normalise_argv
from tests.support import nfk8s_env


@pytest.fixture
def invoke(fakekube, monkeypatch, tmp_path):
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
