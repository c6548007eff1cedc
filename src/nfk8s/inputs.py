"""Parse and check what a user typed or pointed at; every failure is a one-line ``BadInput``.

Each message names the offending value and the hint names the fix, because these errors
reach people in CI logs where they cannot ask what was meant.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path, PurePosixPath
from typing import Any

from nfk8s.errors import BadInput
from nfk8s.limits import MAX_RECORD_BYTES, pipeline_too_large, stored_size

# -- durations --------------------------------------------------------------------------

_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_DURATION_HINT = "use seconds (300) or units d/h/m/s, largest first: 90s, 15m, 2h, 1h30m, 1d"


def parse_duration(text: str | int, *, what: str = "duration", allow_zero: bool = False) -> int:
    """Seconds in ``300``, ``90s``, ``15m``, ``2h``, ``1h30m`` or ``1d``."""
    if isinstance(text, bool):
        raise BadInput(f"invalid {what} {text!r}", hint=_DURATION_HINT)
    if isinstance(text, int):
        seconds = text
    else:
        raw = text.strip().lower()
        if raw.isdigit():
            seconds = int(raw)
        else:
            match = _DURATION.fullmatch(raw)
            if not raw or match is None or not any(match.groups()):
                raise BadInput(f"invalid {what} {text!r}", hint=_DURATION_HINT)
            seconds = sum(
                int(value) * _UNIT_SECONDS[unit]
                for value, unit in zip(match.groups(), "dhms", strict=True)
                if value is not None
            )
    if seconds < 0:
        raise BadInput(f"invalid {what} {text!r}: it must not be negative", hint=_DURATION_HINT)
    if seconds == 0 and not allow_zero:
        raise BadInput(f"invalid {what} {text!r}: it must be longer than zero", hint=_DURATION_HINT)
    return seconds


def format_duration(seconds: int) -> str:
    """The inverse of ``parse_duration``, in its shortest form (``5400`` → ``1h30m``)."""
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in _UNIT_SECONDS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


# -- quantities -------------------------------------------------------------------------

# Kubernetes resource.Quantity: a non-negative decimal with a binary-SI, decimal-SI or
# exponent suffix. A sign is legal in the grammar but never for a request.
_QUANTITY = re.compile(
    r"(?P<number>\d+(?:\.\d*)?|\.\d+)"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE]|[eE][+-]?\d+)?"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"m": Decimal("0.001"), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_DECIMAL |= {"P": 10**15, "E": 10**18}


def quantity_value(text: str) -> Decimal:
    """The number a Kubernetes quantity stands for; ``ValueError`` when it is not one."""
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise ValueError(text)
    try:
        number = Decimal(match["number"])
    except InvalidOperation:
        raise ValueError(text) from None
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * Decimal(_DECIMAL[suffix])
    if suffix:
        return number.scaleb(int(suffix[1:]))
    return number


def parse_quantity_cpu(text: str | int | float) -> str:
    """A CPU request such as ``500m``, ``2`` or ``1.5``, returned as Kubernetes writes it."""
    raw = str(text).strip()
    hint = "use whole or fractional cores (2, 0.5) or millicores (500m)"
    try:
        value = quantity_value(raw)
    except ValueError:
        raise BadInput(f"invalid CPU quantity {raw!r}", hint=hint) from None
    if raw[-2:] in _BINARY:
        raise BadInput(f"invalid CPU quantity {raw!r}: {raw[-2:]} is a memory unit", hint=hint)
    if value < Decimal("0.001"):
        raise BadInput(f"invalid CPU quantity {raw!r}: at least 1m is needed", hint=hint)
    return raw


def parse_quantity_memory(text: str | int) -> str:
    """A memory request such as ``4Gi`` or ``512M``, returned as Kubernetes writes it."""
    raw = str(text).strip()
    hint = "use binary units (512Mi, 4Gi) or decimal units (512M, 4G)"
    if re.fullmatch(r"\d+(?:\.\d+)?m", raw):
        # Legal for the API server but means millibytes: always a typo for Mi.
        raise BadInput(f"invalid memory quantity {raw!r}: m means millibytes", hint=hint)
    try:
        value = quantity_value(raw)
    except ValueError:
        if re.fullmatch(r"\d+(?:\.\d+)?\s*(?:[kKmMgGtT][iI]?[bB]?)", raw):
            hint = "Kubernetes spells units Ki, Mi, Gi (binary) or k, M, G (decimal), no B"
        raise BadInput(f"invalid memory quantity {raw!r}", hint=hint) from None
    if value < 2**20:
        raise BadInput(f"invalid memory quantity {raw!r}: at least 1Mi is needed", hint=hint)
    return raw


# -- params -----------------------------------------------------------------------------

_PARAM_HINT = "write -p KEY=VALUE, e.g. -p outdir=results or -p max_memory=8.GB"
_DOT_NOT_ESCAPED = re.compile(r"(?<!\\)\.")


def parse_param(text: str) -> dict[str, Any]:
    """One ``-p KEY=VALUE`` as a (possibly nested) dict.

    The value is JSON when it parses as JSON (numbers, booleans, null, arrays, objects, or
    a quoted string to force a string), else the literal text. Dotted keys nest like
    Nextflow's ``--a.b=1``; ``\\.`` keeps a literal dot. Messages name the key, never the
    value: it may be a password.
    """
    key, sep, raw = text.partition("=")
    if not sep:
        # Without '=' there is no telling key from value: show neither.
        raise BadInput(
            f"invalid parameter: no '=' between key and value in a -p of {len(text)} characters",
            hint=_PARAM_HINT,
        )
    shown = repr(key)
    if not key:
        raise BadInput("invalid parameter: the key is empty", hint=_PARAM_HINT)
    if any(ch.isspace() for ch in key):
        raise BadInput(f"invalid parameter {shown}: the key has whitespace", hint=_PARAM_HINT)
    parts = [part.replace("\\.", ".") for part in _DOT_NOT_ESCAPED.split(key)]
    if any(not part for part in parts):
        raise BadInput(f"invalid parameter {shown}: empty name between dots", hint=_PARAM_HINT)
    value: Any = _param_value(raw)
    check_param_value(value, where=f"parameter {shown}")
    _check_text(key, where=f"parameter {shown}", what="key")
    for part in reversed(parts):
        value = {part: value}
    return value


def _param_value(raw: str) -> Any:
    def reject_constant(name: str) -> Any:
        raise ValueError(name)  # NaN and Infinity are not JSON; Nextflow cannot read them

    try:
        return json.loads(raw, parse_constant=reject_constant)
    except ValueError:
        return raw
    except RecursionError:
        return raw


def check_param_value(value: Any, *, where: str, path: str = "") -> None:
    """Refuse what Nextflow cannot read back: non-finite numbers and lone surrogates.

    ``json.loads`` turns ``1e400`` into infinity (written back as ``Infinity``, which is
    not JSON) and ``"\\ud800"`` into a string no UTF-8 encoder accepts.
    """
    if isinstance(value, float) and not math.isfinite(value):
        raise BadInput(
            f"invalid {where}{path}: the number is out of range (not finite)",
            hint="quote it to pass it as text, e.g. -p 'v=\"1e400\"', or use a smaller number",
        )
    if isinstance(value, str):
        _check_text(value, where=f"{where}{path}", what="value")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(str(key), where=f"{where}{path}", what="key")
            check_param_value(item, where=where, path=f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_param_value(item, where=where, path=f"{path}[{index}]")


def _check_text(text: str, *, where: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(
            f"invalid {where}: the {what} is not valid Unicode (a lone surrogate or bytes "
            "that are not UTF-8)",
            hint="pass UTF-8 text; in JSON, write characters outside the BMP as a "
            "surrogate pair or as themselves",
        ) from None


def split_globs(text: str) -> tuple[str, ...]:
    """``"a, b.*"`` → ``("a", "b.*")``: parameter name globs for ``--secret-param``."""
    globs = tuple(part.strip() for part in text.split(",") if part.strip())
    for glob in globs:
        if any(ch.isspace() or ord(ch) < 0x20 for ch in glob):
            raise BadInput(
                f"invalid parameter name glob {glob!r}: it has whitespace",
                hint="use names and globs such as db_host, *_url or aws.*, comma-separated",
            )
    return globs


def merge_params(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` into a copy of ``base``, as Nextflow layers CLI params."""
    result = dict(base)
    for key, value in override.items():
        current = result.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            result[key] = merge_params(current, value)
        else:
            result[key] = value
    return result


