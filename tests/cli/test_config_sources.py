"""`nfk8s config` shows the namespace, context and kubeconfig nfk8s will use: when no flag,
variable or config file names them, the kubeconfig does, and the source says so."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support import nfk8s_binary, nfk8s_env, run_nfk8s

KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
    "users": [{"name": "u", "user": {"token": "t"}}],
    "contexts": [
        {"name": "ci", "context": {"cluster": "c", "user": "u", "namespace": "pipelines"}},
        {"name": "bare", "context": {"cluster": "c", "user": "u"}},
    ],
    "current-context": "ci",
}


def config_rows(*args: str, **env: str) -> dict[str, tuple[str | None, str]]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NFK8S_", "KUBECONFIG"))}
    shown = subprocess.run(
        [nfk8s_binary(), *args, "config", "-o", "json"],
        env={**base, "NFK8S_CONFIG": os.devnull, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    return {
        k: (data[k]["value"], data[k]["source"]) for k in ("namespace", "context", "kubeconfig")
    }


@pytest.fixture
def kubeconfig(tmp_path: Path) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(KUBECONFIG))
    return str(path)


def test_unset_namespace_and_context_show_the_kubeconfigs_with_it_as_their_source(kubeconfig):
    assert config_rows(KUBECONFIG=kubeconfig) == {
        "namespace": ("pipelines", "kubeconfig"),
        "context": ("ci", "kubeconfig"),
        "kubeconfig": (kubeconfig, "env KUBECONFIG"),
    }


def test_a_flag_or_variable_still_wins_and_a_context_without_namespace_means_default(
    kubeconfig,
):
    assert config_rows("--context", "bare", KUBECONFIG=kubeconfig) == {
        "namespace": ("default", "default"),
        "context": ("bare", "flag"),
        "kubeconfig": (kubeconfig, "env KUBECONFIG"),
    }
    assert config_rows(KUBECONFIG=kubeconfig, NFK8S_NAMESPACE="team-a")["namespace"] == (
        "team-a",
        "env NFK8S_NAMESPACE",
    )
    assert config_rows("--kubeconfig", kubeconfig)["kubeconfig"] == (kubeconfig, "flag")


def test_without_a_readable_kubeconfig_the_three_stay_unset(tmp_path):
    rows = config_rows(KUBECONFIG=str(tmp_path / "none"), HOME=str(tmp_path))
    assert rows == {
        "namespace": (None, "default"),
        "context": (None, "default"),
        "kubeconfig": (None, "default"),
    }


@pytest.mark.backends
def test_config_shows_the_namespace_and_context_run_uses_on_the_cluster(cluster):
    env = {k: v for k, v in nfk8s_env(cluster).items() if not k.startswith("NFK8S_")}
    rows = config_rows(**env)
    assert rows["namespace"] == (cluster.namespace, "kubeconfig")
    assert rows["context"][1] == "kubeconfig" and rows["context"][0]
    dry = run_nfk8s(cluster, "run", "sim/hello", "--dry-run", "-o", "json")
    assert dry.returncode == 0, dry.stderr
    items = json.loads(dry.stdout)["items"]
    assert {item["metadata"]["namespace"] for item in items} == {rows["namespace"][0]}
