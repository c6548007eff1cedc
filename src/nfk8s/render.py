"""Everything nfk8s shows: data on stdout, messages for the eyes on stderr.

Rich is imported only by the renderers that draw with it, so commands that print plain
lines (and ``--help``) start fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Self

from nfk8s.models import ProcessCounts, RunRecord, format_time
from nfk8s.nextflow import strip_ansi
from nfk8s.redact import scrub
from nfk8s.runs import (
    Attaching,
    DriverLog,
    DriverPhase,
    DriverWaiting,
    Event,
    Finished,
    Following,
    LockTaken,
    LockWaiting,
    Progress,
    Resuming,
    StatusView,
    Submitted,
    TaskLog,
)

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"
    NAME = "name"


def color_enabled(no_color: bool, stream: IO[str]) -> bool:
    if no_color or os.environ.get("NO_COLOR"):
        return False
    return stream.isatty()


def attached_elsewhere(event: Attaching) -> str:
    pipeline = event.pipeline or "an unknown pipeline"
    return (
        f"following active run {event.run_id} of {pipeline}, not {event.requested}: "
        "the exit code is that run's"
    )


class Messages:
    """One-line status messages and errors on stderr."""

    def __init__(self, stream: IO[str] | None = None, *, color: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.color = color
        self._lock = threading.Lock()

    def _write(self, text: str) -> None:
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def _paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def info(self, text: str) -> None:
        self._write(text)

    def warn(self, text: str) -> None:
        self._write(self._paint("warning:", "33") + " " + scrub(text))

    def error(self, message: str, hint: str | None = None) -> None:
        # The last line of defence: no error may show a token, a key or a secret param.
        self._write(self._paint("error:", "1;31") + " " + scrub(message))
        if hint:
            self._write(self._paint("hint:", "36") + " " + scrub(hint))


# -- following a run -----------------------------------------------------------------

SUMMARY_SECONDS = 5.0  # plain mode: at most one progress line this often
REFRESH_PER_SECOND = 10.0  # live view: redraws at most this often, whatever the log rate
# Colours for task pod prefixes, as stern picks them: stable per pod, readable on dark and light.
POD_COLOURS = ("cyan", "green", "magenta", "yellow", "blue", "bright_cyan", "bright_green")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_FLUSH_SECONDS = 0.1


def clean_line(line: str) -> str:
    """A log line safe to put on a terminal: escapes and control characters removed."""
    if "\x1b" in line:
        line = strip_ansi(line)
    return _CONTROL.sub("", line) if _CONTROL.search(line) else line


def pod_colour(pod: str) -> str:
    return POD_COLOURS[zlib.crc32(pod.encode()) % len(POD_COLOURS)]


def task_prefix(event: TaskLog) -> str:
    return f"{event.process} ({event.tag})" if event.tag else event.process


def progress_line(processes: Mapping[str, ProcessCounts]) -> str:
    """``progress: 12/40 done · 3 running · 25 pending · 1 failed · 2 cached · 1 retried``."""
    total = ProcessCounts()
    for counts in processes.values():
        total = total + counts
    parts = [f"progress: {total.done}/{total.total} tasks done"]
    for name in ("running", "pending", "failed", "killed", "cached", "retried"):
        value = getattr(total, name)
        if value:
            parts.append(f"{value} {name}")
    parts.append(f"{len(processes)} process{'es' if len(processes) != 1 else ''}")
    return " · ".join(parts)


def bar(counts: ProcessCounts, width: int = 20) -> str:
    """A text progress bar of a process's finished tasks."""
    if counts.total == 0:
        return " " * width
    filled = round(width * counts.done / counts.total)
    return "#" * filled + "-" * (width - filled)


COLUMNS = ("pending", "running", "succeeded", "failed", "killed", "cached", "retried")