def build_params(params_file: str | Path | None, pairs: list[str]) -> dict[str, Any]:
    """The run's params: the params file first, then each ``-p`` in order."""
    params = load_params_file(params_file) if params_file is not None else {}
    for pair in pairs:
        params = merge_params(params, parse_param(pair))
    return params


def load_params_file(path: str | Path) -> dict[str, Any]:
    """A JSON or YAML mapping from a file, with every value JSON-safe."""
    file = Path(path).expanduser()
    hint = "pass --params-file a readable .json or .yaml file holding a mapping"
    text = read_text_file(path, what="params file", hint=hint)
    if file.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise BadInput(
                f"params file {str(path)!r} is not valid JSON: {exc}", hint=hint
            ) from None
    else:
        data = parse_yaml(text, what=f"params file {str(path)!r}", hint=hint)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInput(
            f"params file {str(path)!r} holds a {type(data).__name__}, not a mapping", hint=hint
        )
    safe = _json_safe(data)
    for key, item in safe.items():
        where = f"params file {str(path)!r}, key {key!r}"
        _check_text(key, where=where, what="key")
        check_param_value(item, where=where)
    return safe


def parse_yaml(text: str, *, what: str, hint: str) -> Any:
    """YAML (a superset of JSON), or a ``BadInput`` saying where ``what`` is not valid."""
    import yaml  # only needed for files that may be YAML; keep start-up lean

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = " ".join(str(getattr(exc, "problem", "") or exc).split())
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise BadInput(f"{what} is not valid YAML{where}: {problem}", hint=hint) from None


