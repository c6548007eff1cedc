"""The ``nfk8s`` command line: parse, call one use case, render; errors become exit codes here.

Heavy modules (``kubernetes``, Rich, pydantic-settings) are imported inside commands, so
``--help``, ``--version`` and completion start fast.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperArgument, TyperCommand

from nfk8s import __version__
from nfk8s.completion import COMPLETE_VAR, Shell, complete_run_id, complete_status

if TYPE_CHECKING:
    from nfk8s.kube import Kube
    from nfk8s.render import Messages
    from nfk8s.settings import Settings

HELP = """Run Nextflow pipelines on Kubernetes, with no server process.

One run at a time per namespace, guarded by a Lease; each run is recorded in a labelled
ConfigMap and executed as a Job. Exit codes mirror the run: 0 succeeded, 1 failed,
2 bad input, 3 lock busy, 4 timed out, 5 cancelled, 6 cluster error, 130 detached.
"""

MAIN_EPILOG = """Examples:

  nfk8s run nf-core/rnaseq -r 3.14.0 --profile test -p outdir=/workspace/out

  nfk8s history --limit 10

  nfk8s logs -f                # follow the active run

  nfk8s --no-color doctor      # check the cluster is ready

Every command takes -h/--help. Completion: nfk8s completion bash|zsh|fish.
"""

app = typer.Typer(
    name="nfk8s",
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


class _Argument(TyperArgument):
    """An argument shown as its metavar alone: ``PIPELINE`` and ``[RUN]``, as man pages do."""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        return name if self.required else f"[{name}]"

    def display_type_rich(self, ctx: typer.Context) -> str | None:
        return None if self.metavar else super().display_type_rich(ctx)


class Command(TyperCommand):
    """Every nfk8s command: arguments as ``_Argument`` (Typer offers no class per argument)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if type(param) is TyperArgument:
                param.__class__ = _Argument


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


_globals = Globals()


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
    _globals.context = context
    _globals.namespace = namespace
    _globals.kubeconfig = kubeconfig
    _globals.no_color = no_color
    _globals.verbose = verbose


# -- shared plumbing ------------------------------------------------------------------


def _messages() -> Messages:
    from nfk8s.render import Messages, color_enabled

    return Messages(sys.stderr, color=color_enabled(_globals.no_color, sys.stderr))


def _fail(message: str, hint: str | None, code: int) -> NoReturn:
    _messages().error(message, hint)
    raise typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn nfk8s errors into a one-line message and the exit code of the table."""
    from nfk8s.errors import ExitCode, Nfk8sError
    from nfk8s.redact import scrub

    try:
        yield
    except Nfk8sError as exc:
        _fail(exc.message, exc.hint, int(exc.exit_code))
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        # A bug must not look like a failed pipeline (exit 1) to a CI step.
        if _globals.verbose:
            import traceback

            # Frames and messages can quote a request header or a key: scrub them all.
            sys.stderr.write(scrub("".join(traceback.format_exception(exc))))
        _fail(
            scrub(f"internal error: {type(exc).__name__}: {exc}"),
            "this is a bug in nfk8s: rerun with -v for the traceback and report it",
            int(ExitCode.INTERNAL_ERROR),
        )


def _overrides(
    context: str | None, namespace: str | None, kubeconfig: str | None, **extra: Any
) -> dict[str, Any]:
    values = {
        "context": context or _globals.context,
        "namespace": namespace or _globals.namespace,
        "kubeconfig": kubeconfig or _globals.kubeconfig,
        **extra,
    }
    return {k: v for k, v in values.items() if v is not None}


def _connect(settings: Settings) -> Kube:
    from nfk8s.kube import Kube, KubeTarget

    return Kube.connect(
        KubeTarget(
            kubeconfig=settings.kubeconfig, context=settings.context, namespace=settings.namespace
        )
    )


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """A CI runner cancelling the step sends SIGTERM: treat it like Ctrl-C."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _submitter() -> tuple[str, str | None]:
    user = os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"
    actor = (
        os.environ.get("GITHUB_ACTOR")
        or os.environ.get("GITLAB_USER_LOGIN")
        or os.environ.get("BUILDKITE_BUILD_CREATOR")
    )
    return user, actor


def _write_github_output(run_id: str) -> None:
    target = os.environ.get("GITHUB_OUTPUT")
    if target:
        with Path(target).open("a", encoding="utf-8") as fh:
            fh.write(f"run-id={run_id}\n")


# -- run ------------------------------------------------------------------------------

RUN_EPILOG = """Examples:

  nfk8s run nf-core/rnaseq -r 3.14.0 --profile test -p outdir=/workspace/out

  nfk8s run ./my-pipeline --params-file params.yaml --timeout 6h --detach

  nfk8s run nf-core/sarek --wait-lock=30m   # queue behind the active run
"""


