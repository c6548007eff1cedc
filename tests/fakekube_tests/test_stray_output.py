"""What the fake's server threads print stays out of an in-process command's output."""

from __future__ import annotations

import sys
import threading

import pytest

from tests.fakekube import FakeKube
from tests.support import provision


@pytest.mark.parametrize("error", [BrokenPipeError, ConnectionResetError])
def test_a_client_hanging_up_prints_no_traceback(fakekube: FakeKube, capsys, error) -> None:
    try:
        raise error("the client went away")
    except error:
        fakekube._httpd.handle_error(None, ("127.0.0.1", 1))
    assert capsys.readouterr().err == ""


def test_a_fault_in_the_fake_itself_still_prints_its_traceback(fakekube: FakeKube, capsys) -> None:
    try:
        raise ValueError("a bug in the fake")
    except ValueError:
        fakekube._httpd.handle_error(None, ("127.0.0.1", 1))
    assert "ValueError: a bug in the fake" in capsys.readouterr().err


def test_a_server_thread_writing_while_a_command_runs_stays_out_of_its_output(
    fakekube: FakeKube, invoke, capsys
) -> None:
    provision(fakekube)
    # The command waits at the server for its list of runs; meanwhile another thread of
    # the test process prints to stdout and stderr, as a failing server thread would.
    gate = threading.Event()
    held = fakekube.faults.add(verb="list", resource="configmaps", gate=gate, count=1)

    def noise() -> None:
        try:
            fakekube.wait_for(lambda: held.matched, timeout=60)
            print("noise on stdout")
            print("noise on stderr", file=sys.stderr)
        finally:
            gate.set()

    thread = threading.Thread(target=noise)
    thread.start()
    try:
        result = invoke("history")
    finally:
        gate.set()
        thread.join(timeout=60)

    assert result.exit_code == 0, result.stderr
    assert held.fired == 1
    assert "noise" not in result.stdout + result.stderr
    assert result.stderr.strip()  # the command's own words are still there
    seen = capsys.readouterr()
    assert "noise on stdout" in seen.out
    assert "noise on stderr" in seen.err
