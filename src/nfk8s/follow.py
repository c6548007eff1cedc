"""Streams that survive cuts: the driver log from a cursor, and watches resumed from a version.

A log stream that ends while the container still runs is reopened from a cursor - the
last timestamp seen and how many lines carried it - as stern does, so no line is lost
or repeated even when several lines share one timestamp. A watch that ends is reopened
from the last resourceVersion; one that expired (410) lists again.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nfk8s.errors import ClusterError, Gone, Unreachable
from nfk8s.kube import Kube, Resource, WatchEvent


@dataclass(frozen=True)
class LogStart:
    """Where the first read of a log begins (``--tail``, ``--since``); later ones resume."""

    tail_lines: int | None = None
    since_seconds: int | None = None


# A non-follow read is repeated from its cursor until one adds nothing (the only way to
# tell a cut response from a complete one); a container that keeps writing stops it here.
MAX_READS = 20
# Consecutive failed (re)connections before a watch gives up.
MAX_WATCH_FAILURES = 8


@dataclass
class LogCursor:
    """Where a log stream got to: the last timestamp and the lines seen at it."""

    stamp: str | None = None  # RFC3339 with nanoseconds, compared as text (fixed width)
    seen_at_stamp: int = 0
    _replayed: int = 0  # lines at ``stamp`` met so far in the current stream

    def since(self) -> datetime | None:
        if self.stamp is None:
            return None
        # sinceTime has second precision on the server; lines before the cursor are skipped here.
        return datetime.fromisoformat(self.stamp[:19] + "+00:00")

    def admit(self, stamp: str) -> bool:
        """Whether a line with this timestamp is new; advances the cursor if so."""
        if self.stamp is not None:
            if stamp < self.stamp:
                return False
            if stamp == self.stamp:
                self._replayed += 1
                if self._replayed <= self.seen_at_stamp:
                    return False
                self.seen_at_stamp += 1
                return True
        self.stamp = stamp
        self.seen_at_stamp = 1
        self._replayed = 1
        return True

    def rewind(self) -> None:
        """Start counting replayed lines afresh for a new stream."""
        self._replayed = 0


def split_stamp(line: str) -> tuple[str, str]:
    """``2026-11-26T03:11:17.123456789Z text`` -> (stamp, text)."""
    stamp, _, text = line.partition(" ")
    return _normalise_stamp(stamp), text


def _normalise_stamp(stamp: str) -> str:
    # Pad fractional seconds to nanoseconds so that text order is time order.
    if not stamp.endswith("Z"):
        return stamp
    body = stamp[:-1]
    if "." in body:
        whole, frac = body.split(".", 1)
    else:
        whole, frac = body, ""
    return f"{whole}.{frac:0<9}Z"


def _open(
    kube: Kube,
    pod: str,
    container: str | None,
    cursor: LogCursor,
    start: LogStart | None,
    *,
    follow: bool,
) -> Iterator[str]:
    first = cursor.stamp is None and start is not None
    return kube.pod_log(
        pod,
        container=container,
        follow=follow,
        timestamps=True,
        since_time=cursor.since(),
        tail_lines=start.tail_lines if first and start else None,
        since_seconds=start.since_seconds if first and start else None,
        strict=True,
    )


def read_log(
    kube: Kube,
    pod: str,
    *,
    container: str | None = None,
    start: LogStart | None = None,
    cursor: LogCursor | None = None,
) -> Iterator[tuple[str, str]]:
    """(timestamp, line) pairs of a container log as it is now, complete even if cut."""
    cursor = cursor or LogCursor()
    failures = 0
    for _ in range(MAX_READS):
        cursor.rewind()
        new = 0
        try:
            for raw in _open(kube, pod, container, cursor, start, follow=False):
                stamp, text = split_stamp(raw)
                if cursor.admit(stamp):
                    new += 1
                    yield stamp, text
        except Unreachable:
            # Cut: read on from the cursor, unless the cuts keep coming with no progress.
            failures = 0 if new else failures + 1
            if failures > MAX_WATCH_FAILURES:
                raise
            continue
        if not new:
            return


def copy_log(
    kube: Kube, pod: str, write: Callable[[bytes], object], *, container: str | None = None
) -> int:
    """Copy a whole container log as bytes to ``write``, as fast as the stream comes.

    For ``logs`` without timestamps: no timestamps are asked for and no line is decoded.
    A cut is survived by reading again and skipping the lines already written (a
    container log only grows), so the copy is still complete and never repeats a line.
    Returns the number of lines written.
    """
    written = 0
    failures = 0
    while True:
        before = skip = written
        tail = b""
        try:
            for received in kube.pod_log_chunks(pod, container=container):
                chunk = received
                if skip:
                    chunk, skip = _skip_lines(chunk, skip)
                    if not chunk:
                        continue
                data = tail + chunk
                cut = data.rfind(b"\n") + 1
                if cut:
                    write(data[:cut])
                    written += data.count(b"\n", 0, cut)
                tail = data[cut:]
        except Unreachable:
            # Cuts that keep coming before any new line give up, rather than spin.
            failures = 0 if written > before else failures + 1
            if failures > MAX_WATCH_FAILURES:
                raise
            continue
        if tail:
            write(tail)
            written += 1
        return written


def _skip_lines(chunk: bytes, count: int) -> tuple[bytes, int]:
    """Drop ``count`` lines from the front of ``chunk``; what is left and what is still due."""
    pos = 0
    while count:
        found = chunk.find(b"\n", pos)
        if found < 0:
            return b"", count
        pos = found + 1
        count -= 1
    return chunk[pos:], 0


def follow_log(
    kube: Kube,
    pod: str,
    *,
    container: str | None = None,
    still_running: Callable[[], bool],
    stop: threading.Event,
    cursor: LogCursor | None = None,
    start: LogStart | None = None,
    reconnect_delay: float = 0.5,
) -> Iterator[tuple[str, str]]:
    """(timestamp, line) pairs of a container log until the container ends or ``stop``."""
    cursor = cursor or LogCursor()
    while not stop.is_set():
        cursor.rewind()
        try:
            for raw in _open(kube, pod, container, cursor, start, follow=True):
                if stop.is_set():
                    return
                stamp, text = split_stamp(raw)
                if cursor.admit(stamp):
                    yield stamp, text
        except Unreachable:
            pass  # reconnect below
        if not still_running():
            # Read on from the cursor: lines written between the cut and the end.
            with contextlib.suppress(Unreachable):
                yield from read_log(kube, pod, container=container, start=start, cursor=cursor)
            return
        stop.wait(reconnect_delay)


def watch_resumable(
    kube: Kube,
    resource: Resource,
    *,
    label_selector: str | None = None,
    field_selector: str | None = None,
    stop: threading.Event,
    on_list: Callable[[list[dict[str, Any]]], None] | None = None,
    timeout_seconds: int = 300,
) -> Iterator[WatchEvent]:
    """List, then watch from the list's version; resume after cuts, relist after 410 Gone.

    ``on_list`` receives each full listing (the first, and any after a 410) so callers
    can replace their state instead of replaying every object as an event.
    """
    resource_version = ""
    failures = 0
    while not stop.is_set():
        try:
            if not resource_version:
                page = kube.list(
                    resource, label_selector=label_selector, field_selector=field_selector
                )
                resource_version = page.resource_version
                if on_list is not None:
                    on_list(page.items)
            for event in kube.watch(
                resource,
                resource_version=resource_version,
                label_selector=label_selector,
                field_selector=field_selector,
                timeout_seconds=timeout_seconds,
            ):
                failures = 0
                version = (event.object.get("metadata") or {}).get("resourceVersion")
                if version:
                    resource_version = str(version)
                if event.type != "BOOKMARK":
                    yield event
                if stop.is_set():
                    return
        except Gone:
            resource_version = ""
        except ClusterError as exc:
            # Outages and server errors pass; a refusal (RBAC, credentials) does not.
            transient = isinstance(exc, Unreachable) or exc.status is None or exc.status >= 500
            failures += 1
            if not transient or failures > MAX_WATCH_FAILURES:
                raise
            stop.wait(min(0.25 * 2**failures, 5.0))
