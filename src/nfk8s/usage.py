"""Click's usage errors in nfk8s's words: one ``error:`` line, one ``hint:`` line, exit 2.

Click (vendored by Typer as ``typer._click``) reports a bad command line with its usage
block and its own phrasing ("Got unexpected extra argument(s)", a pydantic "Value error").
``cli_common`` passes every such error through ``translate`` while parsing, so a bad
command line looks like any other bad input. Light: Typer has already imported Click.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from difflib import get_close_matches
from enum import Enum
from itertools import pairwise
from typing import IO, Any

from typer._click import exceptions as click_errors
from typer._click.core import Context

from nfk8s.redact import scrub

USAGE_EXIT = 2  # ExitCode.BAD_INPUT; errors.py is not imported on this path
_EXTRA = re.compile(r"unexpected extra argument(?:\(s\)|s)? \((?P<args>.*)\)\s*$", re.DOTALL)


class UsageProblem(click_errors.UsageError):
    """A bad command line, said the nfk8s way."""

    exit_code = USAGE_EXIT

    def __init__(self, message: str, hint: str, ctx: Context | None = None) -> None:
        super().__init__(message, ctx)
        self.hint = hint

    def show(self, file: IO[Any] | None = None) -> None:
        out = file or sys.stderr
        # Scrubbed like every other error: the words come back from the command line.
        out.write(f"error: {scrub(self.message)}\nhint: {scrub(self.hint)}\n")
        out.flush()


def parse_checked(
    parse: Callable[[Context, list[str]], list[str]], ctx: Context, args: list[str]
) -> list[str]:
    """``parse(ctx, args)`` with its usage errors translated (help for no args stays help)."""
    given = list(args)
    try:
        return parse(ctx, args)
    except (UsageProblem, click_errors.NoArgsIsHelpError):
        raise
    except click_errors.UsageError as exc:
        raise translate(exc, ctx, given) from None


def translate(exc: click_errors.UsageError, ctx: Context, args: Sequence[str]) -> UsageProblem:
    """What went wrong and how to fix it, from Click's exception and the words typed."""
    path = ctx.command_path
    see = f"see `{path} --help`"
    if isinstance(exc, click_errors.NoSuchOption):
        return _unknown_option(exc, ctx, see)
    if isinstance(exc, click_errors.MissingParameter):
        name = _param_label(exc.param) if exc.param is not None else "an argument"
        return UsageProblem(f"{path} needs {name}", f"usage: {_usage(ctx)}", ctx)
    if isinstance(exc, click_errors.BadParameter):
        return _bad_value(exc, ctx, args, see)
    if isinstance(exc, click_errors.BadOptionUsage):
        option = exc.option_name
        if "does not take a value" in exc.message:
            return UsageProblem(f"{option} takes no value", f"use {option} alone", ctx)
        if "requires an argument" in exc.message:
            return UsageProblem(f"{option} needs a value", see, ctx)
    found = _EXTRA.search(exc.message)
    if found:
        return _extra_arguments(found.group("args").split(), ctx, args)
    message = exc.format_message().rstrip(".")
    return UsageProblem(message[:1].lower() + message[1:], see, ctx)


def unknown_command(name: str, ctx: Context, commands: Sequence[str]) -> UsageProblem:
    path = ctx.command_path
    close = get_close_matches(name, commands, n=1)
    hint = f"did you mean `{path} {close[0]}`?" if close else f"see `{path} --help`"
    return UsageProblem(f"{path} has no command {name!r}", hint, ctx)


def _unknown_option(exc: click_errors.NoSuchOption, ctx: Context, see: str) -> UsageProblem:
    option = exc.option_name
    path = ctx.command_path
    message = f"{path} has no option {option}"
    root = ctx.find_root()
    if ctx.parent is not None and option in _options_of(root.command.params):
        # `nfk8s history --no-color`: a global option typed after the command.
        return UsageProblem(
            message, f"global options go before the command: `{root.command_path} {option} …`"
        )
    close = list(exc.possibilities or ()) or get_close_matches(
        option, _options_of(ctx.command.params), n=1
    )
    hint = f"did you mean {close[0]}? {see}" if close else see
    return UsageProblem(message, hint, ctx)


def _bad_value(
    exc: click_errors.BadParameter, ctx: Context, args: Sequence[str], see: str
) -> UsageProblem:
    param = exc.param
    if param is None:
        return UsageProblem(exc.message.rstrip("."), see, ctx)
    label = _param_label(param)
    value = _value_given(param, args)
    said = f" {value!r}" if value is not None else ""
    choices, whole = _value_kind(param)
    if choices:
        return UsageProblem(
            f"{label}{said} is not one of its choices", f"use one of {', '.join(choices)}"
        )
    if whole:
        return UsageProblem(f"{label} takes a whole number, not{said or ' that'}", see, ctx)
    return UsageProblem(f"{label}{said} is not valid", see, ctx)


def _extra_arguments(extra: list[str], ctx: Context, args: Sequence[str]) -> UsageProblem:
    path = ctx.command_path
    first = extra[0] if extra else ""
    flags = {
        opt
        for param in ctx.command.params
        if getattr(param, "is_flag", False)
        for opt in getattr(param, "opts", ())
    }
    for before, after in pairwise(args):
        if after == first and before in flags:
            return UsageProblem(
                f"{before} takes no value, so {after!r} is an extra argument",
                f"use {before} alone",
                ctx,
            )
    return UsageProblem(
        f"{path} got an extra argument {first!r}",
        f"usage: {_usage(ctx)}; quote a value that holds spaces",
        ctx,
    )


def _value_kind(param: Any) -> tuple[list[str], bool]:
    """The values ``param`` accepts, if a list; whether it takes a whole number.

    Typer 0.28 gives a parameter a Click type (``Choice``, ``INT``); later Typer versions
    keep the annotation in ``type_descriptor`` and convert with pydantic.
    """
    kind = getattr(param, "type", None)
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [str(member.value) for member in annotation], False
    if getattr(kind, "choices", None):
        return [str(choice) for choice in kind.choices], False
    return [], annotation is int or getattr(kind, "name", "") in {"int", "integer"}


def _param_label(param: Any) -> str:
    if getattr(param, "param_type_name", "") == "argument":
        return str(param.metavar or param.name).upper()
    opts = [o for o in getattr(param, "opts", ()) if o.startswith("--")]
    return opts[0] if opts else str(param.name)


def _value_given(param: Any, args: Sequence[str]) -> str | None:
    """The value typed for ``param`` (its last use), or None when it cannot be told."""
    if getattr(param, "param_type_name", "") == "argument":
        return None
    opts = list(getattr(param, "opts", ()))
    found: str | None = None
    for index, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        if eq and name in opts:
            found = value
        elif arg in opts and index + 1 < len(args):
            found = args[index + 1]
        elif any(arg.startswith(o) and len(arg) > len(o) for o in opts if len(o) == 2):
            found = arg[2:]  # -owide
    return found


def _options_of(params: Sequence[Any]) -> list[str]:
    return [opt for param in params for opt in getattr(param, "opts", ()) if opt.startswith("-")]


def _usage(ctx: Context) -> str:
    return ctx.get_usage().removeprefix("Usage:").strip()