@app.command(cls=Command, epilog=RUN_EPILOG)
def run(
    pipeline: Annotated[
        str,
        typer.Argument(
            metavar="PIPELINE",
            help="Remote project (owner/repo, git URL) or a local directory.",
            show_default=False,
        ),
    ],
    revision: Annotated[
        str | None,
        typer.Option("--revision", "-r", metavar="REV", help="Git branch, tag or commit."),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", metavar="PROFILE", help="Nextflow profile(s), comma-separated."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            metavar="KEY=VALUE",
            help="Pipeline parameter, repeatable; VALUE is read as JSON if it parses; a.b=1 nests.",
        ),
    ] = None,
    params_file: Annotated[
        Path | None,
        typer.Option("--params-file", metavar="FILE", help="YAML or JSON file of parameters."),
    ] = None,
    config: Annotated[
        list[Path] | None,
        typer.Option(
            "--config", "-c", metavar="FILE", help="Extra Nextflow config file (repeatable)."
        ),
    ] = None,
    secret_param: Annotated[
        list[str] | None,
        typer.Option(
            "--secret-param",
            metavar="KEY",
            help="Keep this parameter's value out of the run record and logs (a name or glob, "
            "e.g. db_host or 'aws.*'; repeatable).",
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Resume from Nextflow's cache of earlier runs.")
    ] = False,
    name: Annotated[
        str | None,
        typer.Option("--name", metavar="RUN", help="Run id to use instead of a generated one."),
    ] = None,
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Return once submitted; print the run id.")
    ] = False,
    attach: Annotated[
        bool, typer.Option("--attach", help="If a run is active, follow it instead of failing.")
    ] = False,
    wait_lock: Annotated[
        str | None,
        typer.Option(
            "--wait-lock",
            help="If a run is active, wait for it to end (--wait-lock=DUR: at most DUR), then run.",
            metavar="[=DUR]",
        ),
    ] = None,
    timeout: Annotated[
        str | None,
        typer.Option("--timeout", metavar="DUR", help="Stop the run after DUR (e.g. 6h, 90m)."),
    ] = None,
    head_cpus: Annotated[
        str | None,
        typer.Option("--head-cpus", metavar="N", help="CPU for the Nextflow driver pod."),
    ] = None,
    head_memory: Annotated[
        str | None,
        typer.Option(
            "--head-memory", metavar="QTY", help="Memory for the Nextflow driver pod (e.g. 4Gi)."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the objects it would write; write nothing.")
    ] = False,
    output: OutputOpt = None,
    timestamps: Annotated[
        bool, typer.Option("--timestamps", help="Prefix driver log lines with their time.")
    ] = False,
    plain: PlainOpt = False,
    cancel_on_interrupt: CancelOnInterruptOpt = False,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    kubeconfig: KubeconfigOpt = None,
) -> None:
    """Run a pipeline: take the lock, record the run, start the Job and follow it."""
    from nfk8s import inputs, manifests
    from nfk8s.settings import load_settings

    with _errors():
        if attach and wait_lock is not None:
            from nfk8s.errors import BadInput

            raise BadInput(
                "--attach and --wait-lock contradict each other",
                hint="use --attach to follow the active run, or --wait-lock to run after it",
            )
        if detach and attach:
            from nfk8s.errors import BadInput

            raise BadInput("--detach and --attach contradict each other", hint="choose one")
        overrides = _overrides(context, namespace, kubeconfig)
        if head_cpus is not None:
            overrides["head_cpus"] = inputs.parse_quantity_cpu(head_cpus)
        if head_memory is not None:
            overrides["head_memory"] = inputs.parse_quantity_memory(head_memory)
        settings = load_settings(overrides)
        spec = _build_spec(
            pipeline=pipeline,
            revision=revision,
            profile=profile,
            params=param or [],
            params_file=params_file,
            configs=config or [],
            secret_params=secret_param or [],
            resume=resume,
            name=name,
            timeout=timeout,
            settings=settings,
        )
        from nfk8s.redact import remember

        # Kept out of every message from here on, whatever fails.
        remember(*_secret_values(spec))
        wait_seconds = _wait_lock_seconds(wait_lock)
        fmt = output or (Output.yaml if dry_run else Output.table)
        if dry_run:
            _dry_run(spec, settings, fmt)
            return
        kube = _connect(settings)
        user, actor = spec.submitted_by, spec.ci_actor
        if kube.user and not os.environ.get("NFK8S_SUBMITTED_BY"):
            user = kube.user
        from dataclasses import replace

        spec = replace(spec, submitted_by=user, ci_actor=actor)
        make_id = None if name else manifests.new_run_id
        _run_and_follow(
            kube,
            spec,
            settings,
            detach=detach,
            attach=attach,
            wait_seconds=wait_seconds,
            make_id=make_id,
            fmt=fmt,
            timestamps=timestamps,
            plain=plain,
            cancel_on_interrupt=cancel_on_interrupt,
        )


def _wait_lock_seconds(value: str | None) -> float | None:
    from nfk8s import inputs

    if value is None:
        return None
    if value == WAIT_FOREVER:
        return float("inf")
    return float(inputs.parse_duration(value))