def process_table(processes: Mapping[str, ProcessCounts]) -> list[str]:
    """The per-process counts as aligned plain-text lines, a totals row last."""
    if not processes:
        return ["(no tasks)"]
    total = ProcessCounts()
    for counts in processes.values():
        total = total + counts
    rows = [("PROCESS", *(c.upper() for c in COLUMNS), "PROGRESS")]
    for name, counts in [*processes.items(), ("total", total)]:
        done = f"[{bar(counts)}] {counts.done}/{counts.total}"
        rows.append((name, *(str(getattr(counts, c)) for c in COLUMNS), done))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(widths[i + 1]) for i, cell in enumerate(row[1:-1])]
        cells.append(row[-1])
        out.append("  ".join(cells).rstrip())
    return out


def markdown_table(processes: Mapping[str, ProcessCounts]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    out = ["| process | " + " | ".join(COLUMNS) + " |", "|---" + "|---:" * len(COLUMNS) + "|"]
    for name, counts in processes.items():
        values = " | ".join(str(getattr(counts, c)) for c in COLUMNS)
        out.append(f"| `{cell(name)}` | {values} |")
    return out


class _Ticker:
    """Calls ``tick`` every ``interval`` seconds on a daemon thread until stopped."""

    def __init__(self, interval: float, tick: Callable[[], None]) -> None:
        self._interval = interval
        self._tick = tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            with contextlib.suppress(Exception):  # drawing must never kill the follower
                self._tick()


def resuming_line(event: Resuming) -> str:
    """Which session and run a ``--resume`` run goes on from, before it is submitted."""
    if event.session_id and event.run_id:
        return f"resuming session {event.session_id} (run {event.run_id})"
    if event.session_id:
        return (
            f"resuming session {event.session_id} (no run of {event.pipeline} with it is "
            f"recorded in namespace {event.namespace})"
        )
    return (
        f"resuming Nextflow's last session of {event.pipeline} (no earlier run of it is "
        f"recorded in namespace {event.namespace})"
    )


class PlainFollower:
    """Prints a run's events as plain lines: the driver log on stdout, the rest on stderr.

    No ANSI, and a one-line progress summary at most every ``summary_seconds``. Output to
    a pipe is flushed by a timer rather than per line, so a fast log does not cost a
    system call a line.
    """

    def __init__(
        self,
        messages: Messages,
        out: IO[str] | None = None,
        *,
        timestamps: bool = False,
        summary_seconds: float = SUMMARY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        ticker: bool = True,
    ) -> None:
        self.messages = messages
        self.out = out or sys.stdout
        self.timestamps = timestamps
        self.summary_seconds = summary_seconds
        self.clock = clock
        self.processes: dict[str, ProcessCounts] = {}
        self._lock = threading.RLock()
        self._dirty = False
        self._last_flush = 0.0
        self._last_summary: float | None = None
        self._summary_due = False
        self._printed: str | None = None
        self._ticker = _Ticker(_FLUSH_SECONDS, self.tick) if ticker else None

    def __enter__(self) -> Self:
        if self._ticker is not None:
            self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._ticker is not None:
            self._ticker.stop()
        with self._lock:
            self._flush_out()

    def tick(self) -> None:
        """Flush what is buffered; print a summary that waited for its interval."""
        with self._lock:
            if self._dirty:
                self._flush_out()
            if self._summary_due:
                self._maybe_summary()

    def _flush_out(self) -> None:
        self.out.flush()
        self._dirty = False
        self._last_flush = self.clock()

    def write_out(self, text: str) -> None:
        with self._lock:
            self.out.write(text)
            self._dirty = True
            if self._ticker is None or self.clock() - self._last_flush > _FLUSH_SECONDS:
                self._flush_out()

    def info(self, text: str) -> None:
        with self._lock:
            if self._dirty:
                self._flush_out()  # keep stdout and stderr in order
            self.messages.info(text)

    def _maybe_summary(self) -> None:
        now = self.clock()
        if self._last_summary is not None and now - self._last_summary < self.summary_seconds:
            self._summary_due = True
            return
        self._summary_due = False
        if not self.processes:
            return
        line = progress_line(self.processes)
        if line != self._printed:
            self._printed = line
            self._last_summary = now
            self.on_summary(line)

    def on_summary(self, line: str) -> None:
        self.info(line)

    def log_line(self, stamp: str, line: str) -> None:
        self.write_out(f"{stamp} {line}\n" if self.timestamps else line + "\n")

    def task_line(self, event: TaskLog) -> None:
        prefix = task_prefix(event)
        stamp = f"{event.stamp} " if self.timestamps else ""
        self.write_out(f"{prefix} | {stamp}{event.line}\n")

    def finished(self, record: RunRecord) -> None:
        with self._lock:
            if self._dirty:
                self._flush_out()
            if self.processes:
                for line in process_table(self.processes):
                    self.messages.info(line)
            self.messages.info(summary_line(record))

    def __call__(self, event: Event) -> None:
        match event:
            case DriverLog(stamp=stamp, line=line):
                self.log_line(stamp, line)
            case TaskLog():
                self.task_line(event)
            case Progress(processes=processes):
                with self._lock:
                    self.processes = processes
                    self._maybe_summary()
            case LockWaiting(state=state):
                self.info(
                    f"waiting for the lock: run {state.holder} holds it ({state.decision.reason})"
                )
            case LockTaken(run_id=run_id, took_over_from=stale) if stale:
                self.info(f"took over the lock from stale run {stale}")
            case Submitted(record=record):
                self.info(
                    f"submitted run {record.run_id} ({record.pipeline}) "
                    f"as Job {record.job_name} in namespace {record.namespace}"
                )
            case Attaching() if event.other_pipeline:
                self.messages.warn(attached_elsewhere(event))
            case Attaching(run_id=run_id):
                self.info(f"following active run {run_id}")
            case Resuming():
                self.info(resuming_line(event))
            case DriverPhase(phase=phase, detail=pod):
                self.info(f"driver pod {pod}: {phase}")
            case DriverWaiting(reason=reason):
                self.info(f"waiting for the driver: {reason}")
            case Finished(record=record):
                self.finished(record)
            case _:
                pass


class GitHubFollower(PlainFollower):
    """Plain output for GitHub Actions: the log folded into groups, a step summary at the end.

    Progress lines and errors stay outside the groups so they show in the collapsed log;
    an ``ERROR ~`` line ends the folding, so the error block that follows is in view, and
    becomes an error annotation on the run.
    """

    def __init__(
        self,
        messages: Messages,
        out: IO[str] | None = None,
        *,
        summary_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(messages, out, **kwargs)
        self.summary_path = summary_path
        self._in_group = False
        self._groups = 0
        self._unfolded = False

    def _end_group(self) -> None:
        if self._in_group:
            self.write_out("::endgroup::\n")
            self._in_group = False

    def log_line(self, stamp: str, line: str) -> None:
        with self._lock:
            if line.startswith("ERROR ~") and not self._unfolded:
                self._end_group()
                self._unfolded = True
                self.write_out(f"::error title=Nextflow::{_command_value(line[7:].strip())}\n")
            if not self._in_group and not self._unfolded:
                self._groups += 1
                self.write_out(f"::group::Nextflow log (part {self._groups})\n")
                self._in_group = True
            # A line that looks like a workflow command must not be run as one.
            super().log_line(stamp, " " + line if line.startswith("::") else line)

    def on_summary(self, line: str) -> None:
        with self._lock:
            self._end_group()
            self.info(line)

    def finished(self, record: RunRecord) -> None:
        with self._lock:
            self._end_group()
        super().finished(record)
        if self.summary_path:
            text = "\n".join(step_summary(record, self.processes)) + "\n"
            with (
                contextlib.suppress(OSError),
                Path(self.summary_path).open("a", encoding="utf-8") as fh,
            ):
                fh.write(text)


def _command_value(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def step_summary(record: RunRecord, processes: Mapping[str, ProcessCounts]) -> list[str]:
    """Markdown for ``$GITHUB_STEP_SUMMARY``: the outcome and the process table."""
    icon = {"succeeded": "✅", "failed": "❌", "cancelled": "⏹️"}.get(record.status.value, "❔")
    lines = [f"### {icon} nfk8s run `{record.run_id}` {record.status.value}", ""]
    facts = [("pipeline", f"`{record.pipeline}`")]
    if record.revision:
        facts.append(("revision", f"`{record.revision}`"))
    if record.duration is not None:
        facts.append(("duration", format_duration(record.duration.total_seconds())))
    if record.exit_code is not None:
        facts.append(("exit code", str(record.exit_code)))
    if record.reason:
        facts.append(("reason", record.reason))
    if record.session_id:
        facts.append(("session", f"`{record.session_id}`"))
    lines += [f"- **{k}**: {v}" for k, v in facts]
    if processes:
        lines += ["", *markdown_table(processes)]
    return [*lines, ""]


class LiveFollower:
    """A Rich ``Live`` view: the log scrolls above a table of processes and the run's state.

    Events only change state; drawing happens on a timer at most ``refresh_per_second``
    times a second, each frame one write (the lines that arrived, then the table), so a
    fast log costs one redraw per frame rather than one per line.
    """

    def __init__(
        self,
        console: Console,
        *,
        timestamps: bool = False,
        refresh_per_second: float = REFRESH_PER_SECOND,
        auto_refresh: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.console = console
        self.timestamps = timestamps
        self.refresh_per_second = refresh_per_second
        self.auto_refresh = auto_refresh
        self.clock = clock or (lambda: datetime.now(UTC))
        self.processes: dict[str, ProcessCounts] = {}
        self.run_id: str | None = None
        self.status = "pending"
        self.driver_phase: str | None = None
        self.waiting: str | None = None  # why the driver has not started, while it has not
        self.started: datetime | None = None
        self.finished_at: datetime | None = None
        self.record: RunRecord | None = None
        self.frames = 0
        self._offset = timedelta(0)  # server clock minus local clock
        self._lines: list[tuple[str, str | None, str]] = []
        self._notes: list[str] = []
        self._lock = threading.Lock()
        self._dirty = True
        self._live: Any = None
        self._ticker: _Ticker | None = None

    def __enter__(self) -> Self:
        from rich.live import Live

        self._live = Live(
            self._view(),
            console=self.console,
            auto_refresh=False,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()
        if self.auto_refresh:
            self._ticker = _Ticker(1.0 / self.refresh_per_second, self.refresh)
            self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._ticker is not None:
            self._ticker.stop()
        try:
            self.refresh(force=True)
        finally:
            self._live.stop()
        if self.record is not None:
            # Below the last frame, on a line of its own: what a user scrolls back to.
            self.console.print(summary_line(self.record), markup=False, highlight=False)

    def _now(self) -> datetime:
        return self.clock() + self._offset

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._dirty = True
            match event:
                case DriverLog(stamp=stamp, line=line):
                    self._lines.append(("", None, f"{stamp} {line}" if self.timestamps else line))
                case TaskLog():
                    text = f"{event.stamp} {event.line}" if self.timestamps else event.line
                    self._lines.append((task_prefix(event) + " | ", pod_colour(event.pod), text))
                case Progress(processes=processes):
                    self.processes = processes
                case Following(record=record, server_now=server_now):
                    self._offset = server_now - self.clock()
                    self._take(record)
                case Submitted(record=record):
                    self._take(record)
                case Attaching(run_id=run_id):
                    self.run_id = run_id
                case DriverPhase(phase=phase):
                    self.driver_phase = phase
                    if phase != "Pending":
                        self.waiting = None
                case DriverWaiting(reason=reason):
                    self.waiting = reason
                    if phase == "Running" and self.status == "pending":
                        self.status = "running"
                case LockWaiting(state=state):
                    self._notes.append(
                        f"waiting for the lock: run {state.holder} holds it "
                        f"({state.decision.reason})"
                    )
                case LockTaken(took_over_from=stale) if stale:
                    self._notes.append(f"took over the lock from stale run {stale}")
                case Finished(record=record):
                    self._take(record)
                    self.record = record
                    self.finished_at = record.finished_at or self._now()
                case _:
                    pass

    def _take(self, record: RunRecord) -> None:
        self.run_id = record.run_id
        self.status = record.status.value
        self.started = record.started_at or record.submitted_at or self.started

    def refresh(self, force: bool = False) -> None:
        """Draw one frame if anything changed (or the clock moved a second)."""
        from rich.text import Text

        with self._lock:
            lines, self._lines = self._lines, []
            notes, self._notes = self._notes, []
            dirty, self._dirty = self._dirty, False
            elapsed = self._elapsed_text()
            if not (dirty or force or lines or notes) and elapsed == getattr(self, "_shown", None):
                return
            self._shown = elapsed
            view = self._view()
        live = self._live
        if live is None:
            return
        self.frames += 1
        with self.console:  # one write for the whole frame
            live.update(view, refresh=False)
            if notes:
                self.console.print(Text("\n".join(notes), style="dim"), crop=False)
            if lines:
                self.console.print(_RawLines(lines), crop=False)
            if not notes and not lines:
                live.refresh()

    def _elapsed_text(self) -> str:
        if self.started is None:
            return ""
        end = self.finished_at or self._now()
        return format_duration(max((end - self.started).total_seconds(), 0))

    def _view(self) -> Any:
        return _LiveView(self)


class _RawLines:
    """Log lines passed to the terminal as they are: no markup, no wrapping by Rich."""

    def __init__(self, lines: list[tuple[str, str | None, str]]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Any]:
        from rich.segment import Segment
        from rich.style import Style

        plain: list[str] = []
        for prefix, colour, text in self.lines:
            if colour is None:
                plain.append(clean_line(text) + "\n")
                continue
            if plain:
                yield Segment("".join(plain))
                plain = []
            yield Segment(prefix, Style(color=colour) if console.color_system else None)
            yield Segment(clean_line(text) + "\n")
        if plain:
            yield Segment("".join(plain))


_STATUS_STYLE = {
    "pending": "yellow",
    "running": "cyan",
    "succeeded": "green",
    "failed": "red",
    "cancelled": "magenta",
    "unknown": "red",
}


class _LiveView:
    """The part below the log: one status line and a table that fits the terminal."""

    def __init__(self, follower: LiveFollower) -> None:
        self.f = follower

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Any]:
        from rich.table import Table
        from rich.text import Text

        f = self.f
        total = ProcessCounts()
        for counts in f.processes.values():
            total = total + counts
        head = Text()
        head.append(f"run {f.run_id or '?'} ", style="bold")
        head.append(f.status, style=_STATUS_STYLE.get(f.status, ""))
        elapsed = f._elapsed_text()
        if elapsed:
            head.append(f" · {elapsed}")
        if f.driver_phase:
            head.append(f" · driver {f.driver_phase}")
        head.append(f" · {total.done}/{total.total} tasks")
        yield head
        if f.waiting and f.record is None:
            yield Text(f"waiting for the driver: {f.waiting}", style="yellow")
        if not f.processes:
            return
        table = Table(box=None, pad_edge=False, show_edge=False, expand=False)
        table.add_column("process", no_wrap=True)
        for name in COLUMNS:
            table.add_column(LIVE_HEADERS[name], justify="right", no_wrap=True)
        table.add_column("", no_wrap=True)
        room = max((options.height or console.height) - 4, 3)
        rows = _rows_that_fit(f.processes, room)
        # What is left of the width once the counts and the bar have theirs.
        name_width = max(options.max_width - LIVE_FIXED_WIDTH, 16)
        for name, counts in rows:
            table.add_row(
                short_process_name(name, name_width),
                *_cells(counts),
                _bar_text(counts),
            )
        hidden = len(f.processes) - len(rows)
        if hidden:
            table.add_row(Text(f"… {hidden} more", style="dim"), *[""] * (len(COLUMNS) + 1))
        if len(f.processes) > 1:
            table.add_row(Text("total", style="bold"), *_cells(total), _bar_text(total))
        yield table


# Short headers keep seven count columns narrow enough for an 80-column terminal.
LIVE_HEADERS = {
    "pending": "pend",
    "running": "run",
    "succeeded": "ok",
    "failed": "fail",
    "killed": "kill",
    "cached": "cache",
    "retried": "retry",
}
LIVE_FIXED_WIDTH = 72  # seven padded count columns, the bar and "done/total"


def short_process_name(name: str, width: int) -> str:
    """Fit a colon-joined Nextflow process name into ``width``, keeping its last parts.

    ``NFCORE_RNASEQ:RNASEQ:FASTQ_QC:TRIMGALORE`` → ``NFCORE_RNASEQ:…:TRIMGALORE`` or
    ``…:FASTQ_QC:TRIMGALORE``: the last part says which step, the first which pipeline.
    """
    if len(name) <= width:
        return name
    parts = name.split(":")
    if len(parts) == 1:
        return "…" + name[-(width - 1) :]
    tails = [":".join(parts[-keep:]) for keep in range(len(parts) - 2, 0, -1)]
    for tail in tails:
        if len(parts[0]) + len(tail) + 3 <= width:
            return f"{parts[0]}:…:{tail}"
    for tail in [":".join(parts[1:]), *tails]:
        if len(tail) + 2 <= width:
            return f"…:{tail}"
    return "…" + name[-(width - 1) :]


def _cells(counts: ProcessCounts) -> list[Any]:
    from rich.text import Text

    styles = {
        "running": "cyan",
        "succeeded": "green",
        "failed": "red",
        "killed": "magenta",
        "retried": "yellow",
    }
    out = []
    for name in COLUMNS:
        value = getattr(counts, name)
        out.append(Text(str(value), style=styles.get(name, "") if value else "dim"))
    return out


def _bar_text(counts: ProcessCounts, width: int = 20) -> Any:
    from rich.text import Text

    text = Text()
    if counts.total == 0:
        return text
    failed = round(width * (counts.failed + counts.killed) / counts.total)
    done = round(width * counts.done / counts.total) - failed
    text.append("━" * done, style="green")
    text.append("━" * failed, style="red")
    text.append("━" * (width - done - failed), style="grey37")
    text.append(f" {counts.done}/{counts.total}")
    return text


def _rows_that_fit(
    processes: Mapping[str, ProcessCounts], room: int
) -> list[tuple[str, ProcessCounts]]:
    """All processes when they fit; else the active and failed ones first, in order."""
    items = list(processes.items())
    if len(items) <= room:
        return items
    room = max(room - 1, 1)  # a line for "… N more"
    active = [(n, c) for n, c in items if c.running or c.pending or c.failed]
    keep = {n for n, _ in active[:room]}
    for name, _ in reversed(items):  # then the most recent finished ones
        if len(keep) >= room:
            break
        keep.add(name)
    return [(n, c) for n, c in items if n in keep]


def is_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def github_masks(values: Iterable[str], out: IO[str]) -> None:
    """``::add-mask::`` for each value and each line of a multi-line one.

    The runner then prints ``***`` for them in the rest of the job's log, whichever process
    prints them (the driver's log, a task's, a later step's).
    """
    from nfk8s.redact import mask_values

    for value in mask_values(values):
        out.write(f"::add-mask::{_command_value(value)}\n")
    out.flush()


def plain_wanted(*, plain: bool, no_color: bool) -> bool:
    """Plain lines rather than the live view: asked for, CI, NO_COLOR, or not a terminal."""
    if plain or no_color or os.environ.get("NO_COLOR"):
        return True
    if os.environ.get("CI", "").lower() in {"true", "1", "yes"}:
        return True
    if os.environ.get("TERM") == "dumb":
        return True
    return not (sys.stdout.isatty() and sys.stderr.isatty())


Follower = PlainFollower | LiveFollower


def make_follower(
    messages: Messages,
    *,
    plain: bool,
    no_color: bool,
    timestamps: bool,
    out: IO[str] | None = None,
) -> Follower:
    """The follower for where output is going: GitHub Actions, plain lines, or live."""
    if is_github_actions():
        return GitHubFollower(
            messages,
            out,
            timestamps=timestamps,
            summary_path=os.environ.get("GITHUB_STEP_SUMMARY") or None,
        )
    if out is not None or plain_wanted(plain=plain, no_color=no_color):
        return PlainFollower(messages, out, timestamps=timestamps)
    from rich.console import Console

    return LiveFollower(Console(stderr=True), timestamps=timestamps)


# -- status -----------------------------------------------------------------------------


def status_lines(view: StatusView) -> list[str]:
    """``nfk8s status`` for humans: the record, the Job, the driver and the process table."""
    record = view.record
    facts: list[tuple[str, str]] = [
        ("run", record.run_id),
        ("pipeline", record.pipeline + (f" ({record.revision})" if record.revision else "")),
    ]
    if record.profile:
        facts.append(("profile", record.profile))
    facts.append(("status", record.status.value))
    if record.exit_code is not None:
        facts.append(("exit code", str(record.exit_code)))
    if record.reason:
        facts.append(("reason", record.reason))
    job = record.job_name or "-"
    facts.append(("job", f"{job} ({view.job_state})"))
    if view.driver_pod:
        facts.append(("driver", f"{view.driver_pod} ({view.driver_phase or 'unknown'})"))
    if view.waiting:
        facts.append(("waiting", f"for the driver: {view.waiting}"))
    who = record.submitted_by + (f" via {record.ci_actor}" if record.ci_actor else "")
    facts.append(("submitted", f"{format_time(record.submitted_at) or '-'} by {who}"))
    if record.started_at:
        facts.append(("started", format_time(record.started_at) or "-"))
    if record.finished_at:
        facts.append(("finished", format_time(record.finished_at) or "-"))
    if record.duration is not None:
        facts.append(("duration", format_duration(record.duration.total_seconds())))
    elif not record.status.final and view.now is not None:
        elapsed = record.elapsed(view.now)
        if elapsed is not None:
            facts.append(("elapsed", format_duration(elapsed.total_seconds())))
    if record.session_id:
        facts.append(("session", record.session_id))
    width = max(len(k) for k, _ in facts)
    lines = [f"{k + ':':<{width + 1}}  {v}" for k, v in facts]
    lines.append("")
    lines += process_table(view.processes)
    return lines


def summary_line(record: RunRecord) -> str:
    text = f"run {record.run_id} {record.status}"
    if record.exit_code is not None:
        text += f" (exit code {record.exit_code})"
    if record.duration is not None:
        text += f" after {format_duration(record.duration.total_seconds())}"
    if record.reason:
        text += f": {record.reason}"
    return text


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dump_json(data: Any, out: IO[str] | None = None) -> None:
    out = out or sys.stdout
    out.write(json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def dump_yaml(documents: Iterable[Any], out: IO[str] | None = None) -> None:
    import yaml

    out = out or sys.stdout
    out.write(
        yaml.safe_dump_all(list(documents), sort_keys=False, default_flow_style=False, width=1000)
    )


def emit(data: Any, fmt: OutputFormat, *, name: str, out: IO[str] | None = None) -> None:
    """Print one document in a machine-readable format."""
    out = out or sys.stdout
    if fmt is OutputFormat.JSON:
        dump_json(data, out)
    elif fmt is OutputFormat.YAML:
        dump_yaml([data], out)
    else:
        out.write(name + "\n")