def _json_safe(value: Any) -> Any:
    """YAML can produce dates, bytes and non-string keys; Nextflow reads JSON."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_json_safe(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


# -- profile, revision, pipeline --------------------------------------------------------

_PROFILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")


def validate_profile(text: str) -> str:
    """Comma-separated profile names, as ``-profile`` takes them."""
    hint = "use comma-separated names of letters, digits, _ and -, e.g. --profile test,docker"
    names = text.split(",")
    for name in names:
        if not _PROFILE.fullmatch(name):
            raise BadInput(f"invalid profile {text!r}: {name!r} is not a profile name", hint=hint)
    return text


def validate_revision(text: str) -> str:
    """A git branch, tag or commit, by ``git check-ref-format`` rules."""
    hint = "use a branch, tag or commit id, e.g. -r 3.14.0 or -r main"
    problem = None
    if not text:
        problem = "it is empty"
    elif text.startswith(("-", "/")) or text.endswith(("/", ".", ".lock")):
        problem = "it cannot start with - or / or end with /, . or .lock"
    elif any(ord(ch) < 0x20 or ord(ch) == 0x7F or ch.isspace() for ch in text):
        problem = "it contains whitespace or control characters"
    elif any(ch in text for ch in "~^:?*[\\"):
        problem = "it contains one of ~ ^ : ? * [ \\"
    elif ".." in text or "@{" in text or "//" in text or text == "@":
        problem = "it contains .., @{ or //"
    elif any(part.startswith(".") for part in text.split("/")):
        problem = "a path component starts with ."
    if problem:
        raise BadInput(f"invalid revision {text!r}: {problem}", hint=hint)
    return text


@dataclass(frozen=True)
class PipelineRef:
    """What ``PIPELINE`` named: ``name`` goes into the RunSpec; ``local_dir`` is set for uploads."""

    name: str
    local_dir: Path | None = None

    @property
    def is_local(self) -> bool:
        return self.local_dir is not None


_REMOTE_PROJECT = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_URL = re.compile(r"(?:https?|ssh|git)://[^\s/]+/\S+|git@[^\s:]+:\S+")


def validate_pipeline(text: str, *, cwd: Path | None = None) -> bool:
    """Check ``PIPELINE``; True when it is a local directory (to upload), False when remote."""
    return resolve_pipeline(text, cwd=cwd).is_local


def resolve_pipeline(text: str, *, cwd: Path | None = None) -> PipelineRef:
    """A remote project (``owner/repo``), a git URL, or a local directory with ``main.nf``."""
    hint = "use owner/repo (nf-core/rnaseq), a git URL, or a directory that holds main.nf"
    if not text or not text.strip():
        raise BadInput("the pipeline is empty", hint=hint)
    if text.startswith("-"):
        raise BadInput(f"invalid pipeline {text!r}: it looks like an option", hint=hint)
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise BadInput(f"invalid pipeline {text!r}: it contains control characters", hint=hint)
    if _URL.fullmatch(text):
        return PipelineRef(text)
    base = cwd or Path.cwd()
    path = Path(text).expanduser()
    path = path if path.is_absolute() else base / path
    if path.is_dir():
        if not (path / "main.nf").is_file():
            raise BadInput(
                f"local pipeline {text!r} has no main.nf",
                hint="point at the directory that holds the pipeline's main.nf",
            )
        resolved = path.resolve()
        return PipelineRef(str(resolved), resolved)
    if path.is_file():
        raise BadInput(
            f"pipeline {text!r} is a file",
            hint="pass the directory that holds main.nf; nfk8s uploads the whole directory",
        )
    looks_local = text.startswith((".", "/", "~")) or text.endswith(".nf") or text.count("/") > 1
    if looks_local:
        raise BadInput(f"local pipeline directory {text!r} does not exist", hint=hint)
    if _REMOTE_PROJECT.fullmatch(text) and not text.startswith("."):
        return PipelineRef(text)
    raise BadInput(f"pipeline {text!r} is neither owner/repo, a git URL nor a directory", hint=hint)


# -- local files ------------------------------------------------------------------------

# Run output and caches that live next to a pipeline but are no part of it.
_SKIP_DIRS = frozenset({".git", "work", "results"})


def _skipped(name: str) -> bool:
    return name in _SKIP_DIRS or name.startswith(".nextflow")


def read_local_pipeline(directory: str | Path) -> dict[str, bytes]:
    """Every file of a local pipeline, by relative POSIX path, within the record's size limit."""
    root = Path(directory)
    files: dict[str, bytes] = {}
    size = 0
    for current, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not _skipped(d))
        here = Path(current)
        for name in sorted(filenames):
            if _skipped(name):
                continue
            path = here / name
            relative = PurePosixPath(path.relative_to(root).as_posix())
            if not path.is_file():  # sockets, fifos, dangling links
                continue
            try:
                content = path.read_bytes()
            except OSError as exc:
                raise BadInput(
                    f"cannot read {relative} in local pipeline {str(directory)!r}: {exc.strerror}",
                    hint="make every file in the pipeline directory readable",
                ) from None
            files[str(relative)] = content
            size += stored_size(content)
            if size > MAX_RECORD_BYTES:
                raise pipeline_too_large(size)
    return files


