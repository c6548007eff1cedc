"""Start-up: `nfk8s --help` / `--version` vs `python -c pass` and `kubectl version --client`.

Also checks, with ``python -X importtime``, that neither imports ``kubernetes`` or Rich.
"""

from __future__ import annotations

import subprocess
import sys

from tests.benchmarks.common import machine, median_ms, table, timed, tool

RUNS = 15


def imported(argv: list[str]) -> set[str]:
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


def main() -> None:
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "nfk8s --version": [tool("nfk8s"), "--version"],
        "nfk8s --help": [tool("nfk8s"), "--help"],
        "nfk8s run --help": [tool("nfk8s"), "run", "--help"],
        "kubectl version --client": [tool("kubectl"), "version", "--client"],
    }
    for argv in commands.values():
        timed(argv)  # warm the page cache
    results = {
        name: median_ms([timed(argv) for _ in range(RUNS)]) for name, argv in commands.items()
    }
    base = results["python -c pass"]
    rows = [(name, f"{ms:.0f}", f"{ms / base:.1f}×") for name, ms in results.items()]
    print(f"Start-up, median of {RUNS} runs ({machine()})\n")
    print(table(["command", "median ms", "vs python -c pass"], rows))
    for argv in (["--help"], ["--version"], ["run", "--help"]):
        heavy = imported(argv) & {"kubernetes", "rich", "pydantic", "pydantic_settings"}
        print(
            f"\n`nfk8s {' '.join(argv)}` imports: {', '.join(sorted(heavy)) or 'none of'}"
            " kubernetes/rich/pydantic"
        )


if __name__ == "__main__":
    main()
