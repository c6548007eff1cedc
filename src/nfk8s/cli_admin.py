"""``nfk8s config``, ``cancel``, ``history``, ``prune``, ``lock``, ``doctor``, ``rbac`` and
``completion``: look after runs, the lock and the cluster."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nfk8s.cli_common import (
    Command,
    ContextOpt,
    Group,
    KubeconfigOpt,
    NamespaceOpt,
    Output,
    OutputOpt,
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
)
from nfk8s.completion import Shell, complete_status

if TYPE_CHECKING:
    from nfk8s.kube import Kube
    from nfk8s.settings import Settings


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

    with handle_errors():
        rows = explain_settings(setting_overrides(context, namespace, kubeconfig))
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

    settings = load_settings(setting_overrides(context, namespace, kubeconfig))
    return settings, connect(settings)


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

    with handle_errors():
        if grace_period is not None and grace_period < 0:
            raise BadInput(
                f"--grace-period must be 0 or more, not {grace_period}",
                hint="pass the seconds Nextflow gets to stop its tasks, e.g. --grace-period 60",
            )
        settings, kube = _admin_session(context, namespace, kubeconfig)
        run_id = runs.resolve_run(kube, run_id, lock_name=settings.lock_name)
        grace = settings.cancel_grace_seconds if grace_period is None else grace_period
        messages = stderr_messages()
        messages.info(f"cancelling run {run_id} (grace period {grace}s) …")
        try:
            with sigterm_as_interrupt():
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

    with handle_errors():
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
                stderr_messages().info(f"No runs found in namespace {kube.namespace}.")
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

    with handle_errors():
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
    cls=Group,
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

    with handle_errors():
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

    with handle_errors():
        if not force:
            raise BadInput(
                "releasing the lock by hand needs --force",
                hint="see the holder first with `nfk8s lock show`; a stale lock is taken over "
                "by the next run anyway",
            )
        settings, kube = _admin_session(context, namespace, kubeconfig)
        result = admin.lock_release(kube, lock_name=settings.lock_name, even_if_running=force > 1)
        if force > 1 and result.released and result.view.verdict.value == "held":
            stderr_messages().warn(
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
    """Check the cluster is ready for nfk8s: access, runner, work volume, lock, driver pod.

    Exits 0 when every check passes, 6 when one fails; each failure names its fix.
    """
    from nfk8s import doctor as checks
    from nfk8s import render, render_admin
    from nfk8s.render import color_enabled
    from nfk8s.settings import load_settings

    with handle_errors():
        settings = load_settings(setting_overrides(context, namespace, kubeconfig))
        machine = output in {Output.json, Output.yaml, Output.name}
        colour = color_enabled(global_options.no_color, sys.stdout)

        def show(check: Any) -> None:
            if not machine:
                lines = render_admin.check_line(check, colour=colour)
                sys.stdout.write("".join(line + "\n" for line in lines))
                sys.stdout.flush()

        # A driver pod patch or a kubeconfig that cannot be used is bad input (exit 2),
        # not a failed check.
        target = checks.DoctorTarget.from_settings(settings)
        kube = connect(settings)
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

    with handle_errors():
        extra = {"runner_service_account": runner_sa} if runner_sa is not None else {}
        settings = load_settings(setting_overrides(context, namespace, kubeconfig, **extra))
        ns = settings.namespace or namespace_without_cluster(settings)
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
            sys.stdout.write("".join(object_name(obj) + "\n" for obj in items))
        else:  # YAML with comments is the table view of manifests
            sys.stdout.write(checks.render_rbac(ns, **who))


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