def _build_spec(
    *,
    pipeline: str,
    revision: str | None,
    profile: str | None,
    params: list[str],
    params_file: Path | None,
    configs: list[Path],
    secret_params: list[str],
    resume: bool,
    name: str | None,
    timeout: str | None,
    settings: Settings,
) -> Any:
    from datetime import UTC, datetime

    from nfk8s import inputs, manifests
    from nfk8s.models import RunSpec

    values: dict[str, Any] = {}
    if params_file is not None:
        values = inputs.load_params_file(params_file)
    for item in params:
        values = inputs.merge_params(values, inputs.parse_param(item))
    globs = settings.secret_param_globs
    for item in secret_params:
        globs += inputs.split_globs(item)
    local = inputs.validate_pipeline(pipeline)
    files = inputs.read_local_pipeline(Path(pipeline)) if local else None
    config_files = [(p.name, inputs.read_config_file(p)) for p in configs]
    timeout_seconds = inputs.parse_duration(timeout) if timeout else settings.default_timeout
    if name is not None:
        manifests.validate_run_name(name)
    user, actor = _submitter()
    return RunSpec(
        run_id=name or manifests.new_run_id(datetime.now(UTC)),
        pipeline=str(Path(pipeline).resolve()) if local else pipeline,
        revision=inputs.validate_revision(revision) if revision else None,
        profile=inputs.validate_profile(profile) if profile else None,
        params=values,
        config_files=config_files,
        resume=resume,
        timeout_seconds=timeout_seconds,
        head_cpus=settings.head_cpus,
        head_memory=settings.head_memory,
        local_pipeline=files,
        submitted_by=os.environ.get("NFK8S_SUBMITTED_BY") or user,
        ci_actor=actor,
        secret_params=globs,
    )


def _secret_values(spec: Any) -> list[str]:
    """The values of a run's params and config files that the record hides."""
    from nfk8s.redact import config_secret_values, hidden_values, redact_params

    values = hidden_values(spec.params, redact_params(spec.params, spec.secret_params))
    for _name, text in spec.config_files:
        values += config_secret_values(text, spec.secret_params)
    return values


def _mask_in_ci(values: list[str], out: Any = None) -> None:
    """On GitHub Actions, have the runner mask these values in the job log from now on."""
    from nfk8s import render

    if values and render.is_github_actions():
        render.github_masks(values, out or sys.stdout)


def _dry_run(spec: Any, settings: Settings, fmt: Output) -> None:
    from datetime import UTC, datetime

    from nfk8s import render, runs

    namespace = settings.namespace or _namespace_without_cluster(settings)
    planned = runs.plan(
        spec,
        settings,
        namespace=namespace,
        now=datetime.now(UTC),
        record_uid="00000000-0000-0000-0000-000000000000",
    )
    objects = [_redact_secret(o) for o in planned.objects()]
    if fmt is Output.json:
        render.dump_json({"apiVersion": "v1", "kind": "List", "items": objects})
    elif fmt is Output.name:
        for obj in objects:
            sys.stdout.write(_object_name(obj) + "\n")
    else:
        render.dump_yaml(objects)


def _redact_secret(obj: dict[str, Any]) -> dict[str, Any]:
    if obj.get("kind") != "Secret":
        return obj
    hidden = dict.fromkeys({**obj.get("data", {}), **obj.get("stringData", {})}, "<redacted>")
    out = {k: v for k, v in obj.items() if k not in {"data", "stringData"}}
    out["stringData"] = hidden
    return out


def _namespace_without_cluster(settings: Settings) -> str:
    """The kubeconfig context's namespace when it can be read offline, else ``default``."""
    from nfk8s.errors import Nfk8sError

    try:
        from nfk8s.kube import KubeTarget, namespace_from_kubeconfig

        return namespace_from_kubeconfig(
            KubeTarget(kubeconfig=settings.kubeconfig, context=settings.context)
        )
    except Nfk8sError:
        return "default"


def _run_and_follow(
    kube: Kube,
    spec: Any,
    settings: Settings,
    *,
    detach: bool,
    attach: bool,
    wait_seconds: float | None,
    make_id: Callable[..., str] | None,
    fmt: Output,
    timestamps: bool,
    plain: bool = False,
    cancel_on_interrupt: bool = False,
) -> None:
    from nfk8s import lock, render, runs
    from nfk8s.errors import LockBusy

    messages = _messages()
    # Machine-readable output owns stdout; the log then goes with the messages.
    out = sys.stderr if fmt is not Output.table else None
    printer = render.PlainFollower(messages, out, timestamps=timestamps, ticker=False)
    run_id: str | None = None
    # Before anything can print them: nf-core pipelines print their params in the log.
    _mask_in_ci(_secret_values(spec), out)
    with _sigterm_as_interrupt():
        try:
            result = runs.submit(
                kube,
                spec,
                settings,
                on_event=printer,
                wait_lock_seconds=wait_seconds,
                make_run_id=make_id,
            )
        except LockBusy:
            if not attach:
                raise
            state = lock.inspect(kube, settings.lock_name)
            if state.holder is None:
                raise
            run_id = state.holder
            printer(runs.Attaching(run_id))
        except KeyboardInterrupt:
            from nfk8s.errors import Interrupted

            raise Interrupted(
                "interrupted before the run was submitted", hint="nothing is running"
            ) from None
        else:
            record = result.record
            run_id = record.run_id
            _write_github_output(run_id)
            printer(runs.Submitted(record))
            if detach:
                if fmt in {Output.json, Output.yaml}:
                    render.emit(
                        record.to_json(), render.OutputFormat(fmt.value), name=record.run_id
                    )
                else:
                    sys.stdout.write(record.run_id + "\n")
                return
        follower = render.make_follower(
            messages, plain=plain, no_color=_globals.no_color, timestamps=timestamps, out=out
        )
        final = _follow(
            kube,
            run_id,
            settings,
            follower,
            cancel_on_interrupt=cancel_on_interrupt,
        )
    _finish(final, fmt)


