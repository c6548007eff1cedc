"""What the Nextflow simulator reads before it runs: the driver argv, config files and params.

Three small readers, none of which executes anything:

- ``parse_argv`` understands ``nextflow [global opts] run PIPELINE [run opts] [--param value]``
  the way Nextflow's command line does, and raises ``UsageError`` with Nextflow's wording.
- ``parse_config`` is a tolerant reader for the subset of Groovy config that matters to
  the k8s executor: dotted assignments, nested blocks (``k8s { ... }``), ``profiles``,
  ``params``, ``includeConfig`` and string literals in all their quoting styles.
  Anything it does not understand (closures, expressions, selectors' bodies) is kept as
  raw text or skipped; it never evaluates code.
- ``load_params`` reads a JSON or YAML params file.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

# Nextflow's RunImpl.RUN_NAME_PATTERN (case-insensitive).
RUN_NAME_PATTERN = r"^[a-z](?:[a-z\d]|[-_](?=[a-z\d])){0,79}$"
_RUN_NAME_RE = re.compile(RUN_NAME_PATTERN, re.IGNORECASE)


class UsageError(Exception):
    """The command line or an input file is wrong; Nextflow stops before running anything."""

    def __init__(self, message: str, *, bare: bool = False) -> None:
        super().__init__(message)
        self.message = message
        # JCommander errors print bare; AbortOperationException goes through the ERROR ~ form.
        self.bare = bare


# --------------------------------------------------------------------------- argv


@dataclass
class RunOptions:
    pipeline: str = ""
    run_name: str | None = None
    config_files: list[str] = field(default_factory=list)
    params_file: str | None = None
    revision: str | None = None
    profile: str | None = None
    resume: str | None = None  # "last" or a session id
    work_dir: str | None = None
    latest: bool = False
    quiet: bool = False
    queue_size: int | None = None
    disable_jobs_cancellation: bool = False
    cli_params: dict[str, Any] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)


# Run options that take exactly one value.
_VALUE_OPTS: dict[str, str] = {
    "-name": "run_name",
    "-params-file": "params_file",
    "-r": "revision",
    "-revision": "revision",
    "-profile": "profile",
    "-w": "work_dir",
    "-work-dir": "work_dir",
    "-qs": "queue_size",
    "-queue-size": "queue_size",
}
_CONFIG_OPTS = frozenset({"-c", "-config"})
# Options accepted and ignored because they do not change what the simulator does.
_IGNORED_VALUE_OPTS = frozenset(
    {
        "-ansi-log",
        "-bucket-dir",
        "-cache",
        "-deep",
        "-dump-channels",
        "-entry",
        "-hub",
        "-lib",
        "-main-script",
        "-plugins",
        "-ps",
        "-pool-size",
        "-pi",
        "-poll-interval",
        "-user",
        "-with-conda",
        "-with-spack",
        "-with-apptainer",
        "-with-charliecloud",
    }
)
_IGNORED_FLAGS = frozenset(
    {
        "-offline",
        "-stub",
        "-stub-run",
        "-preview",
        "-export-sys-env",
        "-without-docker",
        "-without-podman",
        "-without-conda",
        "-without-spack",
        "-with-mpi",
        "-dsl1",
        "-dsl2",
        "-h",
        "-help",
    }
)
# Options whose value is optional (a file name or URL): Launcher.normalizeArgs fills it in.
# Any other ``-with-*`` is unknown to Nextflow, as to the simulator.
_OPTIONAL_VALUE_OPTS = frozenset(
    {
        "-N",
        "-with-cloudcache",
        "-with-dag",
        "-with-docker",
        "-with-fusion",
        "-with-notification",
        "-with-podman",
        "-with-report",
        "-with-seqera",
        "-with-singularity",
        "-with-timeline",
        "-with-tower",
        "-with-trace",
        "-with-wave",
        "-with-weblog",
    }
)
# Global options that come before the ``run`` command.
_GLOBAL_VALUE_OPTS = frozenset({"-log", "-C", "-D", "-bg-log", "-remote-debug"})
_GLOBAL_FLAGS = frozenset({"-q", "-quiet", "-bg", "-syslog", "-self-update", "-trace"})

_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def _unknown(opt: str) -> UsageError:
    return UsageError(
        f"Unknown option: {opt} -- Check the available commands and options and syntax with 'help'",
        bare=True,
    )


def _coerce_cli_value(raw: str) -> Any:
    # Nextflow turns CLI param strings that look like numbers or booleans into those types.
    low = raw.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if re.fullmatch(r"-?\d+\.\d*(?:[eE][-+]?\d+)?", raw):
        return float(raw)
    return raw


def parse_argv(argv: list[str]) -> RunOptions:
    """Parse a driver container's argv (command + args) into run options."""
    args = list(argv)
    # Drop everything up to the nextflow launcher itself (e.g. a ``/usr/bin/env`` prefix).
    for i, a in enumerate(args):
        if a == "nextflow" or a.endswith("/nextflow"):
            args = args[i + 1 :]
            break
    opts = RunOptions()
    i = 0
    while i < len(args) and args[i].startswith("-"):
        a = args[i]
        if a in _CONFIG_OPTS:
            if i + 1 >= len(args):
                raise UsageError(f"Expected a value after parameter {a}", bare=True)
            opts.config_files.append(args[i + 1])
            i += 2
        elif a in _GLOBAL_VALUE_OPTS:
            i += 2
        elif a in _GLOBAL_FLAGS:
            opts.quiet = opts.quiet or a in ("-q", "-quiet")
            i += 1
        else:
            raise _unknown(a)
    if i >= len(args):
        raise UsageError("Missing command -- Usage: nextflow [options] COMMAND [arg...]", bare=True)
    if args[i] != "run":
        raise UsageError(f"Unknown command: {args[i]}", bare=True)
    i += 1
    positional: list[str] = []
    while i < len(args):
        a = args[i]
        nxt = args[i + 1] if i + 1 < len(args) else None
        if a.startswith("--") and len(a) > 2:
            key, eq, val = a[2:].partition("=")
            if eq:
                opts.cli_params[key] = _coerce_cli_value(val)
                i += 1
            elif nxt is None or nxt.startswith("-"):
                opts.cli_params[key] = True
                i += 1
            else:
                opts.cli_params[key] = _coerce_cli_value(nxt)
                i += 2
        elif a in _CONFIG_OPTS:
            if nxt is None:
                raise UsageError(f"Expected a value after parameter {a}", bare=True)
            opts.config_files.append(nxt)
            i += 2
        elif a in _VALUE_OPTS:
            if nxt is None:
                raise UsageError(f"Expected a value after parameter {a}", bare=True)
            attr = _VALUE_OPTS[a]
            if attr == "queue_size":
                try:
                    opts.queue_size = int(nxt)
                except ValueError as e:
                    raise UsageError(
                        f"Parameter {a} should be a number (found {nxt})", bare=True
                    ) from e
            else:
                setattr(opts, attr, nxt)
            i += 2
        elif a == "-resume":
            # The session id is optional: only a UUID-looking token is taken as its value.
            if nxt is not None and _UUID_RE.match(nxt):
                opts.resume = nxt
                i += 2
            else:
                opts.resume = "last"
                i += 1
        elif a == "-latest":
            opts.latest = True
            i += 1
        elif a == "-disable-jobs-cancellation":
            opts.disable_jobs_cancellation = True
            i += 1
        elif a in _IGNORED_FLAGS:
            opts.ignored.append(a)
            i += 1
        elif a in _IGNORED_VALUE_OPTS:
            if nxt is None:
                raise UsageError(f"Expected a value after parameter {a}", bare=True)
            opts.ignored.extend([a, nxt])
            i += 2
        elif a == "-dump-hashes":
            # Launcher.normalizeArgs: an optional format, ``json`` the only one there is.
            if nxt == "json":
                opts.ignored.extend([a, nxt])
                i += 2
            else:
                opts.ignored.append(a)
                i += 1
        elif a in _OPTIONAL_VALUE_OPTS:
            if nxt is not None and not nxt.startswith("-"):
                opts.ignored.extend([a, nxt])
                i += 2
            else:
                opts.ignored.append(a)
                i += 1
        elif a.startswith(("-e.", "-process.", "-executor.", "-cluster.")):
            opts.ignored.append(a)
            i += 1
        elif a.startswith("-") and a != "-":
            raise _unknown(a)
        else:
            positional.append(a)
            i += 1
    if not positional:
        raise UsageError("No project name was specified")
    opts.pipeline = positional[0]
    if opts.run_name is not None:
        check_run_name(opts.run_name)
    return opts


