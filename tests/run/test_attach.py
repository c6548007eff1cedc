"""`run --attach` follows the active run instead of submitting; when that run is of another
pipeline it says so, and the exit code it mirrors is that run's."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.support import nfk8s_binary, nfk8s_env, run_nfk8s

pytestmark = pytest.mark.backends


def attach_then_cancel_the_holder(cluster, holder_pipeline: str, pipeline: str):
    """``run PIPELINE --attach -o json`` while ``holder`` (of ``holder_pipeline``) runs; the
    holder is cancelled once the attached command follows it. Returns the finished process
    and its stderr."""
    held = run_nfk8s(
        cluster,
        "run",
        holder_pipeline,
        "--detach",
        "--name",
        "holder",
        "-p",
        "sim_task_seconds=6000",
    )
    assert held.returncode == 0, held.stderr
    attached = subprocess.Popen(
        [nfk8s_binary(), "run", pipeline, "--attach", "-o", "json", "--plain"],
        env=nfk8s_env(cluster),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert attached.stderr is not None
        seen = []
        for line in attached.stderr:
            seen.append(line)
            if "following active run holder" in line:
                break
        assert seen and "following active run holder" in seen[-1], seen
        assert run_nfk8s(cluster, "cancel", "holder").returncode == 0
        out, rest = attached.communicate(timeout=120)
    finally:
        if attached.poll() is None:
            attached.kill()
            attached.communicate()
    return attached, out, "".join(seen) + rest


def test_attach_to_a_run_of_another_pipeline_warns_and_json_says_so(cluster):
    attached, out, err = attach_then_cancel_the_holder(cluster, "sim/hello", "sim/fail")
    assert attached.returncode == 5, err  # the holder's outcome (cancelled), not sim/fail's
    assert (
        "warning: following active run holder of sim/hello, not sim/fail: "
        "the exit code is that run's"
    ) in err.splitlines()
    printed = json.loads(out)
    assert (printed["runId"], printed["pipeline"], printed["status"]) == (
        "holder",
        "sim/hello",
        "cancelled",
    )
    assert printed["attached"] == {"requestedPipeline": "sim/fail", "samePipeline": False}


def test_attach_to_a_run_of_the_same_pipeline_follows_it_without_a_warning(cluster):
    attached, out, err = attach_then_cancel_the_holder(cluster, "sim/hello", "sim/hello")
    assert attached.returncode == 5, err
    assert "warning:" not in err
    printed = json.loads(out)
    assert printed["attached"] == {"requestedPipeline": "sim/hello", "samePipeline": True}