CANCEL_GRACE_SECONDS = 60


def _follow(
    kube: Kube,
    run_id: str,
    settings: Settings,
    follower: Any,
    *,
    cancel_on_interrupt: bool = False,
    **options: Any,
) -> Any:
    """Follow a run with ``follower``; Ctrl-C/SIGTERM detach (130) or cancel the run (5)."""
    import threading

    from nfk8s import admin, runs
    from nfk8s.errors import Interrupted

    stop = threading.Event()
    try:
        with _sigterm_as_interrupt(), follower:
            record = runs.follow_run(
                kube,
                run_id,
                lock_name=settings.lock_name,
                on_event=follower,
                stop=stop,
                **options,
            )
        # Retention runs once the run has ended: keep the newest ``history_limit`` records.
        admin.apply_retention(
            kube, history_limit=settings.history_limit, lock_name=settings.lock_name
        )
        return record
    except (KeyboardInterrupt, Interrupted):
        stop.set()
        if not cancel_on_interrupt:
            raise Interrupted(
                f"stopped following run {run_id}; it keeps running",
                hint=f"re-attach with `nfk8s logs -f {run_id}`, "
                f"stop it with `nfk8s cancel {run_id}`",
            ) from None
    messages = _messages()
    messages.info(f"cancelling run {run_id} …")
    with _sigterm_as_interrupt():
        try:
            result = admin.cancel_run(
                kube,
                run_id,
                lock_name=settings.lock_name,
                grace_period_seconds=CANCEL_GRACE_SECONDS,
                on_progress=messages.info,
            )
        except KeyboardInterrupt:
            raise Interrupted(
                f"stopped cancelling run {run_id}",
                hint=f"finish with `nfk8s cancel {run_id}`",
            ) from None
    from nfk8s import render

    messages.info(render.summary_line(result.record))
    return result.record


def _finish(record: Any, fmt: Output) -> NoReturn:
    from nfk8s import render, runs

    if fmt in {Output.json, Output.yaml}:
        render.emit(record.to_json(), render.OutputFormat(fmt.value), name=record.run_id)
    elif fmt is Output.name:
        sys.stdout.write(record.run_id + "\n")
    raise typer.Exit(runs.exit_code_for(record))


# -- logs and status ------------------------------------------------------------------

LOGS_EPILOG = """Examples:

  nfk8s logs -f                      # follow the active run until it ends

  nfk8s logs RUN --tail 100 --timestamps

  nfk8s logs -f --tasks --process FASTQC
"""


@app.command(cls=Command, epilog=LOGS_EPILOG)
def logs(
    run_id: RunArg = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Follow until the run ends; exit with its code.")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DUR",
            help="Only lines newer than DUR (e.g. 10m).",
            show_default=False,
        ),
    ] = None,
    tail: Annotated[
        int | None,
        typer.Option(
            "--tail", metavar="N", help="Only the last N lines to begin with.", show_default=False
        ),
    ] = None,
    timestamps: Annotated[
        bool, typer.Option("--timestamps", help="Prefix each line with its time.")
    ] = False,
    tasks: Annotated[
        bool, typer.Option("--tasks", help="The task pods' logs too, prefixed with the task.")
    ] = False,
    process: Annotated[
        str | None,
        typer.Option(
            "--process",
            metavar="NAME",
            help="With --tasks: only this process's tasks.",
            show_default=False,
        ),
    ] = None,
    plain: PlainOpt = False,
    cancel_on_interrupt: CancelOnInterruptOpt = False,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    kubeconfig: KubeconfigOpt = None,
) -> None:
    """Print a run's driver log; with -f follow it live until the run ends."""
    from nfk8s import inputs, runs
    from nfk8s.follow import LogStart
    from nfk8s.settings import load_settings

    with _errors():
        if process and not tasks:
            from nfk8s.errors import BadInput

            raise BadInput("--process needs --tasks", hint="add --tasks")
        if tail is not None and tail < 0:
            from nfk8s.errors import BadInput

            raise BadInput(f"--tail must be 0 or more, not {tail}")
        since_seconds = inputs.parse_duration(since) if since else None
        start = (
            LogStart(tail_lines=tail, since_seconds=since_seconds)
            if tail is not None or since_seconds is not None
            else None
        )
        settings = load_settings(_overrides(context, namespace, kubeconfig))
        kube = _connect(settings)
        run_id = runs.resolve_run(kube, run_id, lock_name=settings.lock_name)
        _mask_run_in_ci(kube, run_id)
        if not follow:
            _print_logs(kube, run_id, start, timestamps=timestamps, tasks=tasks, process=process)
            return
        from nfk8s import render

        follower = render.make_follower(
            _messages(), plain=plain, no_color=_globals.no_color, timestamps=timestamps
        )
        record = _follow(
            kube,
            run_id,
            settings,
            follower,
            cancel_on_interrupt=cancel_on_interrupt,
            log_start=start,
            tasks=tasks,
            process=process,
        )
    raise typer.Exit(runs.exit_code_for(record))


