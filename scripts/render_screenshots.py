"""Render the README's pictures from real runs against the fake API server.

    uv run python scripts/render_screenshots.py [--out docs]

``docs/live.svg``: the live view of ``nfk8s run`` half-way through a run, drawn by the
real follower (``render.LiveFollower``) on a recording Rich console, as a terminal 100
columns wide shows it. ``docs/history.svg``: ``nfk8s history`` after a few runs.

The fake server's clock is set to a fixed date and the runs have fixed ids, so the
pictures change only when what nfk8s draws changes.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.text import Text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nfk8s import render, runs  # noqa: E402
from nfk8s.errors import Interrupted  # noqa: E402
from nfk8s.kube import Kube, KubeTarget  # noqa: E402
from nfk8s.models import ProcessCounts  # noqa: E402
from tests.fakekube import FakeKube  # noqa: E402
from tests.support import nfk8s_binary, nfk8s_env, provision  # noqa: E402

WIDTH = 100
SERVER_TIME = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
LIVE_RUN = ("r20261126-0930-k7f2q", "sim/many", "-p", "sim_processes=6", "-p", "sim_tasks=4")
HISTORY_RUNS = [
    ("r20261126-0930-a1b2c", "sim/hello", "-p", "greeting=hi"),
    ("r20261126-0930-d3e4f", "sim/fail"),
    ("r20261126-0930-g5h6j", "sim/retry"),
]
PROMPT_STYLE = "bold green"
SPEED = 8.0


def nfk8s(fk: FakeKube, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [nfk8s_binary(), *args], env=nfk8s_env(fk), capture_output=True, text=True, check=False
    )


def recording_console(width: int = WIDTH) -> Console:
    # Not a terminal: Live draws its last frame once, below the log, as on a screen at rest.
    return Console(
        record=True,
        width=width,
        height=40,
        force_terminal=False,
        color_system="truecolor",
        file=io.StringIO(),  # only the recording matters
    )


def prompt(console: Console, command: str) -> None:
    console.print(Text("$ ", style=PROMPT_STYLE) + Text(command), highlight=False)


def halfway(processes: dict[str, ProcessCounts]) -> bool:
    total = ProcessCounts()
    for counts in processes.values():
        total = total + counts
    return total.total >= 16 and total.running > 0 and total.done * 2 >= total.total


def render_live(fk: FakeKube, out: Path) -> None:
    run_id, pipeline, *params = LIVE_RUN
    started = nfk8s(fk, "run", pipeline, *params, "--name", run_id, "--detach")
    assert started.returncode == 0, started.stderr
    console = recording_console()
    prompt(console, f"nfk8s run {pipeline} {' '.join(params)}")
    console.print(
        f"submitted run {run_id} ({pipeline}) as Job nfk8s-{run_id} in namespace default",
        highlight=False,
    )
    # The fake runs SPEED times faster than the run it simulates; its clock does not.
    began, real = datetime.now(UTC), time.monotonic()
    follower = render.LiveFollower(
        console, clock=lambda: began + timedelta(seconds=(time.monotonic() - real) * SPEED)
    )
    stop = threading.Event()

    def tee(event: runs.Event) -> None:
        follower(event)
        if isinstance(event, runs.Progress) and halfway(event.processes):
            stop.set()  # this is the moment the picture shows

    kube = Kube.connect(KubeTarget(kubeconfig=str(fk.kubeconfig)))
    try:
        with follower:
            runs.follow_run(kube, run_id, lock_name="nfk8s-lock", on_event=tee, stop=stop)
    except Interrupted:
        pass
    finally:
        kube.close()
    out.write_text(console.export_svg(title=f"nfk8s run {pipeline}"), encoding="utf-8")
    nfk8s(fk, "logs", "-f", run_id)  # let it finish: it shows in the history


def render_history(fk: FakeKube, out: Path) -> None:
    for run_id, pipeline, *params in HISTORY_RUNS:
        nfk8s(fk, "run", pipeline, *params, "--name", run_id)
    slow = nfk8s(fk, "run", "sim/slow", "--name", "r20261126-0930-m7n8p", "--detach")
    assert slow.returncode == 0, slow.stderr
    nfk8s(fk, "cancel", "r20261126-0930-m7n8p", "--grace-period", "0")
    table = nfk8s(fk, "history")
    assert table.returncode == 0, table.stderr
    console = recording_console(max(WIDTH, *(len(line) + 1 for line in table.stdout.splitlines())))
    prompt(console, "nfk8s history")
    for line in table.stdout.splitlines():
        text = Text(line)
        for word, style in (
            ("succeeded", "green"),
            ("failed", "red"),
            ("cancelled", "magenta"),
            ("running", "cyan"),
        ):
            text.highlight_regex(rf"\b{word}\b", style=style)
        if line.startswith("RUN "):
            text.stylize("bold")
        console.print(text, highlight=False, crop=False, overflow="ignore")
    out.write_text(console.export_svg(title="nfk8s history"), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="directory for the SVGs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    offset = SERVER_TIME.timestamp() - datetime.now(UTC).timestamp()
    with FakeKube(speed=SPEED, clock_offset=offset) as fk:
        provision(fk)
        render_live(fk, args.out / "live.svg")
        render_history(fk, args.out / "history.svg")
    for name in ("live.svg", "history.svg"):
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
