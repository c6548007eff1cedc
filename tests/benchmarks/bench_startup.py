"""Start-up: `nfk8s --help` / `--version` vs `python -c pass` and `kubectl version --client`.

Also checks, with ``python -X importtime``, that neither imports ``kubernetes`` or Rich.

    uv run python -m tests.benchmarks.bench_startup [--runs N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from tests.benchmarks.common import Section, median_ms, print_sections, ratio, timed, tool

RUNS = 15
HEAVY = {"kubernetes", "rich", "pydantic", "pydantic_settings"}


def imported(argv: list[str]) -> set[str]:
    """Top-level packages ``nfk8s ARGV`` imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "nfk8s", *argv],
        capture_output=True,
        text=True,
        check=False,
    )
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def bench(runs: int = RUNS, quick: bool = False) -> list[Section]:
    commands = {
        "`python -c pass`": [sys.executable, "-c", "pass"],
        "`nfk8s --version`": [tool("nfk8s"), "--version"],
        "`nfk8s --help`": [tool("nfk8s"), "--help"],
        "`nfk8s run --help`": [tool("nfk8s"), "run", "--help"],
        "`kubectl version --client`": [tool("kubectl"), "version", "--client"],
    }
    for argv in commands.values():
        timed(argv)  # warm the page cache and the bytecode
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):  # interleaved, so background noise hits every command alike
        for name, argv in commands.items():
            samples[name].append(timed(argv))
    results = {name: median_ms(values) for name, values in samples.items()}
    python = results["`python -c pass`"]
    kubectl = results["`kubectl version --client`"]
    rows = [
        [name, f"{ms:.0f}", ratio(ms, python), ratio(ms, kubectl)] for name, ms in results.items()
    ]
    notes = []
    for argv in (["--help"], ["--version"], ["run", "--help"]):
        heavy = imported(argv) & HEAVY
        notes.append(
            f"`nfk8s {' '.join(argv)}` imports "
            + (", ".join(sorted(heavy)) if heavy else "none of kubernetes, Rich, pydantic")
            + "."
        )
    return [
        Section(
            f"Start-up (median of {runs} runs)",
            ["command", "median ms", "vs `python -c pass`", "vs kubectl"],
            rows,
            notes,
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    print_sections(bench(args.runs))


if __name__ == "__main__":
    main()