def _mask_run_in_ci(kube: Kube, run_id: str) -> None:
    """On GitHub Actions, mask the run's hidden values before printing its log.

    A step of its own (``logs -f`` after ``run --detach``) may run in another job, where the
    submitting step's masks do not apply: read the values back from the run's Secret.
    """
    from nfk8s import render, runs
    from nfk8s.errors import ClusterError

    if not render.is_github_actions():
        return
    try:
        values = runs.run_secret_values(kube, run_id)
    except ClusterError as exc:
        _messages().warn(
            f"cannot read run {run_id}'s Secret to mask its secret values in this log "
            f"({exc.message.split(':')[0]})"
        )
        return
    _mask_in_ci(values)


def _print_logs(
    kube: Kube,
    run_id: str,
    start: Any,
    *,
    timestamps: bool,
    tasks: bool,
    process: str | None,
) -> None:
    from nfk8s import render, runs

    out = sys.stdout
    if start is None and not timestamps:
        # Nothing to transform: pass the bytes through, as kubectl does.
        out.flush()
        runs.copy_driver_log(kube, run_id, out.buffer.write)
    else:
        _print_lines(runs.driver_log(kube, run_id, start=start), timestamps)
    write = out.write
    if tasks:
        for event in runs.task_logs(kube, run_id, process=process, start=start):
            prefix = render.task_prefix(event)
            stamp = f"{event.stamp} " if timestamps else ""
            write(f"{prefix} | {stamp}{event.line}\n")
    out.flush()


def _print_lines(pairs: Any, timestamps: bool) -> None:
    write = sys.stdout.write
    # Batched writes: a long log costs a few large writes, not one per line.
    batch: list[str] = []
    for stamp, line in pairs:
        batch.append(f"{stamp} {line}\n" if timestamps else line + "\n")
        if len(batch) >= 4096:
            write("".join(batch))
            batch.clear()
    write("".join(batch))


STATUS_EPILOG = """Examples:

  nfk8s status                       # the active run, else the newest

  nfk8s status RUN -o json | jq -r .status
"""


@app.command(cls=Command, epilog=STATUS_EPILOG)
def status(
    run_id: RunArg = None,
    output: OutputOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    kubeconfig: KubeconfigOpt = None,
) -> None:
    """Show a run: its record, its Job, its driver pod and the tasks of each process."""
    from nfk8s import render, runs
    from nfk8s.settings import load_settings

    with _errors():
        settings = load_settings(_overrides(context, namespace, kubeconfig))
        kube = _connect(settings)
        run_id = runs.resolve_run(kube, run_id, lock_name=settings.lock_name)
        view = runs.run_status(kube, run_id)
        if output in {Output.json, Output.yaml}:
            render.emit(view.to_json(), render.OutputFormat(output.value), name=run_id)
        elif output is Output.name:
            sys.stdout.write(run_id + "\n")
        else:
            sys.stdout.write("\n".join(render.status_lines(view)) + "\n")


# -- config ---------------------------------------------------------------------------


CONFIG_EPILOG = """Examples:

  nfk8s config                       # every setting, its value and its source

  NFK8S_NAMESPACE=pipelines nfk8s config -o json

Settings come from flags, then NFK8S_* variables, then ~/.config/nfk8s/config.toml.
"""


@app.command("config", cls=Command, epilog=CONFIG_EPILOG)
def config_cmd(
    output: OutputOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    kubeconfig: KubeconfigOpt = None,
) -> None:
    """Show the effective settings and where each value came from."""
    from nfk8s import render
    from nfk8s.settings import explain_settings

    with _errors():
        rows = explain_settings(_overrides(context, namespace, kubeconfig))
        if output in {Output.json, Output.yaml}:
            data = {r.name: {"value": r.value, "source": r.source} for r in rows}
            render.emit(data, render.OutputFormat(output.value), name="settings")
            return
        if output is Output.name:
            sys.stdout.write("".join(r.name + "\n" for r in rows))
            return
        width = max(len(r.name) for r in rows)
        for r in rows:
            value = "" if r.value is None else str(r.value)
            sys.stdout.write(f"{r.name:<{width}}  {value:<30}  {r.source}\n")


# -- cancel, history, prune, lock, doctor, rbac ----------------------------------------


