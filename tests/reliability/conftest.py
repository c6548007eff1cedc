"""Every reliability test is bounded in time: one that hangs fails instead of stalling CI."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

# Far above what any test here needs (the longest takes about 20 s on 2 cores).
LIMIT_SECONDS = 120


@pytest.fixture(autouse=True)
def time_limit(request: pytest.FixtureRequest) -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"{request.node.name} ran for more than {LIMIT_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, LIMIT_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
