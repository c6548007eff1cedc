"""Shared helpers for the unit tests: golden files, Kubernetes validation, a Groovy reader."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).parent / "golden"
UPDATE_ENV = "NFK8S_UPDATE_GOLDEN"


def check_golden(name: str, text: str) -> None:
    """Compare ``text`` with ``golden/name``; with NFK8S_UPDATE_GOLDEN=1, rewrite it."""
    path = GOLDEN / name
    if os.environ.get(UPDATE_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"golden file {name} is missing: run with {UPDATE_ENV}=1"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs from its golden file ({UPDATE_ENV}=1 updates it)"


def golden_json(name: str, obj: Any) -> None:
    check_golden(name, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


# -- Kubernetes validation --------------------------------------------------------------

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
QUANTITY = re.compile(r"(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE]|[eE][+-]?\d+)?")
ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
MICRO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
MAX_OBJECT_BYTES = 1024 * 1024


def _model_for(obj: dict[str, Any]) -> Any:
    from kubernetes.client import V1ConfigMap, V1Job, V1Lease, V1Secret

    models = {
        ("batch/v1", "Job"): V1Job,
        ("v1", "ConfigMap"): V1ConfigMap,
        ("v1", "Secret"): V1Secret,
        ("coordination.k8s.io/v1", "Lease"): V1Lease,
    }
    return models[(obj["apiVersion"], obj["kind"])]


def validate_k8s(obj: dict[str, Any]) -> None:
    """Fail unless ``obj`` is an object the API server would accept.

    The typed client models check structure and types (unknown fields are rejected); the
    rest checks what the server validates beyond types: names, labels, quantities, keys.
    """
    _model_for(obj).model_validate(obj)
    metadata = obj["metadata"]
    name = metadata["name"]
    if obj["kind"] == "Job":
        assert len(name) <= 63 and DNS_LABEL.fullmatch(name), name
    else:
        assert len(name) <= 253 and DNS_SUBDOMAIN.fullmatch(name), name
    for key, value in (metadata.get("labels") or {}).items():
        _check_qualified_name(key)
        assert len(value) <= 63 and LABEL_VALUE.fullmatch(value), (key, value)
    for key in metadata.get("annotations") or {}:
        _check_qualified_name(key)
    for owner in metadata.get("ownerReferences") or []:
        assert {"apiVersion", "kind", "name", "uid"} <= owner.keys(), owner
    if obj["kind"] in {"ConfigMap", "Secret"}:
        for section in ("data", "binaryData", "stringData"):
            for key in obj.get(section) or {}:
                assert len(key) <= 253 and CONFIG_KEY.fullmatch(key), key
        assert len(json.dumps(obj).encode()) < MAX_OBJECT_BYTES
    if obj["kind"] == "Lease":
        spec = obj["spec"]
        for field in ("acquireTime", "renewTime"):
            assert MICRO_TIME.fullmatch(spec[field]), spec[field]
    if obj["kind"] == "Job":
        _check_pod(obj["spec"]["template"])


def _check_qualified_name(key: str) -> None:
    prefix, _, name = key.rpartition("/")
    if prefix:
        assert len(prefix) <= 253 and DNS_SUBDOMAIN.fullmatch(prefix), key
    assert len(name) <= 63 and LABEL_NAME.fullmatch(name), key


def _check_pod(template: dict[str, Any]) -> None:
    for key, value in (template.get("metadata", {}).get("labels") or {}).items():
        _check_qualified_name(key)
        assert len(value) <= 63 and LABEL_VALUE.fullmatch(value), (key, value)
    spec = template["spec"]
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    for name in volumes:
        assert DNS_LABEL.fullmatch(name), name
    for volume in volumes.values():
        source = volume.get("configMap") or volume.get("secret") or {}
        for item in source.get("items") or []:
            path = item["path"]
            assert not path.startswith("/") and ".." not in path.split("/"), path
            assert 0 <= item.get("mode", 0) <= 0o777
    containers = (spec.get("initContainers") or []) + spec["containers"]
    names = [c["name"] for c in containers]
    assert len(names) == len(set(names)), names
    for container in containers:
        assert DNS_LABEL.fullmatch(container["name"]), container["name"]
        for env in container.get("env") or []:
            assert ENV_NAME.fullmatch(env["name"]), env["name"]
        for section in ("requests", "limits"):
            for quantity in (container.get("resources", {}).get(section) or {}).values():
                assert QUANTITY.fullmatch(quantity), quantity
        mount_paths = []
        for mount in container.get("volumeMounts") or []:
            assert mount["name"] in volumes, mount["name"]
            assert mount["mountPath"].startswith("/") and ":" not in mount["mountPath"]
            mount_paths.append(mount["mountPath"])
        assert len(mount_paths) == len(set(mount_paths)), mount_paths


# -- a reader for the generated Groovy config -------------------------------------------


class GroovyError(ValueError):
    pass


_TOKEN = re.compile(
    r"(?P<ws>[ \t\r\n]+)|(?P<comment>//[^\r\n]*)|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<punct>[.={}])|(?P<string>')"
)
_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "\\": "\\", "'": "'"}
_SIMPLE |= {'"': '"', "$": "$"}


def _read_string(text: str, start: int, *, unicode_escapes: bool) -> tuple[str, int]:
    """Decode a single-quoted literal whose opening quote is at ``start - 1``."""
    units: list[int] = []
    i = start
    while True:
        if i >= len(text):
            raise GroovyError("unterminated string")
        ch = text[i]
        if ch == "'":
            raw = "".join(chr(u) for u in units)
            return raw.encode("utf-16-le", "surrogatepass").decode("utf-16-le"), i + 1
        if ch in "\r\n":
            raise GroovyError("line break inside a single-quoted string")
        if ch != "\\":
            units.extend(_utf16(ch))
            i += 1
            continue
        escape = text[i + 1 : i + 2]
        if escape in _SIMPLE:
            units.extend(_utf16(_SIMPLE[escape]))
            i += 2
        elif escape == "u" and unicode_escapes:
            digits = text[i + 2 : i + 6]
            if not re.fullmatch(r"[0-9a-fA-F]{4}", digits):
                raise GroovyError(f"bad unicode escape at {i}")
            units.append(int(digits, 16))
            i += 6
        else:
            raise GroovyError(f"unknown escape \\{escape} at {i}")


def _utf16(ch: str) -> list[int]:
    data = ch.encode("utf-16-le", "surrogatepass")
    return [int.from_bytes(data[k : k + 2], "little") for k in range(0, len(data), 2)]


def java_unicode_preprocess(text: str) -> str:
    r"""Decode ``\uXXXX`` before lexing, as Java source (and Groovy 2's reader) does.

    An escape counts only when its backslash is preceded by an even number of backslashes.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\":
            run = len(text[i:]) - len(text[i:].lstrip("\\"))
            out.append(text[i : i + run - 1])
            i += run - 1
            if run % 2 == 1 and re.match(r"\\u[0-9a-fA-F]{4}", text[i:]):
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
            else:
                out.append("\\")
                i += 1
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def read_groovy_config(text: str, *, unicode_escapes: bool = True) -> dict[str, str]:
    """Parse ``a.b = 'x'`` assignments and ``scope { ... }`` blocks into dotted keys.

    Accepts only that subset, so anything else in the config (an injected statement, an
    interpolated string, a closing brace out of place) fails the parse.
    """
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        match = _TOKEN.match(text, i)
        if match is None:
            raise GroovyError(f"unexpected {text[i]!r} at {i}")
        kind = match.lastgroup or ""
        if kind == "string":
            value, i = _read_string(text, match.end(), unicode_escapes=unicode_escapes)
            tokens.append(("string", value))
            continue
        if kind in {"ident", "punct"}:
            tokens.append((kind, match.group()))
        i = match.end()
    result: dict[str, str] = {}
    scopes: list[str] = []
    pos = 0
    while pos < len(tokens):
        kind, value = tokens[pos]
        if (kind, value) == ("punct", "}"):
            if not scopes:
                raise GroovyError("unbalanced }")
            scopes.pop()
            pos += 1
            continue
        if kind != "ident":
            raise GroovyError(f"expected a name, got {value!r}")
        path = [value]
        pos += 1
        while pos + 1 < len(tokens) and tokens[pos] == ("punct", "."):
            if tokens[pos + 1][0] != "ident":
                raise GroovyError("expected a name after .")
            path.append(tokens[pos + 1][1])
            pos += 2
        if pos < len(tokens) and tokens[pos] == ("punct", "{") and len(path) == 1:
            scopes.append(value)
            pos += 1
            continue
        if pos + 1 >= len(tokens) or tokens[pos] != ("punct", "="):
            raise GroovyError(f"expected = after {'.'.join(path)}")
        if tokens[pos + 1][0] != "string":
            raise GroovyError(f"expected a string for {'.'.join(path)}")
        key = ".".join([*scopes, *path])
        if key in result:
            raise GroovyError(f"{key} assigned twice")
        result[key] = tokens[pos + 1][1]
        pos += 2
    if scopes:
        raise GroovyError("unclosed scope")
    return result
