"""Label and field selectors with the grammar and matching rules of apimachinery."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

QUALIFIED_NAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
    "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


class SelectorError(ValueError):
    """An unparsable selector; the server answers 400 BadRequest with this message."""


def qualified_name_errors(key: str) -> list[str]:
    """Problems with a label/annotation key (``prefix/name``), as apimachinery words them."""
    errs: list[str] = []
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        elif len(prefix) > 253:
            errs.append("prefix part must be no more than 253 bytes")
        elif not _DNS_SUBDOMAIN.match(prefix):
            errs.append(
                "prefix part a lowercase RFC 1123 subdomain must consist of lower case "
                "alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character (e.g. 'example.com', regex used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            )
    else:
        return [
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and "
            "must start and end with an alphanumeric character (e.g. 'MyName',  or "
            "'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain "
            "prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 bytes")
    elif not _QUALIFIED_NAME.match(name):
        errs.append(QUALIFIED_NAME_MSG)
    return errs


def label_value_errors(value: str) -> list[str]:
    errs: list[str] = []
    if len(value) > 63:
        errs.append("must be no more than 63 bytes")
    if not _LABEL_VALUE.match(value):
        errs.append(LABEL_VALUE_MSG)
    return errs


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        has = self.key in labels
        val = labels.get(self.key)
        if self.op in ("=", "in"):
            return has and val in self.values
        if self.op in ("!=", "notin"):
            return not has or val not in self.values
        if self.op == "exists":
            return has
        if self.op == "!":
            return not has
        if self.op in ("gt", "lt"):
            if not has or val is None:
                return False
            try:
                lhs = int(val)
            except ValueError:
                return False
            rhs = int(self.values[0])
            return lhs > rhs if self.op == "gt" else lhs < rhs
        return False


class LabelSelector:
    def __init__(self, requirements: list[Requirement]) -> None:
        self.requirements = requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        lab = labels or {}
        return all(r.matches(lab) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


_TOKEN = re.compile(r"\s*(==|!=|=|\(|\)|,|!|>|<|[^\s=!(),<>]+)")


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            if text[pos:].strip() == "":
                break
            raise SelectorError(f"unable to parse requirement: unexpected input {text[pos:]!r}")
        tok = m.group(1)
        pos = m.end()
        out.append(tok)
    return out


def _check_key(key: str) -> None:
    errs = qualified_name_errors(key)
    if errs:
        raise SelectorError(
            f'unable to parse requirement: key: Invalid value: "{key}": {"; ".join(errs)}'
        )


def _check_value(value: str, index: int) -> None:
    errs = label_value_errors(value)
    if errs:
        raise SelectorError(
            f'unable to parse requirement: values[{index}][key]: Invalid value: "{value}": '
            f"{'; '.join(errs)}"
        )


_OPERATORS = {"=", "==", "!=", "in", "notin", ">", "<"}


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse the ``labelSelector`` query parameter; raises SelectorError when invalid."""
    if text is None or not text.strip():
        return LabelSelector([])
    toks = _tokens(text)
    reqs: list[Requirement] = []
    i = 0

    def expect_more() -> None:
        if i >= len(toks):
            raise SelectorError(f"found '', expected: identifier after operator in {text!r}")

    while i < len(toks):
        tok = toks[i]
        if tok == "!":
            i += 1
            expect_more()
            key = toks[i]
            _check_key(key)
            reqs.append(Requirement(key, "!"))
            i += 1
        else:
            key = tok
            if key in (",", "(", ")", "=", "==", "!="):
                raise SelectorError(f"found '{key}', expected: !, identifier, or 'end of string'")
            _check_key(key)
            i += 1
            if i >= len(toks) or toks[i] == ",":
                reqs.append(Requirement(key, "exists"))
            else:
                op = toks[i]
                i += 1
                if op not in _OPERATORS:
                    raise SelectorError(
                        f"found '{op}', expected: in, notin, =, ==, !=, gt, lt"
                        if op not in ("gt", "lt")
                        else f"unable to parse requirement: operator {op}"
                    )
                if op in ("in", "notin"):
                    if i >= len(toks) or toks[i] != "(":
                        raise SelectorError(
                            f"found '{toks[i] if i < len(toks) else ''}', expected: '('"
                        )
                    i += 1
                    values: list[str] = []
                    expect_value = True
                    while True:
                        if i >= len(toks):
                            raise SelectorError("found '', expected: ')'")
                        t = toks[i]
                        i += 1
                        if t == ")":
                            if expect_value and values:
                                values.append("")
                            break
                        if t == ",":
                            if expect_value:
                                values.append("")
                            expect_value = True
                            continue
                        if not expect_value:
                            raise SelectorError(f"found '{t}', expected: ',' or ')'")
                        values.append(t)
                        expect_value = False
                    for n, v in enumerate(values):
                        _check_value(v, n)
                    name = "in" if op == "in" else "notin"
                    reqs.append(Requirement(key, name, tuple(values)))
                else:
                    value = ""
                    if i < len(toks) and toks[i] not in (",", "(", ")"):
                        value = toks[i]
                        i += 1
                    if op in (">", "<"):
                        try:
                            int(value)
                        except ValueError:
                            raise SelectorError(
                                f"unable to parse requirement: for 'Gt', 'Lt' operators, the "
                                f"value must be an integer: {value!r}"
                            ) from None
                        reqs.append(Requirement(key, "gt" if op == ">" else "lt", (value,)))
                    else:
                        _check_value(value, 0)
                        reqs.append(Requirement(key, "!=" if op == "!=" else "=", (value,)))
        if i < len(toks):
            if toks[i] != ",":
                raise SelectorError(f"found '{toks[i]}', expected: ',' or 'end of string'")
            i += 1
            if i >= len(toks):
                raise SelectorError("found '', expected: !, identifier, or 'end of string'")
    return LabelSelector(reqs)