def check_run_name(name: str) -> None:
    if name == "last":
        raise UsageError("Not a valid run name: `last`")
    if not _RUN_NAME_RE.match(name):
        raise UsageError(
            f"Not a valid run name: `{name}` -- It must match the pattern {RUN_NAME_PATTERN}"
        )


# --------------------------------------------------------------------------- groovy config

_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "b": "\b",
    "f": "\f",
    "'": "'",
    '"': '"',
    "\\": "\\",
    "$": "$",
}


@dataclass
class _Tok:
    kind: str  # "str", "num", "ident", "op", "nl", "eof"
    value: Any
    raw: str


class ConfigError(Exception):
    pass


def _unescape(body: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            n = body[i + 1]
            if n in _ESCAPES:
                out.append(_ESCAPES[n])
                i += 2
                continue
            if n == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2 : i + 6]):
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
                continue
            if n == "\n":  # line continuation inside a string
                i += 2
                continue
            out.append(n)
            i += 2
            continue
        out.append(c)
        i += 1
    text = "".join(out)
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        # \uXXXX escapes are UTF-16 code units: join surrogate pairs into one character.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def _lex(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\f":
            i += 1
        elif c == "\\" and text.startswith("\n", i + 1):
            i += 2
        elif c in "\n;":
            toks.append(_Tok("nl", c, c))
            i += 1
        elif text.startswith("//", i) or (text.startswith("#!", i) and i == 0):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise ConfigError("Unterminated comment")
            if "\n" in text[i:j]:
                toks.append(_Tok("nl", "\n", ""))
            i = j + 2
        elif text.startswith(("'''", '"""'), i):
            q = text[i : i + 3]
            j = i + 3
            while True:
                k = text.find(q, j)
                if k < 0:
                    raise ConfigError("Unterminated string literal")
                # A quote run preceded by an odd number of backslashes is escaped.
                bs = 0
                m = k - 1
                while m >= i + 3 and text[m] == "\\":
                    bs += 1
                    m -= 1
                if bs % 2 == 0:
                    break
                j = k + 1
            body = text[i + 3 : k]
            toks.append(_Tok("str", _unescape(body), text[i : k + 3]))
            i = k + 3
        elif c in "'\"":
            j = i + 1
            while j < n and text[j] != c:
                if text[j] == "\\":
                    j += 1
                elif text[j] == "\n":
                    raise ConfigError("Unterminated string literal")
                j += 1
            if j >= n:
                raise ConfigError("Unterminated string literal")
            toks.append(_Tok("str", _unescape(text[i + 1 : j]), text[i : j + 1]))
            i = j + 1
        elif c.isdigit():
            m = re.match(r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?[LlGgDdFf]?", text[i:])
            assert m is not None
            raw = m.group(0)
            num = raw.rstrip("LlGgDdFf")
            toks.append(
                _Tok("num", float(num) if "." in num or "e" in num.lower() else int(num), raw)
            )
            i += len(raw)
        elif c.isalpha() or c in "_$":
            m = re.match(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*", text[i:])
            assert m is not None
            raw = m.group(0)
            toks.append(_Tok("ident", raw, raw))
            i += len(raw)
        else:
            toks.append(_Tok("op", c, c))
            i += 1
    toks.append(_Tok("eof", None, ""))
    return toks


_CLOSERS = {"{": "}", "[": "]", "(": ")"}


class _ConfigParser:
    """Flattens Groovy config into ``{"k8s.namespace": "x", ...}``."""

    def __init__(
        self,
        text: str,
        *,
        read_file: Callable[[str], str | None] | None,
        source: str,
        depth: int = 0,
    ) -> None:
        self.toks = _lex(text)
        self.pos = 0
        self.read_file = read_file
        self.source = source
        self.depth = depth
        self.out: dict[str, Any] = {}

    def peek(self, k: int = 0) -> _Tok:
        return self.toks[min(self.pos + k, len(self.toks) - 1)]

    def take(self) -> _Tok:
        t = self.toks[self.pos]
        self.pos = min(self.pos + 1, len(self.toks) - 1)
        return t

    def skip_nl(self) -> None:
        while self.peek().kind == "nl":
            self.take()

    def parse(self) -> dict[str, Any]:
        self.block("", top=True)
        return self.out

    def block(self, prefix: str, *, top: bool = False) -> None:
        while True:
            self.skip_nl()
            t = self.peek()
            if t.kind == "eof":
                if not top:
                    raise ConfigError(f"Unexpected end of config file: {self.source}")
                return
            if t.kind == "op" and t.value == "}":
                if top:
                    raise ConfigError(f"Unexpected token '}}' in config file: {self.source}")
                self.take()
                return
            self.statement(prefix)

    def statement(self, prefix: str) -> None:
        t = self.take()
        if t.kind == "ident" and t.value == "includeConfig" and self.peek().kind == "str":
            self.include(self.take().value)
            return
        if t.kind == "ident" and t.value in ("withName", "withLabel") and self.peek().value == ":":
            self.take()
            sel = self.take()
            name = sel.value if sel.kind in ("str", "ident") else sel.raw
            self.skip_nl()
            if self.peek().value == "{":
                self.take()
                self.block(f"{prefix}{t.value}:{name}.")
            return
        if t.kind in ("ident", "str"):
            key = t.value
            nxt = self.peek()
            if nxt.kind == "op" and nxt.value == "=":
                self.take()
                self.out[prefix + key] = self.value()
                return
            if nxt.kind == "op" and nxt.value == "{":
                self.take()
                self.block(f"{prefix}{key}.")
                return
            if nxt.kind == "nl" and self.peek(1).kind == "op" and self.peek(1).value == "{":
                self.skip_nl()
                self.take()
                self.block(f"{prefix}{key}.")
                return
        # Not something the k8s executor cares about: skip to the end of the statement.
        self.skip_statement(t)

    def skip_statement(self, first: _Tok) -> None:
        depth = 0
        t = first
        while True:
            if t.kind == "op" and t.value in _CLOSERS:
                depth += 1
            elif t.kind == "op" and t.value in "}])":
                depth -= 1
            if t.kind == "eof":
                return
            nxt = self.peek()
            if depth <= 0 and (
                nxt.kind in ("nl", "eof") or (nxt.kind == "op" and nxt.value == "}")
            ):
                return
            t = self.take()

    def value(self) -> Any:
        start = self.pos
        depth = 0
        while True:
            t = self.peek()
            if t.kind == "eof":
                break
            if depth == 0 and (t.kind == "nl" or (t.kind == "op" and t.value == "}")):
                break
            if t.kind == "op" and t.value in _CLOSERS:
                depth += 1
            elif t.kind == "op" and t.value in "}])":
                depth -= 1
            self.take()
        toks = self.toks[start : self.pos]
        return _literal(toks)

    def include(self, path: str) -> None:
        if self.read_file is None or self.depth > 8:
            return
        if not path.startswith("/") and "/" in self.source:
            # Relative includes resolve against the including file's directory.
            path = posixpath.join(posixpath.dirname(self.source), path)
        text = self.read_file(path)
        if text is None:
            raise ConfigError(f"Config file does not exist: {path}")
        sub = _ConfigParser(text, read_file=self.read_file, source=path, depth=self.depth + 1)
        self.out.update(sub.parse())


def _literal(toks: list[_Tok]) -> Any:
    if len(toks) == 1:
        t = toks[0]
        if t.kind in ("str", "num"):
            return t.value
        if t.kind == "ident":
            if t.value == "true":
                return True
            if t.value == "false":
                return False
            if t.value == "null":
                return None
    if len(toks) == 2 and toks[0].raw == "-" and toks[1].kind == "num":
        return -toks[1].value
    if toks and toks[0].raw == "[" and toks[-1].raw == "]":
        items = _split_top(toks[1:-1])
        if all(len(it) == 1 and it[0].kind in ("str", "num", "ident") for it in items):
            return [_literal(it) for it in items]
    # A closure, expression or map: keep the source text, never evaluate it.
    return " ".join(t.raw for t in toks)


def _split_top(toks: list[_Tok]) -> list[list[_Tok]]:
    items: list[list[_Tok]] = []
    cur: list[_Tok] = []
    depth = 0
    for t in toks:
        if t.kind == "nl":
            continue
        if t.kind == "op" and t.value in _CLOSERS:
            depth += 1
        elif t.kind == "op" and t.value in "}])":
            depth -= 1
        if depth == 0 and t.kind == "op" and t.value == ",":
            items.append(cur)
            cur = []
            continue
        cur.append(t)
    if cur:
        items.append(cur)
    return items


def parse_config(
    text: str,
    *,
    source: str = "nextflow.config",
    read_file: Callable[[str], str | None] | None = None,
) -> dict[str, Any]:
    """Flatten one config file into dotted keys; raises ``ConfigError`` on broken syntax."""
    return _ConfigParser(text, read_file=read_file, source=source).parse()


def resolve_profiles(flat: dict[str, Any], profile: str | None) -> dict[str, Any]:
    """Drop ``profiles.*`` keys, applying the selected profiles' settings on top."""
    base = {k: v for k, v in flat.items() if not k.startswith("profiles.")}
    for raw in (profile or "").split(","):
        name = raw.strip()
        if not name:
            continue
        pre = f"profiles.{name}."
        for k, v in flat.items():
            if k.startswith(pre):
                base[k[len(pre) :]] = v
    return base


# --------------------------------------------------------------------------- params & units


def load_params(text: str, path: str) -> dict[str, Any]:
    """A params file is JSON, or YAML when it is not JSON (Nextflow picks by extension)."""
    try:
        data = json.loads(text)
    except ValueError:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise UsageError(f"Cannot parse params file: {path} - Cause: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"Cannot parse params file: {path} - Cause: not a map of parameters")
    return data


_DURATION_UNITS = {
    "ms": 0.001,
    "milli": 0.001,
    "millis": 0.001,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
}


def parse_duration(value: Any, default: float) -> float:
    """``'5 sec'``, ``'1m'``, ``'500ms'`` or a number of milliseconds, in seconds."""
    if value is None:
        return default
    if isinstance(value, int | float):
        return float(value) / 1000.0
    total = 0.0
    found = False
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]+)", str(value)):
        mult = _DURATION_UNITS.get(unit.lower())
        if mult is None:
            return default
        total += float(num) * mult
        found = True
    return total if found else default


_MEM_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}


def parse_memory_mib(value: Any) -> int | None:
    """``'6.GB'``, ``'6 GB'`` or ``'512 MB'`` in MiB (Nextflow's ``MemoryUnit.mega``)."""
    if value is None:
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*\.?\s*([kKmMgGtT]?[bB])\s*", str(value))
    if not m:
        return None
    return int(float(m.group(1)) * _MEM_UNITS[m.group(2).lower()] // 1024**2)


def as_bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"