def _admin_session(
    context: str | None, namespace: str | None, kubeconfig: str | None
) -> tuple[Settings, Kube]:
    from nfk8s.settings import load_settings

    settings = load_settings(_overrides(context, namespace, kubeconfig))
    return settings, _connect(settings)


def _emit_or(output: Output | None, data: Any, name: str, lines: Callable[[], list[str]]) -> None:
    """Machine-readable ``data`` for -o json/yaml/name, else the human ``lines`` on stdout."""
    from nfk8s import render

    if output in {Output.json, Output.yaml}:
        render.emit(data, render.OutputFormat(output.value), name=name)
    elif output is Output.name:
        sys.stdout.write(name + "\n" if name else "")
    else:
        sys.stdout.write("".join(line + "\n" for line in lines()))


CANCEL_EPILOG = """Examples:

  nfk8s cancel                      # the active run

  nfk8s cancel r20261126-0153-k7f2q --grace-period 30
"""


@app.command(cls=Command, epilog=CANCEL_EPILOG)
def cancel(
    run_id: RunArg = None,
    grace_period: Annotated[
        int | None,
        typer.Option(
            "--grace-period",
            metavar="SEC",
            help="Seconds Nextflow gets to stop its tasks (default: the cancel_grace_seconds "
            "setting); 0 kills at once and sweeps the tasks.",
            show_default=False,
        ),
    ] = None,
    output: OutputOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    kubeconfig: KubeconfigOpt = None,
) -> None:
    """Stop a run: delete its Job and task pods, record it cancelled, release the lock."""
    from nfk8s import admin, render_admin, runs
    from nfk8s.errors import BadInput, Interrupted

    with _errors():
        if grace_period is not None and grace_period < 0:
            raise BadInput(
                f"--grace-period must be 0 or more, not {grace_period}",
                hint="pass the seconds Nextflow gets to stop its tasks, e.g. --grace-period 60",
            )
        settings, kube = _admin_session(context, namespace, kubeconfig)
        run_id = runs.resolve_run(kube, run_id, lock_name=settings.lock_name)
        grace = settings.cancel_grace_seconds if grace_period is None else grace_period
        messages = _messages()
        messages.info(f"cancelling run {run_id} (grace period {grace}s) …")
        try:
            with _sigterm_as_interrupt():
                result = admin.cancel_run(
                    kube,
                    run_id,
                    lock_name=settings.lock_name,
                    grace_period_seconds=grace,
                    on_progress=messages.info,
                )
        except KeyboardInterrupt:
            raise Interrupted(
                f"stopped cancelling run {run_id} part-way",
                hint=f"finish with `nfk8s cancel {run_id}` (cancelling again is safe)",
            ) from None
        for line in render_admin.cancel_lines(result):
            messages.info(line)
        _emit_or(output, result.to_json(), run_id, list)


HISTORY_EPILOG = """Examples:

  nfk8s history --limit 10

  nfk8s history --status failed --pipeline nf-core/rnaseq -o json
"""


@app.command(cls=Command, epilog=HISTORY_EPILOG)
def history(
    limit: Annotated[
        int | None,
        typer.Option("--limit", metavar="N", help="Show at most N runs.", show_default=False),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            metavar="STATUS",
            autocompletion=complete_status,
            help="Only runs with this status: pending, running, succeeded, failed, "
            "cancelled, unknown.",
            show_default=False,
        ),
    ] = None,
    pipeline: Annotated[
        str | None,
        typer.Option(
            "--pipeline",
            metavar="PIPELINE",
            help="Only runs of this pipeline.",
            show_default=False,
        ),
    ] = None,
    output: OutputOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    kubeconfig: KubeconfigOpt = None,
) -> None:
    """List past and current runs, newest first."""
    from nfk8s import admin
    from nfk8s.errors import BadInput

    with _errors():
        if limit is not None and limit < 1:
            raise BadInput(f"--limit must be at least 1, not {limit}", hint="e.g. --limit 20")
        wanted = admin.parse_status(status) if status is not None else None
        if pipeline is not None:
            admin.history_selector(pipeline=pipeline)  # an empty value fails before connecting
        settings, kube = _admin_session(context, namespace, kubeconfig)
        found = admin.history(
            kube, lock_name=settings.lock_name, limit=limit, status=wanted, pipeline=pipeline
        )
        if output is Output.name:
            sys.stdout.write("".join(r.run_id + "\n" for r in found.records))
            return
        if output is None or output is Output.table:
            if not found.records:
                _messages().info(f"No runs found in namespace {kube.namespace}.")
                return
            from nfk8s import render_admin

            lines = render_admin.history_lines(found.records, kube.server_now())
            sys.stdout.write("".join(line + "\n" for line in lines))
            return
        _emit_or(output, found.to_json(), "", list)


PRUNE_EPILOG = """Examples:

  nfk8s prune --dry-run              # what the history_limit setting would delete

  nfk8s prune --keep 10 --older-than 30d
"""


