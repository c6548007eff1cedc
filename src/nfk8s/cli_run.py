"""``nfk8s run``, ``logs`` and ``status``: submit a run and follow or show it."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from nfk8s.cli_common import (
    WAIT_FOREVER,
    CancelOnInterruptOpt,
    Command,
    ContextOpt,
    KubeconfigOpt,
    NamespaceOpt,
    Output,
    OutputOpt,
    PlainOpt,
    RunArg,
    app,
    connect,
    global_options,
    handle_errors,
    namespace_without_cluster,
    object_name,
    setting_overrides,
    sigterm_as_interrupt,
    stderr_messages,
    submitter,
    write_github_output,
)

if TYPE_CHECKING:
    from nfk8s.kube import Kube
    from nfk8s.settings import Settings


# -- run ------------------------------------------------------------------------------

RUN_EPILOG = """Examples:

  nfk8s run nf-core/rnaseq -r 3.14.0 --profile test -p outdir=/workspace/out

  nfk8s run ./my-pipeline --params-file params.yaml --timeout 6h --detach

  nfk8s run nf-core/sarek --wait-lock=30m   # queue behind the active run

  nfk8s run nf-core/rnaseq -profile test -resume    # Nextflow's spellings

  nfk8s run ./my-pipeline -- -stub -entry QC -with-report report.html

Nextflow's spellings -resume [SESSION], -profile, -params-file, -revision, -name,
-config and -latest are read as the options above. Other Nextflow options go after
--; nfk8s passes these, and only these:

\b
  -stub, -stub-run, -preview, -entry NAME, -main-script FILE, -with-report [FILE],
  -with-trace [FILE], -with-timeline [FILE], -with-dag [FILE], -dump-hashes [json],
  -cache true|false, -qs N, -queue-size N
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
    nextflow_options: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="-- NEXTFLOW_OPTION...",
            help="After --: Nextflow options nfk8s passes to the driver as given (listed below).",
            show_default=False,
        ),
    ] = None,
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
        str | None,
        typer.Option(
            "--resume",
            metavar="[SESSION]",
            help="Resume from Nextflow's cache: the pipeline's last session, or SESSION "
            "(a session id, a UUID).",
            show_default=False,
        ),
    ] = None,
    latest: Annotated[
        bool,
        typer.Option("--latest", help="Pull the newest revision of a remote pipeline first."),
    ] = False,
    name: Annotated[
        str | None,
        typer.Option("--name", metavar="RUN", help="Run id to use instead of a generated one."),
    ] = None,
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Return once submitted; print the run id.")
    ] = False,
    attach: Annotated[
        bool,
        typer.Option(
            "--attach",
            help="If a run is active, follow it instead of failing (even of another pipeline); "
            "exit with its code.",
        ),
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
    start_timeout: Annotated[
        str | None,
        typer.Option(
            "--start-timeout",
            metavar="DUR",
            help="Fail with exit 7 if the driver has not started after DUR (default 10m).",
        ),
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
    node_selector: Annotated[
        list[str] | None,
        typer.Option(
            "--node-selector",
            metavar="KEY=VALUE",
            help="Run the driver pod on nodes with this label (repeatable).",
        ),
    ] = None,
    toleration: Annotated[
        list[str] | None,
        typer.Option(
            "--toleration",
            metavar="KEY[=VALUE][:EFFECT]",
            help="Let the driver pod run on nodes with this taint (repeatable).",
        ),
    ] = None,
    priority_class: Annotated[
        str | None,
        typer.Option("--priority-class", metavar="NAME", help="PriorityClass of the driver pod."),
    ] = None,
    restricted: Annotated[
        bool,
        typer.Option(
            "--restricted", help="Run the driver as Pod Security 'restricted' admits (non-root)."
        ),
    ] = False,
    driver_pod_patch: Annotated[
        str | None,
        typer.Option(
            "--driver-pod-patch",
            metavar="FILE",
            help="YAML/JSON merged into the driver's pod template (see README).",
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
    from nfk8s.settings import driver_pod_overrides, load_settings

    with handle_errors():
        if attach and wait_lock is not None:
            from nfk8s.errors import BadInput

            raise BadInput(
                "--attach and --wait-lock contradict each other",
                hint="use --attach to follow the active run, or --wait-lock to run after it",
            )
        if detach and attach:
            from nfk8s.errors import BadInput

            raise BadInput("--detach and --attach contradict each other", hint="choose one")
        overrides = setting_overrides(context, namespace, kubeconfig)
        if head_cpus is not None:
            overrides["head_cpus"] = inputs.parse_quantity_cpu(head_cpus)
        if head_memory is not None:
            overrides["head_memory"] = inputs.parse_quantity_memory(head_memory)
        if start_timeout is not None:
            overrides["start_timeout"] = inputs.parse_duration(start_timeout)
        overrides |= driver_pod_overrides(
            node_selector=node_selector,
            tolerations=toleration,
            priority_class=priority_class,
            restricted=restricted,
            driver_pod_patch=driver_pod_patch,
        )
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
            latest=latest,
            nextflow_options=nextflow_options or [],
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
        kube = connect(settings)
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
    resume: str | None,
    latest: bool,
    nextflow_options: list[str],
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
    resumed, session = inputs.parse_resume(resume)
    if latest and local:
        from nfk8s.errors import BadInput

        raise BadInput(
            "--latest pulls a remote pipeline, but PIPELINE is a local directory",
            hint="drop --latest: a local pipeline is uploaded as it is on disk",
        )
    user, actor = submitter()
    return RunSpec(
        run_id=name or manifests.new_run_id(datetime.now(UTC)),
        pipeline=str(Path(pipeline).resolve()) if local else pipeline,
        revision=inputs.validate_revision(revision) if revision else None,
        profile=inputs.validate_profile(profile) if profile else None,
        params=values,
        config_files=config_files,
        resume=resumed,
        resume_session=session,
        latest=latest,
        nextflow_options=inputs.check_nextflow_options(nextflow_options),
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

    namespace = settings.namespace or namespace_without_cluster(settings)
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
            sys.stdout.write(object_name(obj) + "\n")
    else:
        render.dump_yaml(objects)


def _redact_secret(obj: dict[str, Any]) -> dict[str, Any]:
    if obj.get("kind") != "Secret":
        return obj
    hidden = dict.fromkeys({**obj.get("data", {}), **obj.get("stringData", {})}, "<redacted>")
    out = {k: v for k, v in obj.items() if k not in {"data", "stringData"}}
    out["stringData"] = hidden
    return out


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
    from nfk8s import render, runs
    from nfk8s.errors import LockBusy

    messages = stderr_messages()
    attaching: runs.Attaching | None = None
    # Machine-readable output owns stdout; the log then goes with the messages.
    out = sys.stderr if fmt is not Output.table else None
    printer = render.PlainFollower(messages, out, timestamps=timestamps, ticker=False)
    run_id: str | None = None
    # Before anything can print them: nf-core pipelines print their params in the log.
    _mask_in_ci(_secret_values(spec), out)
    with sigterm_as_interrupt():
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
            attaching = runs.attach_target(kube, settings.lock_name, spec.pipeline)
            if attaching is None:
                raise
            run_id = attaching.run_id
            printer(attaching)
        except KeyboardInterrupt:
            from nfk8s.errors import Interrupted

            raise Interrupted(
                "interrupted before the run was submitted", hint="nothing is running"
            ) from None
        else:
            record = result.record
            run_id = record.run_id
            write_github_output(run_id)
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
            messages, plain=plain, no_color=global_options.no_color, timestamps=timestamps, out=out
        )
        final = _follow(
            kube,
            run_id,
            settings,
            follower,
            cancel_on_interrupt=cancel_on_interrupt,
        )
    _finish(final, fmt, attaching)


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
        with sigterm_as_interrupt(), follower:
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
    messages = stderr_messages()
    messages.info(f"cancelling run {run_id} …")
    with sigterm_as_interrupt():
        try:
            result = admin.cancel_run(
                kube,
                run_id,
                lock_name=settings.lock_name,
                grace_period_seconds=settings.cancel_grace_seconds,
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


def _finish(record: Any, fmt: Output, attaching: Any = None) -> NoReturn:
    from nfk8s import render, runs

    if fmt in {Output.json, Output.yaml}:
        data = record.to_json()
        if attaching is not None:
            # `run --attach` followed this run instead of starting the one it was given.
            data["attached"] = {
                "requestedPipeline": attaching.requested,
                "samePipeline": not attaching.other_pipeline,
            }
        render.emit(data, render.OutputFormat(fmt.value), name=record.run_id)
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
            help=(
                "With --tasks: only this process's tasks (Nextflow's full name or its "
                "last part: ALIGN)."
            ),
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

    with handle_errors():
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
        settings = load_settings(setting_overrides(context, namespace, kubeconfig))
        kube = connect(settings)
        run_id = runs.resolve_run(kube, run_id, lock_name=settings.lock_name)
        _mask_run_in_ci(kube, run_id)
        if not follow:
            _print_logs(kube, run_id, start, timestamps=timestamps, tasks=tasks, process=process)
            return
        from nfk8s import render

        follower = render.make_follower(
            stderr_messages(), plain=plain, no_color=global_options.no_color, timestamps=timestamps
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
        stderr_messages().warn(
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

    with handle_errors():
        settings = load_settings(setting_overrides(context, namespace, kubeconfig))
        kube = connect(settings)
        run_id = runs.resolve_run(kube, run_id, lock_name=settings.lock_name)
        view = runs.run_status(kube, run_id, lock_name=settings.lock_name)
        if output in {Output.json, Output.yaml}:
            render.emit(view.to_json(), render.OutputFormat(output.value), name=run_id)
        elif output is Output.name:
            sys.stdout.write(run_id + "\n")
        else:
            sys.stdout.write("\n".join(render.status_lines(view)) + "\n")
