"""Run the fake API server standalone.

    uv run python -m tests.fakekube --kubeconfig /tmp/fk.yaml [--speed 20] [--port 0] [--bare]

Prints ``ready <url>`` once listening and serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from tests.fakekube import FakeKube


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakekube", description=__doc__)
    parser.add_argument("--kubeconfig", required=True, type=Path, help="kubeconfig file to write")
    parser.add_argument("--speed", type=float, default=20.0, help="simulated seconds per second")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--namespace", default="default", help="namespace of the context")
    parser.add_argument(
        "--clock-offset", type=float, default=0.0, help="seconds added to the server clock"
    )
    parser.add_argument(
        "--bare",
        action="store_true",
        help="skip what an admin sets up for nfk8s (ServiceAccount nfk8s-runner, PVC nfk8s-work)",
    )
    args = parser.parse_args(argv)
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    fk = FakeKube(
        speed=args.speed,
        kubeconfig=args.kubeconfig,
        port=args.port,
        namespace=args.namespace,
        clock_offset=args.clock_offset,
    )
    try:
        if not args.bare:
            from tests.support import provision

            provision(fk, args.namespace)
        sys.stdout.write(f"ready {fk.url}\n")
        sys.stdout.flush()
        while not done.wait(0.5):
            pass
    finally:
        fk.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