@app.command(cls=Command, epilog=PRUNE_EPILOG)
def prune(
    keep: Annotated[
        int | None,
        typer.Option(
            "--keep",
            metavar="N",
            help="Finished runs to keep, newest first (default: the history_limit setting).",
            show_default=False,
        ),
    ] = None,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            metavar="DUR",
            help="Only delete runs that finished longer ago than DUR (e.g. 30d, 12h).",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be deleted; delete nothing.")
    ] = False,
    output: OutputOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    kubeconfig: KubeconfigOpt = None,
) -> None:
    """Delete old run records, with their Jobs and pods; never the active run."""
    from datetime import timedelta

    from nfk8s import admin, inputs, render_admin
    from nfk8s.errors import BadInput

    with _errors():
        if keep is not None and keep < 0:
            raise BadInput(f"--keep must be 0 or more, not {keep}", hint="e.g. --keep 50")
        age = (
            timedelta(seconds=inputs.parse_duration(older_than, what="--older-than"))
            if older_than is not None
            else None
        )
        settings, kube = _admin_session(context, namespace, kubeconfig)
        result = admin.prune(
            kube,
            keep=settings.history_limit if keep is None else keep,
            lock_name=settings.lock_name,
            older_than=age,
            dry_run=dry_run,
        )
        if output is Output.name:
            sys.stdout.write("".join(r.run_id + "\n" for r in result.deleted))
            return
        _emit_or(
            output,
            result.to_json(),
            "",
            lambda: render_admin.prune_lines(result, dry_run=dry_run),
        )


LOCK_EPILOG = """Examples:

  nfk8s lock                         # who holds it, and whether it is stale

  nfk8s lock release --force         # clear a stale or stuck holder
"""

lock_app = typer.Typer(
    name="lock",
    help="Show the run lock, or release it by hand.",
    epilog=LOCK_EPILOG,
    no_args_is_help=False,
    invoke_without_command=True,
    rich_markup_mode=None,
)
app.add_typer(lock_app)


@lock_app.callback()
def _lock_default(
    ctx: typer.Context,
    output: OutputOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    kubeconfig: KubeconfigOpt = None,
) -> None:
    """Show the run lock, or release it by hand (`nfk8s lock` alone shows it)."""
    if ctx.invoked_subcommand is None:
        lock_show(output=output, context=context, namespace=namespace, kubeconfig=kubeconfig)


@lock_app.command(
    "show",
    cls=Command,
    epilog="Examples:\n\n  nfk8s lock show\n\n  nfk8s lock show -o json | jq .verdict\n",
)
def lock_show(
    output: OutputOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    kubeconfig: KubeconfigOpt = None,
) -> None:
    """Show who holds the lock, since when, its Job's state, and whether it is stale."""
    from nfk8s import admin, render_admin

    with _errors():
        settings, kube = _admin_session(context, namespace, kubeconfig)
        view = admin.lock_show(kube, lock_name=settings.lock_name)
        _emit_or(
            output,
            view.to_json(),
            view.state.holder or "",
            lambda: render_admin.lock_lines(view),
        )


@lock_app.command(
    "release",
    cls=Command,
    epilog="Examples:\n\n  nfk8s lock release --force\n\n"
    "  nfk8s lock release --force --force   # even while the holder's Job runs\n",
)
def lock_release(
    force: Annotated[
        int,
        typer.Option(
            "--force",
            count=True,
            help="Required. Give it twice to release even while the holder's Job runs.",
            show_default=False,
        ),
    ] = 0,
    output: OutputOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    kubeconfig: KubeconfigOpt = None,
) -> None:
    """Release the lock by hand (a stale or stuck holder); the holder is named."""
    from nfk8s import admin, render_admin
    from nfk8s.errors import BadInput

    with _errors():
        if not force:
            raise BadInput(
                "releasing the lock by hand needs --force",
                hint="see the holder first with `nfk8s lock show`; a stale lock is taken over "
                "by the next run anyway",
            )
        settings, kube = _admin_session(context, namespace, kubeconfig)
        result = admin.lock_release(kube, lock_name=settings.lock_name, even_if_running=force > 1)
        if force > 1 and result.released and result.view.verdict.value == "held":
            _messages().warn(
                f"run {result.view.state.holder} is still running without the lock; "
                f"stop it with `nfk8s cancel {result.view.state.holder}`"
            )
        _emit_or(
            output,
            result.to_json(),
            result.view.state.holder or "",
            lambda: render_admin.release_lines(result),
        )


DOCTOR_EPILOG = """Examples:

  nfk8s doctor                       # the current context's namespace

  nfk8s doctor -n pipelines -o json  # for a script: {"ok": ..., "checks": [...]}

  nfk8s doctor -o name               # the names of the checks that failed, if any
"""


