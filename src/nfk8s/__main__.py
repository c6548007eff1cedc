"""Entry point of ``nfk8s`` and ``python -m nfk8s``.

``--version`` is answered here, before Typer and Click are imported.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from nfk8s import __version__

        sys.stdout.write(f"nfk8s {__version__}\n")
        return
    from nfk8s.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