def read_config_file(path: str | Path) -> str:
    """The text of a ``-c`` file."""
    return read_text_file(path, what="config file", hint="pass -c a readable Nextflow config file")


def read_text_file(path: str | Path, *, what: str, hint: str) -> str:
    """A UTF-8 file's text, or a ``BadInput`` naming ``what`` could not be read and why."""
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{what} {str(path)!r} does not exist", hint=hint) from None
    except IsADirectoryError:
        raise BadInput(f"{what} {str(path)!r} is a directory", hint=hint) from None
    except UnicodeDecodeError:
        raise BadInput(f"{what} {str(path)!r} is not UTF-8 text", hint=hint) from None
    except OSError as exc:
        raise BadInput(f"cannot read {what} {str(path)!r}: {exc.strerror}", hint=hint) from None


# -- Nextflow's spellings on the run command line ---------------------------------------

# A word that means "the last session", as Nextflow's own ``-resume last``.
SESSION_LAST = "last"
_SESSION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
# Hex and dashes, but not a session id: most likely one mistyped or cut short.
_SESSION_LIKE = re.compile(r"[0-9A-Fa-f]+(?:-[0-9A-Fa-f]*)+")
_SESSION_HINT = (
    "a session id is a UUID such as 4f1c2a4e-77b0-4f43-8d8f-3c2b1a0e9d88 (nfk8s status RUN "
    "shows a run's session); --resume alone resumes the pipeline's last session"
)

