"""The ``nfk8s`` command line: parse, call one use case, render; errors become exit codes.

The commands live in ``cli_run`` and ``cli_admin``; importing them registers them on the app.
"""

from __future__ import annotations

import os
import sys

from nfk8s.cli_common import WAIT_FOREVER, app, global_options, stderr_messages
from nfk8s.completion import COMPLETE_VAR

# Importing registers the commands, in the order `--help` lists them.
# isort: off
from nfk8s import cli_run  # noqa: F401
from nfk8s import cli_admin  # noqa: F401
# isort: on

__all__ = ["app", "main", "normalise_argv"]


def normalise_argv(args: list[str]) -> list[str]:
    """Read Nextflow's spellings of ``run``'s options as nfk8s's (``-resume``, ``-profile``...)
    and let ``--wait-lock`` stand alone, as the ``[=DUR]`` in its usage promises.

    Raises ``BadInput`` for a single-dash word ``run`` does not know.
    """
    if "run" in args:
        from nfk8s.inputs import nextflow_style_argv

        args = nextflow_style_argv(args)
    return [f"--wait-lock={WAIT_FOREVER}" if arg == "--wait-lock" else arg for arg in args]


def main() -> None:
    if os.environ.get(COMPLETE_VAR):  # a TAB press in a shell with nfk8s completion
        from nfk8s import completion

        completion.register()
        app(args=sys.argv[1:], prog_name="nfk8s")
        return
    from nfk8s.errors import BadInput

    try:
        args = normalise_argv(sys.argv[1:])
    except BadInput as exc:
        # Before Click has read --no-color: look for it in the words as typed.
        global_options.no_color = "--no-color" in sys.argv[1:]
        stderr_messages().error(exc.message, exc.hint)
        raise SystemExit(int(exc.exit_code)) from None
    app(args=args, prog_name="nfk8s")
