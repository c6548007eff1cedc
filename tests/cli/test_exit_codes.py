"""The exit codes are a contract: `nfk8s --help` names those the code has (test_readme checks
the README's table), and the README's rule for "nothing to show" holds for each command."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from nfk8s.errors import ExitCode
from tests.support import run_nfk8s, snapshot

pytestmark = pytest.mark.backends


def test_help_names_every_exit_code_and_no_other():
    shown = subprocess.run(
        [sys.executable, "-m", "nfk8s", "--help"], capture_output=True, text=True, check=True
    ).stdout
    text = " ".join(shown.split("Exit codes", 1)[1].split("Options:", 1)[0].split())
    named = {int(code) for code in re.findall(r"(?:^|, |: )(\d+) ", text)}
    assert named == {int(code) for code in ExitCode}, text


def test_an_empty_listing_exits_0_and_no_run_to_act_on_exits_2(cluster):
    before = snapshot(cluster)
    ns = cluster.namespace
    history = run_nfk8s(cluster, "history")
    assert (history.returncode, history.stdout) == (0, "")
    assert history.stderr == f"No runs found in namespace {ns}.\n"
    listed = run_nfk8s(cluster, "history", "-o", "json")
    assert listed.returncode == 0 and json.loads(listed.stdout)["items"] == []
    assert run_nfk8s(cluster, "prune").returncode == 0
    for args in (["status"], ["status", "-o", "json"], ["logs"], ["logs", "-f"], ["cancel"]):
        refused = run_nfk8s(cluster, *args)
        assert (refused.returncode, refused.stdout) == (2, ""), args
        assert refused.stderr == (
            f"error: no runs in namespace '{ns}'\nhint: start one with `nfk8s run PIPELINE`\n"
        ), args
    assert snapshot(cluster) == before


def test_a_closed_pipe_ends_quietly_not_as_a_bug(tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)  # `nfk8s config | head -0`: nobody reads
    env = {**os.environ, "NFK8S_CONFIG": os.devnull, "KUBECONFIG": str(tmp_path / "none")}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "nfk8s", "config"],
            env=env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode not in (int(ExitCode.INTERNAL_ERROR), 0), done.stderr
    assert done.stderr == ""