# Nextflow's single-dash spellings of the options nfk8s has, and nfk8s's own names.
NEXTFLOW_ALIASES: dict[str, str] = {
    "-resume": "--resume",
    "-profile": "--profile",
    "-params-file": "--params-file",
    "-revision": "--revision",
    "-name": "--name",
    "-config": "--config",
    "-latest": "--latest",
}
# ``run``'s options, kept beside the command's definition by a test.
RUN_VALUE_OPTIONS: dict[str, str] = {
    "-r": "--revision",
    "-p": "--param",
    "-c": "--config",
    "-o": "--output",
    "-n": "--namespace",
    "--revision": "--revision",
    "--profile": "--profile",
    "--param": "--param",
    "--params-file": "--params-file",
    "--config": "--config",
    "--secret-param": "--secret-param",
    "--name": "--name",
    "--timeout": "--timeout",
    "--start-timeout": "--start-timeout",
    "--head-cpus": "--head-cpus",
    "--head-memory": "--head-memory",
    "--node-selector": "--node-selector",
    "--toleration": "--toleration",
    "--priority-class": "--priority-class",
    "--driver-pod-patch": "--driver-pod-patch",
    "--output": "--output",
    "--context": "--context",
    "--namespace": "--namespace",
    "--kubeconfig": "--kubeconfig",
}
RUN_FLAGS = frozenset(
    {
        "-d",
        "-h",
        "--detach",
        "--attach",
        "--latest",
        "--dry-run",
        "--restricted",
        "--timestamps",
        "--plain",
        "--cancel-on-interrupt",
        "--help",
    }
)
# Options of ``run`` whose value is optional and only ever given with ``=``.
RUN_OPTIONAL_VALUE = frozenset({"--resume", "--wait-lock"})
# Global options, before the command, that take a value.
_GLOBAL_VALUE_OPTIONS = frozenset({"--context", "--namespace", "-n", "--kubeconfig"})


def nextflow_style_argv(args: list[str]) -> list[str]:
    """``nfk8s`` argv with Nextflow's spellings of ``run``'s options turned into nfk8s's.

    ``-profile test`` becomes ``--profile test``, ``-resume`` ``--resume=last`` and
    ``-resume UUID`` ``--resume=UUID``. Any other single-dash word that is not one of
    ``run``'s short options is refused, so that ``-resume`` can never again be read as
    ``-r esume``. Words after ``--`` are left for ``check_nextflow_options``.
    """
    start = _command_index(args)
    if start is None or args[start] != "run":
        return list(args)
    return [*args[: start + 1], *_run_words(args[start + 1 :])]


def _command_index(args: list[str]) -> int | None:
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            return i + 1 if i + 1 < len(args) else None
        if not word.startswith("-") or word == "-":
            return i
        i += 2 if word in _GLOBAL_VALUE_OPTIONS else 1
    return None


def _run_words(words: list[str]) -> list[str]:
    out: list[str] = []
    positionals = 0
    i = 0
    while i < len(words):
        word = words[i]
        following = words[i + 1] if i + 1 < len(words) else None
        i += 1
        if word == "--":
            # With no PIPELINE before it, the next word becomes PIPELINE, which
            # validate_pipeline refuses when it looks like an option.
            return [*out, word, *words[i:]]
        if word == "--wait-lock" and following is not None and _is_duration(following):
            # Its value is optional, so a space would make the duration an argument.
            raise BadInput(
                f"--wait-lock takes its duration after '=': {following!r} was read as an argument",
                hint=f"use --wait-lock={following}",
            )
        name, eq, value = word.partition("=")
        if name in ("-resume", "--resume"):
            if eq:
                out.append(f"--resume={value}")
            elif following is not None and _is_session_word(following):
                out.append(f"--resume={following}")
                i += 1
            else:
                out.append(f"--resume={SESSION_LAST}")
            continue
        if word in RUN_VALUE_OPTIONS:
            # Click reads the next word as the value, whatever it looks like.
            out.append(word)
            if following is not None:
                out.append(following)
                i += 1
            continue
        if name in NEXTFLOW_ALIASES or (eq and name in RUN_VALUE_OPTIONS):
            own = NEXTFLOW_ALIASES.get(name) or RUN_VALUE_OPTIONS[name]
            if eq:
                out.append(f"{own}={value}")
            else:
                out.append(own)
                if own in RUN_VALUE_OPTIONS and following is not None:
                    out.append(following)
                    i += 1
            continue
        if not word.startswith("-") or word == "-":
            positionals += 1
            if positionals > 1:
                raise _extra_argument(word, after_param=_ends_with_param(out))
        elif not word.startswith("--") and word not in RUN_FLAGS:
            raise _unknown_single_dash(name)
        out.append(word)
    return out


