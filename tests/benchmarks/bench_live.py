"""The live view under load: 2,000 driver lines/s across 50 processes for 60 s.

Run: ``uv run python -m tests.benchmarks.bench_live [SECONDS]``. ``nfk8s logs -f`` runs on
a real pseudo-terminal (so the Rich live view is on) against a fake cluster at speed 1;
every 5 s the newest chatter line on the screen is compared with the newest the driver
wrote (the lag), and at the end the follower's CPU time is divided by its wall time.
"""

from __future__ import annotations

import os
import pty
import re
import select
import sys
import threading
import time

from tests.benchmarks.common import cluster, submit, table
from tests.support import nfk8s_binary, nfk8s_env

RATE = 2000
PROCESSES = 50
CHATTER = re.compile(rb"chatter (\d{7})")


def newest_written(fk, run_id: str) -> int:
    truth = fk.sim_truth("default", run_id)
    if truth is None:
        return 0
    with truth._lock:  # a consistent read of a list the driver appends to
        lines = truth.lines
        for line in reversed(lines[-200:]):
            if line.startswith("chatter "):
                return int(line.split()[1])
    return 0


def main(seconds: int) -> None:
    fk = cluster(speed=1.0)
    try:
        run_id = submit(
            fk,
            "sim/many",
            f"sim_processes={PROCESSES}",
            "sim_tasks=2",
            "sim_task_seconds=0.5",
            "sim_pending_seconds=0.2",
            "sim_poll_seconds=0.3",
            f"sim_lines_per_second={RATE}",
            f"sim_log_lines={RATE * seconds}",
        )
        env = nfk8s_env(fk, TERM="xterm-256color", COLUMNS="120", LINES="40")
        env.pop("NO_COLOR")
        primary, secondary = pty.openpty()
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os.setsid()
            for fd in (0, 1, 2):
                os.dup2(secondary, fd)
            os.execve(nfk8s_binary(), [nfk8s_binary(), "logs", "-f", run_id], env)
        os.close(secondary)
        shown = [0]
        screen_bytes = [0]

        def read() -> None:
            while True:
                ready, _, _ = select.select([primary], [], [], 0.2)
                if not ready:
                    continue
                try:
                    chunk = os.read(primary, 1 << 16)
                except OSError:
                    return
                if not chunk:
                    return
                screen_bytes[0] += len(chunk)
                found = CHATTER.findall(chunk)
                if found:
                    shown[0] = max(shown[0], int(found[-1]))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        samples = []
        finished = threading.Event()

        def sample() -> None:
            while not finished.wait(5):
                written = newest_written(fk, run_id)
                samples.append((time.perf_counter() - start, written, shown[0]))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
        finished.set()
        reader.join(timeout=2)
        os.close(primary)
        cpu = usage.ru_utime + usage.ru_stime
        rows = [
            [f"{t:.0f}", f"{w:,}", f"{s:,}", f"{max(w - s, 0):,}", f"{max(w - s, 0) / RATE:.2f}"]
            for t, w, s in samples
        ]
        print(
            f"{RATE} lines/s across {PROCESSES} processes for {seconds}s; "
            f"exit {os.waitstatus_to_exitcode(status)}\n"
        )
        print(table(["t (s)", "written", "on screen", "behind (lines)", "behind (s)"], rows))
        print()
        print(
            table(
                ["follower wall s", "CPU s", "CPU % of a core", "bytes to the terminal"],
                [[f"{wall:.1f}", f"{cpu:.1f}", f"{100 * cpu / wall:.1f}", f"{screen_bytes[0]:,}"]],
            )
        )
    finally:
        fk.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 60)
