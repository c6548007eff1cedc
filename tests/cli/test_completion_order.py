"""bash lists run ids in nfk8s's order, newest first, as the README promises: bash sorts
what a completion offers unless the script says `compopt -o nosort`."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import nfk8s_env, run_nfk8s

pytestmark = pytest.mark.backends

ROOT = Path(__file__).parents[2]
OLDER, NEWER = "r20260101-0000-aaaaa", "r20260102-0000-bbbbb"


def typed_in_bash(keys: str, env: dict[str, str], until: tuple[str, ...]) -> str:
    """What an interactive bash with the shipped script shows after ``keys`` are typed,
    read until every word of ``until`` has appeared after the keys."""
    leader, follower = pty.openpty()
    shell = subprocess.Popen(
        ["bash", "--norc", "--noprofile", "-i"],
        env={**env, "PS1": "$ ", "INPUTRC": os.devnull, "TERM": "dumb"},
        stdin=follower,
        stdout=follower,
        stderr=follower,
        start_new_session=True,
    )
    os.close(follower)
    script = ROOT / "completions" / "nfk8s.bash"
    setup = (
        f"source {script}; bind 'set show-all-if-ambiguous on'; "
        "bind 'set bell-style none'; echo READY\n"
    )
    os.write(leader, setup.encode())
    seen = b""
    typed = False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(leader, 65536)
                except OSError:
                    break
            text = seen.decode(errors="replace")
            if not typed and "\nREADY" in text.replace("\r", ""):
                os.write(leader, keys.encode())
                typed = True
            after = text.replace("\r", "").split("\nREADY", 1)[-1] if typed else ""
            if typed and all(word in after.split(keys.strip(), 1)[-1] for word in until):
                return after.split(keys.strip(), 1)[-1]
        pytest.fail(f"bash did not list {until}: {seen!r}")
    finally:
        shell.kill()
        shell.wait()
        os.close(leader)


def test_bash_lists_run_ids_newest_first(cluster, tmp_path):
    for run_id in (OLDER, NEWER):
        started = run_nfk8s(cluster, "run", "sim/hello", "--detach", "--name", run_id)
        assert started.returncode == 0, started.stderr
        assert run_nfk8s(cluster, "cancel", run_id).returncode == 0
    env = nfk8s_env(cluster, XDG_CACHE_HOME=str(tmp_path / "cache"))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"

    listed = typed_in_bash("nfk8s logs \t", env, until=(OLDER, NEWER))

    assert listed.index(NEWER) < listed.index(OLDER), listed