def _is_session_word(word: str) -> bool:
    return word == SESSION_LAST or _SESSION_ID.fullmatch(word) is not None


def _is_duration(word: str) -> bool:
    try:
        parse_duration(word)
    except BadInput:
        return False
    return True


def _ends_with_param(words: list[str]) -> bool:
    """Whether ``words`` end with a ``-p``/``--param`` and its value."""
    last = words[-1] if words else ""
    return last.startswith("--param=") or (len(words) > 1 and words[-2] in ("-p", "--param"))


def _extra_argument(word: str, *, after_param: bool = False) -> BadInput:
    if after_param:
        # `-p key=two words`: the extra word is part of a parameter's value: never shown.
        return BadInput(
            "unexpected argument after a -p value: nfk8s run takes one PIPELINE",
            hint="quote a value that holds spaces: -p 'KEY=two words'",
        )
    if _SESSION_LIKE.fullmatch(word):
        return BadInput(f"invalid session id {word!r}", hint=_SESSION_HINT)
    return BadInput(
        f"unexpected argument {word!r}: nfk8s run takes one PIPELINE",
        hint="pipeline parameters are -p KEY=VALUE; Nextflow's own options go after --, "
        "e.g. nfk8s run PIPELINE -- -stub",
    )


def _unknown_single_dash(name: str) -> BadInput:
    double = "-" + name
    if double in RUN_VALUE_OPTIONS or double in RUN_FLAGS or double in RUN_OPTIONAL_VALUE:
        hint = f"nfk8s's own options take two dashes: {double}"
    elif name in NEXTFLOW_OPTIONS:
        hint = f"pass Nextflow's {name} after --, e.g. nfk8s run PIPELINE -- {name}"
    else:
        hint = (
            f"nfk8s's options take two dashes ({double} is not one either; see nfk8s run "
            "--help); pipeline parameters are -p KEY=VALUE; Nextflow's options go after --"
        )
    return BadInput(f"unknown option {name!r}", hint=hint)


def parse_resume(value: str | None) -> tuple[bool, str | None]:
    """``--resume[=SESSION]`` as (resume?, session id or None for the last session)."""
    if value is None:
        return False, None
    text = value.strip()
    if text in ("", SESSION_LAST):
        return True, None
    if not _SESSION_ID.fullmatch(text):
        raise BadInput(f"invalid session id {value!r}", hint=_SESSION_HINT)
    return True, text.lower()


# -- Nextflow options passed through after -- -------------------------------------------


@dataclass(frozen=True)
class _PassThrough:
    """One Nextflow option nfk8s passes to the driver as given."""

    value: str  # "none", "optional" or "required"
    pattern: re.Pattern[str] | None = None
    shape: str = ""  # the value as --help shows it


_PATH = re.compile(r"[^\x00-\x1f\x7f]{1,1024}")
_WORKFLOW = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")

NEXTFLOW_OPTIONS: dict[str, _PassThrough] = {
    "-stub": _PassThrough("none"),
    "-stub-run": _PassThrough("none"),
    "-preview": _PassThrough("none"),
    "-entry": _PassThrough("required", _WORKFLOW, "NAME"),
    "-main-script": _PassThrough("required", _PATH, "FILE"),
    "-with-report": _PassThrough("optional", _PATH, "FILE"),
    "-with-trace": _PassThrough("optional", _PATH, "FILE"),
    "-with-timeline": _PassThrough("optional", _PATH, "FILE"),
    "-with-dag": _PassThrough("optional", _PATH, "FILE"),
    "-dump-hashes": _PassThrough("optional", re.compile("json"), "json"),
    "-cache": _PassThrough("required", re.compile("true|false"), "true|false"),
    "-qs": _PassThrough("required", re.compile(r"[1-9]\d{0,5}"), "N"),
    "-queue-size": _PassThrough("required", re.compile(r"[1-9]\d{0,5}"), "N"),
}

