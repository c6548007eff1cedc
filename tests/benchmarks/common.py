"""Shared plumbing for the benchmarks: timing subprocesses, medians, Markdown tables.

Benchmarks are scripts (``uv run python -m tests.benchmarks.bench_x``), not tests: they
print figures side by side and assert nothing about speed.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    return str(VENV_BIN / name)


def timed(argv: Sequence[str], *, env: dict[str, str] | None = None, check: bool = True) -> float:
    """Wall seconds of one run of ``argv`` (output discarded)."""
    start = time.perf_counter()
    done = subprocess.run(
        list(argv), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - start
    if check and done.returncode != 0:
        raise RuntimeError(f"{argv[:3]} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return elapsed


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
