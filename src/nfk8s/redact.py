"""What counts as secret, and how it is hidden: parameter names, values, config text, messages.

Pure and light (``re`` and ``fnmatch`` only): the CLI imports it on every error path.

Parameter names are split into words (on ``_ . - /``, spaces and camelCase) and a name is
secret when one of its words is a credential word (``pass``, ``pwd``, ``token``, ``key``,
``cookie``, ``dsn``...) or two neighbouring words make one (``database url``,
``connection string``). Words rather than substrings, so ``tokenizer``, ``max_tokens`` and
``author`` stay visible. A value is secret whatever its key when it has the shape of a
credential: a URL with ``user:password@``, a PEM block, a provider token (``ghp_``,
``glpat-``, ``xoxb-``, ``AKIA``...), a JWT or a connection string with ``Password=``.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "***"

# Words that make a parameter name secret on their own.
SECRET_WORDS = frozenset(
    {
        "pass",
        "passwd",
        "password",
        "passwords",
        "passphrase",
        "passcode",
        "pwd",
        "pw",
        "secret",
        "secrets",
        "token",
        "key",
        "privkey",
        "privatekey",
        "apikey",
        "accesskey",
        "secretkey",
        "authkey",
        "authtoken",
        "cred",
        "creds",
        "credential",
        "credentials",
        "cookie",
        "cookies",
        "session",
        "sessionid",
        "auth",
        "oauth",
        "authorization",
        "authentication",
        "bearer",
        "pat",
        "dsn",
        "connection",
        "hmac",
        "pkcs12",
        "p12",
        "pfx",
        "jks",
        "keystore",
        "truststore",
        "keypass",
        "storepass",
        "jwt",
        "otp",
        "totp",
        "sas",
        "webhook",
        "kubeconfig",
        "netrc",
        "signature",
    }
)
# Neighbouring words that together name a credential though neither does alone.
_SECRET_PAIRS = frozenset(
    {
        ("database", "url"),
        ("database", "uri"),
        ("db", "url"),
        ("db", "uri"),
        ("jdbc", "url"),
        ("postgres", "url"),
        ("mysql", "url"),
        ("mongo", "url"),
        ("mongodb", "uri"),
        ("redis", "url"),
        ("amqp", "url"),
        ("broker", "url"),
        ("hook", "url"),
        ("conn", "str"),
        ("conn", "string"),
        ("private", "key"),
    }
)

# camelCase and acronyms: "sessionCookie" -> session, Cookie; "APIKey" -> API, Key;
# digits stay with their word: "pkcs12", "p12".
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+\d*|[A-Z]+\d*|\d+")

_CREDENTIAL_VALUE = re.compile(
    # Bounded repeats and word starts keep every pattern linear on a megabyte of text.
    r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,31}://[^/\s:@]{0,256}:[^/\s@]{1,1024}@"
    r"|-----BEGIN [A-Z0-9 ]+-----"  # PEM keys and certificates
    r"|\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"  # GitHub
    r"|\bgl(?:pat|dt|rt|ptt|ft|soat)-[A-Za-z0-9_-]{16,}"  # GitLab
    r"|\bxox[abposer]-[A-Za-z0-9-]{8,}|\bxapp-[A-Za-z0-9-]{8,}"  # Slack
    r"|https://hooks\.slack\.com/services/\S+"
    r"|https://(?:discord(?:app)?\.com)/api/webhooks/\S+"
    r"|\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b"  # AWS key ids
    r"|\bAIza[0-9A-Za-z_-]{30,}"  # Google API keys
    r"|\bya29\.[0-9A-Za-z_-]{20,}"  # Google OAuth access tokens
    r"|\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,}"  # Stripe
    r"|\bsk-[A-Za-z0-9_-]{20,}"  # OpenAI-style keys
    r"|\bhf_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|\bnpm_[A-Za-z0-9]{30,}"
    r"|\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"  # SendGrid
    r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"  # JWT
    r"|(?i:\b(?:password|pwd|accountkey|sharedaccesskey|sharedaccesssignature)=[^;\s]+)"
    r"|(?i:^\s*(?:bearer|basic)\s+\S{8,}\s*$)"
)


def key_words(key: str) -> list[str]:
    """The lower-case words of a parameter name, however it is spelled."""
    return [word.lower() for word in _WORD.findall(key)]


def looks_secret(key: str) -> bool:
    """Whether a parameter name suggests its value is a credential."""
    words = key_words(key)
    if any(word in SECRET_WORDS for word in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words))


def looks_like_credential(value: object) -> bool:
    """Whether a value has the shape of a credential, whatever its key."""
    return isinstance(value, str) and _CREDENTIAL_VALUE.search(value) is not None


def _glob_match(path: str, key: str, globs: Iterable[str]) -> bool:
    names = (path.lower(), key.lower())
    return any(fnmatch.fnmatchcase(name, g.lower()) for g in globs for name in names)


def is_secret(path: str, key: str, globs: Iterable[str] = ()) -> bool:
    """Whether the parameter at dotted ``path`` (last part ``key``) is kept out of the record."""
    return looks_secret(key) or _glob_match(path, key, globs)


def redact_params(
    params: Mapping[str, Any], globs: Iterable[str] = (), *, prefix: str = ""
) -> dict[str, Any]:
    """A copy with secret values replaced by ``***``, at any depth.

    A secret key hides everything under it; ``globs`` (``--secret-param``) match the dotted
    path (``db.host``) or the bare name, case-insensitively.
    """
    globs = tuple(globs)
    out: dict[str, Any] = {}
    for raw_key, value in params.items():
        key = str(raw_key)
        path = f"{prefix}{key}"
        out[key] = REDACTED if is_secret(path, key, globs) else _redact(value, globs, path)
    return out


def _redact(value: Any, globs: tuple[str, ...], path: str) -> Any:
    if isinstance(value, Mapping):
        return redact_params(value, globs, prefix=f"{path}.")
    if isinstance(value, list):
        return [_redact(item, globs, path) for item in value]
    if looks_like_credential(value):
        return REDACTED
    return value


def has_secret_params(params: Mapping[str, Any], globs: Iterable[str] = ()) -> bool:
    """Whether any key or value, at any depth, is secret."""
    return _has_secret(params, tuple(globs), "")


def _has_secret(value: Any, globs: tuple[str, ...], path: str) -> bool:
    if isinstance(value, Mapping):
        for raw_key, item in value.items():
            key = str(raw_key)
            full = f"{path}.{key}" if path else key
            if is_secret(full, key, globs) or _has_secret(item, globs, full):
                return True
        return False
    if isinstance(value, list):
        return any(_has_secret(item, globs, path) for item in value)
    return looks_like_credential(value)


def hidden_values(actual: Any, shown: Any) -> list[str]:
    """The values of ``actual`` that ``shown`` (its redacted copy) hides, as text.

    Numbers and booleans under a secret key count too: a pipeline prints them as text.
    """
    if shown == REDACTED and actual != REDACTED:
        return list(_leaves(actual))
    if isinstance(actual, Mapping) and isinstance(shown, Mapping):
        return [v for k, a in actual.items() for v in hidden_values(a, shown.get(k))]
    if isinstance(actual, list) and isinstance(shown, list) and len(actual) == len(shown):
        return [v for a, s in zip(actual, shown, strict=True) for v in hidden_values(a, s)]
    return []


def _leaves(value: Any) -> Iterable[str]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


# -- config files -----------------------------------------------------------------------

# `name = 'value'`, `name: "value"` and `name "value"` in a Nextflow (Groovy) config.
_CONFIG_ASSIGNMENT = re.compile(
    r"""(?<![\w.])(?P<key>[A-Za-z_][\w.]{0,255})[ \t]*(?:=|:)?[ \t]*"""
    r"""(?P<q>'''|\"\"\"|'|")(?P<value>.*?)(?P=q)""",
    re.DOTALL,
)
_CONFIG_STRING = re.compile(r"""(?P<q>'''|\"\"\"|'|")(?P<value>.*?)(?P=q)""", re.DOTALL)


def config_secret_values(text: str, globs: Iterable[str] = ()) -> list[str]:
    """String literals of a config file that look secret: by their key, or by their shape."""
    globs = tuple(globs)
    values: list[str] = []
    for match in _CONFIG_ASSIGNMENT.finditer(text):
        path = match["key"]
        if is_secret(path, path.rsplit(".", 1)[-1], globs):
            values.append(match["value"])
    strings = (m["value"] for m in _CONFIG_STRING.finditer(text))
    values += [value for value in strings if looks_like_credential(value)]
    return [v for v in dict.fromkeys(values) if v]


# -- masking for CI logs ----------------------------------------------------------------

MIN_MASK_LENGTH = 3


def mask_values(values: Iterable[str]) -> list[str]:
    """What to register with a CI log masker: each value and each line of a multi-line one.

    Values shorter than ``MIN_MASK_LENGTH`` are left out: masking ``1`` or ``no`` would
    blank every occurrence in the whole log and hide nothing.
    """
    out: dict[str, None] = {}
    for value in values:
        for line in (value, *value.splitlines()):
            part = line.strip()
            if len(part) >= MIN_MASK_LENGTH:
                out[part] = None
    return list(out)


# -- scrubbing messages -----------------------------------------------------------------

_known: set[str] = set()

# `name: value`, `name=value`, or quoted on both sides as in JSON and dict reprs
# (`"name": "value"`); a quote on one side only is prose (`parameter 'db password': the`).
_SEPARATOR = r"(\s*[:=]\s*['\"]?|['\"]\s*[:=,]\s*['\"])"
_SCRUB = (
    (
        re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.*?(?:-----END \1-----|\Z)", re.DOTALL),
        "[\\1 redacted]",
    ),
    (
        re.compile(
            r"(?i)\b(authorization|proxy-authorization)"
            + _SEPARATOR
            + r"[^\s'\",}]+(?:[ \t]+[^\s'\",}]+)?"
        ),
        "\\1\\2***",
    ),
    (re.compile(r"(?i)\b(bearer|basic)(\s+|\\x20|%20)[A-Za-z0-9._~+/=:-]{4,}"), "\\1\\2***"),
    (
        re.compile(
            r"(?i)\b(client-key-data|client-certificate-data|token|password)"
            + _SEPARATOR
            + r"[^\s'\",}]+"
        ),
        "\\1\\2***",
    ),
)


def remember(*values: str | None) -> None:
    """Values (a kubeconfig token, a secret parameter) that no message may ever show."""
    for value in values:
        if value:
            for part in mask_values([value]):
                _known.add(part)


def scrub(text: str) -> str:
    """``text`` with bearer tokens, authorization headers, PEM blocks and known secrets hidden."""
    for pattern, replacement in _SCRUB:
        text = pattern.sub(replacement, text)
    for value in sorted(_known, key=len, reverse=True):
        if value in text:
            text = text.replace(value, REDACTED)
    return text