_SECRET_HINT = "{own} (before --), which keeps it in the run's Secret, out of its record"
# Nextflow options nfk8s will not pass, and what to use instead.
_REFUSED: dict[str, str] = {
    "-c": _SECRET_HINT.format(own="give config files with -c FILE"),
    "-config": _SECRET_HINT.format(own="give config files with -c FILE"),
    "-C": _SECRET_HINT.format(own="give config files with -c FILE"),
    "-params-file": _SECRET_HINT.format(own="give parameters with --params-file FILE"),
    "-bg": "use --detach: nfk8s returns once the run is submitted and it keeps running",
    "-log": "nfk8s keeps Nextflow's log file in the launch directory; `nfk8s logs` shows "
    "the console log",
    "-w": "the work directory is nfk8s's, on the work volume (the work_mount_path setting)",
    "-work-dir": "the work directory is nfk8s's, on the work volume (the work_mount_path setting)",
    "-bucket-dir": "the work directory is nfk8s's, on the work volume (the work_mount_path "
    "setting)",
    "-ansi-log": "nfk8s follows Nextflow's plain console log and cannot read another",
    "-q": "nfk8s follows Nextflow's console log and needs all of it",
    "-quiet": "nfk8s follows Nextflow's console log and needs all of it",
    "-user": "nfk8s runs cannot prompt for a password: give git credentials in a -c file's scm "
    "settings (before --)",
}
for _alias, _own in {**NEXTFLOW_ALIASES, "-r": "--revision"}.items():
    _REFUSED.setdefault(_alias, f"nfk8s takes {_alias} itself: put it before -- ({_own})")


def nextflow_options_help() -> str:
    """The pass-through list as ``run --help`` and the README show it."""
    shown = []
    for name, option in NEXTFLOW_OPTIONS.items():
        if option.value == "none":
            shown.append(name)
        elif option.value == "optional":
            shown.append(f"{name} [{option.shape}]")
        else:
            shown.append(f"{name} {option.shape}")
    return ", ".join(shown)


def check_nextflow_options(words: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The words after ``--``, checked against the options nfk8s passes to Nextflow.

    Nothing that could bring in config or params around the run's Secret passes (``-c``,
    ``-params-file``, ``--PARAM``, ``-process.*``), nor what changes how nfk8s drives
    Nextflow (``-bg``, ``-w``, ``-ansi-log``, ``-resume``...).
    """
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        option = NEXTFLOW_OPTIONS.get(word)
        if option is None:
            raise _refused(word)
        following = words[i] if i < len(words) else None
        takes_next = following is not None and not following.startswith("-")
        if option.value == "none":
            continue
        if option.value == "required" and not takes_next:
            raise BadInput(
                f"Nextflow option {word} needs a value ({option.shape})",
                hint=f"write -- {word} {option.shape}",
            )
        if takes_next and following is not None:
            if option.pattern is not None and not option.pattern.fullmatch(following):
                raise BadInput(
                    f"invalid value {following!r} for Nextflow option {word}",
                    hint=f"write -- {word} {option.shape}",
                )
            i += 1
    return tuple(words)


def _refused(word: str) -> BadInput:
    allowed = f"nfk8s passes these Nextflow options after --: {nextflow_options_help()}"
    name, eq, _value = word.partition("=")
    if not word.startswith("-") or word == "-":
        return BadInput(
            f"unexpected word {word!r} after --: only Nextflow options go there", hint=allowed
        )
    if word.startswith("--"):
        return BadInput(
            f"pipeline parameter {name!r} after --",
            hint=_SECRET_HINT.format(own="give parameters with -p KEY=VALUE"),
        )
    if name in NEXTFLOW_OPTIONS and eq:
        shape = NEXTFLOW_OPTIONS[name].shape
        return BadInput(
            f"Nextflow option {word!r}: Nextflow takes no '=' here",
            hint=f"write -- {name} {shape}".rstrip(),
        )
    if name in _REFUSED:
        return BadInput(f"Nextflow option {name} is not passed through", hint=_REFUSED[name])
    if name in RUN_VALUE_OPTIONS or name in RUN_FLAGS or name in RUN_OPTIONAL_VALUE:
        return BadInput(
            f"nfk8s's option {name} after --",
            hint=f"put {name} before --: after it only Nextflow's options go",
        )
    if "." in name:
        # -process.cpus=2, -e.SECRET=x: config settings and environment on the command line.
        return BadInput(
            f"Nextflow setting {name!r} is not passed through",
            hint=_SECRET_HINT.format(own="put config settings in a -c FILE"),
        )
    return BadInput(f"Nextflow option {name} is not passed through", hint=allowed)
