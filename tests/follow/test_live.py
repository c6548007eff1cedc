"""The live view, drawn on a captured console and on a real terminal."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from nfk8s import render, runs
from nfk8s.models import ProcessCounts, RunRecord, RunStatus
from nfk8s.nextflow import parse_line
from nfk8s.progress import ProgressTracker
from tests.follow.helpers import start
from tests.support import nfk8s_binary, nfk8s_env

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
SAMPLES = Path(__file__).parents[2].parent / "shared" / "nextflow-logs"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def live(height: int = 24) -> tuple[render.LiveFollower, io.StringIO, list[datetime]]:
    out = io.StringIO()
    console = Console(file=out, width=100, height=height, force_terminal=True, color_system=None)
    now = [T0]
    follower = render.LiveFollower(console, auto_refresh=False, clock=lambda: now[0])
    return follower, out, now


def running(run_id: str = "r1") -> RunRecord:
    return RunRecord(run_id=run_id, pipeline="p", status=RunStatus.RUNNING, submitted_at=T0)


def test_log_scrolls_above_the_table_and_the_header_tells_the_state():
    follower, out, now = live()
    with follower:
        follower(runs.Following(running(), T0))
        follower(runs.DriverPhase("r1", "Running", "driver-pod"))
        follower(runs.DriverLog("s", "[ab/123456] Submitted process > FASTQC (s1)"))
        follower(runs.Progress({"FASTQC": ProcessCounts(running=1, succeeded=3)}))
        now[0] = T0 + timedelta(seconds=75)
        follower.refresh()
        screen = out.getvalue()
        log_at = screen.index("Submitted process > FASTQC")
        header_at = screen.index("run r1 running · 1m15s · driver Running · 3/4 tasks")
        assert log_at < header_at
        assert re.search(r"FASTQC\s+0\s+1\s+3\s+0\s+0\s+0\s+0\s+━+ 3/4", screen)
        follower(
            runs.Finished(
                RunRecord(
                    run_id="r1",
                    status=RunStatus.SUCCEEDED,
                    submitted_at=T0,
                    finished_at=T0 + timedelta(seconds=80),
                )
            )
        )
    final = out.getvalue()
    assert "run r1 succeeded · 1m20s" in final
    assert final.startswith("\x1b[?25l")  # cursor hidden while live...
    assert final.endswith("\x1b[?25hrun r1 succeeded\n")  # ...back, then the summary


def test_a_flood_of_lines_costs_one_frame():
    follower, out, _ = live()
    with follower:
        follower(runs.Following(running(), T0))
        follower.refresh()
        frames = follower.frames
        for i in range(5000):
            follower(runs.DriverLog("s", f"chatter {i:07d}"))
        follower.refresh()
        assert follower.frames == frames + 1
        follower.refresh()  # nothing new: nothing drawn
        assert follower.frames == frames + 1
    text = ANSI.sub("", out.getvalue())
    assert [line for line in text.splitlines() if line.startswith("chatter")] == [
        f"chatter {i:07d}" for i in range(5000)
    ]


def test_many_processes_fit_the_terminal():
    follower, out, _ = live(height=20)
    processes = {f"STEP_{i:02d}": ProcessCounts(succeeded=5) for i in range(40)}
    processes["STEP_07"] = ProcessCounts(running=2, succeeded=3)
    with follower:
        follower(runs.Following(running(), T0))
        follower(runs.Progress(processes))
        follower.refresh()
    last_frame = ANSI.sub("", out.getvalue().rsplit("run r1", 1)[1])
    assert len(last_frame.splitlines()) <= 20
    assert "STEP_07" in last_frame  # the active one is kept
    assert "more" in last_frame
    assert "total" in last_frame


def test_task_lines_get_a_stable_colour_and_lose_escapes():
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True, color_system="standard")
    follower = render.LiveFollower(console, auto_refresh=False)
    with follower:
        follower(runs.TaskLog("nf-aa", "FASTQC", "s1", "s", "\x1b[31mred\x1b[0m text\x07"))
        follower(runs.TaskLog("nf-aa", "FASTQC", "s1", "s", "again"))
        follower.refresh()
    screen = out.getvalue()
    assert "FASTQC (s1) | " in screen and "red text\n" in screen and "\x07" not in screen
    assert render.pod_colour("nf-aa") == render.pod_colour("nf-aa")


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared Nextflow transcripts are not present")
def test_every_real_transcript_goes_through_tracker_and_views():
    for path in sorted(SAMPLES.glob("*.log")):
        tracker = ProgressTracker()
        follower, out, _ = live()
        plain = render.PlainFollower(
            render.Messages(io.StringIO()), io.StringIO(), ticker=False, summary_seconds=0
        )
        with follower, plain:
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                for view in (follower, plain):
                    view(runs.DriverLog("2026-11-26T03:00:00.000000000Z", line))
                event = parse_line(line)
                if event is not None and tracker.apply_log_event(event):
                    snapshot = tracker.snapshot()
                    follower(runs.Progress(snapshot))
                    plain(runs.Progress(snapshot))
            follower.refresh()
            done = RunRecord(run_id="r", status=RunStatus.FAILED, submitted_at=T0)
            for view in (follower, plain):
                view(runs.Finished(done))
        assert out.getvalue()


def read_pty(fd: int, proc: subprocess.Popen, timeout: float, until: bytes | None = None) -> bytes:
    """What the terminal shows until ``until`` appears, or the process closes it; the
    timeout only bounds a hang."""
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (until and until in data):
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        elif proc.poll() is not None:
            break
    return data


def test_a_real_terminal_is_left_clean(cluster):
    run_id = start(cluster, "sim/many", "sim_processes=4", "sim_tasks=3", "sim_task_seconds=20")
    env = nfk8s_env(cluster, TERM="xterm-256color", COLUMNS="100", LINES="30")
    env.pop("NO_COLOR")
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [nfk8s_binary(), "logs", "-f", run_id],
        env=env,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        close_fds=True,
    )
    os.close(secondary)
    try:
        screen = read_pty(primary, proc, 300).decode("utf-8", "replace")
        proc.wait(timeout=60)
    finally:
        os.close(primary)
        proc.kill()
    assert proc.returncode == 0
    assert "\x1b[?25l" in screen  # the live view hid the cursor...
    assert screen.rindex("\x1b[?25h") > screen.rindex("\x1b[?25l")  # ...and showed it again
    tail = screen[screen.rindex("\x1b[?25h") :]
    assert f"run {run_id} succeeded" in tail  # the summary comes after the view, on its own
    assert screen.endswith("\r\n")
    assert "NFCORE_DEMO:DEMO:STEP_04" in screen


def test_ctrl_c_on_a_real_terminal_detaches_cleanly(cluster):
    run_id = start(cluster, "sim/slow")
    env = nfk8s_env(cluster, TERM="xterm-256color", COLUMNS="100", LINES="30")
    env.pop("NO_COLOR")
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [nfk8s_binary(), "logs", "-f", run_id],
        env=env,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        close_fds=True,
        start_new_session=True,
    )
    os.close(secondary)
    try:
        # Interrupt only once the live view shows the run: the follow is under way.
        screen = read_pty(primary, proc, 120, until=b"SIM_SLOW:SLEEP").decode("utf-8", "replace")
        assert "SIM_SLOW:SLEEP" in screen
        os.killpg(proc.pid, 2)  # what Ctrl-C does: SIGINT to the foreground group
        screen += read_pty(primary, proc, 120).decode("utf-8", "replace")
        proc.wait(timeout=60)
    finally:
        os.close(primary)
        proc.kill()
    assert proc.returncode == 130
    assert screen.rindex("\x1b[?25h") > screen.rindex("\x1b[?25l")
    assert f"nfk8s logs -f {run_id}" in screen
