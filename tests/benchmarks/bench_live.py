"""The live view under load: 2,000 driver lines/s across 50 processes.

    uv run python -m tests.benchmarks.bench_live [--runs N] [--seconds S]

``nfk8s logs -f`` runs on a real pseudo-terminal (so the Rich live view is on) against a
fake cluster at speed 1, for S seconds of chatter while the run's 50 chained processes
come and go. Four times a second the newest chatter line on the screen is compared with
the newest the driver wrote (the lag), and the follower's CPU time is read from
``/proc``: the CPU figure is its share of one core while the chatter lasts.
"""

from __future__ import annotations

import argparse
import os
import pty
import re
import select
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.benchmarks.common import Section, cluster, print_sections, submit
from tests.support import nfk8s_binary, nfk8s_env

RATE = 2000
PROCESSES = 50
RUNS = 5
SECONDS = 20
CHATTER = re.compile(rb"chatter (\d{7})")


@dataclass
class Live:
    wall: float  # the follower's whole life
    chatter_wall: float  # from the first chatter line written to the last
    chatter_cpu: float  # the follower's CPU seconds meanwhile
    max_lag_lines: int
    screen_bytes: int
    exit_code: int

    @property
    def cpu_percent(self) -> float:
        return 100 * self.chatter_cpu / self.chatter_wall


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a live process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def newest_written(fk, run_id: str) -> int:
    truth = fk.sim_truth("default", run_id)
    if truth is None:
        return 0
    with truth._lock:  # a consistent read of a list the driver appends to
        for line in reversed(truth.lines[-200:]):
            if line.startswith("chatter "):
                return int(line.split()[1])
    return 0


def live_once(seconds: int) -> Live:
    fk = cluster(speed=1.0)
    try:
        run_id = submit(
            fk,
            "sim/many",
            f"sim_processes={PROCESSES}",
            "sim_tasks=2",
            "sim_task_seconds=0.1",
            "sim_pending_seconds=0.1",
            "sim_poll_seconds=0.1",
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
        total = RATE * seconds
        lags: list[int] = []
        window: list[tuple[float, float]] = []  # (time, CPU) at the chatter's first and last
        finished = threading.Event()

        def sample() -> None:
            while not finished.wait(0.25):
                written = newest_written(fk, run_id)
                if not written or len(window) == 2:
                    continue
                try:
                    point = (time.perf_counter(), cpu_seconds(pid))
                except (OSError, IndexError, ValueError):
                    return  # the follower has exited
                lags.append(max(written - shown[0], 0))
                if not window or written >= total:
                    window.append(point)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
        finished.set()
        reader.join(timeout=2)
        os.close(primary)
        sampler.join(timeout=2)
        if len(window) < 2:  # the chatter outlived the follower's samples: use the whole run
            window = [(start, 0.0), (start + wall, usage.ru_utime + usage.ru_stime)]
        return Live(
            wall=wall,
            chatter_wall=window[1][0] - window[0][0],
            chatter_cpu=window[1][1] - window[0][1],
            max_lag_lines=max(lags, default=0),
            screen_bytes=screen_bytes[0],
            exit_code=os.waitstatus_to_exitcode(status),
        )
    finally:
        fk.stop()


def bench(runs: int = RUNS, quick: bool = False, seconds: int = SECONDS) -> list[Section]:
    if quick:
        seconds = min(seconds, 10)
    done = [live_once(seconds) for _ in range(runs)]
    assert all(d.exit_code == 0 for d in done), [d.exit_code for d in done]
    cpu = statistics.median(d.cpu_percent for d in done)
    lag = statistics.median(d.max_lag_lines for d in done)
    rows = [
        [
            f"`nfk8s logs -f`, live view on a terminal, {RATE:,} lines/s, {PROCESSES} processes",
            f"{cpu:.0f}%",
            f"{lag:,.0f} ({lag / RATE:.2f} s)",
            f"{statistics.median(d.chatter_wall for d in done):.1f}",
            f"{statistics.median(d.screen_bytes for d in done) / 1e6:.1f}",
        ]
    ]
    return [
        Section(
            f"Live view under load ({seconds} s of chatter, median of {runs} runs)",
            ["follower", "CPU of one core", "max lag, lines", "chatter s", "MB to the terminal"],
            rows,
            [
                "The live table redraws at most ~10 times a second whatever the log rate; "
                "the lag is how far the newest line on screen trails the newest written."
            ],
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--seconds", type=int, default=SECONDS)
    args = parser.parse_args()
    print_sections(bench(args.runs, seconds=args.seconds))


if __name__ == "__main__":
    main()