@app.command(cls=Command, epilog=DOCTOR_EPILOG)
def doctor(
    output: OutputOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    kubeconfig: KubeconfigOpt = None,
) -> None:
    """Check the cluster is ready for nfk8s: access, runner account, work volume, lock.

    Exits 0 when every check passes, 6 when one fails; each failure names its fix.
    """
    from nfk8s import doctor as checks
    from nfk8s import render, render_admin
    from nfk8s.render import color_enabled
    from nfk8s.settings import load_settings

    with _errors():
        settings = load_settings(_overrides(context, namespace, kubeconfig))
        machine = output in {Output.json, Output.yaml, Output.name}
        colour = color_enabled(_globals.no_color, sys.stdout)

        def show(check: Any) -> None:
            if not machine:
                lines = render_admin.check_line(check, colour=colour)
                sys.stdout.write("".join(line + "\n" for line in lines))
                sys.stdout.flush()

        # A kubeconfig that cannot be used is bad input (exit 2), not a failed check.
        kube = _connect(settings)
        target = checks.DoctorTarget(
            runner_service_account=settings.runner_service_account,
            work_pvc=settings.work_pvc,
            lock_name=settings.lock_name,
        )
        report = checks.diagnose(kube, target, on_check=show)
        if output is Output.name:
            sys.stdout.write("".join(check.name + "\n" for check in report.failures))
        elif machine:
            assert output is not None
            render.emit(report.to_json(), render.OutputFormat(output.value), name="doctor")
        else:
            sys.stdout.write(render_admin.doctor_summary(report) + "\n")
        if not report.ok:
            raise typer.Exit(6)


RBAC_EPILOG = """Examples:

  nfk8s rbac -n pipelines | kubectl apply -f -

  nfk8s rbac -n pipelines --user alice@example.org --group bioinfo | kubectl apply -f -

  nfk8s rbac --runner-sa nextflow -o json

  nfk8s rbac -o name                 # the objects it would create
"""


@app.command(cls=Command, epilog=RBAC_EPILOG)
def rbac(
    runner_sa: Annotated[
        str | None,
        typer.Option(
            "--runner-sa",
            metavar="NAME",
            help="ServiceAccount the Nextflow driver runs as (default: the "
            "runner_service_account setting).",
            show_default=False,
        ),
    ] = None,
    users: Annotated[
        list[str] | None,
        typer.Option(
            "--user",
            metavar="NAME",
            help="A user to bind to the nfk8s Role (repeatable).",
            show_default=False,
        ),
    ] = None,
    groups: Annotated[
        list[str] | None,
        typer.Option(
            "--group",
            metavar="NAME",
            help="A group to bind to the nfk8s Role (repeatable).",
            show_default=False,
        ),
    ] = None,
    output: OutputOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    kubeconfig: KubeconfigOpt = None,
) -> None:
    """Print least-privilege RBAC for nfk8s users and the Nextflow runner (kubectl apply -f -)."""
    from nfk8s import doctor as checks
    from nfk8s.settings import load_settings

    with _errors():
        extra = {"runner_service_account": runner_sa} if runner_sa is not None else {}
        settings = load_settings(_overrides(context, namespace, kubeconfig, **extra))
        ns = settings.namespace or _namespace_without_cluster(settings)
        who = {
            "runner_service_account": settings.runner_service_account,
            "users": users or [],
            "groups": groups or [],
        }
        if output is Output.json:
            from nfk8s import render

            items = checks.rbac_manifests(ns, **who)
            render.dump_json({"apiVersion": "v1", "kind": "List", "items": items})
        elif output is Output.name:
            items = checks.rbac_manifests(ns, **who)
            sys.stdout.write("".join(_object_name(obj) + "\n" for obj in items))
        else:  # YAML with comments is the table view of manifests
            sys.stdout.write(checks.render_rbac(ns, **who))


def _object_name(obj: dict[str, Any]) -> str:
    """``kind/name`` as ``kubectl -o name`` prints it (``role.rbac.authorization.k8s.io/x``)."""
    group = obj["apiVersion"].rpartition("/")[0]
    kind = obj["kind"].lower() + (f".{group}" if group else "")
    return f"{kind}/{obj['metadata']['name']}"


COMPLETION_EPILOG = """Examples:

  nfk8s completion bash > ~/.local/share/bash-completion/completions/nfk8s

  nfk8s completion zsh > ~/.zfunc/_nfk8s       # a directory in $fpath

  nfk8s completion fish > ~/.config/fish/completions/nfk8s.fish

Installing the package puts the same scripts under share/ (bash-completion, zsh
site-functions, fish vendor_completions.d).
"""


@app.command(cls=Command, epilog=COMPLETION_EPILOG)
def completion(
    shell: Annotated[
        Shell,
        typer.Argument(metavar="SHELL", help="bash, zsh or fish.", show_default=False),
    ],
) -> None:
    """Print the shell completion script (commands, options and run ids)."""
    from nfk8s.completion import script

    sys.stdout.write(script(shell))


WAIT_FOREVER = "forever"


def normalise_argv(args: list[str]) -> list[str]:
    """Let ``--wait-lock`` stand alone, as the ``[=DUR]`` in its usage promises."""
    return [f"--wait-lock={WAIT_FOREVER}" if arg == "--wait-lock" else arg for arg in args]


def main() -> None:
    if os.environ.get(COMPLETE_VAR):  # a TAB press in a shell with nfk8s completion
        from nfk8s import completion

        completion.register()
    app(args=normalise_argv(sys.argv[1:]), prog_name="nfk8s")
