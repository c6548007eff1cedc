"""Run the real control plane standalone, like ``python -m tests.fakekube``.

    uv run python -m tests.realkube --kubeconfig /tmp/rk.yaml [--speed 20] [--nodes 1] [--bare]

Builds the binaries if they are not cached, starts etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and the node agent on 127.0.0.1, sets the namespace up as an admin would (nfk8s's
RBAC, the restricted user ``nfk8s-user`` bound to it, a bound RWX work volume), writes the
restricted user's kubeconfig, prints ``ready <url>`` and serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.realkube", description=__doc__)
    parser.add_argument("--kubeconfig", required=True, type=Path, help="kubeconfig file to write")
    parser.add_argument("--speed", type=float, default=20.0, help="simulated seconds per second")
    parser.add_argument("--nodes", type=int, default=1, help="simulated nodes")
    parser.add_argument("--namespace", default="default", help="namespace of the context")
    parser.add_argument(
        "--admin-kubeconfig", type=Path, help="also write a cluster-admin kubeconfig here"
    )
    parser.add_argument(
        "--bare", action="store_true", help="skip the namespace set-up (RBAC, work volume)"
    )
    args = parser.parse_args(argv)

    from tests.realkube import RealKube, StartError, build, main_banner

    def say(message: str) -> None:
        print(f"realkube: {message}", file=sys.stderr, flush=True)

    try:
        build.build()
    except build.BuildError as e:
        say(f"error: {e}")
        return 1
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        rk = RealKube(
            speed=args.speed,
            kubeconfig=args.kubeconfig,
            namespace=args.namespace,
            nodes=args.nodes,
            setup_namespace=not args.bare,
            log=say,
        )
    except StartError as e:
        say(f"error: {e}")
        return 1
    try:
        if args.admin_kubeconfig:
            args.admin_kubeconfig.write_text(rk.admin_kubeconfig.read_text())
            args.admin_kubeconfig.chmod(0o600)
        say(main_banner(rk))
        sys.stdout.write(f"ready {rk.url}\n")
        sys.stdout.flush()
        while not done.wait(0.5):
            pass
    finally:
        rk.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
