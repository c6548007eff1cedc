"""`run --attach` follows the active run instead of submitting; when that run is of another
pipeline it says so, and the exit code it mirrors is that run's."""

from __future__ import annotations

import json

import pytest

from tests.support import run_nfk8s

pytestmark = pytest.mark.backends


def hold_lock(cluster, pipeline: str = "sim/hello") -> None:
    held = run_nfk8s(
        cluster, "run", pipeline, "--detach", "--name", "holder", "-p", "sim_task_seconds=60"
    )
    assert held.returncode == 0, held.stderr


def test_attach_to_a_run_of_another_pipeline_warns_and_json_says_so(cluster):
    hold_lock(cluster)
    attached = run_nfk8s(cluster, "run", "sim/fail", "--attach", "-o", "json")
    assert attached.returncode == 0, attached.stderr  # holder's outcome, not sim/fail's
    assert (
        "warning: following active run holder of sim/hello, not sim/fail: "
        "the exit code is that run's"
    ) in attached.stderr.splitlines()
    printed = json.loads(attached.stdout)
    assert (printed["runId"], printed["pipeline"]) == ("holder", "sim/hello")
    assert printed["attached"] == {"requestedPipeline": "sim/fail", "samePipeline": False}


def test_attach_to_a_run_of_the_same_pipeline_follows_it_without_a_warning(cluster):
    hold_lock(cluster)
    attached = run_nfk8s(cluster, "run", "sim/hello", "--attach", "-o", "json")
    assert attached.returncode == 0, attached.stderr
    assert "following active run holder" in attached.stderr
    assert "warning:" not in attached.stderr
    printed = json.loads(attached.stdout)
    assert printed["attached"] == {"requestedPipeline": "sim/hello", "samePipeline": True}