def selector_from_match_labels(
    match_labels: Mapping[str, str] | None, match_expressions: list[dict[str, Any]] | None = None
) -> LabelSelector:
    """A metav1.LabelSelector (matchLabels/matchExpressions) as a LabelSelector."""
    reqs = [Requirement(k, "=", (v,)) for k, v in (match_labels or {}).items()]
    for expr in match_expressions or []:
        op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}[
            expr["operator"]
        ]
        reqs.append(Requirement(expr["key"], op, tuple(expr.get("values") or ())))
    return LabelSelector(reqs)


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    op: str  # "=" or "!="
    value: str


def _get_path(obj: Mapping[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
        if cur is None:
            return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, dict):
        return ""
    return str(cur)


class FieldSelector:
    def __init__(self, requirements: list[FieldRequirement]) -> None:
        self.requirements = requirements

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for r in self.requirements:
            actual = _field_value(obj, r.field)
            if (actual == r.value) != (r.op == "="):
                return False
        return True

    @property
    def empty(self) -> bool:
        return not self.requirements

    def value_of(self, field: str) -> str | None:
        """The value an equality requirement pins ``field`` to, if any."""
        for r in self.requirements:
            if r.field == field and r.op == "=":
                return r.value
        return None


def _field_value(obj: Mapping[str, Any], field: str) -> str:
    if field == "source":
        # Events: the source field selector matches source.component.
        return _get_path(obj, "source.component") or _get_path(obj, "reportingComponent")
    if field == "status.successful":
        return _get_path(obj, "status.succeeded") or "0"
    return _get_path(obj, field)


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    buf = ""
    escaped = False
    for ch in text:
        if escaped:
            buf += "\\" + ch
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append(buf)
            buf = ""
        else:
            buf += ch
    parts.append(buf)
    return parts


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def parse_field_selector(text: str | None, supported: tuple[str, ...] | None) -> FieldSelector:
    """Parse ``fieldSelector``; fields a resource does not index are rejected like kube does."""
    if text is None or not text.strip():
        return FieldSelector([])
    reqs: list[FieldRequirement] = []
    for part in _split_unescaped(text, ","):
        if not part:
            continue
        for op_text, op_name in (("!=", "!="), ("==", "="), ("=", "=")):
            idx = part.find(op_text)
            if idx > 0:
                field = part[:idx].strip()
                value = _unescape(part[idx + len(op_text) :])
                op = op_name
                break
        else:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        if supported is not None and field not in supported:
            raise SelectorError(f"field label not supported: {field}")
        reqs.append(FieldRequirement(field, op, value))
    return FieldSelector(reqs)


Matcher = Callable[[Mapping[str, Any]], bool]
