"""Everything nfk8s shows: data on stdout, messages for the eyes on stderr.

Rich is imported only by the renderers that draw with it, so commands that print plain
lines (and ``--help``) start fast.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import IO, Any

from nfk8s.models import RunRecord
from nfk8s.runs import (
    Attaching,
    DriverLog,
    DriverPhase,
    Event,
    Finished,
    LockTaken,
    LockWaiting,
    Submitted,
)


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"
    NAME = "name"


def color_enabled(no_color: bool, stream: IO[str]) -> bool:
    if no_color or os.environ.get("NO_COLOR"):
        return False
    return stream.isatty()


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
        self._write(self._paint("warning:", "33") + " " + text)

    def error(self, message: str, hint: str | None = None) -> None:
        self._write(self._paint("error:", "1;31") + " " + message)
        if hint:
            self._write(self._paint("hint:", "36") + " " + hint)


class PlainFollower:
    """Prints a run's events as plain lines: the driver log on stdout, the rest on stderr."""

    def __init__(
        self,
        messages: Messages,
        out: IO[str] | None = None,
        *,
        timestamps: bool = False,
    ) -> None:
        self.messages = messages
        self.out = out or sys.stdout
        self.timestamps = timestamps
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        match event:
            case LockWaiting(state=state):
                self.messages.info(
                    f"waiting for the lock: run {state.holder} holds it ({state.decision.reason})"
                )
            case LockTaken(run_id=run_id, took_over_from=stale) if stale:
                self.messages.info(f"took over the lock from stale run {stale}")
            case Submitted(record=record):
                self.messages.info(
                    f"submitted run {record.run_id} ({record.pipeline}) "
                    f"as Job {record.job_name} in namespace {record.namespace}"
                )
            case Attaching(run_id=run_id):
                self.messages.info(f"following active run {run_id}")
            case DriverPhase(phase=phase, detail=pod):
                self.messages.info(f"driver pod {pod}: {phase}")
            case DriverLog(stamp=stamp, line=line):
                with self._lock:
                    self.out.write(f"{stamp} {line}\n" if self.timestamps else line + "\n")
                    self.out.flush()
            case Finished(record=record):
                self.messages.info(summary_line(record))
            case _:
                pass


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
