"""What every ``nfk8s`` command shares: the Typer app, global options, errors as exit codes.

Heavy modules (``kubernetes``, Rich, pydantic-settings) are imported inside commands, so
``--help``, ``--version`` and completion start fast.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer import _click as click  # Typer vendors its Click
from typer.core import TyperArgument, TyperCommand, TyperGroup

from nfk8s import __version__, usage
from nfk8s.completion import complete_run_id

if TYPE_CHECKING:
    from nfk8s.kube import Kube
    from nfk8s.render import Messages
    from nfk8s.settings import Settings

HELP = """Run Nextflow pipelines on Kubernetes, with no server process.

One run at a time per namespace, guarded by a Lease; each run is recorded in a labelled
ConfigMap and executed as a Job. Exit codes mirror the run: 0 succeeded, 1 failed,
2 bad input or usage (nothing written), 3 lock busy, 4 timed out, 5 cancelled, 6 cluster
error, 7 the driver never started (the pipeline did not run), 70 a bug in nfk8s,
130 detached (the run goes on).
"""

MAIN_EPILOG = """Examples:

  nfk8s run nf-core/rnaseq -r 3.14.0 --profile test -p outdir=/workspace/out

  nfk8s history --limit 10

  nfk8s logs -f                # follow the active run

  nfk8s --no-color doctor      # check the cluster is ready

Every command takes -h/--help (or: nfk8s help COMMAND). Completion: nfk8s completion
bash|zsh|fish.
"""


class _Argument(TyperArgument):
    """An argument shown as its metavar alone: ``PIPELINE`` and ``[RUN]``, as man pages do."""

    def get_usage_pieces(self, ctx: typer.Context) -> list[str]:
        name = self.metavar or (self.name or "").upper()
        return [name if self.required else f"[{name}]"]

    def display_type_rich(self, ctx: typer.Context) -> str | None:
        return None if self.metavar else super().display_type_rich(ctx)


class Command(TyperCommand):
    """Every nfk8s command: arguments as ``_Argument`` (Typer offers no class per argument),
    usage errors as ``error:``/``hint:``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if type(param) is TyperArgument:
                param.__class__ = _Argument

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return usage.parse_checked(super().parse_args, ctx, args)


