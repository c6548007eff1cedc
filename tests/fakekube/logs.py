"""Container log buffers: compact storage, follow streams and the kubelet's log options."""

from __future__ import annotations

import threading
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tests.fakekube.util import rfc3339_nano


class LogBuffer:
    """One container's log: UTF-8 bytes in one bytearray, line offsets and stamps in arrays.

    A 200,000-line log costs the text plus 16 bytes a line, not a Python object per line.
    """

    def __init__(self) -> None:
        self._data = bytearray()
        self._ends = array("Q")
        self._times = array("q")  # nanoseconds since the epoch, server clock
        self._cond = threading.Condition()
        self.closed = False

    def append(self, line: str, t_ns: int) -> None:
        encoded = line.replace("\n", " ").encode("utf-8", errors="replace")
        with self._cond:
            self._data += encoded
            self._ends.append(len(self._data))
            self._times.append(t_ns)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        return len(self._ends)

    def line(self, i: int) -> tuple[int, bytes]:
        with self._cond:
            start = self._ends[i - 1] if i else 0
            return self._times[i], bytes(self._data[start : self._ends[i]])

    def lines(self, start: int = 0, stop: int | None = None) -> list[tuple[int, bytes]]:
        with self._cond:
            n = len(self._ends)
            stop = n if stop is None else min(stop, n)
            out = []
            prev = self._ends[start - 1] if start else 0
            for i in range(start, stop):
                end = self._ends[i]
                out.append((self._times[i], bytes(self._data[prev:end])))
                prev = end
            return out

    def texts(self) -> list[str]:
        return [b.decode("utf-8", errors="replace") for _, b in self.lines()]

    def first_index_since(self, since_ns: int) -> int:
        with self._cond:
            lo, hi = 0, len(self._times)
            while lo < hi:
                mid = (lo + hi) // 2
                if self._times[mid] < since_ns:
                    lo = mid + 1
                else:
                    hi = mid
            return lo

    def wait_for_more(self, have: int, timeout: float) -> bool:
        """Wait until there are more than ``have`` lines or the log closes."""
        with self._cond:
            if len(self._ends) > have or self.closed:
                return True
            self._cond.wait(timeout)
            return len(self._ends) > have or self.closed


@dataclass
class LogOptions:
    follow: bool = False
    timestamps: bool = False
    since_ns: int | None = None
    tail_lines: int | None = None
    limit_bytes: int | None = None


def render_lines(
    buf: LogBuffer,
    opts: LogOptions,
    *,
    stopping: threading.Event,
    alive: Callable[[], bool] | None = None,
    poll: float = 0.2,
    batch: int = 5000,
) -> Iterator[list[bytes]]:
    """A log response as batches of rendered lines; follows while the log is open.

    Batches let the server write a long log in few chunks instead of one per line.
    """
    start = 0
    if opts.since_ns is not None:
        start = buf.first_index_since(opts.since_ns)
    n = len(buf)
    if opts.tail_lines is not None:
        start = max(start, n - max(opts.tail_lines, 0))
    budget = opts.limit_bytes
    idx = start
    while True:
        got = buf.lines(idx, idx + batch)
        out: list[bytes] = []
        for t_ns, text in got:
            line = (
                rfc3339_nano(t_ns).encode() + b" " + text + b"\n"
                if opts.timestamps
                else text + b"\n"
            )
            if budget is not None:
                if len(line) >= budget:
                    out.append(line[:budget])
                    yield out
                    return
                budget -= len(line)
            out.append(line)
        if out:
            yield out
        idx += len(got)
        if len(got) == batch:
            continue
        if not opts.follow:
            return
        if buf.closed and len(buf) <= idx:
            return
        if stopping.is_set():
            return
        if alive is not None and not alive():
            return
        buf.wait_for_more(idx, poll)


class LogStore:
    """Logs by pod uid and container; ``previous`` holds the last terminated instance."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: dict[tuple[str, str], LogBuffer] = {}
        self._previous: dict[tuple[str, str], LogBuffer] = {}

    def buffer(self, pod_uid: str, container: str) -> LogBuffer:
        with self._lock:
            buf = self._current.get((pod_uid, container))
            if buf is None:
                buf = self._current[(pod_uid, container)] = LogBuffer()
            return buf

    def get(self, pod_uid: str, container: str, *, previous: bool = False) -> LogBuffer | None:
        with self._lock:
            return (self._previous if previous else self._current).get((pod_uid, container))

    def restart(self, pod_uid: str, container: str) -> LogBuffer:
        """A container restarted: its log becomes ``previous`` and a new one begins."""
        with self._lock:
            old = self._current.get((pod_uid, container))
            if old is not None:
                old.close()
                self._previous[(pod_uid, container)] = old
            buf = self._current[(pod_uid, container)] = LogBuffer()
            return buf

    def drop_pod(self, pod_uid: str) -> None:
        with self._lock:
            for store in (self._current, self._previous):
                for key in [k for k in store if k[0] == pod_uid]:
                    store.pop(key).close()

    def close_all(self) -> None:
        with self._lock:
            for buf in self._current.values():
                buf.close()