class Group(TyperGroup):
    """``nfk8s`` and ``nfk8s lock``: usage errors as ``error:``/``hint:``; ``help CMD``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return usage.parse_checked(super().parse_args, ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        if not ctx._protected_args and not self.invoke_without_command:  # `nfk8s -v`
            raise usage.UsageProblem(
                f"{ctx.command_path} needs a command", f"see `{ctx.command_path} --help`", ctx
            )
        return super().invoke(ctx)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, rest = args[0], args[1:]
        if name == "help" and "help" not in self.commands:
            # `nfk8s help [CMD…]`, as git, kubectl and helm take it; a TAB after it
            # completes the commands.
            if not rest:
                if ctx.resilient_parsing:
                    return None, None, []
                typer.echo(ctx.get_help())
                ctx.exit(0)
            name, rest = rest[0], rest[1:] if ctx.resilient_parsing else [*rest[1:], "--help"]
        if name.startswith("-"):
            self.parse_args(ctx, args)  # an option after the command group's own: say which
        command = self.get_command(ctx, name)
        if command is None:
            if ctx.resilient_parsing:
                return None, None, rest
            raise usage.unknown_command(name, ctx, list(self.commands))
        return name, command, rest


app = typer.Typer(
    name="nfk8s",
    cls=Group,
    help=HELP,
    epilog=MAIN_EPILOG,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    # The scripts ship in the package (completions/) and `nfk8s completion SHELL` prints
    # them; Typer's own --install-completion would edit the user's shell start-up files.
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


class Output(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"
    name = "name"


@dataclass
class Globals:
    context: str | None = None
    namespace: str | None = None
    kubeconfig: str | None = None
    no_color: bool = False
    verbose: bool = False


global_options = Globals()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nfk8s {__version__}")
        raise typer.Exit


ContextOpt = Annotated[
    str | None,
    typer.Option(
        "--context", metavar="NAME", help="Kubeconfig context to use.", show_default=False
    ),
]
NamespaceOpt = Annotated[
    str | None,
    typer.Option(
        "--namespace", "-n", metavar="NS", help="Namespace of the runs.", show_default=False
    ),
]
KubeconfigOpt = Annotated[
    str | None,
    typer.Option(
        "--kubeconfig", metavar="FILE", help="Path to the kubeconfig file.", show_default=False
    ),
]
OutputOpt = Annotated[
    Output | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FORMAT",
        help="Output format: table, json, yaml or name (data on stdout, messages on stderr).",
        show_default=False,
    ),
]
RunArg = Annotated[
    str | None,
    typer.Argument(
        metavar="RUN",
        help="Run id (default: the active run, else the newest).",
        show_default=False,
        autocompletion=complete_run_id,
    ),
]
PlainOpt = Annotated[
    bool,
    typer.Option("--plain", help="Plain log lines and progress summaries, no live view."),
]
CancelOnInterruptOpt = Annotated[
    bool,
    typer.Option(
        "--cancel-on-interrupt",
        help="On Ctrl-C or SIGTERM cancel the run instead of detaching from it.",
    ),
]


@app.callback()
def _main(
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    kubeconfig: KubeconfigOpt = None,
    no_color: Annotated[
        bool,
        typer.Option(
            "--no-color", help="No colours or live view (the NO_COLOR variable does the same)."
        ),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Say more about what is happening.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    global_options.context = context
    global_options.namespace = namespace
    global_options.kubeconfig = kubeconfig
    global_options.no_color = no_color
    global_options.verbose = verbose


# -- shared plumbing ------------------------------------------------------------------


def stderr_messages() -> Messages:
    from nfk8s.render import Messages, color_enabled

    return Messages(sys.stderr, color=color_enabled(global_options.no_color, sys.stderr))


def fail(message: str, hint: str | None, code: int) -> NoReturn:
    stderr_messages().error(message, hint)
    raise typer.Exit(code)


@contextmanager
def handle_errors() -> Iterator[None]:
    """Turn nfk8s errors into a one-line message and the exit code of the table."""
    from nfk8s.errors import ExitCode, Nfk8sError
    from nfk8s.redact import scrub

    try:
        yield
    except Nfk8sError as exc:
        fail(exc.message, exc.hint, int(exc.exit_code))
    except (typer.Exit, typer.Abort, KeyboardInterrupt, BrokenPipeError):
        # A closed pipe (`| head`) is no bug: Click ends quietly on it.
        raise
    except Exception as exc:
        # A bug must not look like a failed pipeline (exit 1) to a CI step.
        if global_options.verbose:
            import traceback

            # Frames and messages can quote a request header or a key: scrub them all.
            sys.stderr.write(scrub("".join(traceback.format_exception(exc))))
        fail(
            scrub(f"internal error: {type(exc).__name__}: {exc}"),
            "this is a bug in nfk8s: rerun with -v for the traceback and report it",
            int(ExitCode.INTERNAL_ERROR),
        )


def setting_overrides(
    context: str | None, namespace: str | None, kubeconfig: str | None, **extra: Any
) -> dict[str, Any]:
    values = {
        "context": context or global_options.context,
        "namespace": namespace or global_options.namespace,
        "kubeconfig": kubeconfig or global_options.kubeconfig,
        **extra,
    }
    return {k: v for k, v in values.items() if v is not None}


def connect(settings: Settings) -> Kube:
    from nfk8s.kube import Kube, KubeTarget

    return Kube.connect(
        KubeTarget(
            kubeconfig=settings.kubeconfig, context=settings.context, namespace=settings.namespace
        )
    )


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """A CI runner cancelling the step sends SIGTERM: treat it like Ctrl-C."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def submitter() -> tuple[str, str | None]:
    user = os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"
    actor = (
        os.environ.get("GITHUB_ACTOR")
        or os.environ.get("GITLAB_USER_LOGIN")
        or os.environ.get("BUILDKITE_BUILD_CREATOR")
    )
    return user, actor


def write_github_output(run_id: str) -> None:
    target = os.environ.get("GITHUB_OUTPUT")
    if target:
        with Path(target).open("a", encoding="utf-8") as fh:
            fh.write(f"run-id={run_id}\n")


def object_name(obj: dict[str, Any]) -> str:
    """``kind/name`` as ``kubectl -o name`` prints it (``role.rbac.authorization.k8s.io/x``)."""
    group = obj["apiVersion"].rpartition("/")[0]
    kind = obj["kind"].lower() + (f".{group}" if group else "")
    return f"{kind}/{obj['metadata']['name']}"


def namespace_without_cluster(settings: Settings) -> str:
    """The kubeconfig context's namespace when it can be read offline, else ``default``."""
    from nfk8s.errors import Nfk8sError

    try:
        from nfk8s.kube import KubeTarget, namespace_from_kubeconfig

        return namespace_from_kubeconfig(
            KubeTarget(kubeconfig=settings.kubeconfig, context=settings.context)
        )
    except Nfk8sError:
        return "default"


WAIT_FOREVER = "forever"
